package migrate_test

import (
	"io/fs"
	"testing"

	"github.com/wild-cloud/wild/directory"
)

func subFS(t *testing.T, app string) fs.FS {
	t.Helper()
	sub, err := fs.Sub(directory.FS, app)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

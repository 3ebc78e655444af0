package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tree is every file under dir with its content (lock files aside), for
// tests that check an operation wrote nothing there.
func Tree(t testing.TB, dir string) string {
	t.Helper()
	s, err := tree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tree(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		c, err := os.ReadFile(p)
		b.WriteString(p + "\n" + string(c) + "\n")
		return err
	})
	return b.String(), err
}

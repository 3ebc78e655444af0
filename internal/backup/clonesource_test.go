package backup

import (
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/catalog"
)

// TestEntriesOfASnapshot: a bare repository's snapshot names its
// strategies by file; each dump is matched to the manifest's config key
// whose backed-up value names the database, also a switched (colored) one.
func TestEntriesOfASnapshot(t *testing.T) {
	m := &catalog.Manifest{Name: "x", Restore: &catalog.Restore{Databases: []catalog.RestoreDatabase{{ConfigKey: "dbName"}, {ConfigKey: "search.db"}}}}
	cfg := map[string]any{"dbName": "x", "search": map[string]any{"db": "x_search"}}
	got, err := entriesOf([]string{"config/config.yaml", "config/app/a.yaml", "postgres/x_green.dump", "postgres/x_search.dump", "volume/x-pvc.tar", "volume/cache.tar"}, m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range got {
		b.WriteString(e.Name + " " + e.Params["configKey"] + " " + e.Params["dbName"] + " " + e.Params["file"] + " " + e.Params["pvcs"] + "\n")
	}
	want := "config    \npostgres dbName x_green postgres/x_green.dump \npostgres search.db x_search postgres/x_search.dump \nvolume    x-pvc,cache\n"
	if b.String() != want {
		t.Errorf("entries:\n%s\nwant:\n%s", b.String(), want)
	}
	if _, err := entriesOf([]string{"mysql/other.sql"}, m, cfg); err == nil || !strings.Contains(err.Error(), "matches none") {
		t.Errorf("an unknown database: %v", err)
	}
	if _, err := entriesOf([]string{"volume/...tar"}, m, cfg); err == nil {
		t.Error("a path-like volume name was accepted")
	}
}

package cli_test

import (
	"fmt"
	"strings"
	"testing"
)

// Backup commands refuse bad input in one line and change nothing; the
// repository password does not exist before a first backup.
func TestBackupCommandsBadInput(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	before := e.snapshot()
	for _, args := range [][]string{
		{"app", "backup", "../etc"},
		{"app", "backup", "gitea"}, // not added
		{"app", "backups", "gitea"},
		{"app", "restore", "gitea", "--from", "../../x"},
		{"app", "restore", "UPPER"},
		{"app", "switch", "gitea"},
		{"app", "cleanup", "gitea"},
		{"app", "verify", "../etc"},
		{"app", "verify", "gitea"}, // not added
		{"app", "verify", "gitea", "--from", "../../x"},
		{"backup", "key", "export"},
		{"backup", "prune", "../etc"},
		{"backup", "prune", "UPPER"},
	} {
		e.fails(args...)
	}
	if after := e.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("bad input changed files")
	}
	if help := e.ok("app", "backup", "--help"); !strings.Contains(help, "backup.destination.path") || !strings.Contains(help, "CANNOT BE READ") {
		t.Errorf("backup --help does not document the destination and the password:\n%s", help)
	}
}

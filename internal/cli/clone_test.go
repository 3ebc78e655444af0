package cli_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestCloneBadInput: every wrong clone request is one error line, exit
// non-zero, and no file of either instance changes.
func TestCloneBadInput(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "home.example.com")
	e.ok("instance", "create", "lab", "--domain", "lab.example.org")
	e.ok("--instance", "home", "app", "add", "hello")
	before := e.snapshot()
	for want, args := range map[string][]string{
		"--from-instance is required":          {"--instance", "lab", "app", "clone", "hello"},
		"instance nope (--from-instance) does": {"--instance", "lab", "app", "clone", "hello", "--from-instance", "nope"},
		"--from-instance":                      {"--instance", "lab", "app", "clone", "hello", "--from-instance", "../home"},
		"has no completed backup":              {"--instance", "lab", "app", "clone", "hello", "--from-instance", "home"},
		"not a backup id":                      {"--instance", "lab", "app", "clone", "hello", "--from-instance", "home", "--from", "../x"},
		"restore instead":                      {"--instance", "home", "app", "clone", "hello", "--from-instance", "home"},
		"WILD_BACKUP_PASSWORD":                 {"--instance", "lab", "app", "clone", "hello", "--from-repository", e.data, "--repository-instance", "home"},
		"--repository-instance is required":    {"--instance", "lab", "app", "clone", "hello", "--from-repository", e.data},
		"not both":                             {"--instance", "lab", "app", "clone", "hello", "--from-repository", e.data, "--from-s3", "h/b"},
	} {
		if got := e.fails(args...); !strings.Contains(got, want) {
			t.Errorf("wild %s: %q, want %q", strings.Join(args, " "), got, want)
		}
	}
	if after := e.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a refused clone changed files")
	}
	if help := e.ok("app", "clone", "--help"); !strings.Contains(help, "restore.dataSecrets") || !strings.Contains(help, "--from-instance home") {
		t.Errorf("clone --help does not explain the policy with an example:\n%s", help)
	}
}

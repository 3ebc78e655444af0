package redact

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactsValuesFromFilesEvenWithBadTags(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secrets.yaml")
	os.WriteFile(p, []byte("apps:\n  a:\n    pw: !!int hunter2-pw\n    ml: |\n      line-one-x\n      line-two-y\n    short: ab\n"), 0o600)
	values := FileValues(p)
	msg := "failed: hunter2-pw, line-two-y, ab"
	got := String(msg, values)
	if strings.Contains(got, "hunter2") || strings.Contains(got, "line-two-y") || !strings.Contains(got, ", ab") {
		t.Fatalf("redacted %q", got)
	}
	base := errors.New("boom hunter2-pw")
	err := Error(base, values)
	if strings.Contains(err.Error(), "hunter2") || !errors.Is(err, base) {
		t.Fatalf("Error = %v", err)
	}
}

package render

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunawayTemplatesStop(t *testing.T) {
	for _, src := range []string{
		`{{ range until 1048576 }}{{ range until 1048576 }}{{ end }}{{ end }}`,
		`{{ range 1048576 }}{{ range 1048576 }}{{ end }}{{ end }}`,
		`{{ define "a" }}{{ template "a" . }}{{ template "a" . }}{{ end }}{{ template "a" . }}`,
	} {
		start := time.Now()
		_, err := New().File("x/loop.yaml", []byte(src), map[string]any{})
		if err == nil || (!errors.Is(err, errTooLong) && !strings.Contains(err.Error(), "depth")) {
			t.Fatalf("%s: %v", src, err)
		}
		if d := time.Since(start); d > MaxDuration {
			t.Fatalf("%s took %s", src, d)
		}
		if !strings.HasPrefix(err.Error(), "x/loop.yaml:1:") {
			t.Errorf("error does not name the file: %v", err)
		}
	}
	// The budget is per execution: a template that loops a little, run
	// many times, keeps working.
	e := New()
	for i := 0; i < 3; i++ {
		out, err := e.File("x/ok.yaml", []byte(`{{ range until 600000 }}{{ end }}ok`), nil)
		if err != nil || string(out) != "ok" {
			t.Fatalf("run %d: %q %v", i, out, err)
		}
	}
}

func TestErrorsNeverQuoteSecrets(t *testing.T) {
	const pw = "s3cr3t-Pa55word-XYZ"
	data := map[string]any{"secrets": map[string]any{"db": map[string]any{"password": pw}}, "cloud": map[string]any{}}
	for _, src := range []string{
		`{{ range .secrets.db.password }}{{ end }}`,
		`{{ index .secrets.db.password 3 }}`,
		`{{ toDate "2006" .secrets.db.password }}`,
		`{{ .secrets.db.password.nope }}`,
		`{{ required .secrets.db.password .cloud.none }}`,
		`{{ fail .secrets.db.password }}`,
		`{{ int .secrets.db }}{{ atoi .secrets.db.password | div 0 }}`,
	} {
		_, err := New().String("p/manifest.yaml", 3, src, data)
		if err == nil {
			continue
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(errors.Unwrap(err).Error(), pw) {
			t.Errorf("%s: error quotes the secret: %v", src, err)
		}
	}
}

// TestStepBudgetIsPerExecution: the clones an Engine keeps and reuses for a
// template each start with a full budget, so a run that exhausted it does
// not fail the next one, and concurrent runs do not share one.
func TestStepBudgetIsPerExecution(t *testing.T) {
	defer func(n int) { MaxSteps = n }(MaxSteps)
	MaxSteps = 1000
	e := New()
	src := []byte(`{{ range until .n }}x{{ end }}`)
	if _, err := e.File("x/loop.yaml", src, map[string]any{"n": MaxSteps + 10}); !errors.Is(err, errTooLong) {
		t.Fatalf("over the budget: want errTooLong, got %v", err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			out, err := e.File("x/loop.yaml", src, map[string]any{"n": MaxSteps / 2})
			if err == nil && len(out) != MaxSteps/2 {
				err = errors.New("wrong output length")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatalf("a run within the budget after an exhausted one: %v", err)
		}
	}
}

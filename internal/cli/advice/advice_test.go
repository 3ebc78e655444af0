package advice

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/problem"
)

func TestMessageRendersHintsInsideWrappers(t *testing.T) {
	p := problem.New(problem.PreconditionFailed, "blog depends on pg, which is not deployed").
		With("app.deploy", "deploy it first", "app", "pg").Or("app.deploy", "app", "blog", "flag", "with-deps")
	err := fmt.Errorf("deploy dependency blog: %w", p)
	if strings.Contains(err.Error(), "wild ") {
		t.Errorf("plain text holds CLI syntax: %s", err)
	}
	want := "deploy dependency blog: blog depends on pg, which is not deployed; deploy it first: wild app deploy pg (or: wild app deploy blog --with-deps)"
	if got := Message(err); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if problem.CodeOf(err) != problem.PreconditionFailed || problem.HintOf(err).Args["app"] != "pg" {
		t.Error("code or hint lost through the wrapper")
	}
	list := &problem.Error{Code: problem.Breaking, Message: "web: breaking", Items: []*problem.Error{
		{Message: "key a removed", Hint: &problem.Hint{Action: "app.update", Text: "rename it", Args: map[string]string{"app": "web", "flag": "rename", "value": "a=b"}}},
	}, Hint: &problem.Hint{Action: "app.update", Text: "or start over", Args: map[string]string{"app": "web", "flag": "fresh"}}}
	want = "web: breaking\n  key a removed; rename it: wild app update web --rename a=b\nor start over: wild app update web --fresh"
	if got := Message(list); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

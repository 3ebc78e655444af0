package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/wild-cloud/wild/internal/problem"
)

// An exec that could not run is "unavailable" with advice naming the pod;
// a command that ran and failed, a cancelled run and a refused one keep
// their own error.
func TestExecFailuresAreUnavailable(t *testing.T) {
	px := podExec{namespace: "postgres", pod: "postgres-0", app: "postgres"}
	gone := apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "postgres-0")
	unreachable := []error{
		fmt.Errorf("exec [sh] in postgres/postgres-0: %w", gone),
		fmt.Errorf("exec [sh] in postgres/postgres-0: %w", apierrors.NewBadRequest(`container "db" in pod "postgres-0" is not running`)),
		errors.New("exec [sh] in postgres/postgres-0: websocket: close 1006 (abnormal closure): unexpected EOF"),
		&StreamError{What: "dump gitea", Seen: tally{Bytes: 10}},
	}
	for _, cause := range unreachable {
		err := px.unavailable(cause)
		if problem.CodeOf(err) != problem.Unavailable || !errors.Is(err, cause) {
			t.Errorf("%v: code %s, want unavailable wrapping the cause", cause, problem.CodeOf(err))
		}
		h := problem.HintOf(err)
		if h == nil || h.Action != "app.status" || h.Args["app"] != "postgres" || !strings.Contains(h.Text, "postgres/postgres-0") {
			t.Errorf("%v: hint %+v", cause, h)
		}
		if !strings.Contains(err.Error(), cause.Error()) {
			t.Errorf("the error %q hides its cause %q", err, cause)
		}
	}
	helper := podExec{namespace: "gitea", pod: "wild-backup-x"}
	if h := problem.HintOf(helper.unavailable(errors.New("stream reset"))); h == nil || h.Action != "" || !strings.Contains(h.Text, "gitea/wild-backup-x") {
		t.Errorf("a helper pod's hint: %+v", h)
	}
	kept := []error{
		fmt.Errorf("exec: %w", utilexec.CodeExitError{Err: errors.New("command terminated with non-zero exit code: 1"), Code: 1}),
		fmt.Errorf("exec: %w", context.Canceled),
		apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, "postgres-0", errors.New("no")),
	}
	for _, cause := range kept {
		if err := px.unavailable(cause); err != cause || problem.CodeOf(err) == problem.Unavailable {
			t.Errorf("%v became %v (%s)", cause, err, problem.CodeOf(err))
		}
	}
	if px.unavailable(nil) != nil {
		t.Error("no error must stay no error")
	}
}

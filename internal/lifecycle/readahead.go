package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
)

// noopCheck is one app's no-op check (kube.Unchanged), running or done.
type noopCheck struct {
	key  string // stateKey of the state it compares
	note string // added to the operation record's note
	done chan struct{}
	res  *kube.NoopResult
	ok   bool
}

func startCheck(ctx context.Context, c *kube.Client, state kube.DeployState) *noopCheck {
	check := &noopCheck{done: make(chan struct{})}
	go func() {
		defer close(check.done)
		check.res, check.ok = c.Unchanged(ctx, state)
	}()
	return check
}

// readAheadLimit bounds the apps being built for a read-ahead at once:
// the build is CPU, and the deploys themselves need the cores too.
const readAheadLimit = 2

// readAheadAll starts the no-op check of every app RunMany will deploy,
// all at once, answered from one consistent listing of the instance (a
// LIST per kind) instead of a GET per object of each app in turn: a
// no-op redeploy of many apps is bound by the API server's requests.
// Each app's deploy later takes its check only when nothing could have
// made it stale (see readAhead); anything else checks again, so this is
// only ever a head start.
func (r *deployRun) readAheadAll(ctx context.Context, apps []string) {
	if r.opts.DryRun || len(apps) < 2 {
		return
	}
	id, err := r.opts.Instance.ID()
	if err != nil {
		return
	}
	if r.client == nil {
		if r.client, err = clientFor(r.opts.Instance); err != nil {
			return // the first deploy reports it
		}
	}
	opsDir := r.opts.Instance.Path(instance.OperationsDir)
	var listing *kube.LiveState
	listed := make(chan struct{})
	r.ahead = map[string]*noopCheck{}
	sem := make(chan struct{}, readAheadLimit)
	for _, app := range apps {
		if !operation.Ran(opsDir, "deploy", app, "") {
			continue
		}
		check := &noopCheck{note: "; read with the other apps' in one listing", done: make(chan struct{})}
		r.ahead[app] = check
		go func() {
			defer close(check.done)
			sem <- struct{}{}
			state, ok := r.aheadState(app)
			<-sem
			<-listed
			if !ok || listing == nil {
				return
			}
			check.key = stateKey(state)
			check.res, check.ok = r.client.UnchangedIn(ctx, state, listing)
		}()
	}
	if len(r.ahead) == 0 {
		return
	}
	go func() {
		defer close(listed)
		// A failed listing (no right to list across namespaces, say)
		// leaves every app to its own check.
		if ls, err := r.client.ReadConsistentLiveState(ctx, id); err == nil {
			listing = ls
		}
	}()
}

// aheadState builds app's no-op state outside its lock and apart from
// the run's shared state (its own target cache), so it races with
// nothing; a config change pending a recompile is left to the deploy.
func (r *deployRun) aheadState(app string) (kube.DeployState, bool) {
	if need, err := NeedsRecompile(r.opts.Instance, app); err != nil || need {
		return kube.DeployState{}, false
	}
	t, err := loadTarget(r.opts.Instance, app)
	if err != nil {
		return kube.DeployState{}, false
	}
	private := &deployRun{opts: r.opts, client: r.client, deployed: map[string]bool{}, targets: map[string]*target{}}
	state, err := (&deployOne{deployRun: private, app: app}).noopState(t)
	return state, err == nil
}

// readAhead returns the check read ahead for the app about to be
// deployed, or nil when it cannot be trusted: an earlier deploy of this
// run changed the cluster (a dependency's Secret the app copies, say), or
// what the app would write now, under its lock, is not what was checked.
func (o *deployOne) readAhead(state kube.DeployState) *noopCheck {
	check := o.ahead[o.app]
	if check == nil || o.changed {
		return nil
	}
	<-check.done
	if check.key == "" || check.key != stateKey(state) {
		return nil
	}
	return check
}

// stateKey identifies everything a no-op check compares; the secret
// values only by their hash.
func stateKey(s kube.DeployState) string {
	h := sha256.New()
	err := json.NewEncoder(h).Encode(struct {
		Inventory  kube.Inventory
		Objects    any
		Namespace  string
		Owner      kube.Owner
		SecretName string
		SecretHash string
		Copies     []kube.SecretSource
	}{s.Inventory, s.Objects, s.Namespace, s.Owner, s.SecretName, kube.SecretHash(s.SecretData), s.Copies})
	if err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

package lifecycle

import (
	"context"
	"strings"
	"sync"

	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// Diff compares the live objects of a deployed app with what a deploy
// would apply (the "drifted" state, see doc.go). Fields owned by controllers do not count.
type Diff struct {
	Env
	App    string
	Client *kube.Client
}

// DiffResult lists the per-object differences; Secret values are redacted.
type DiffResult struct {
	App     string            `json:"app"`
	Drifted bool              `json:"drifted"`
	Objects []kube.ObjectDiff `json:"objects"`
	Secret  kube.Change       `json:"secret"`
}

// Run computes the diff without changing anything.
func (d *Diff) Run(ctx context.Context) (*DiffResult, error) {
	t, err := loadTarget(d.Instance, d.App)
	if err != nil {
		return nil, err
	}
	c := d.Client
	if c == nil {
		if c, err = clientFor(d.Instance); err != nil {
			return nil, err
		}
	}
	data, err := t.secretData(d.Instance)
	if err != nil {
		return nil, err
	}
	// Desired objects carry the same secret-hash stamp a deploy would add.
	kube.StampSecretHash(t.objs, t.secretName(), kube.SecretHash(data))
	diffs, err := c.Diff(ctx, t.objs, t.inventory())
	if err != nil {
		return nil, err
	}
	sec, err := c.ApplySecret(ctx, t.namespace, t.secretName(), data, t.inventory().Labels(), true)
	if err != nil {
		return nil, err
	}
	res := &DiffResult{App: d.App, Objects: diffs, Secret: sec}
	res.Drifted = kube.Drifted(diffs) || sec.Action != kube.ActionUnchanged
	return res, nil
}

// Status reports an app's cluster state.
type Status struct {
	Env
	App    string
	Client *kube.Client
}

// StatusResult is `wild app status`.
type StatusResult struct {
	App        string `json:"app"`
	State      string `json:"state"`
	Detail     string `json:"detail,omitempty"`
	Customized bool   `json:"customized"`
	// Side is the restored color that serves since a switch ("" for the
	// original copy), and Restored the backup it came from.
	Side          string            `json:"side,omitempty"`
	Restored      string            `json:"restored,omitempty"`
	Cluster       *kube.AppStatus   `json:"cluster,omitempty"`
	LastOperation *operation.Record `json:"lastOperation,omitempty"`
}

// Run gathers the status.
func (s *Status) Run(ctx context.Context) (*StatusResult, error) {
	t, err := loadTarget(s.Instance, s.App)
	if err != nil {
		return nil, err
	}
	c := s.Client
	if c == nil {
		if c, err = clientFor(s.Instance); err != nil {
			return nil, err
		}
	}
	text := compiledText(s.Instance, s.App)
	secrets := []string{t.secretName()}
	for _, dep := range sortedDeps(t.manifest.InstalledAs) {
		if strings.Contains(text, dep+"-secrets") {
			secrets = append(secrets, dep+"-secrets")
		}
	}
	for _, w := range kube.WildcardTLSSecrets {
		if strings.Contains(text, w) {
			secrets = append(secrets, w)
		}
	}
	st, err := c.Status(ctx, t.namespace, t.objs, secrets...)
	if err != nil {
		return nil, err
	}
	res := &StatusResult{App: s.App, Cluster: st}
	if !t.side.Original {
		res.Side, res.Restored = t.side.Color, t.side.Plan
	}
	res.State, res.Detail = appStateListed(ctx, s.Instance, c, t)
	res.Customized = customized(s.Instance, s.App)
	if recs, err := operation.List(s.Instance.Path(instance.OperationsDir), s.App); err == nil && len(recs) > 0 {
		res.LastOperation = &recs[0]
	}
	return res, nil
}

// appState classifies a deployed app for `wild app list`: stuck (namespace
// Terminating), added (nothing deployed), degraded (not all Current),
// drifted (live differs from desired), else deployed.
func appState(ctx context.Context, inst *instance.Instance, c *kube.Client, t *target) (string, string) {
	phase, err := c.NamespacePhase(ctx, t.namespace)
	if err != nil {
		return StateAdded, "cluster unreachable"
	}
	if phase == "Terminating" {
		return StateStuck, "namespace " + t.namespace + " terminating; deploying recovers it"
	}
	refs, err := c.InventoryRefs(ctx, t.inventory())
	if err != nil || len(refs) == 0 {
		return StateAdded, ""
	}
	st, err := c.Status(ctx, t.namespace, t.objs)
	if err != nil {
		return StateDegraded, oneLine(err)
	}
	for _, r := range st.Resources {
		if r.Status != kube.StatusCurrent {
			return StateDegraded, r.Ref.Kind + "/" + r.Ref.Name + " " + r.Status
		}
	}
	d, err := (&Diff{Env: Env{Instance: inst}, App: t.app, Client: c}).Run(ctx)
	if err == nil && d.Drifted {
		return StateDrifted, "the cluster differs; see the diff"
	}
	if customized(inst, t.app) {
		// Committed hand edits are intentional divergence (doc.go), not drift.
		return StateDeployed, "customized"
	}
	return StateDeployed, ""
}

func customized(inst *instance.Instance, app string) bool {
	if !gitmode.IsRepo(inst) {
		return false
	}
	ok, err := gitmode.Customized(inst, app, Recompile)
	return err == nil && ok
}

// ClusterState returns a ClusterStater for List/Show using one client.
// The cluster is read once, one LIST per kind for the whole instance
// (kube.LiveState); only an app that listing cannot vouch for (its
// fingerprints no longer match, an object is missing) gets the full
// per-object status and diff.
func ClusterState(inst *instance.Instance) ClusterStater {
	c, err := clientFor(inst)
	var once sync.Once
	var mu sync.Mutex
	var live *kube.LiveState
	var secrets *yamldoc.Doc
	asked := map[string]bool{}
	// listing returns the cluster as of this pass over the apps: an app
	// asked about again starts a new pass, so a caller that keeps the
	// stater (a watch loop, a test) sees the cluster change.
	listing := func(ctx context.Context, app string) (*kube.LiveState, *yamldoc.Doc) {
		mu.Lock()
		defer mu.Unlock()
		if live == nil || asked[app] {
			clear(asked)
			live, secrets = readListing(ctx, inst, c)
		}
		asked[app] = true
		return live, secrets
	}
	return func(ctx context.Context, app string) (string, string) {
		// One reachability check, so an unreachable cluster costs one
		// timeout, not one per app.
		once.Do(func() {
			if err != nil {
				return
			}
			// The first listing is read beside the ping: both are needed
			// before any app can be told, and the listing is the long one.
			done := make(chan struct{})
			go func() {
				defer close(done)
				ls, sec := readListing(ctx, inst, c)
				mu.Lock()
				live, secrets = ls, sec
				mu.Unlock()
			}()
			err = c.Ping(ctx)
			<-done
		})
		if err != nil {
			return StateAdded, "cluster unreachable"
		}
		t, terr := loadTarget(inst, app)
		if terr != nil {
			return StateAdded, oneLine(terr)
		}
		if ls, sec := listing(ctx, app); ls != nil {
			if state, detail, ok := listedState(inst, ls, t, instance.AppSecretData(sec, app)); ok {
				return state, detail
			}
		}
		return appState(ctx, inst, c, t)
	}
}

// readListing is the instance's LiveState and secrets; nil when either
// cannot be read, which only costs speed: every app takes the full path.
func readListing(ctx context.Context, inst *instance.Instance, c *kube.Client) (*kube.LiveState, *yamldoc.Doc) {
	id, err := inst.ID()
	if err != nil {
		return nil, nil
	}
	sec, err := inst.ReadSecrets()
	if err != nil {
		return nil, nil
	}
	ls, err := c.ReadLiveState(ctx, id)
	if err != nil {
		return nil, nil
	}
	return ls, sec
}

// appStateListed is appState through the app's own listing: the full
// diff runs only when the listing cannot vouch for the app.
func appStateListed(ctx context.Context, inst *instance.Instance, c *kube.Client, t *target) (string, string) {
	ls, err := c.ReadAppLiveState(ctx, t.inventory())
	if err != nil {
		return appState(ctx, inst, c, t)
	}
	data, err := t.secretData(inst)
	if err != nil {
		return appState(ctx, inst, c, t)
	}
	if state, detail, ok := listedState(inst, ls, t, data); ok {
		return state, detail
	}
	return appState(ctx, inst, c, t)
}

// listedState is appState from a LiveState; ok is false when the listing
// cannot decide and the full appState must run. It never reports drift
// itself: an app whose fingerprints differ gets the exact diff.
func listedState(inst *instance.Instance, live *kube.LiveState, t *target, data map[string][]byte) (state, detail string, ok bool) {
	if live.NamespacePhase(t.namespace) == kube.PhaseTerminating {
		return StateStuck, "namespace " + t.namespace + " terminating; deploying recovers it", true
	}
	if !live.Deployed(t.inventory()) {
		return StateAdded, "", true
	}
	// As a deploy applies them, so the fingerprints compare.
	kube.StampSecretHash(t.objs, t.secretName(), kube.SecretHash(data))
	chk := live.Check(t.objs, t.inventory(), t.namespace, t.secretName(), data)
	if !chk.Known {
		return "", "", false
	}
	for _, r := range chk.Statuses {
		if r.Status != kube.StatusCurrent {
			return StateDegraded, r.Ref.Kind + "/" + r.Ref.Name + " " + r.Status, true
		}
	}
	if !chk.Clean {
		return "", "", false
	}
	if customized(inst, t.app) {
		return StateDeployed, "customized", true
	}
	return StateDeployed, "", true
}

// ClusterHooksFor connects update and rollback to the instance's cluster.
// Without a kubeconfig the hooks are left out and those steps are skipped.
func ClusterHooksFor(env Env) ClusterHooks {
	if _, err := env.Instance.Kubeconfig(); err != nil {
		return ClusterHooks{}
	}
	var c *kube.Client
	client := func() (*kube.Client, error) {
		if c != nil {
			return c, nil
		}
		var err error
		c, err = clientFor(env.Instance)
		return c, err
	}
	deployed := func(ctx context.Context, app string) (bool, error) {
		cl, err := client()
		if err != nil {
			return false, err
		}
		t, err := loadTarget(env.Instance, app)
		if err != nil {
			return false, err
		}
		refs, err := cl.InventoryRefs(ctx, t.inventory())
		return len(refs) > 0, err
	}
	return ClusterHooks{
		Deployed: deployed,
		Preview: func(ctx context.Context, app, dir string) ([]kube.ObjectDiff, error) {
			if ok, err := deployed(ctx, app); err != nil || !ok {
				return nil, err
			}
			cl, _ := client()
			t, err := loadTargetFrom(env.Instance, app, dir)
			if err != nil {
				return nil, err
			}
			diffs, err := cl.Diff(ctx, t.objs, t.inventory())
			if err != nil {
				return nil, err
			}
			var changed []kube.ObjectDiff
			for _, d := range diffs {
				if d.Action != kube.ActionUnchanged {
					changed = append(changed, d)
				}
			}
			return changed, nil
		},
		Deploy: func(ctx context.Context, app string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			// Update and rollback call this while holding the app lock,
			// after their own operation record is finished.
			_, err = (&Deploy{Env: env.side(), App: app, Client: cl}).RunLocked(ctx)
			return err
		},
	}
}

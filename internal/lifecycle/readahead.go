package lifecycle

import (
	"context"
	"slices"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
)

// noopCheck is one app's no-op check (kube.Unchanged), running or done.
type noopCheck struct {
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

// listing is the consistent listing of the instance a deploy of several
// apps reads once, at its start.
type listing struct {
	done chan struct{}
	ls   *kube.LiveState // nil when the listing failed
}

// startListing reads the instance's objects with one consistent LIST per
// kind, in the background, for RunMany: every unchanged app's no-op check
// is then answered from it, without a GET per object of each app in turn
// (a no-op redeploy of many apps is bound by the API server's requests).
func (r *deployRun) startListing(ctx context.Context, apps []string) {
	if r.opts.DryRun || len(apps) < 2 {
		return
	}
	// A first deploy would only pay for the listing: its apps have no
	// no-op check to answer.
	ran := operation.RanApps(r.opts.Instance.Path(instance.OperationsDir), "deploy")
	if n := len(slices.DeleteFunc(slices.Clone(apps), func(a string) bool { return !ran[a] })); n < 2 {
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
	l := &listing{done: make(chan struct{})}
	r.listing = l
	go func() {
		defer close(l.done)
		// A failed listing (no right to list across namespaces, say)
		// leaves every app to its own check.
		if ls, err := r.client.ReadConsistentLiveState(ctx, id); err == nil {
			l.ls = ls
		}
	}()
}

// listedCheck answers the app's no-op check from the run's listing, or
// returns nil for the app to read for itself. It never waits: a
// consistent LIST waits for the API server's watch cache to catch up,
// which takes up to ~100 ms while the cluster is busy writing (just after
// a deploy), so the apps whose turn comes first read on their own
// meanwhile. Nor is the listing used once a deploy of this run changed
// the cluster: it could not show that write (a dependency's Secret an
// app copies, say).
func (o *deployOne) listedCheck(ctx context.Context, state kube.DeployState) *noopCheck {
	if o.listing == nil || o.changed {
		return nil
	}
	select {
	case <-o.listing.done:
	default:
		if !o.opts.waitListing {
			return nil
		}
		<-o.listing.done
	}
	if o.listing.ls == nil {
		return nil
	}
	check := &noopCheck{note: "; read with the other apps' in one listing", done: make(chan struct{})}
	check.res, check.ok = o.client.UnchangedIn(ctx, state, o.listing.ls)
	close(check.done)
	return check
}

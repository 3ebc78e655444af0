package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
)

// VerifyColor is the throwaway side a drill restores into. It is never a
// standby color (blue, green), so a drill never meets a restore or switch.
const VerifyColor = "verify"

// Verify is a restore drill: it restores a backup into the throwaway
// color (namespace {app}-verify, databases {db}_verify, PVCs
// {pvc}-verify), compares each table's row count and checksum with what
// the backup recorded, deploys the app there and waits for it to be
// ready, records the result on the backup's plan, and removes the
// throwaway side whatever happened. The live app is never touched.
type Verify struct {
	Env
	App  string
	From string // backup id; "" = the newest completed one
	// Timeout bounds waiting for the drill's workloads; 0 = 5m.
	Timeout time.Duration
}

// Verification is the record of one drill.
type Verification struct {
	Backup     string    `json:"backup"`
	VerifiedAt time.Time `json:"verifiedAt"`
	Passed     bool      `json:"passed"`
	Error      string    `json:"error,omitempty"`
	// RTOSeconds is the measured restore time: from the start of the
	// restore until the workloads were ready (the data check excluded).
	RTOSeconds float64 `json:"rtoSeconds,omitempty"`
	// RPOSeconds is the backup's age at the drill: the data a restore
	// from it would lose.
	RPOSeconds float64  `json:"rpoSeconds"`
	Checked    []string `json:"checked,omitempty"`
	Removed    []string `json:"removed,omitempty"`
	Operation  string   `json:"operation,omitempty"`
}

// VerifyResult is the drill's record and its warnings.
type VerifyResult struct {
	App string `json:"app"`
	Verification
	Warnings []string `json:"warnings,omitempty"`
}

// Run takes the app's lock and drills.
func (v *Verify) Run(ctx context.Context) (*VerifyResult, error) {
	if err := checkAdded(v.Env, v.App); err != nil {
		return nil, err
	}
	r := &Restore{Env: v.Env, App: v.App, From: v.From, Timeout: v.Timeout}
	if _, err := r.plan(); err != nil {
		return nil, err
	}
	unlock, err := lockApp(v.Env, v.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	op, err := v.startOp("verify", v.App)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{App: v.App, Verification: Verification{Operation: op.ID()}}
	err = v.run(ctx, op, r, &res.Verification)
	res.Warnings = op.Warnings()
	return res, op.FinishCtx(ctx, err)
}

func (v *Verify) run(ctx context.Context, op *operation.Op, r *Restore, rec *Verification) error {
	op.Step("prepare")
	a, err := v.loadApp(v.App, op.Warn)
	if err != nil {
		return err
	}
	plan, err := r.plan()
	if err != nil {
		return err
	}
	rec.Backup = plan.Timestamp
	scratch, err := scratchCopy(plan)
	if err != nil {
		return err
	}
	a.Color, a.Progress = VerifyColor, v.progressEvents(v.App, "verify")
	if _, err := removeLeftoverDrill(ctx, op, a, scratch); err != nil {
		return err
	}
	err = v.drill(ctx, op, r, a, scratch, rec)
	op.Step("clean up")
	removed, cerr := discard(context.WithoutCancel(ctx), a, scratch)
	rec.Removed = removed
	if cerr != nil {
		err = errors.Join(err, fmt.Errorf("the drill's side was not removed completely (run the drill again to retry): %w", cerr))
	}
	rec.VerifiedAt = time.Now().UTC()
	if t, perr := time.Parse(tsLayout, plan.Timestamp); perr == nil {
		rec.RPOSeconds = rec.VerifiedAt.Sub(t).Round(time.Second).Seconds()
	}
	rec.Passed = err == nil
	if err != nil {
		rec.Error = oneLine(err)
		rec.RTOSeconds = 0
	}
	if serr := recordVerification(v.Env, plan.App, plan.Timestamp, rec); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// drill restores, checks the data before the app starts on it (an app
// may migrate its database at start), then deploys and waits.
func (v *Verify) drill(ctx context.Context, op *operation.Op, r *Restore, a *App, plan *RecoveryPlan, rec *Verification) error {
	store, err := v.store(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	in := func(ctx context.Context, name string) (io.ReadCloser, error) {
		return store.Open(ctx, plan.Snapshot, name)
	}
	plan.Standby = &Side{Color: a.Color, Namespace: a.standbyNamespace()}
	start := time.Now()
	rn, id, err := r.restoreData(ctx, op, a, plan, in, func() error { return nil })
	if err != nil {
		return err
	}
	crashpoint.Hit("backup.verify-restored")
	op.Step("check data")
	checkStart := time.Now()
	if rec.Checked, err = checkData(ctx, a, plan, in); err != nil {
		return err
	}
	checking := time.Since(checkStart)
	op.Step("deploy and probe readiness")
	if err := r.deployStandby(ctx, a, plan, in, rn, id, false); err != nil {
		return fmt.Errorf("the restored app did not become ready: %w", err)
	}
	rec.RTOSeconds = (time.Since(start) - checking).Round(100 * time.Millisecond).Seconds()
	op.Note("restored and ready in %.1fs", rec.RTOSeconds)
	return nil
}

// checkData compares every restored database with the counts and
// checksums its backup recorded, and every restored volume's files with
// the archive the snapshot holds.
func checkData(ctx context.Context, a *App, plan *RecoveryPlan, in Reader) ([]string, error) {
	var checked, bad []string
	for i := range plan.Strategies {
		e := &plan.Strategies[i]
		if e.Name == "volume" {
			c, b, err := checkVolumes(ctx, a, e, in)
			if err != nil {
				return checked, err
			}
			checked, bad = append(checked, c...), append(bad, b...)
			continue
		}
		s, ok := dbFor(e)
		if !ok {
			continue
		}
		if e.Backup[tablesKey] == "" {
			return checked, fmt.Errorf("backup %s recorded no table checksums for database %s, so the drill cannot check it; make a new backup", plan.Timestamp, e.Params["dbName"])
		}
		if e.Backup[sumsKey] != s.dialect.sumVersion {
			return checked, fmt.Errorf("backup %s recorded the table checksums of database %s by an older formula, so the drill cannot check it; make a new backup", plan.Timestamp, e.Params["dbName"])
		}
		got, err := s.tableSums(ctx, a, e.Restore["dbName"], "")
		if err != nil {
			return checked, err
		}
		want := map[string]string{}
		for k, val := range e.Backup {
			if t, ok := strings.CutPrefix(k, tablePrefix); ok {
				want[t] = val
			}
		}
		bad = append(bad, diffSums(e.Params["dbName"], want, got)...)
		checked = append(checked, fmt.Sprintf("%s %s: %d tables", e.Name, e.Params["dbName"], len(want)))
	}
	if len(bad) > 0 {
		return checked, fmt.Errorf("the restored data differs from what backup %s recorded: %s", plan.Timestamp, strings.Join(bad, "; "))
	}
	return checked, nil
}

// checkVolumes compares each restored claim's files with the archive.
func checkVolumes(ctx context.Context, a *App, e *StrategyEntry, in Reader) (checked, bad []string, err error) {
	for pvc, target := range e.Restore {
		want, err := archivedSums(ctx, in, pvc)
		if err != nil {
			return checked, bad, err
		}
		got, err := restoredSums(ctx, a, target)
		if err != nil {
			return checked, bad, err
		}
		bad = append(bad, diffSums(target, want, got)...)
		checked = append(checked, fmt.Sprintf("volume %s: %d files", pvc, len(want)))
	}
	return checked, bad, nil
}

// diffSums lists the tables or files whose sums differ, sorted.
func diffSums(where string, want, got map[string]string) []string {
	names := map[string]bool{}
	for t := range want {
		names[t] = true
	}
	for t := range got {
		names[t] = true
	}
	var bad []string
	for t := range names {
		if want[t] != got[t] {
			bad = append(bad, fmt.Sprintf("%s: %s: backup had %q, restore has %q", where, t, orName(want[t], "nothing"), orName(got[t], "nothing")))
		}
	}
	sort.Strings(bad)
	return bad
}

// discard removes the drill's side: its databases, then its namespace
// and with it the PVCs and workloads. It computes every name itself, so a
// drill that failed half-way is cleaned up too.
func discard(ctx context.Context, a *App, plan *RecoveryPlan) ([]string, error) {
	var removed []string
	var errs []error
	for i := range plan.Strategies {
		e := &plan.Strategies[i]
		s, ok := dbFor(e)
		if !ok {
			continue
		}
		base := orName(e.Params["baseName"], e.Params["dbName"])
		target := base + "_" + VerifyColor
		if !dbName().MatchString(target) || target == a.liveName(base, "_") {
			errs = append(errs, fmt.Errorf("refusing to drop database %q", target))
			continue
		}
		px, err := serverPod(ctx, a, s.server)
		if err == nil {
			_, err = px.run(ctx, s.dialect.drop, target)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", target, err))
			continue
		}
		removed = append(removed, "database "+target)
	}
	ns := a.Name + "-" + VerifyColor
	gone, err := a.Kube.DeleteNamespace(ctx, ns, 3*time.Minute)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("delete namespace %s: %w", ns, err))
	case !gone:
		errs = append(errs, fmt.Errorf("namespace %s is still terminating after 3m", ns))
	default:
		removed = append(removed, "namespace "+ns)
	}
	return removed, errors.Join(errs...)
}

// removeLeftoverDrill removes the throwaway side of a drill that was
// killed before its own clean-up: its namespace, made first by every
// drill, still exists, and the caller holds the app's lock, which every
// drill holds while it runs, so no drill owns it any more. plan names
// the databases to drop. It returns what it removed.
func removeLeftoverDrill(ctx context.Context, op *operation.Op, a *App, plan *RecoveryPlan) ([]string, error) {
	ns := a.Name + "-" + VerifyColor
	phase, err := a.Kube.NamespacePhase(ctx, ns)
	if err != nil || phase == kube.PhaseNotFound {
		return nil, err
	}
	op.Step("remove a killed drill's side")
	drill := *a
	drill.Color = VerifyColor
	removed, err := discard(ctx, &drill, plan)
	if err != nil {
		return removed, fmt.Errorf("a killed drill left %s, which could not be removed: %w", ns, err)
	}
	op.Note("removed what a killed drill left: %s", strings.Join(removed, ", "))
	return removed, nil
}

// scratchCopy is a deep copy of plan for the drill to fill in; the
// stored plan keeps saying what the last restore did.
func scratchCopy(plan *RecoveryPlan) (*RecoveryPlan, error) {
	b, err := yaml.Marshal(plan)
	if err != nil {
		return nil, err
	}
	c := &RecoveryPlan{}
	return c, yaml.Unmarshal(b, c)
}

// recordVerification stores rec on its plan, read afresh so nothing else
// the plan says is overwritten.
func recordVerification(e Env, app, ts string, rec *Verification) error {
	p, err := LoadPlan(e.Instance, app, ts)
	if err != nil {
		return err
	}
	cp := *rec
	p.Verification = &cp
	return p.Save(e.Instance)
}

// LastVerified is the newest passed drill among plans; nil if none.
func LastVerified(plans []*RecoveryPlan) *Verification {
	var last *Verification
	for _, p := range plans {
		if v := p.Verification; v != nil && v.Passed && (last == nil || v.VerifiedAt.After(last.VerifiedAt)) {
			last = v
		}
	}
	return last
}

// LastDrill is when the app's newest drill ran, passed or not; zero if
// never.
func LastDrill(plans []*RecoveryPlan) time.Time {
	var t time.Time
	for _, p := range plans {
		if v := p.Verification; v != nil && v.VerifiedAt.After(t) {
			t = v.VerifiedAt
		}
	}
	return t
}

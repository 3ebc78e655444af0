package backup

import (
	"strings"
	"testing"
	"time"
)

func TestDiffSums(t *testing.T) {
	want := map[string]string{"public.a": "3 x", "public.b": "1 y", "public.gone": "2 z"}
	got := map[string]string{"public.a": "3 x", "public.b": "1 Y", "public.new": "0 w"}
	bad := diffSums("gitea", want, got)
	if len(bad) != 3 || !strings.HasPrefix(bad[0], "gitea: public.b: backup had \"1 y\", restore has \"1 Y\"") ||
		!strings.Contains(bad[1], `public.gone: backup had "2 z", restore has "nothing"`) || !strings.Contains(bad[2], `public.new: backup had "nothing"`) {
		t.Errorf("diffSums: %q", bad)
	}
	if bad := diffSums("gitea", want, want); len(bad) != 0 {
		t.Errorf("equal sums differ: %q", bad)
	}
}

func TestLastVerified(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	plans := []*RecoveryPlan{
		{Timestamp: "b", Verification: &Verification{Backup: "b", Passed: false, VerifiedAt: t0.Add(2 * time.Hour)}},
		{Timestamp: "a", Verification: &Verification{Backup: "a", Passed: true, VerifiedAt: t0.Add(time.Hour)}},
		{Timestamp: "c", Verification: &Verification{Backup: "c", Passed: true, VerifiedAt: t0}},
		{Timestamp: "d"},
	}
	if v := LastVerified(plans); v == nil || v.Backup != "a" {
		t.Errorf("LastVerified = %+v, want the newest passed drill (a)", v)
	}
	if d := LastDrill(plans); !d.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("LastDrill = %s, want the newest drill, failed or not", d)
	}
	if LastVerified(plans[3:]) != nil || !LastDrill(nil).IsZero() {
		t.Error("no drill must give nil and zero")
	}
}

// The drill fills in a copy; the stored plan's restore state is not its.
func TestScratchCopyIsDeep(t *testing.T) {
	p := &RecoveryPlan{App: "x", Timestamp: "20261201T000000Z", Status: StatusRestored,
		Strategies: []StrategyEntry{{Name: "postgres", Params: map[string]string{"dbName": "x"}, Restore: map[string]string{"dbName": "x_green"}}}}
	c, err := scratchCopy(p)
	if err != nil {
		t.Fatal(err)
	}
	c.Strategies[0].Restore["dbName"] = "x_verify"
	c.Strategies[0].Status = StatusRestored
	c.Standby = &Side{Color: VerifyColor}
	if p.Strategies[0].Restore["dbName"] != "x_green" || p.Standby != nil {
		t.Errorf("the drill's copy changed the plan: %+v", p)
	}
}

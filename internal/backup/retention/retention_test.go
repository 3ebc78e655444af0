package retention

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// snaps builds snapshots from "ID@RFC3339" specs, in the given order.
func snaps(t *testing.T, specs ...string) []Item {
	t.Helper()
	var out []Item
	for _, s := range specs {
		id, ts, ok := strings.Cut(s, "@")
		if !ok {
			t.Fatalf("bad spec %q", s)
		}
		tm, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Item{ID: id, Time: tm})
	}
	return out
}

func ids(ss []Item) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestSelect(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC) // a Sunday
	// Two backups a day for ten days, Mar 6..15, at 03:00 and 15:00 (the
	// 15:00 of Mar 15 is in the future relative to now).
	var tenDays []string
	for d := 6; d <= 15; d++ {
		day := time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC)
		tenDays = append(tenDays,
			"d"+day.Format("02")+"a@"+day.Add(3*time.Hour).Format(time.RFC3339),
			"d"+day.Format("02")+"b@"+day.Add(15*time.Hour).Format(time.RFC3339))
	}
	months := []string{
		"jan1@2026-01-01T00:00:00Z", "jan31@2026-01-31T23:00:00Z",
		"feb10@2026-02-10T00:00:00Z", "feb20@2026-02-20T00:00:00Z",
		"mar01@2026-03-01T00:00:00Z", "dec@2025-12-24T00:00:00Z",
	}

	cases := []struct {
		name       string
		in         []string
		p          Policy
		keep, drop []string
	}{
		{
			name: "zero policy keeps everything, newest first",
			in:   []string{"a@2026-03-01T00:00:00Z", "b@2026-03-02T00:00:00Z"},
			keep: []string{"b", "a"}, drop: []string{},
		},
		{
			name: "negative count keeps everything",
			in:   []string{"a@2026-03-01T00:00:00Z", "b@2026-03-02T00:00:00Z"},
			p:    Policy{KeepLast: -1},
			keep: []string{"b", "a"}, drop: []string{},
		},
		{
			name: "keep last 3",
			in:   tenDays,
			p:    Policy{KeepLast: 3},
			// d15b is in the future: kept, and takes no slot.
			keep: []string{"d15b", "d15a", "d14b", "d14a"},
			drop: []string{"d13b", "d13a", "d12b", "d12a", "d11b", "d11a", "d10b", "d10a", "d09b", "d09a", "d08b", "d08a", "d07b", "d07a", "d06b", "d06a"},
		},
		{
			name: "keep daily 4: newest of each of the 4 latest days",
			in:   tenDays,
			p:    Policy{KeepDaily: 4},
			keep: []string{"d15b", "d15a", "d14b", "d13b", "d12b"},
			drop: []string{"d14a", "d13a", "d12a", "d11b", "d11a", "d10b", "d10a", "d09b", "d09a", "d08b", "d08a", "d07b", "d07a", "d06b", "d06a"},
		},
		{
			name: "keep weekly 2: ISO weeks start on Monday (Mar 9)",
			in:   tenDays,
			p:    Policy{KeepWeekly: 2},
			// Week of Mar 9..15: newest past one is d15a; week of Mar 2..8: d08b.
			keep: []string{"d15b", "d15a", "d08b"},
			drop: []string{"d14b", "d14a", "d13b", "d13a", "d12b", "d12a", "d11b", "d11a", "d10b", "d10a", "d09b", "d09a", "d08a", "d07b", "d07a", "d06b", "d06a"},
		},
		{
			name: "rules overlap: a snapshot kept by two rules counts in both",
			in:   tenDays,
			p:    Policy{KeepLast: 2, KeepDaily: 2},
			keep: []string{"d15b", "d15a", "d14b"},
			drop: []string{"d14a", "d13b", "d13a", "d12b", "d12a", "d11b", "d11a", "d10b", "d10a", "d09b", "d09a", "d08b", "d08a", "d07b", "d07a", "d06b", "d06a"},
		},
		{
			name: "keep monthly 3 skips months without backups",
			in:   months,
			p:    Policy{KeepMonthly: 3},
			keep: []string{"mar01", "feb20", "jan31"},
			drop: []string{"feb10", "jan1", "dec"},
		},
		{
			name: "keep monthly more than there are months keeps one per month",
			in:   months,
			p:    Policy{KeepMonthly: 12},
			keep: []string{"mar01", "feb20", "jan31", "dec"},
			drop: []string{"feb10", "jan1"},
		},
		{
			name: "daily counts days with backups, not calendar days back from now",
			in:   []string{"old1@2025-06-01T10:00:00Z", "old2@2025-06-01T20:00:00Z", "old3@2025-05-20T10:00:00Z", "old4@2025-05-01T10:00:00Z"},
			p:    Policy{KeepDaily: 2},
			keep: []string{"old2", "old3"},
			drop: []string{"old1", "old4"},
		},
		{
			name: "equal times order by ID",
			in:   []string{"b@2026-03-01T00:00:00Z", "a@2026-03-01T00:00:00Z", "c@2026-02-01T00:00:00Z"},
			p:    Policy{KeepLast: 1},
			keep: []string{"a"}, drop: []string{"b", "c"},
		},
		{
			name: "combined policy",
			in:   append(append([]string{}, tenDays...), months...),
			p:    Policy{KeepLast: 1, KeepDaily: 3, KeepWeekly: 3, KeepMonthly: 4},
			// last: d15a; daily: d15a d14b d13b; weekly: d15a d08b mar01 (week
			// of Feb 23..Mar 1); monthly: d15a feb20 jan31 dec.
			keep: []string{"d15b", "d15a", "d14b", "d13b", "d08b", "mar01", "feb20", "jan31", "dec"},
			drop: []string{"d14a", "d13a", "d12b", "d12a", "d11b", "d11a", "d10b", "d10a", "d09b", "d09a", "d08a", "d07b", "d07a", "d06b", "d06a", "feb10", "jan1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := snaps(t, tc.in...)
			before := ids(in)
			keep, drop := Select(in, tc.p, now)
			if got := ids(keep); !reflect.DeepEqual(got, tc.keep) {
				t.Errorf("keep = %v, want %v", got, tc.keep)
			}
			if got := ids(drop); !reflect.DeepEqual(got, tc.drop) {
				t.Errorf("drop = %v, want %v", got, tc.drop)
			}
			if !reflect.DeepEqual(ids(in), before) {
				t.Errorf("Select reordered its input")
			}
		})
	}
}

func TestSelectUsesNowsLocation(t *testing.T) {
	// 23:30 UTC on Mar 1 is already Mar 2 in Berlin (UTC+1): in UTC the two
	// backups share a day; in Berlin they do not.
	in := snaps(t, "late@2026-03-01T23:30:00Z", "early@2026-03-01T01:00:00Z")
	berlin := time.FixedZone("CET", 3600)
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

	keep, _ := Select(in, Policy{KeepDaily: 5}, now)
	if got := ids(keep); !reflect.DeepEqual(got, []string{"late"}) {
		t.Errorf("UTC days: keep = %v, want [late]", got)
	}
	keep, _ = Select(in, Policy{KeepDaily: 5}, now.In(berlin))
	if got := ids(keep); !reflect.DeepEqual(got, []string{"late", "early"}) {
		t.Errorf("Berlin days: keep = %v, want [late early]", got)
	}
}

func TestValidate(t *testing.T) {
	if err := (Policy{KeepLast: 3, KeepMonthly: 1}).Validate(); err != nil {
		t.Errorf("valid policy: %v", err)
	}
	err := Policy{KeepWeekly: -2}.Validate()
	if err == nil || !strings.Contains(err.Error(), "keepWeekly is -2") {
		t.Errorf("negative weekly: err = %v", err)
	}
}

// Package retention decides which backups a policy keeps. It is pure: no
// clock, no repository; the caller deletes what Select drops.
//
// The semantics follow restic's "forget" and kopia's retention:
//
//   - Snapshots are ordered newest first (by Time, then by ID for ties).
//   - KeepLast n keeps the n newest snapshots.
//   - KeepDaily n keeps, for each of the n most recent calendar days that
//     have snapshots, the newest snapshot of that day. KeepWeekly (ISO
//     weeks, Monday first) and KeepMonthly do the same for weeks and months.
//     Days without a backup do not use up the count, so a schedule that
//     stopped for a month still keeps n daily snapshots instead of none.
//   - Calendar periods are read in now's location, so the caller decides
//     whether "a day" is UTC or the operator's local day.
//   - A snapshot is kept if any rule keeps it.
//   - Snapshots dated after now (a clock that ran ahead) are always kept and
//     take no slot in any rule: a policy must never delete what it cannot
//     place in time.
//   - The zero Policy keeps everything, so a missing configuration never
//     deletes backups.
package retention

import (
	"fmt"
	"sort"
	"time"
)

// Policy says how many snapshots of each kind to keep. Zero means the rule
// keeps nothing by itself.
type Policy struct {
	KeepLast    int `json:"keepLast,omitempty" yaml:"keepLast,omitempty"`
	KeepDaily   int `json:"keepDaily,omitempty" yaml:"keepDaily,omitempty"`
	KeepWeekly  int `json:"keepWeekly,omitempty" yaml:"keepWeekly,omitempty"`
	KeepMonthly int `json:"keepMonthly,omitempty" yaml:"keepMonthly,omitempty"`
}

// Validate rejects negative counts, which have no meaning and would
// otherwise read as "keep nothing".
func (p Policy) Validate() error {
	for _, f := range []struct {
		name string
		n    int
	}{{"keepLast", p.KeepLast}, {"keepDaily", p.KeepDaily}, {"keepWeekly", p.KeepWeekly}, {"keepMonthly", p.KeepMonthly}} {
		if f.n < 0 {
			return fmt.Errorf("retention %s is %d: use 0 or a positive count", f.name, f.n)
		}
	}
	return nil
}

// IsZero reports a policy with no rule, which keeps everything.
func (p Policy) IsZero() bool { return p == Policy{} }

// Item is one backup as the policy sees it: when it was taken, and an ID
// that orders backups taken in the same instant.
type Item struct {
	ID   string
	Time time.Time
}

// Select splits snaps into those the policy keeps and those it drops, both
// newest first. It does not modify snaps. A policy that fails Validate
// keeps everything.
func Select(snaps []Item, p Policy, now time.Time) (keep, drop []Item) {
	sorted := append([]Item(nil), snaps...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return sorted[i].ID < sorted[j].ID
	})
	if p.IsZero() || p.Validate() != nil {
		return sorted, nil
	}

	loc := now.Location()
	rules := []*rule{
		{left: p.KeepLast, period: func(time.Time) string { return "" }, every: true},
		{left: p.KeepDaily, period: func(t time.Time) string { return t.In(loc).Format("2006-01-02") }},
		{left: p.KeepWeekly, period: func(t time.Time) string {
			y, w := t.In(loc).ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		}},
		{left: p.KeepMonthly, period: func(t time.Time) string { return t.In(loc).Format("2006-01") }},
	}
	for _, s := range sorted {
		if s.Time.After(now) {
			keep = append(keep, s)
			continue
		}
		kept := false
		for _, r := range rules {
			kept = r.take(s.Time) || kept
		}
		if kept {
			keep = append(keep, s)
		} else {
			drop = append(drop, s)
		}
	}
	return keep, drop
}

// rule keeps the first (newest) snapshot of each new period until its
// count runs out. every makes each snapshot a period of its own (KeepLast).
type rule struct {
	left   int
	period func(time.Time) string
	every  bool
	last   string
	seen   bool
}

func (r *rule) take(t time.Time) bool {
	if r.left <= 0 {
		return false
	}
	key := r.period(t)
	if !r.every && r.seen && key == r.last {
		return false
	}
	r.last, r.seen = key, true
	r.left--
	return true
}

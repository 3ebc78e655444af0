package central

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is one recurring task of the daemon, such as an app's scheduled
// backup. Key identifies it across ticks (e.g. "home/listmonk/backup"), so
// a config edit that keeps the key keeps its place in time.
type Job struct {
	Key  string
	Cron string // five fields (minute hour day month weekday) or @daily, @hourly, …
	// Last is when it last ran, from its own records (e.g. the newest
	// backup); zero if never. A run missed while the daemon was down is
	// caught up once at start.
	Last time.Time
}

// ParseCron checks a schedule the way the Scheduler reads it.
func ParseCron(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %v; use five fields (minute hour day month weekday), e.g. \"0 3 * * *\" for 03:00 daily, or @daily", spec, err)
	}
	return s, nil
}

// Scheduler starts jobs when they are due. Jobs are listed afresh at every
// tick, so schedules edited in config.yaml take effect without a restart.
type Scheduler struct {
	// Jobs lists the current jobs; errors name schedules it could not read
	// (they are logged, the others still run).
	Jobs func() ([]Job, []error)
	// Start begins a due job; it must not block for the job's duration
	// (the daemon runs it as an operation).
	Start func(ctx context.Context, key string) error
	Now   func() time.Time
	Log   *slog.Logger

	mu   sync.Mutex
	next map[string]time.Time
	spec map[string]string
}

// Loop ticks every interval until ctx ends.
func (s *Scheduler) Loop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick starts every job that is due now and returns their keys.
func (s *Scheduler) Tick(ctx context.Context) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next, s.spec = map[string]time.Time{}, map[string]string{}
	}
	now := s.Now()
	jobs, errs := s.Jobs()
	for _, err := range errs {
		s.Log.Warn("schedule not read", "error", err)
	}
	seen := map[string]bool{}
	var started []string
	for _, j := range jobs {
		seen[j.Key] = true
		sched, due := s.due(j, now)
		if due && s.start(ctx, j.Key) {
			// A job that could not start (another operation holds the
			// app) stays due and is tried again at the next tick.
			s.next[j.Key] = sched.Next(now)
			started = append(started, j.Key)
		}
	}
	for k := range s.next {
		if !seen[k] {
			delete(s.next, k)
			delete(s.spec, k)
		}
	}
	return started
}

// due decides whether j runs now.
func (s *Scheduler) due(j Job, now time.Time) (cron.Schedule, bool) {
	sched, err := ParseCron(j.Cron)
	if err != nil {
		s.Log.Warn("schedule not valid", "job", j.Key, "error", err)
		return nil, false
	}
	next, known := s.next[j.Key]
	if !known || s.spec[j.Key] != j.Cron {
		// First sighting, or the schedule changed: the next run follows the
		// last one, so a run missed while the daemon was down happens now.
		from := j.Last
		if from.IsZero() {
			from = now
		}
		next = sched.Next(from)
		s.spec[j.Key] = j.Cron
	}
	s.next[j.Key] = next
	return sched, !now.Before(next)
}

func (s *Scheduler) start(ctx context.Context, key string) bool {
	if err := s.Start(ctx, key); err != nil {
		s.Log.Warn("scheduled job not started", "job", key, "error", err)
		return false
	}
	s.Log.Info("scheduled job started", "job", key)
	return true
}

// NextRuns checks spec as the Scheduler reads it and returns its next n
// times after from, so a form can show what a schedule means.
func NextRuns(spec string, from time.Time, n int) ([]time.Time, error) {
	s, err := ParseCron(spec)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	for t := from; len(out) < n; {
		t = s.Next(t)
		out = append(out, t)
	}
	return out, nil
}

package central

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestSchedulerRunsDueJobsOnceAndCatchesUp(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 5, 2, 59, 0, 0, time.UTC)}
	jobs := []Job{
		{Key: "home/ghost/backup", Cron: "0 3 * * *", Last: time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)},
		// Last backup two days ago: the run missed while down happens now.
		{Key: "home/gitea/backup", Cron: "0 3 * * *", Last: time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)},
		{Key: "home/bad/backup", Cron: "every day"},
	}
	var started []string
	busy := map[string]bool{}
	s := &Scheduler{
		Jobs: func() ([]Job, []error) { return jobs, nil },
		Start: func(_ context.Context, key string) error {
			if busy[key] {
				return errors.New("busy")
			}
			started = append(started, key)
			return nil
		},
		Now: clock.now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx := context.Background()
	if got := s.Tick(ctx); !slices.Equal(got, []string{"home/gitea/backup"}) {
		t.Fatalf("02:59 tick started %v, want only the caught-up gitea", got)
	}
	if got := s.Tick(ctx); len(got) != 0 {
		t.Fatalf("second tick at the same minute started %v again", got)
	}
	clock.t = clock.t.Add(time.Minute) // 03:00
	busy["home/ghost/backup"] = true
	if got := s.Tick(ctx); !slices.Equal(got, []string{"home/gitea/backup"}) {
		t.Fatalf("03:00 tick started %v, want gitea (ghost is busy)", got)
	}
	busy["home/ghost/backup"] = false
	clock.t = clock.t.Add(time.Minute)
	if got := s.Tick(ctx); !slices.Equal(got, []string{"home/ghost/backup"}) {
		t.Fatalf("03:01 tick started %v, want the ghost run that could not start at 03:00", got)
	}
	clock.t = clock.t.Add(23 * time.Hour)
	if got := s.Tick(ctx); len(got) != 0 {
		t.Fatalf("02:01 next day started %v", got)
	}
	// A schedule edited in config takes effect at the next tick.
	jobs[0].Cron = "0 2 * * *"
	jobs[0].Last = clock.t.Add(-time.Hour)
	if got := s.Tick(ctx); !slices.Equal(got, []string{"home/ghost/backup"}) {
		t.Fatalf("after moving ghost to 02:00 the tick started %v", got)
	}
	if len(started) != 4 {
		t.Fatalf("started %v", started)
	}
}

func TestParseCronSaysHowToWriteOne(t *testing.T) {
	if _, err := ParseCron("0 3 * * *"); err != nil {
		t.Fatal(err)
	}
	_, err := ParseCron("daily at 3")
	if err == nil || !strings.Contains(err.Error(), "five fields") {
		t.Fatalf("error %v does not teach the format", err)
	}
}

func TestNextRuns(t *testing.T) {
	from := time.Date(2026, 3, 8, 23, 15, 0, 0, time.UTC)
	got, err := NextRuns("0 3 * * *", from, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{time.Date(2026, 3, 9, 3, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)}
	if !slices.Equal(got, want) {
		t.Fatalf("next runs: %v, want %v", got, want)
	}
	if _, err := NextRuns("61 3 * * *", from, 1); err == nil || !strings.Contains(err.Error(), "five fields") {
		t.Fatalf("a bad minute: %v", err)
	}
}

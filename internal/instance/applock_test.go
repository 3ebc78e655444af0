package instance

import (
	"strings"
	"sync"
	"testing"

	"github.com/wild-cloud/wild/internal/problem"
)

// TestAppLockExcludesGoroutines: of many goroutines trying the same app's
// lock at once, exactly one gets it; the others are told who holds it.
// Another app's lock is independent.
func TestAppLockExcludesGoroutines(t *testing.T) {
	_, inst := newInstance(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []func()
	conflicts := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := inst.TryLockApp("ghost")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				got = append(got, unlock)
			case problem.CodeOf(err) == problem.Conflict:
				conflicts++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(got) != 1 || conflicts != 7 {
		t.Fatalf("%d goroutines got the lock, %d were refused", len(got), conflicts)
	}
	inst.NoteAppLock("ghost", "op_deploy_app_ghost_1")
	if _, err := inst.TryLockApp("ghost"); err == nil || !strings.Contains(err.Error(), "op_deploy_app_ghost_1") {
		t.Errorf("refusal does not name the holder: %v", err)
	}
	other, err := inst.TryLockApp("mysql")
	if err != nil {
		t.Fatalf("another app's lock: %v", err)
	}
	other()
	got[0]()
	again, err := inst.TryLockApp("ghost")
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	again()
}

package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/fsutil"
)

// Down stops every process the cluster in dir started, by recorded PID
// only. Data stays in dir, so a later Up continues where it left off.
func Down(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	st, err := loadState(dir)
	if err != nil || st == nil {
		return err
	}
	unlock, err := fsutil.Lock(lockPath(dir))
	if err != nil {
		return err
	}
	defer unlock()
	if st, err = loadState(dir); err != nil {
		return err
	}
	// The node first, while the API server still answers its last status
	// updates; clients next, etcd last, so the API server shuts down
	// cleanly instead of logging storage errors.
	var errs []error
	if st.RealNode {
		errs = stopNode(dir, st)
	}
	var clients []string
	for _, name := range Components {
		if name != Etcd {
			clients = append(clients, name)
		}
	}
	errs = append(errs, stopAll(st, clients)...)
	errs = append(errs, stopAll(st, []string{Etcd})...)
	if err := saveState(dir, st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopAll stops the named components in parallel and forgets their PIDs.
func stopAll(st *state, names []string) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	// Read every record before any goroutine writes the map back.
	recs := map[string]procRecord{}
	for _, name := range names {
		if rec, ok := st.Processes[name]; ok {
			recs[name] = rec
		}
	}
	for name, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := rec.stop(stopGrace(name))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", name, err))
				return
			}
			// Keep path and args: Start(component) reuses them.
			rec.PID, rec.StartTime = 0, 0
			st.Processes[name] = rec
		}()
	}
	wg.Wait()
	return errs
}

// lockComponent validates a component name, takes the cluster lock and
// loads the recorded state, for Stop and Start.
func (c *Cluster) lockComponent(component string) (*state, func(), error) {
	unlock, err := fsutil.Lock(lockPath(c.Dir))
	if err != nil {
		return nil, nil, err
	}
	st, err := loadState(c.Dir)
	if err == nil && st == nil {
		err = fmt.Errorf("no dev cluster in %s", c.Dir)
	}
	if err == nil && !slices.Contains(st.components(), component) {
		err = fmt.Errorf("unknown component %q; one of %v", component, st.components())
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

// Stop stops one component, e.g. the API server for a fault test.
func (c *Cluster) Stop(component string) error {
	st, unlock, err := c.lockComponent(component)
	if err != nil {
		return err
	}
	defer unlock()
	errs := stopAll(st, []string{component})
	return errors.Join(append(errs, saveState(c.Dir, st))...)
}

// Start starts a stopped component with its recorded command, together
// with any other component that is not running (see startDead for why
// starting the API server also restarts its clients), and waits until the
// cluster is ready again.
func (c *Cluster) Start(ctx context.Context, component string) error {
	st, unlock, err := c.lockComponent(component)
	if err != nil {
		return err
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.startDead(ctx, st); err != nil {
		return err
	}
	return c.waitReady(ctx, st)
}

// ClusterStatus describes a cluster's processes. (Status is the function.)
type ClusterStatus struct {
	Dir        string            `json:"dir"`
	Kubeconfig string            `json:"kubeconfig"`
	Server     string            `json:"server"`
	Running    bool              `json:"running"`
	Components []ComponentStatus `json:"components"`
}

// ComponentStatus is one process of the cluster.
type ComponentStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	// RSS is the resident memory in bytes while running.
	RSS int64  `json:"rss,omitempty"`
	Log string `json:"log"`
	// LastLines of the log, for a component that is not running.
	LastLines []string `json:"lastLines,omitempty"`
}

// Status reports which components of the cluster in dir are running; for
// the others it includes the end of their logs.
func Status(dir string) (*ClusterStatus, error) {
	dir, st, err := recorded(dir)
	if err != nil {
		return nil, err
	}
	c := newCluster(dir, st)
	s := &ClusterStatus{Dir: dir, Kubeconfig: c.Kubeconfig, Server: c.Server, Running: true}
	for _, name := range st.components() {
		rec := st.Processes[name]
		cs := ComponentStatus{Name: name, Log: logPath(dir, name), Running: rec.alive()}
		if cs.Running {
			cs.PID = rec.PID
			cs.RSS, _ = procRSS(rec.PID)
		} else {
			s.Running = false
			cs.LastLines = lastLines(cs.Log, 10)
		}
		s.Components = append(s.Components, cs)
	}
	return s, nil
}

// TotalRSS sums the resident memory of the running components.
func (s *ClusterStatus) TotalRSS() int64 {
	var n int64
	for _, c := range s.Components {
		n += c.RSS
	}
	return n
}

// Reap ties a cluster's life to another process: once the process with
// the given PID (and start time, when non-zero) is gone, it stops the
// cluster and, if remove is set, deletes dir. Test harnesses run it in a
// detached helper so a test binary that panics or is killed leaves nothing.
func Reap(ctx context.Context, dir string, pid int, startTime uint64, remove bool) error {
	owner := procRecord{PID: pid, StartTime: startTime}
	for ownerAlive(owner) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := Down(dir); err != nil {
		return err
	}
	if remove {
		return os.RemoveAll(dir)
	}
	return nil
}

// ProcessStartTime exposes a process's kernel start time for Reap.
func ProcessStartTime(pid int) (uint64, error) { return procStartTime(pid) }

func ownerAlive(r procRecord) bool {
	st, err := procStartTime(r.PID)
	if err != nil || zombie(r.PID) {
		return false
	}
	return r.StartTime == 0 || st == r.StartTime
}

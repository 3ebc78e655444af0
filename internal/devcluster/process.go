package devcluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wild-cloud/wild/internal/fsutil"
)

// Component names, in start order.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	Kwok              = "kwok"
	Provisioner       = "provisioner"
)

// Components lists every process of a dev cluster in start order.
var Components = []string{Etcd, APIServer, ControllerManager, Scheduler, Kwok, Provisioner}

// stopGrace is how long a component gets to exit on SIGTERM before SIGKILL.
// The API server waits for its clients' watches to drain, which takes
// 15 s or more while they still run; its data is safe in etcd, so it gets
// less patience.
func stopGrace(component string) time.Duration {
	if component == APIServer {
		return 3 * time.Second
	}
	return 10 * time.Second
}

// state is what Dir/state.json records: enough to find, verify and restart
// every process without guessing.
type state struct {
	Ports      ports                 `json:"ports"`
	Nodes      int                   `json:"nodes"`
	RealNode   bool                  `json:"realNode,omitempty"`
	BinDir     string                `json:"binDir"`
	WildBinary string                `json:"wildBinary"`
	Processes  map[string]procRecord `json:"processes"`
}

type ports struct {
	EtcdClient int `json:"etcdClient"`
	EtcdPeer   int `json:"etcdPeer"`
	APIServer  int `json:"apiServer"`
}

// procRecord identifies a process by PID plus kernel start time, because a
// PID alone may have been reused by an unrelated process since.
type procRecord struct {
	PID       int      `json:"pid"`
	StartTime uint64   `json:"startTime"`
	Path      string   `json:"path"`
	Args      []string `json:"args"`
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }
func lockPath(dir string) string  { return filepath.Join(dir, ".lock") }
func logPath(dir, component string) string {
	return filepath.Join(dir, "logs", component+".log")
}

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w; remove the directory to start over", statePath(dir), err)
	}
	if st.Processes == nil {
		st.Processes = map[string]procRecord{}
	}
	return &st, nil
}

func saveState(dir string, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(statePath(dir), append(b, '\n'), 0o644)
}

// startProcess launches a component in its own session so it outlives the
// caller (and a Ctrl-C in the caller's terminal does not reach it).
func startProcess(dir, component, path string, args []string) (procRecord, error) {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return procRecord{}, err
	}
	logf, err := os.OpenFile(logPath(dir, component), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return procRecord{}, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== %s starting %s\n", time.Now().Format(time.RFC3339), component)
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return procRecord{}, fmt.Errorf("start %s: %w", component, err)
	}
	// Reap the child if it exits while we are still running, so a dead
	// component never lingers as a zombie that looks alive.
	go func() { _ = cmd.Wait() }()
	rec := procRecord{PID: cmd.Process.Pid, Path: path, Args: args}
	rec.StartTime, _ = procStartTime(rec.PID)
	rec.awaitExec(time.Second)
	return rec, nil
}

// awaitExec waits until the kernel has laid out the new program's command
// line. Start returns once exec is past its point of no return, a moment
// before that; until then /proc/PID/cmdline is empty, which alive and
// exiting would read as "not ours" and "on its way out" (a read right
// after Start saw it empty about once in fifteen).
func (r procRecord) awaitExec(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		argv0, ok := r.argv0()
		if !ok || argv0 != "" {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// alive reports whether the recorded process is still the one we started
// and has not begun to exit.
func (r procRecord) alive() bool {
	argv0, ok := r.argv0()
	return ok && argv0 == r.Path
}

// exiting reports whether the recorded process is on its way out: still
// in the process table, but its address space (and so its command line)
// already gone.
func (r procRecord) exiting() bool {
	argv0, ok := r.argv0()
	return ok && argv0 == "" && r.StartTime != 0
}

func (r procRecord) argv0() (string, bool) {
	if !r.exists() {
		return "", false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", r.PID))
	if err != nil {
		return "", false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return string(argv0), true
}

// exists reports whether the recorded process (same PID, same start time)
// is still in the process table other than as a zombie. Unlike alive it
// ignores the command line, which is empty while a process is exiting:
// its address space is torn down before it closes its files and sockets,
// and until then it is not gone.
func (r procRecord) exists() bool {
	if r.PID <= 0 {
		return false
	}
	st, err := procStartTime(r.PID)
	if err != nil || (r.StartTime != 0 && st != r.StartTime) {
		return false
	}
	return !zombie(r.PID)
}

// stop sends SIGTERM, then SIGKILL after the grace period, and waits until
// the process has really exited (or is a zombie). It only ever signals a
// verified process.
func (r procRecord) stop(grace time.Duration) error {
	if r.exiting() {
		return waitExited(r, grace)
	}
	if !r.alive() {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGTERM)
	if waitExited(r, grace) == nil {
		return nil
	}
	if r.alive() {
		_ = syscall.Kill(r.PID, syscall.SIGKILL)
	}
	return waitExited(r, 10*time.Second)
}

// waitExited polls until the process no longer exists, or says it did not
// exit within d.
func waitExited(r procRecord, d time.Duration) error {
	deadline := time.Now().Add(d)
	for r.exists() {
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d (%s) did not exit within %s", r.PID, filepath.Base(r.Path), d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// procStat returns the fields of /proc/PID/stat after the command name,
// which may itself contain spaces and parentheses.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// procStartTime is field 22 of /proc/PID/stat: start time in clock ticks
// since boot, stable for the life of the process.
func procStartTime(pid int) (uint64, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func zombie(pid int) bool {
	f, err := procStat(pid)
	return err == nil && len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// procRSS returns the resident set size of a process in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// lastLines returns up to n final lines of a component's log.
func lastLines(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const max = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

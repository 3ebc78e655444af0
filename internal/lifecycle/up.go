package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/devimage"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
)

// DevInstance is the instance Up creates for the local cluster.
const DevInstance = "dev"

// Up gives a newcomer a working Wild Cloud with no cluster of their own:
// it builds the local control plane if needed, starts it, creates (or
// refreshes) the instance "dev" pointing at it, selects that instance and
// creates the self-signed wildcard certificates a real cluster's
// cert-manager would issue. Running it again is safe.
type Up struct {
	DataDir string
	Nodes   int
	Domain  string
	// RealNode says whether to run the real node (containers for real)
	// beside the kwok ones: auto uses it where root and the runtime are.
	RealNode devcluster.RealNodeMode
	// Observer receives the build's and the cluster's progress as log
	// events, and a phase per step; nil discards them.
	Observer event.Observer
}

// UpResult says what Up made ready.
type UpResult struct {
	Instance     string   `json:"instance"`
	Created      bool     `json:"created"`
	Kubeconfig   string   `json:"kubeconfig"`
	Server       string   `json:"server"`
	ClusterDir   string   `json:"clusterDir"`
	Certificates []string `json:"certificates,omitempty"`
}

// Run performs Up.
func (u *Up) Run(ctx context.Context) (*UpResult, error) {
	obs := event.Or(u.Observer)
	log := &lineWriter{obs: obs}
	phase := func(name string, f func() error) error {
		start := time.Now()
		obs.Observe(event.Event{Kind: event.PhaseStarted, Time: start.UTC(), Phase: name})
		err := f()
		e := event.Event{Kind: event.PhaseFinished, Time: time.Now().UTC(), Phase: name, Message: "succeeded", DurationMs: time.Since(start).Milliseconds()}
		if err != nil {
			e.Message, e.Error = "failed", err.Error()
		}
		obs.Observe(e)
		return err
	}
	var binDir string
	var cl *devcluster.Cluster
	var inst *instance.Instance
	res := &UpResult{}
	steps := []struct {
		name string
		do   func() error
	}{
		{"build", func() (err error) {
			binDir, err = devcluster.Build(ctx, devcluster.BuildOptions{Progress: log})
			return err
		}},
		{"cluster", func() (err error) {
			cl, err = devcluster.Up(ctx, devcluster.Options{Dir: devcluster.DefaultDir(u.DataDir), Nodes: u.Nodes, BinDir: binDir, RealNode: u.RealNode, Progress: log})
			return err
		}},
		{"instance", func() (err error) {
			inst, res.Created, err = ensureDevInstance(gitmode.NewStore(u.DataDir), u.Domain, cl.Kubeconfig)
			return err
		}},
		{"images", func() error { return prepareDevImages(ctx, inst, cl, log) }},
		{"certificates", func() (err error) {
			if res.Certificates, err = EnsureDevCertificates(ctx, inst); err != nil {
				return fmt.Errorf("create the dev wildcard certificates: %w", err)
			}
			return nil
		}},
	}
	for _, s := range steps {
		if err := cancelled(ctx); err != nil {
			return nil, err
		}
		if err := phase(s.name, s.do); err != nil {
			return nil, err
		}
	}
	log.flush()
	res.Instance, res.Kubeconfig, res.Server, res.ClusterDir = inst.Name, cl.Kubeconfig, cl.Server, cl.Dir
	return res, nil
}

func ensureDevInstance(s *instance.Store, domain, kubeconfig string) (*instance.Instance, bool, error) {
	inst, err := s.Open(DevInstance)
	created := false
	switch {
	case errors.Is(err, instance.ErrNotFound):
		inst, err = s.Create(instance.CreateOptions{Name: DevInstance, Domain: domain, Kubeconfig: kubeconfig})
		created = true
	case err == nil:
		err = inst.SetKubeconfig(kubeconfig)
	}
	if err != nil {
		return nil, false, fmt.Errorf("prepare the %q instance: %w", DevInstance, err)
	}
	return inst, created, s.Use(DevInstance)
}

// lineWriter turns what the control-plane code writes (it reports to an
// io.Writer) into one log event per line.
type lineWriter struct {
	mu  sync.Mutex
	obs event.Observer
	buf bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // incomplete: keep it for the next write
			return len(p), nil
		}
		w.obs.Observe(event.Event{Kind: event.Log, Time: time.Now().UTC(), Message: line[:len(line)-1]})
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.obs.Observe(event.Event{Kind: event.Log, Time: time.Now().UTC(), Message: w.buf.String()})
		w.buf.Reset()
	}
}

// prepareDevImages builds the dev images from Debian packages (cached by
// input hash), imports them into the real node, and points the dev
// instance's database apps at them through config. Without a real node
// it only records that there is none.
func prepareDevImages(ctx context.Context, inst *instance.Instance, cl *devcluster.Cluster, progress io.Writer) error {
	want := map[string]string{"cluster.realNode": strconv.FormatBool(cl.RealNode)}
	if cl.RealNode {
		cacheDir, err := devimage.DefaultCacheDir()
		if err != nil {
			return err
		}
		var built []devimage.Built
		for _, r := range devimage.Recipes {
			b, err := devimage.BuildDebian(ctx, r, devimage.BuildOptions{CacheDir: cacheDir, Progress: progress})
			if err != nil {
				return fmt.Errorf("build the dev images: %w", err)
			}
			built = append(built, b)
			want["cluster.images."+r.Replaces] = r.Ref
		}
		if _, err := devcluster.ImportImages(ctx, cl.Dir, built); err != nil {
			return err
		}
	}
	for _, path := range slices.Sorted(maps.Keys(want)) {
		if cur, err := inst.GetConfig(path); err == nil && fmt.Sprint(cur) == want[path] {
			continue
		}
		if err := inst.SetConfig(path, want[path]); err != nil {
			return err
		}
	}
	return nil
}

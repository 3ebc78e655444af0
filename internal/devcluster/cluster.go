// Package devcluster runs a real Kubernetes control plane on one machine:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler built
// from source, kwok simulating the nodes (pods are scheduled and marked
// Running, no container runs), and a local-path volume provisioner. Every
// piece of state lives under one directory, so a cluster can be stopped and
// started again with its data, and two clusters can run side by side.
package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wild-cloud/wild/internal/fsutil"
)

// Options configure Up.
type Options struct {
	// Dir holds all state: etcd data, certs, logs, PIDs, kubeconfig, volumes.
	Dir string
	// Nodes is the number of fake kwok nodes; default 3.
	Nodes int
	// BinDir holds the control-plane binaries; default DefaultBinDir().
	BinDir string
	// WildBinary runs the provisioner (`wild dev provisioner`); default
	// os.Executable(), which is wrong under `go test`, so tests pass
	// testutil.WildBinary().
	WildBinary string
	// RealNode says whether to run the real node beside the kwok nodes.
	RealNode RealNodeMode
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// Cluster is a running (or recorded) dev cluster.
type Cluster struct {
	// Dir is the absolute state directory.
	Dir string `json:"dir"`
	// Kubeconfig is the absolute path of the admin kubeconfig inside Dir.
	Kubeconfig string `json:"kubeconfig"`
	// Server is the API server URL.
	Server string `json:"server"`
	// Nodes is the number of fake nodes.
	Nodes int `json:"nodes"`
	// RealNode is true when node RealNodeName runs real containers.
	RealNode bool `json:"realNode"`
}

// DefaultDir is where `wild dev cluster` keeps its cluster unless told
// otherwise.
func DefaultDir(dataDir string) string { return filepath.Join(dataDir, "devcluster") }

// Up starts the cluster in opts.Dir, or returns it when it already runs
// and is healthy. Components that died are restarted; the ones still
// running are kept. It returns once /readyz answers, the nodes are Ready
// and the controller manager has created the default ServiceAccount.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	start := time.Now()
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if opts.Dir == "" {
		return nil, errors.New("no cluster directory given")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cluster dir: %w", err)
	}
	unlock, err := fsutil.Lock(lockPath(opts.Dir))
	if err != nil {
		return nil, err
	}
	defer unlock()

	st, err := loadState(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := opts.complete(st); err != nil {
		return nil, err
	}
	realNode, err := opts.wantRealNode(st, progress)
	if err != nil {
		return nil, err
	}
	if st != nil && allAlive(st) && realNode == st.RealNode {
		c := newCluster(opts.Dir, st)
		if err := c.readyz(ctx); err == nil {
			if opts.Nodes > st.Nodes {
				st.Nodes = opts.Nodes
				if err := c.bootstrap(ctx, st); err != nil {
					return nil, err
				}
				c.Nodes = st.Nodes
				if err := saveState(opts.Dir, st); err != nil {
					return nil, err
				}
			}
			fmt.Fprintf(progress, "dev cluster already running in %s\n", opts.Dir)
			return c, nil
		}
	}
	if st == nil {
		st = &state{Processes: map[string]procRecord{}}
	}
	// Running components were configured with the recorded ports, so those
	// stay; a fully stopped cluster takes the old ports back when free, which
	// keeps copies of its kubeconfig valid.
	if !anyAlive(st) {
		if st.Ports, err = choosePorts(st.Ports); err != nil {
			return nil, err
		}
	}
	st.Nodes = max(opts.Nodes, st.Nodes)
	st.RealNode = realNode
	st.BinDir = opts.BinDir
	st.WildBinary = opts.WildBinary

	c := newCluster(opts.Dir, st)
	keys := pki{dir: filepath.Join(opts.Dir, "pki")}
	if err := keys.ensure(); err != nil {
		return nil, fmt.Errorf("create cluster certificates: %w", err)
	}
	if err := keys.writeKubeconfig(c.Kubeconfig, c.Server); err != nil {
		return nil, err
	}
	for dir, mode := range map[string]os.FileMode{"etcd": 0o700, "volumes": 0o755, "logs": 0o755} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, dir), mode); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fmt.Fprintf(progress, "starting the dev cluster in %s (API server https://127.0.0.1:%d)\n", opts.Dir, st.Ports.APIServer)
	if err := c.startDead(ctx, st); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, st); err != nil {
		return nil, err
	}
	nodes := fmt.Sprintf("%d kwok nodes", st.Nodes)
	if st.RealNode {
		nodes += " and real node " + RealNodeName
	}
	fmt.Fprintf(progress, "dev cluster ready in %s: %s; kubeconfig %s\n",
		time.Since(start).Round(10*time.Millisecond), nodes, c.Kubeconfig)
	return c, nil
}

// wantRealNode decides whether the cluster runs the real node. A cluster
// that has one keeps it.
func (o *Options) wantRealNode(prev *state, progress io.Writer) (bool, error) {
	if o.RealNode == RealNodeOff && (prev == nil || !prev.RealNode) {
		return false, nil
	}
	err := nodeAvailable(o.Dir)
	switch {
	case err == nil:
		return true, nil
	case o.RealNode == RealNodeAuto:
		fmt.Fprintf(progress, "no real node, kwok nodes only (pods are simulated): %v\n", err)
		return false, nil
	default:
		return false, err
	}
}

// complete fills defaults; a cluster started before keeps the binaries it
// was started with unless told otherwise, so `up` works from any directory.
func (o *Options) complete(prev *state) error {
	var err error
	if o.Nodes < 0 || o.Nodes > 100 {
		return fmt.Errorf("--nodes must be between 1 and 100, got %d", o.Nodes)
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.BinDir == "" && prev != nil && CheckBinaries(prev.BinDir) == nil {
		o.BinDir = prev.BinDir
	}
	if o.BinDir == "" {
		if o.BinDir, err = DefaultBinDir(); err != nil {
			return err
		}
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return err
	}
	if err := CheckBinaries(o.BinDir); err != nil {
		return err
	}
	if o.WildBinary == "" {
		if o.WildBinary, err = os.Executable(); err != nil {
			return fmt.Errorf("find the wild binary for the provisioner: %w", err)
		}
	}
	if o.WildBinary, err = filepath.Abs(o.WildBinary); err != nil {
		return err
	}
	// `go run` deletes its binary when it exits, and the provisioner must
	// be restartable later: keep a copy in the cluster dir.
	if strings.Contains(o.WildBinary, string(filepath.Separator)+"go-build") {
		cp := filepath.Join(o.Dir, "bin", "wild")
		if err := copyExecutable(o.WildBinary, cp); err != nil {
			return fmt.Errorf("copy the wild binary for the provisioner: %w", err)
		}
		o.WildBinary = cp
	}
	return nil
}

func copyExecutable(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	// Write beside and rename: dst may be running (ETXTBSY on overwrite).
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".wild-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// Open returns the cluster recorded in dir, running or not.
func Open(dir string) (*Cluster, error) {
	dir, st, err := recorded(dir)
	if err != nil {
		return nil, err
	}
	return newCluster(dir, st), nil
}

// recorded loads the state of the cluster recorded in dir (made absolute),
// or explains how to start one.
func recorded(dir string) (string, *state, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	st, err := loadState(dir)
	if err == nil && st == nil {
		err = fmt.Errorf("no dev cluster in %s; start one with: wild dev cluster up --dir %s", dir, dir)
	}
	return dir, st, err
}

func newCluster(dir string, st *state) *Cluster {
	return &Cluster{
		Dir:        dir,
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Server:     fmt.Sprintf("https://127.0.0.1:%d", st.Ports.APIServer),
		Nodes:      st.Nodes,
		RealNode:   st.RealNode,
	}
}

// RESTConfig loads the admin kubeconfig.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", c.Kubeconfig, err)
	}
	// Tests and bootstrap issue bursts of requests; client-go's default
	// 5 QPS would make them wait on the client, not on the cluster.
	cfg.QPS, cfg.Burst = 200, 400
	return cfg, nil
}

// Client returns an admin clientset.
func (c *Cluster) Client() (kubernetes.Interface, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// command is the exact invocation of one component.
func (c *Cluster) command(st *state, name string) (string, []string) {
	dir := c.Dir
	keys := pki{dir: filepath.Join(dir, "pki")}
	kc := c.Kubeconfig
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", st.Ports.EtcdClient)
	bin := func(b string) string { return filepath.Join(st.BinDir, b) }
	switch name {
	case Containerd, CoreDNS, KubeProxy, Kubelet:
		return c.nodeCommand(st, name)
	case Etcd:
		return bin("etcd"), []string{
			"--data-dir=" + filepath.Join(dir, "etcd"),
			"--listen-client-urls=" + etcdURL,
			fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", st.Ports.EtcdPeer),
		}
	case APIServer:
		return bin("kube-apiserver"), []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(st.Ports.APIServer),
			"--tls-cert-file=" + keys.serverCert(),
			"--tls-private-key-file=" + keys.serverKey(),
			"--client-ca-file=" + keys.caCert(),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + keys.saPub(),
			"--service-account-signing-key-file=" + keys.saKey(),
			"--authorization-mode=RBAC",
			"--service-cluster-ip-range=" + serviceCIDR,
			"--allow-privileged=true",
			// The real node is reached by IP: its name is not in any DNS
			// this machine may ask.
			"--kubelet-preferred-address-types=InternalIP",
			"--profiling=false",
			// Endpoints may not point at loopback, and there is no other
			// address that is sure to exist; nothing in-cluster runs anyway.
			"--endpoint-reconciler-type=none",
			// The cert dir is unused (certs are given) but must not default
			// to /var/run/kubernetes, which may not be writable.
			"--cert-dir=" + keys.dir,
		}
	case ControllerManager:
		return bin("kube-controller-manager"), []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--controllers=*",
			"--leader-elect=false",
			"--secure-port=0",
			"--service-account-private-key-file=" + keys.saKey(),
			"--root-ca-file=" + keys.caCert(),
			"--cluster-signing-cert-file=" + keys.caCert(),
			"--cluster-signing-key-file=" + keys.caKey(),
			"--service-cluster-ip-range=" + serviceCIDR,
			"--profiling=false",
			// kwok renews node leases, but on a loaded 2-core machine it can
			// lag; a node wrongly marked Unknown gets its pods marked
			// NotReady, and kwok never marks them Ready again.
			"--node-monitor-grace-period=2m",
		}
	case Scheduler:
		return bin("kube-scheduler"), []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--leader-elect=false",
			"--secure-port=0",
			"--profiling=false",
		}
	case Kwok:
		return bin("kwok"), []string{
			"--kubeconfig=" + kc,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
			"--cidr=" + kwokPodCIDR,
			"--node-ip=127.0.0.1",
			// Without leases the only heartbeat is a node status patch about
			// once a minute, longer than the node monitor's grace period.
			"--node-lease-duration-seconds=40",
		}
	case Provisioner:
		return st.WildBinary, []string{"dev", "provisioner", "--kubeconfig=" + kc, "--dir=" + dir}
	}
	panic("unknown component " + name)
}

// choosePorts keeps the previous ports when all are free, else picks new
// free ones. All listeners are held until every port is chosen so the
// kernel cannot hand the same port out twice.
func choosePorts(prev ports) (ports, error) {
	if prev.APIServer != 0 && portsFree(prev.EtcdClient, prev.EtcdPeer, prev.APIServer) {
		return prev, nil
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var got []int
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		got = append(got, l.Addr().(*net.TCPAddr).Port)
	}
	return ports{EtcdClient: got[0], EtcdPeer: got[1], APIServer: got[2]}, nil
}

func portsFree(ps ...int) bool {
	for _, p := range ps {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// startDead starts every component that is not running and records it.
//
// When the API server is down, its clients are restarted along with it:
// after an outage their informers retry with a backoff of up to 30 s, so
// a restarted API server would otherwise sit next to a controller manager
// that takes half a minute to notice it.
//
// kwok starts last, once the API server answers, after the node leases of
// its previous run are deleted: a new kwok process has a new identity and
// would otherwise wait for those leases to expire (about 40 s) before it
// manages the nodes and their pods.
func (c *Cluster) startDead(ctx context.Context, st *state) error {
	if !st.Processes[APIServer].alive() {
		var clients []string
		for _, name := range Components {
			if name != Etcd && name != APIServer {
				clients = append(clients, name)
			}
		}
		if errs := stopAll(st, clients); len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	// The controller manager gives up (exits) when the API server is not
	// healthy within 10 s, which a loaded machine can exceed; it starts
	// once the API server answers, as kwok does.
	late := []string{ControllerManager, Kwok}
	for _, name := range Components {
		if slices.Contains(late, name) || st.Processes[name].alive() {
			continue
		}
		if err := c.startComponent(st, name); err != nil {
			return err
		}
	}
	var dead []string
	for _, name := range late {
		if !st.Processes[name].alive() {
			// Not running and not yet started: keep it out of the
			// liveness checks.
			rec := st.Processes[name]
			rec.PID, rec.StartTime = 0, 0
			st.Processes[name] = rec
			dead = append(dead, name)
		}
	}
	if err := saveState(c.Dir, st); err != nil {
		return err
	}
	if len(dead) > 0 {
		if err := c.poll(ctx, st, "the API server to answer /readyz", c.readyz); err != nil {
			return err
		}
	}
	for _, name := range dead {
		if name == Kwok {
			if err := c.deleteNodeLeases(ctx); err != nil {
				return err
			}
		}
		if err := c.startComponent(st, name); err != nil {
			return err
		}
	}
	if err := saveState(c.Dir, st); err != nil {
		return err
	}
	if st.RealNode {
		return c.startNode(ctx, st)
	}
	return nil
}

func (c *Cluster) startComponent(st *state, name string) error {
	path, args := c.command(st, name)
	rec, err := startProcess(c.Dir, name, path, args)
	if err != nil {
		return err
	}
	st.Processes[name] = rec
	return nil
}

func allAlive(st *state) bool {
	for _, name := range st.components() {
		if !st.Processes[name].alive() {
			return false
		}
	}
	return true
}

func anyAlive(st *state) bool {
	for _, name := range st.components() {
		if st.Processes[name].alive() {
			return true
		}
	}
	return false
}

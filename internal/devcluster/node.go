package devcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/devimage"
	"github.com/wild-cloud/wild/internal/fsutil"
)

// The real node's processes, in start order. They run beside the control
// plane when the cluster has a real node.
const (
	Containerd = "containerd"
	CoreDNS    = "coredns"
	KubeProxy  = "kube-proxy"
	Kubelet    = "kubelet"
)

// NodeComponents lists the real node's processes in start order.
var NodeComponents = []string{Containerd, CoreDNS, KubeProxy, Kubelet}

// The real node, its network and how pods get onto it.
const (
	// RealNodeName is the one node where containers really run.
	RealNodeName = "real-node-0"
	// RealNodeLabel (value "true") marks the real node; a pod that must
	// run for real selects it and tolerates RealNodeTaint.
	RealNodeLabel = "wild.cloud/real-node"
	// RealNodeTaint keeps every other pod (images that cannot exist
	// here) on the kwok nodes.
	RealNodeTaint = "wild.cloud/real-node"

	// PauseImage and SmokeImage are built locally from the devcluster
	// module's static programs and imported at node start: nothing can
	// be pulled.
	PauseImage = "wild.local/pause:3.10"
	SmokeImage = "wild.local/smoke:1"

	nodePodCIDR = "10.42.0.0/24"
	// nodeGateway is the bridge's address: pods' gateway and their DNS
	// server (CoreDNS listens there, on this machine only).
	nodeGateway   = "10.42.0.1"
	nodeBridge    = "wild0"
	clusterDomain = "cluster.local"
	kubeletPort   = 10250
	nodeClaimDir  = "/run/wild-devcluster"
	// nodeCgroup is the kubelet's cgroup root: every container of the
	// node lives below it, which is how down finds them.
	nodeCgroup = "/wild-node"
)

// RealNodeMode says whether a cluster gets a real node.
type RealNodeMode string

const (
	// RealNodeOff: kwok nodes only.
	RealNodeOff RealNodeMode = ""
	// RealNodeAuto: a real node when this machine can run one, else kwok
	// only with a one-line note saying what is missing.
	RealNodeAuto RealNodeMode = "auto"
	// RealNodeOn: a real node, or an error saying what is missing.
	RealNodeOn RealNodeMode = "on"
)

// components lists the cluster's processes in start order.
func (st *state) components() []string {
	if st.RealNode {
		return append(append([]string{}, Components...), NodeComponents...)
	}
	return Components
}

func nodeDir(dir string) string { return filepath.Join(dir, "node") }

// runtimeSocket is containerd's socket. Unix socket paths are limited to
// 108 bytes, so a long cluster dir gets a socket under /run instead.
func runtimeSocket(dir string) string {
	p := filepath.Join(nodeDir(dir), "containerd.sock")
	if len(p) < 100 {
		return p
	}
	return filepath.Join(nodeClaimDir, "containerd.sock")
}

// RealNodeSupport reports why this machine cannot run the real node, or
// nil when it can.
func RealNodeSupport() error {
	if os.Geteuid() != 0 {
		return errors.New("the real node needs root (containers, a bridge and iptables rules); run as root for real containers")
	}
	var missing []string
	for _, b := range []string{"containerd", "runc", "iptables", "conntrack", "ip", "ctr"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, p)); err != nil {
			missing = append(missing, "CNI "+p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the real node needs %s; install them with: apt-get install %s",
			strings.Join(missing, ", "), strings.Join(NodePackages, " "))
	}
	return nil
}

// NodePackages are the Debian packages the real node needs.
var NodePackages = []string{"containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "iproute2"}

const cniBinDir = "/usr/lib/cni"

// nodeClaim records which cluster owns this machine's real node: the
// bridge, the iptables chains of kube-proxy and the kubelet's ports exist
// once per machine.
type nodeClaim struct {
	Dir string `json:"dir"`
	// IPForward is the value net.ipv4.ip_forward had before the node set
	// it, restored when the node goes.
	IPForward string `json:"ipForward"`
}

// ErrNodeBusy: another running dev cluster holds this machine's real node.
var ErrNodeBusy = errors.New("this machine's real node is in use")

func claimPath() string { return filepath.Join(nodeClaimDir, "real-node.json") }

// nodeAvailable reports why the cluster in dir cannot have the machine's
// real node: missing root or packages, or another cluster holding it.
func nodeAvailable(dir string) error {
	if err := RealNodeSupport(); err != nil {
		return err
	}
	var cl nodeClaim
	if b, err := os.ReadFile(claimPath()); err == nil && json.Unmarshal(b, &cl) == nil && cl.Dir != dir {
		if other, err := loadState(cl.Dir); err == nil && other != nil && other.Processes[Containerd].alive() {
			return fmt.Errorf("%w: it belongs to the dev cluster in %s; stop it first (wild dev cluster down --dir %s)", ErrNodeBusy, cl.Dir, cl.Dir)
		}
	}
	return nil
}

// claimNode takes the machine's real node for the cluster in dir, unless
// another running cluster holds it.
func claimNode(dir string) (*nodeClaim, error) {
	if err := os.MkdirAll(nodeClaimDir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := fsutil.Lock(filepath.Join(nodeClaimDir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := nodeAvailable(dir); err != nil {
		return nil, err
	}
	var cl nodeClaim
	if b, err := os.ReadFile(claimPath()); err == nil {
		_ = json.Unmarshal(b, &cl)
	}
	if cl.Dir != dir || cl.IPForward == "" {
		cl = nodeClaim{Dir: dir, IPForward: readSysctl("net/ipv4/ip_forward")}
	}
	b, _ := json.Marshal(cl)
	return &cl, fsutil.WriteFileAtomic(claimPath(), b, 0o644)
}

func releaseNode(dir string) *nodeClaim {
	var cl nodeClaim
	b, err := os.ReadFile(claimPath())
	if err != nil || json.Unmarshal(b, &cl) != nil || cl.Dir != dir {
		return nil
	}
	_ = os.Remove(claimPath())
	return &cl
}

func readSysctl(name string) string {
	b, _ := os.ReadFile("/proc/sys/" + name)
	return strings.TrimSpace(string(b))
}

func writeSysctl(name, value string) error {
	if err := os.WriteFile("/proc/sys/"+name, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s=%s: %w", strings.ReplaceAll(name, "/", "."), value, err)
	}
	return nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// setupNetwork makes the pods' bridge, lets Service traffic be routed
// between pods, and drops anything a pod sends off the pod network: no
// packet of the cluster leaves the machine.
func setupNetwork() error {
	if _, err := net.InterfaceByName(nodeBridge); err != nil {
		if err := run("ip", "link", "add", nodeBridge, "type", "bridge"); err != nil {
			return err
		}
	}
	if err := run("ip", "addr", "replace", nodeGateway+"/24", "dev", nodeBridge); err != nil {
		return err
	}
	if err := run("ip", "link", "set", nodeBridge, "up"); err != nil {
		return err
	}
	// Pod to Service traffic is DNATed by kube-proxy on the host and routed
	// back onto the bridge; bridged traffic must pass iptables for that.
	for name, v := range map[string]string{"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"} {
		if err := writeSysctl(name, v); err != nil {
			return err
		}
	}
	// Pods may not use the kubelet's API, which trusts every caller on
	// this machine; the API server reaches it on the same address.
	rules := map[string][]string{
		"FORWARD": {"-s", nodePodCIDR, "!", "-d", nodePodCIDR, "-j", "DROP"},
		"INPUT":   {"-i", nodeBridge, "-p", "tcp", "--dport", strconv.Itoa(kubeletPort), "-j", "DROP"},
	}
	for parent, rule := range rules {
		chain := guardChain(parent)
		if run("iptables", "-w", "-N", chain) == nil {
			if err := run("iptables", append([]string{"-w", "-A", chain}, rule...)...); err != nil {
				return err
			}
		}
		if run("iptables", "-w", "-C", parent, "-j", chain) != nil {
			if err := run("iptables", "-w", "-I", parent, "1", "-j", chain); err != nil {
				return err
			}
		}
	}
	return nil
}

// guardChain is the chain of our rules that parent jumps to.
func guardChain(parent string) string { return "WILD-NODE-" + parent }

// teardownNetwork removes what setupNetwork and kube-proxy made.
func teardownNetwork(st *state, cl *nodeClaim) []error {
	var errs []error
	if st.BinDir != "" {
		// kube-proxy removes its own chains; it fails harmlessly on the
		// modes it never used.
		_ = exec.Command(filepath.Join(st.BinDir, "kube-proxy"), "--cleanup").Run()
	}
	for _, parent := range []string{"FORWARD", "INPUT"} {
		chain := guardChain(parent)
		for run("iptables", "-w", "-D", parent, "-j", chain) == nil {
		}
		_ = run("iptables", "-w", "-F", chain)
		_ = run("iptables", "-w", "-X", chain)
	}
	if _, err := net.InterfaceByName(nodeBridge); err == nil {
		if err := run("ip", "link", "del", nodeBridge); err != nil {
			errs = append(errs, err)
		}
	}
	if cl != nil && cl.IPForward != "" && cl.IPForward != "1" {
		if err := writeSysctl("net/ipv4/ip_forward", cl.IPForward); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// prepareNode writes the node's configuration and sets up the network,
// before its processes start.
func (c *Cluster) prepareNode() error {
	nd := nodeDir(c.Dir)
	for _, d := range []string{"cni", "ipam", "kubelet", "pod-logs", "containerd/root", "containerd/state", "images"} {
		if err := os.MkdirAll(filepath.Join(nd, d), 0o755); err != nil {
			return err
		}
	}
	if _, err := claimNode(c.Dir); err != nil {
		return err
	}
	if err := setupNetwork(); err != nil {
		return fmt.Errorf("set up the real node's network: %w", err)
	}
	if err := makeCgroupRoot(nodeCgroup); err != nil {
		return fmt.Errorf("create the real node's cgroup: %w", err)
	}
	files := map[string]string{
		"containerd.toml":      containerdConfig(c.Dir),
		"cni/10-wild.conflist": cniConfig(c.Dir),
		"Corefile":             corefile(c.Kubeconfig),
		"kubelet.yaml":         kubeletConfig(c.Dir),
		"kube-proxy.yaml":      kubeProxyConfig(c.Kubeconfig),
		// Pods get the cluster's DNS and nothing of the host's resolvers.
		"resolv.conf": "",
	}
	for name, content := range files {
		if err := fsutil.WriteFileAtomic(filepath.Join(nd, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func containerdConfig(dir string) string {
	nd := nodeDir(dir)
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  # Nothing can be pulled: the sandbox image is built and imported locally.
  sandbox_image = %[5]q
  # The VMs refuse to lower oom_score_adj, even for root.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
    max_conf_num = 1
`, filepath.Join(nd, "containerd/root"), filepath.Join(nd, "containerd/state"), runtimeSocket(dir),
		filepath.Join(nd, "containerd/opt"), PauseImage, cniBinDir, filepath.Join(nd, "cni"))
}

func cniConfig(dir string) string {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "wild",
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      nodeBridge,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": nodePodCIDR, "gateway": nodeGateway}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": filepath.Join(nodeDir(dir), "ipam"),
			},
		}},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b)
}

// corefile serves the cluster domain only; every other name is refused,
// since nothing may be asked of a resolver off this machine.
func corefile(kubeconfig string) string {
	return fmt.Sprintf(`%s:53 in-addr.arpa:53 {
    bind %s
    errors
    kubernetes %s in-addr.arpa {
        kubeconfig %s
    }
}
`, clusterDomain, nodeGateway, clusterDomain, kubeconfig)
}

func kubeletConfig(dir string) string {
	nd := nodeDir(dir)
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
cgroupRoot: %s
failSwapOn: false
containerRuntimeEndpoint: unix://%s
clusterDNS: [%s]
clusterDomain: %s
resolvConf: %s
podLogsDir: %s
registerWithTaints:
- key: %s
  value: "true"
  effect: NoSchedule
# A shared development machine: never evict pods or delete images
# because its disk or memory is fuller than a server's would be.
evictionHard:
  memory.available: "0%%"
  nodefs.available: "0%%"
  imagefs.available: "0%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`, nodeGateway, kubeletPort, nodeCgroup, runtimeSocket(dir), nodeGateway, clusterDomain, filepath.Join(nd, "resolv.conf"),
		filepath.Join(nd, "pod-logs"), RealNodeTaint)
}

func kubeProxyConfig(kubeconfig string) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
mode: iptables
clusterCIDR: %s
# NodePorts only on the pods' bridge, never on the machine's interfaces.
nodePortAddresses: [%q]
# Leave the machine's conntrack settings as they are.
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, kubeconfig, RealNodeName, nodePodCIDR, nodePodCIDR)
}

// nodeCommand is the exact invocation of one of the real node's processes.
func (c *Cluster) nodeCommand(st *state, name string) (string, []string) {
	nd := nodeDir(c.Dir)
	bin := func(b string) string { return filepath.Join(st.BinDir, b) }
	switch name {
	case Containerd:
		path, _ := exec.LookPath("containerd")
		return path, []string{"--config", filepath.Join(nd, "containerd.toml")}
	case CoreDNS:
		return bin("coredns"), []string{"-conf", filepath.Join(nd, "Corefile")}
	case KubeProxy:
		return bin("kube-proxy"), []string{"--config", filepath.Join(nd, "kube-proxy.yaml")}
	case Kubelet:
		return bin("kubelet"), []string{
			"--config=" + filepath.Join(nd, "kubelet.yaml"),
			"--kubeconfig=" + c.Kubeconfig,
			"--root-dir=" + filepath.Join(nd, "kubelet"),
			"--hostname-override=" + RealNodeName,
			// By IP: the API server would otherwise look the node's name up
			// in DNS, which leaves the machine. Not 127.0.0.1, which the
			// kubelet refuses as a node IP: the bridge's address, which
			// exists on this machine only.
			"--node-ip=" + nodeGateway,
			"--node-labels=" + RealNodeLabel + "=true",
		}
	}
	panic("unknown node component " + name)
}

// importImages builds the pause and smoke images from the static programs
// in the bin dir and imports them into the node's containerd.
func (c *Cluster) importImages(ctx context.Context, st *state) error {
	images := []struct{ name, program string }{{PauseImage, "pause"}, {SmokeImage, "smoke"}}
	for _, im := range images {
		archive := filepath.Join(nodeDir(c.Dir), "images", im.program+".tar")
		err := writeProgramImage(archive, im.name, filepath.Join(st.BinDir, im.program))
		if err == nil {
			err = ImportImage(ctx, c.Dir, archive)
		}
		if err != nil {
			return fmt.Errorf("image %s: %w", im.name, err)
		}
	}
	return nil
}

// writeProgramImage writes an image holding one static program as its
// entrypoint.
func writeProgramImage(archive, name, program string) error {
	layer := archive + ".layer"
	defer os.Remove(layer)
	base := "/" + filepath.Base(program)
	if err := devimage.FileLayer(layer, map[string]string{base: program}); err != nil {
		return err
	}
	return devimage.WriteArchive(archive, name, []string{layer}, devimage.Config{Entrypoint: []string{base}})
}

// ImportImage imports an image archive into the real node's containerd,
// in the namespace the kubelet uses.
func ImportImage(ctx context.Context, dir, archive string) error {
	cmd := exec.CommandContext(ctx, "ctr", "--address", runtimeSocket(dir), "--namespace", "k8s.io",
		"images", "import", archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("import %s into the node's containerd: %w: %s", archive, err, bytes.TrimSpace(out))
	}
	return nil
}

// ImportImages imports built dev images into the real node of the cluster
// in dir, when that node runs; it reports whether it did.
func ImportImages(ctx context.Context, dir string, images []devimage.Built) (bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	st, err := loadState(dir)
	if err != nil || st == nil || !st.RealNode || !st.Processes[Containerd].alive() {
		return false, err
	}
	// A warm `up` would otherwise spend a minute re-reading a gigabyte of
	// archives that containerd already holds.
	done := importedArchives(dir)
	present := nodeImageRefs(ctx, dir)
	for _, im := range images {
		if done[im.Ref] == im.Archive && present[im.Ref] {
			continue
		}
		if err := ImportImage(ctx, dir, im.Archive); err != nil {
			return false, err
		}
		done[im.Ref] = im.Archive
	}
	b, err := json.Marshal(done)
	if err != nil {
		return false, err
	}
	return true, fsutil.WriteFileAtomic(importedPath(dir), b, 0o644)
}

// importedPath records which archive each dev image ref was last imported
// from. The archive's name carries the hash of its inputs, so the same
// name means the same image.
func importedPath(dir string) string { return filepath.Join(nodeDir(dir), "imported-images.json") }

func importedArchives(dir string) map[string]string {
	done := map[string]string{}
	if b, err := os.ReadFile(importedPath(dir)); err == nil {
		_ = json.Unmarshal(b, &done)
	}
	return done
}

// nodeImageRefs lists the image refs the node's containerd holds; the
// record alone is not enough, since containerd's store may have been
// wiped since.
func nodeImageRefs(ctx context.Context, dir string) map[string]bool {
	out, err := exec.CommandContext(ctx, "ctr", "--address", runtimeSocket(dir), "--namespace", "k8s.io",
		"images", "list", "--quiet").Output()
	refs := map[string]bool{}
	if err != nil {
		return refs
	}
	for _, r := range strings.Fields(string(out)) {
		refs[r] = true
	}
	return refs
}

// waitRuntime waits for containerd's socket to answer.
func (c *Cluster) waitRuntime(ctx context.Context, st *state) error {
	return c.poll(ctx, st, "containerd to answer", func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, "ctr", "--address", runtimeSocket(c.Dir), "version")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		return nil
	})
}

// realNodeReady reports whether the real node is registered and Ready.
func (c *Cluster) realNodeReady(ctx context.Context) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, RealNodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !isReady(n) {
		return fmt.Errorf("node %s is not Ready", RealNodeName)
	}
	return nil
}

// startNode starts the real node's processes that are not running, once
// the API server answers: containerd first, with the local images
// imported, then CoreDNS, kube-proxy and the kubelet.
func (c *Cluster) startNode(ctx context.Context, st *state) error {
	if err := c.prepareNode(); err != nil {
		return err
	}
	if !st.Processes[Containerd].alive() {
		if err := c.startComponent(st, Containerd); err != nil {
			return err
		}
		if err := saveState(c.Dir, st); err != nil {
			return err
		}
	}
	if err := c.waitRuntime(ctx, st); err != nil {
		return err
	}
	if err := c.importImages(ctx, st); err != nil {
		return err
	}
	for _, name := range []string{CoreDNS, KubeProxy, Kubelet} {
		if st.Processes[name].alive() {
			continue
		}
		if err := c.startComponent(st, name); err != nil {
			return err
		}
	}
	return saveState(c.Dir, st)
}

// stopNode stops the real node: the kubelet and its helpers, every
// container (they outlive containerd), containerd, and then everything the
// node made on the machine: mounts, network namespaces, the bridge and the
// iptables rules.
func stopNode(dir string, st *state) []error {
	// A cluster that waited its turn for the node and never got it must
	// not touch it: the node's cgroup, mounts and network are the holder's,
	// and killPods would SIGKILL every container of the running cluster
	// (clustertest calls Down after each ErrNodeBusy, every 3 s).
	if errors.Is(nodeAvailable(dir), ErrNodeBusy) {
		return stopAll(st, []string{Kubelet, KubeProxy, CoreDNS, Containerd})
	}
	errs := stopAll(st, []string{Kubelet, KubeProxy, CoreDNS})
	errs = append(errs, killPods(dir)...)
	errs = append(errs, stopAll(st, []string{Containerd})...)
	errs = append(errs, unmountUnder(nodeDir(dir))...)
	if err := os.RemoveAll(filepath.Join(nodeDir(dir), "containerd", "state")); err != nil {
		errs = append(errs, err)
	}
	return append(errs, teardownNetwork(st, releaseNode(dir))...)
}

// killPods kills every container process of the node (found through the
// kubelet's cgroups) and containerd's shims for it, and waits until they
// are gone.
func killPods(dir string) []error {
	sock := runtimeSocket(dir)
	deadline := time.Now().Add(15 * time.Second)
	for {
		pids := append(cgroupPIDs(nodeCgroup), shimPIDs(sock)...)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return []error{fmt.Errorf("container processes %v did not exit", pids)}
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	removeCgroups(nodeCgroup)
	return nil
}

// cgroupPIDs lists the processes in a cgroup tree of every v1 hierarchy
// (or the v2 one).
func cgroupPIDs(root string) []int {
	var pids []int
	seen := map[int]bool{}
	for _, h := range cgroupHierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, root), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

func cgroupHierarchies() []string {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var hs []string
	for _, e := range entries {
		if e.IsDir() {
			hs = append(hs, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return hs
}

// makeCgroupRoot creates the kubelet's cgroup root, which it requires to
// exist, in every hierarchy; a v1 cpuset cgroup takes its parent's CPUs and
// memory nodes, or no process could join it.
func makeCgroupRoot(root string) error {
	for _, h := range cgroupHierarchies() {
		d := filepath.Join(h, root)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if b, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				if cur, _ := os.ReadFile(filepath.Join(d, f)); len(bytes.TrimSpace(cur)) == 0 {
					if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// removeCgroups removes an emptied cgroup tree, deepest first.
func removeCgroups(root string) {
	for _, h := range cgroupHierarchies() {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, root), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = syscall.Rmdir(dirs[i])
		}
	}
}

// shimPIDs finds containerd's shims for the containerd at sock.
func shimPIDs(sock string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i, a := range args {
			if a == "-address" && i+1 < len(args) && args[i+1] == sock {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// unmountUnder detaches every mount below dir (overlay roots, shm, secret
// tmpfs, network namespaces), deepest first.
func unmountUnder(dir string) []error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []error{err}
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeMount(f[4])
		if strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	var errs []error
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", points[i], err))
		}
	}
	return errs
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

package devcluster

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wild-cloud/wild/internal/fsutil"
)

// BuildCommand is what people run to get the binaries; every "binaries
// missing" error names it.
const BuildCommand = "go run ./cmd/wild dev cluster build"

// kwokPackage is installed with `go install`, not built from our module:
// kwok pins its own k8s.io versions, which conflict with the replaces the
// control-plane module needs.
const kwokPackage = "sigs.k8s.io/kwok/cmd/kwok@v0.7.0"

// multiCall is the one binary that holds every component of the devcluster
// module: one link instead of six on a cold build, and one copy of their
// shared code in memory. It picks the component by the name it is called
// by, so the bin dir links each component's name to it.
const multiCall = "devcluster"

// moduleBinaries are the components linked to multiCall; Binaries adds
// CoreDNS (a module of its own under devcluster/coredns) and kwok, which
// pin Kubernetes versions of their own.
var moduleBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}

// Binaries lists every executable the cluster needs in its bin dir.
var Binaries = append(append([]string{multiCall}, moduleBinaries...), "pause", "smoke", "coredns", "kwok")

const (
	moduleDirName = "devcluster"
	modulePath    = "github.com/wild-cloud/wild/devcluster"
	stampFile     = ".stamp"
)

// BuildOptions configure Build.
type BuildOptions struct {
	// BinDir is where binaries go; default DefaultBinDir().
	BinDir string
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// Build compiles the control-plane binaries from the repo's devcluster
// module, or reuses them when their stamp (a hash of the module's files,
// the Go version and the kwok version) matches. It returns the bin dir.
func Build(ctx context.Context, opts BuildOptions) (string, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	binDir := opts.BinDir
	var err error
	if binDir == "" {
		if binDir, err = DefaultBinDir(); err != nil {
			return "", err
		}
	}
	src, err := FindSource()
	if err != nil {
		// An installed wild run outside a checkout can still use binaries
		// built earlier; it just cannot rebuild them.
		if CheckBinaries(binDir) == nil {
			fmt.Fprintf(progress, "using the control plane binaries in %s (no devcluster source here to rebuild them)\n", binDir)
			return binDir, nil
		}
		return "", err
	}
	if binDir, err = filepath.Abs(binDir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("create bin dir: %w", err)
	}

	// Two test packages may build at once; the second waits and then finds
	// the binaries up to date.
	unlock, err := fsutil.LockWaiting(ctx, filepath.Join(binDir, ".build.lock"), func() {
		fmt.Fprintf(progress, "waiting for another build of the control plane into %s\n", binDir)
	})
	if err != nil {
		return "", err
	}
	defer unlock()

	stamp, err := buildStamp(ctx, src)
	if err != nil {
		return "", err
	}
	if upToDate(binDir, stamp) {
		fmt.Fprintf(progress, "control plane binaries up to date in %s\n", binDir)
		return binDir, nil
	}
	// Remove the stamp first so an interrupted build is never taken as current.
	_ = os.Remove(filepath.Join(binDir, stampFile))

	start := time.Now()
	fmt.Fprintf(progress, "building %s (%s in one binary) from %s into %s (a cold build needs about 20 minutes of CPU: 10 or more on 2 cores; later builds only relink)\n",
		multiCall, strings.Join(moduleBinaries, ", "), src, binDir)
	ldflags, err := versionLDFlags(ctx, src)
	if err != nil {
		return "", err
	}
	out := binDir + string(os.PathSeparator)
	if err := runGo(ctx, progress, src, nil, "build", "-v", "-ldflags", ldflags, "-o", filepath.Join(binDir, multiCall), "./cmd/"+multiCall); err != nil {
		return "", fmt.Errorf("build control plane: %w", err)
	}
	if err := linkComponents(binDir); err != nil {
		return "", err
	}
	// The programs that go into images must be static: an image holds
	// nothing else, no libc.
	if err := runGo(ctx, progress, src, []string{"CGO_ENABLED=0"}, "build", "-v", "-o", out, "./images/..."); err != nil {
		return "", fmt.Errorf("build image programs: %w", err)
	}
	fmt.Fprintf(progress, "building coredns\n")
	if err := runGo(ctx, progress, filepath.Join(src, "coredns"), nil, "build", "-v", "-o", filepath.Join(binDir, "coredns"), "."); err != nil {
		return "", fmt.Errorf("build coredns: %w", err)
	}
	fmt.Fprintf(progress, "installing %s\n", kwokPackage)
	if err := runGo(ctx, progress, binDir, []string{"GOBIN=" + binDir}, "install", "-v", kwokPackage); err != nil {
		return "", fmt.Errorf("build kwok: %w", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(binDir, stampFile), []byte(stamp+"\n"), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "built control plane binaries in %s\n", time.Since(start).Round(time.Second))
	return binDir, nil
}

// linkComponents points each component's name in binDir at the
// multi-call binary. A relative link keeps the bin dir movable; renaming a
// fresh link over the name replaces a separate binary left by an older
// build in one step.
func linkComponents(binDir string) error {
	for _, name := range moduleBinaries {
		tmp := filepath.Join(binDir, "."+name+".tmp")
		_ = os.Remove(tmp)
		if err := os.Symlink(multiCall, tmp); err != nil {
			return fmt.Errorf("link %s to %s: %w", name, multiCall, err)
		}
		if err := os.Rename(tmp, filepath.Join(binDir, name)); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("link %s to %s: %w", name, multiCall, err)
		}
	}
	return nil
}

// versionLDFlags stamps the Kubernetes version the module pins into the
// binaries; without it the kubelet reports v0.0.0-master as its node's
// version, which the API server and kubectl then show.
func versionLDFlags(ctx context.Context, src string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", "k8s.io/kubernetes")
	cmd.Dir = src
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("read the k8s.io/kubernetes version of %s: %w", src, err)
	}
	v := strings.TrimSpace(string(out))
	major, minor, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	const pkg = "k8s.io/component-base/version"
	return fmt.Sprintf("-X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=%[3]s -X %[1]s.gitMinor=%[4]s -X %[1]s.gitTreeState=clean",
		pkg, v, major, minor), nil
}

// CheckBinaries reports, as an error naming the build command, any
// binary missing from binDir.
func CheckBinaries(binDir string) error {
	var missing []string
	for _, b := range Binaries {
		if st, err := os.Stat(filepath.Join(binDir, b)); err != nil || st.IsDir() {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("control plane binaries missing in %s (%s); build them with: %s",
		binDir, strings.Join(missing, ", "), BuildCommand)
}

// DefaultBinDir is $WILD_DEVCLUSTER_BIN, else <repo>/.build/devcluster/bin,
// else a per-user cache dir when wild runs outside a checkout.
func DefaultBinDir() (string, error) {
	if v := os.Getenv("WILD_DEVCLUSTER_BIN"); v != "" {
		return filepath.Abs(v)
	}
	if src, err := FindSource(); err == nil {
		return filepath.Join(filepath.Dir(src), ".build", "devcluster", "bin"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cannot choose a bin dir: set WILD_DEVCLUSTER_BIN: %w", err)
	}
	return filepath.Join(cache, "wild", "devcluster", "bin"), nil
}

// FindSource locates the devcluster module: $WILD_DEVCLUSTER_SRC, or a
// devcluster/ folder found walking up from the working directory or from
// the running executable (a `go run` binary lives in a temp dir, a built
// one usually in the checkout).
func FindSource() (string, error) {
	if v := os.Getenv("WILD_DEVCLUSTER_SRC"); v != "" {
		if !isModule(v) {
			return "", fmt.Errorf("WILD_DEVCLUSTER_SRC=%s does not hold the %s module", v, modulePath)
		}
		return filepath.Abs(v)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			if cand := filepath.Join(d, moduleDirName); isModule(cand) {
				return filepath.Abs(cand)
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("cannot find the devcluster module (a devcluster/ folder with its go.mod); run from the wild repository or set WILD_DEVCLUSTER_SRC")
}

func isModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(rest) == modulePath
		}
	}
	return false
}

func upToDate(binDir, stamp string) bool {
	b, err := os.ReadFile(filepath.Join(binDir, stampFile))
	if err != nil || strings.TrimSpace(string(b)) != stamp {
		return false
	}
	return CheckBinaries(binDir) == nil
}

// buildStamp hashes everything that decides the binaries' content.
func buildStamp(ctx context.Context, src string) (string, error) {
	h := sha256.New()
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("the dev cluster is built with Go, and `go env GOVERSION` failed: %w", err)
	}
	fmt.Fprintf(h, "go=%s kwok=%s os=%s arch=%s\n", strings.TrimSpace(string(out)), kwokPackage, runtime.GOOS, runtime.GOARCH)
	// The bin dir's layout is part of what a build produces: a dir built
	// with another layout is not current even when the sources match.
	fmt.Fprintf(h, "layout=%s:%s\n", multiCall, strings.Join(moduleBinaries, ","))
	var files []string
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", src, err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(src, f)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// runGo runs the go tool and turns its -v package lines into a periodic
// count, which shows progress without flooding the terminal.
func runGo(ctx context.Context, progress io.Writer, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = progress
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("go %s: %w", args[0], err)
	}
	var count atomic.Int64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(progress, "  ... %d packages compiled (%s)\n", count.Load(), time.Since(start).Round(time.Second))
			}
		}
	}()
	var errLines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if isPackageLine(line) {
			count.Add(1)
			continue
		}
		errLines = append(errLines, line)
	}
	err = cmd.Wait()
	close(done)
	if err != nil {
		tail := errLines
		if len(tail) > 30 {
			tail = tail[len(tail)-30:]
		}
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.Join(tail, "\n"))
	}
	return nil
}

// isPackageLine tells `go build -v` package names from compiler errors,
// which contain spaces or colons.
func isPackageLine(s string) bool {
	return s != "" && !strings.ContainsAny(s, " :\t") && !strings.HasPrefix(s, "#")
}

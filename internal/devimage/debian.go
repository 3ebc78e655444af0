package devimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gofrs/flock"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Recipe is one image built from Debian packages with mmdebstrap, plus an
// entrypoint that honours the environment contract of the official image
// the catalog uses, so the catalog's manifests work unchanged.
type Recipe struct {
	// Name is what `wild dev images build NAME` takes.
	Name string
	// Ref is the image reference the node knows it by.
	Ref string
	// Replaces is the app whose config.image this image stands in for.
	Replaces string
	// Packages are installed on Debian's essential set.
	Packages []string
	// Users are created with fixed IDs before the packages (whose
	// maintainer scripts then reuse them): the catalog runs databases
	// as UID 999, as the official images do, and a server needs its UID
	// in /etc/passwd.
	Users []string
	// Remove are paths (in the image) the packages' scripts create but an
	// image must not hold, such as a database initialised at build time.
	Remove []string
	// RuntimeDirs are made and given to the Users' first entry, for
	// sockets and PID files of a server that does not run as root.
	RuntimeDirs []string
	// Entrypoint is the shell script installed as /usr/local/bin/entrypoint.
	Entrypoint string
	Config     Config
}

// Recipes are the dev images, by name.
var Recipes = []Recipe{postgresRecipe, mariadbRecipe, redisRecipe}

// Lookup returns the recipe named name.
func Lookup(name string) (Recipe, error) {
	for _, r := range Recipes {
		if r.Name == name {
			return r, nil
		}
	}
	var names []string
	for _, r := range Recipes {
		names = append(names, r.Name)
	}
	return Recipe{}, fmt.Errorf("no dev image %q; one of %s", name, strings.Join(names, ", "))
}

// Built is one image archive ready to import.
type Built struct {
	Name    string `json:"name"`
	Ref     string `json:"ref"`
	Archive string `json:"archive"`
	// Cached is true when the archive was already there for these inputs.
	Cached bool `json:"cached"`
}

// BuildOptions configure BuildDebian.
type BuildOptions struct {
	// CacheDir keeps one archive per image and input hash.
	CacheDir string
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
}

// BuildDebian builds the recipe's image, or returns the cached archive when
// nothing that goes into it changed: the recipe, the host's apt sources
// (the mirror the packages come from) and the mmdebstrap version.
func BuildDebian(ctx context.Context, r Recipe, opts BuildOptions) (Built, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return Built{}, errors.New("dev images are built with mmdebstrap; install it with: apt-get install mmdebstrap")
	}
	sources, err := aptSources()
	if err != nil {
		return Built{}, err
	}
	suite, err := hostSuite()
	if err != nil {
		return Built{}, err
	}
	rootHash, err := rootfsHash(ctx, r, suite, sources)
	if err != nil {
		return Built{}, err
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Built{}, err
	}
	// Two test packages may build the same image at once; the second
	// waits and then finds it cached.
	lock := flock.New(filepath.Join(opts.CacheDir, "."+r.Name+".lock"))
	if _, err := lock.TryLockContext(ctx, 200*time.Millisecond); err != nil {
		return Built{}, fmt.Errorf("wait for another build of %s: %w", r.Ref, err)
	}
	defer lock.Unlock()
	hash := imageHash(r, rootHash)
	b := Built{Name: r.Name, Ref: r.Ref, Archive: filepath.Join(opts.CacheDir, r.Name+"-"+hash[:16]+".tar")}
	if _, err := os.Stat(b.Archive); err == nil {
		b.Cached = true
		return b, nil
	}
	// The root file system (the slow part: downloading and installing
	// packages) is cached on its own, so a changed entrypoint or config
	// only rewraps it.
	rootfs := filepath.Join(opts.CacheDir, r.Name+"-rootfs-"+rootHash[:16]+".tar")
	if _, err := os.Stat(rootfs); err != nil {
		start := time.Now()
		fmt.Fprintf(progress, "building the root file system of %s from Debian %s packages (%s)\n", r.Ref, suite, strings.Join(r.Packages, ", "))
		tmp := rootfs + ".tmp"
		if err := mmdebstrap(ctx, r, suite, sources, tmp, progress); err != nil {
			os.Remove(tmp)
			return Built{}, err
		}
		if err := os.Rename(tmp, rootfs); err != nil {
			return Built{}, err
		}
		fmt.Fprintf(progress, "built the root file system of %s in %s\n", r.Ref, time.Since(start).Round(time.Second))
	}
	work, err := os.MkdirTemp(opts.CacheDir, ".build-"+r.Name+"-")
	if err != nil {
		return Built{}, err
	}
	defer os.RemoveAll(work)
	script := filepath.Join(work, "entrypoint")
	if err := os.WriteFile(script, []byte(r.Entrypoint), 0o755); err != nil {
		return Built{}, err
	}
	top := filepath.Join(work, "entrypoint.tar")
	if err := FileLayer(top, map[string]string{"/usr/local/bin/entrypoint": script}); err != nil {
		return Built{}, err
	}
	if err := WriteArchive(b.Archive, r.Ref, []string{rootfs, top}, r.Config); err != nil {
		return Built{}, err
	}
	removeStale(opts.CacheDir, r.Name+"-rootfs-", rootfs)
	removeStale(opts.CacheDir, r.Name+"-", b.Archive, rootfs)
	fmt.Fprintf(progress, "wrote image %s\n", r.Ref)
	return b, nil
}

func mmdebstrap(ctx context.Context, r Recipe, suite string, sources []string, out string, progress io.Writer) error {
	args := []string{
		"--variant=essential",
		"--format=tar",
		"--include=" + strings.Join(r.Packages, ","),
		// An image needs no documentation.
		"--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-exclude=/usr/share/man/*",
		"--dpkgopt=path-exclude=/usr/share/info/*",
	}
	var users []string
	for _, u := range r.Users {
		// name:uid: a system user and group of that ID, home under /var/lib.
		name, id, _ := strings.Cut(u, ":")
		users = append(users, fmt.Sprintf(`echo '%[1]s:x:%[2]s:%[2]s::/var/lib/%[1]s:/bin/sh' >> "$1/etc/passwd"; echo '%[1]s:x:%[2]s:' >> "$1/etc/group"; echo '%[1]s:*:19000:0:99999:7:::' >> "$1/etc/shadow"`, name, id))
	}
	if len(users) > 0 {
		args = append(args, "--essential-hook="+strings.Join(users, "; "))
	}
	if r.Name == "postgres" {
		// Debian's postinst would create and start a "main" cluster.
		args = append(args, `--essential-hook=mkdir -p "$1/etc/postgresql-common" && echo 'create_main_cluster = false' > "$1/etc/postgresql-common/createcluster.conf"`)
	}
	for _, d := range r.RuntimeDirs {
		_, id, _ := strings.Cut(r.Users[0], ":")
		args = append(args, fmt.Sprintf(`--customize-hook=mkdir -p "$1%[1]s" && chown %[2]s:%[2]s "$1%[1]s"`, d, id))
	}
	cleanup := []string{"/var/lib/apt/lists/*", "/var/cache/apt/*", "/var/log/*"}
	cleanup = append(cleanup, r.Remove...)
	var rm []string
	for _, p := range cleanup {
		rm = append(rm, `"$1"`+p)
	}
	args = append(args, "--customize-hook=rm -rf "+strings.Join(rm, " "))
	args = append(args, suite, out)
	// The host's own apt sources: the mirror this machine is configured
	// for, whatever it is.
	args = append(args, sources...)
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	var errb bytes.Buffer
	cmd.Stdout = progress
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		tail := strings.Split(strings.TrimSpace(errb.String()), "\n")
		if len(tail) > 20 {
			tail = tail[len(tail)-20:]
		}
		return fmt.Errorf("mmdebstrap for image %s: %w\n%s", r.Name, err, strings.Join(tail, "\n"))
	}
	return nil
}

// aptSources lists the host's apt source files that are in use.
func aptSources() ([]string, error) {
	var files []string
	if st, err := os.Stat("/etc/apt/sources.list"); err == nil && st.Size() > 0 {
		files = append(files, "/etc/apt/sources.list")
	}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	// Only Debian's own archive: a third-party repository in the host's
	// sources must not end up in an image.
	var debian []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && (bytes.Contains(b, []byte("/debian")) || bytes.Contains(b, []byte("debian-security"))) {
			debian = append(debian, f)
		}
	}
	if len(debian) == 0 {
		return nil, errors.New("no Debian apt source configured on this machine (/etc/apt/sources.list or sources.list.d); dev images are built from Debian packages")
	}
	return debian, nil
}

// hostSuite is the Debian release this machine runs (e.g. bookworm).
func hostSuite() (string, error) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_CODENAME="); ok && v != "" {
			return strings.Trim(v, `"`), nil
		}
	}
	return "", errors.New("cannot tell this machine's Debian release from /etc/os-release")
}

// rootfsHash covers what goes into the root file system: the packages and
// what is done around their installation, the Debian release, the host's
// apt sources (the mirror) and the mmdebstrap version.
func rootfsHash(ctx context.Context, r Recipe, suite string, sources []string) (string, error) {
	h := sha256.New()
	rb, _ := json.Marshal([]any{r.Name, r.Packages, r.Users, r.Remove, r.RuntimeDirs})
	h.Write(rb)
	fmt.Fprintf(h, "\nsuite=%s\n", suite)
	for _, s := range sources {
		b, err := os.ReadFile(s)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", s, len(b))
		h.Write(b)
	}
	out, err := exec.CommandContext(ctx, "mmdebstrap", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("mmdebstrap --version: %w", err)
	}
	h.Write(out)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// imageHash adds the entrypoint, the config and the name to the rootfs's.
func imageHash(r Recipe, rootHash string) string {
	rb, _ := json.Marshal([]any{rootHash, r.Ref, r.Entrypoint, r.Config})
	sum := sha256.Sum256(rb)
	return hex.EncodeToString(sum[:])
}

// removeStale deletes the files with the prefix other than keep: what was
// built from older inputs.
func removeStale(dir, prefix string, keep ...string) {
	m, _ := filepath.Glob(filepath.Join(dir, prefix+"*.tar"))
	for _, f := range m {
		if !slices.Contains(keep, f) {
			_ = os.Remove(f)
		}
	}
}

// DefaultCacheDir is where built images are kept between runs.
func DefaultCacheDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cannot choose a cache dir for dev images: %w", err)
	}
	return filepath.Join(cache, "wild", "devimages"), nil
}

// Names lists the recipes' names in order.
func Names() []string {
	var n []string
	for _, r := range Recipes {
		n = append(n, r.Name)
	}
	return slices.Clip(n)
}

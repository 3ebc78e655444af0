package cli

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/devcluster/provisioner"
	"github.com/wild-cloud/wild/internal/devimage"
)

func addDevCommands(root *cobra.Command, g *Globals) {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Developer tools: a local Kubernetes control plane",
	}
	cluster := &cobra.Command{
		Use:   "cluster",
		Short: "A real Kubernetes control plane on this machine; kwok nodes are simulated, the real node runs containers",
	}
	cluster.AddCommand(devClusterBuildCmd(g), devClusterUpCmd(g), devClusterDownCmd(g), devClusterStatusCmd(g))
	images := &cobra.Command{Use: "images", Short: "Container images for the local cluster's real node, built from Debian packages"}
	images.AddCommand(devImagesBuildCmd(g))
	dev.AddCommand(cluster, images, devProvisionerCmd(), devReapCmd())
	root.AddCommand(dev)
}

// progressOut keeps stdout clean for -o json/yaml.
func progressOut(g *Globals) *os.File {
	if g.Printer().Structured() {
		return os.Stderr
	}
	if f, ok := g.Out.(*os.File); ok {
		return f
	}
	return os.Stderr
}

func devClusterBuildCmd(g *Globals) *cobra.Command {
	var binDir string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the control plane and node components (one multi-call binary), CoreDNS and kwok (reused when up to date)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := devcluster.Build(cmd.Context(), devcluster.BuildOptions{BinDir: binDir, Progress: g.ErrOut})
			if err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"binDir": dir}, func(t *Table) { t.Line("%s", dir) })
		},
	}
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "where to put the binaries (env WILD_DEVCLUSTER_BIN; default <repo>/.build/devcluster/bin)")
	return cmd
}

func clusterDir(g *Globals, dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	data, err := g.ResolveDataDir()
	if err != nil {
		return "", err
	}
	return devcluster.DefaultDir(data), nil
}

// realNodeFlag adds --real-node to a command that starts the dev cluster.
func realNodeFlag(cmd *cobra.Command, mode *string) {
	cmd.Flags().StringVar(mode, "real-node", "auto",
		"run real containers on node "+devcluster.RealNodeName+": auto (when root and containerd are here), on (or fail), off (kwok nodes only)")
}

// realNodeMode validates the --real-node value.
func realNodeMode(v string) (devcluster.RealNodeMode, error) {
	switch v {
	case "auto":
		return devcluster.RealNodeAuto, nil
	case "on":
		return devcluster.RealNodeOn, nil
	case "off":
		return devcluster.RealNodeOff, nil
	}
	return "", fmt.Errorf("--real-node must be auto, on or off, got %q", v)
}

func devClusterUpCmd(g *Globals) *cobra.Command {
	var (
		dir, binDir, realNode string
		nodes                 int
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local control plane (or return it when already running) and print its kubeconfig path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 1 || nodes > 100 {
				return fmt.Errorf("--nodes must be between 1 and 100, got %d", nodes)
			}
			mode, err := realNodeMode(realNode)
			if err != nil {
				return err
			}
			d, err := clusterDir(g, dir)
			if err != nil {
				return err
			}
			c, err := devcluster.Up(cmd.Context(), devcluster.Options{Dir: d, Nodes: nodes, BinDir: binDir, RealNode: mode, Progress: g.ErrOut})
			if err != nil {
				return err
			}
			return g.Printer().Print(c, func(t *Table) { t.Line("%s", c.Kubeconfig) })
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "cluster state directory (default <data-dir>/devcluster)")
	cmd.Flags().IntVar(&nodes, "nodes", 3, "number of fake nodes")
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "control plane binaries (env WILD_DEVCLUSTER_BIN; default <repo>/.build/devcluster/bin)")
	realNodeFlag(cmd, &realNode)
	return cmd
}

func devClusterDownCmd(g *Globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the processes the local control plane started (data in its directory is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := clusterDir(g, dir)
			if err != nil {
				return err
			}
			if _, err := devcluster.Open(d); err != nil {
				return err
			}
			if err := devcluster.Down(d); err != nil {
				return err
			}
			fmt.Fprintf(g.ErrOut, "dev cluster in %s stopped\n", d)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "cluster state directory (default <data-dir>/devcluster)")
	return cmd
}

func devClusterStatusCmd(g *Globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which control plane components run; exit code 1 when one is down",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := clusterDir(g, dir)
			if err != nil {
				return err
			}
			s, err := devcluster.Status(d)
			if err != nil {
				return err
			}
			err = g.Printer().Print(s, func(t *Table) {
				t.Line("dir: %s", s.Dir)
				t.Line("kubeconfig: %s", s.Kubeconfig)
				t.Line("server: %s", s.Server)
				t.Header("component", "state", "pid", "rss")
				for _, c := range s.Components {
					state, pid, rss := "dead", "-", "-"
					if c.Running {
						state, pid, rss = "running", strconv.Itoa(c.PID), fmt.Sprintf("%dMi", c.RSS>>20)
					}
					t.Row(c.Name, state, pid, rss)
				}
				t.Line("total rss: %dMi", s.TotalRSS()>>20)
				for _, c := range s.Components {
					if !c.Running && len(c.LastLines) > 0 {
						t.Line("\n%s is not running; last lines of %s:\n  %s", c.Name, c.Log, strings.Join(c.LastLines, "\n  "))
					}
				}
			})
			if err != nil {
				return err
			}
			if !s.Running {
				return ExitCode(1, "")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "cluster state directory (default <data-dir>/devcluster)")
	return cmd
}

// devProvisionerCmd is the dev cluster's volume provisioner, run by `up`
// as one of the cluster's processes.
func devProvisionerCmd() *cobra.Command {
	var opts provisioner.Options
	cmd := &cobra.Command{
		Use:    "provisioner",
		Short:  "Run the dev cluster's local-path volume provisioner (started by 'wild dev cluster up')",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			opts.Logger = log.New(os.Stderr, "", log.LstdFlags)
			return provisioner.Run(ctx, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Kubeconfig, "kubeconfig", "", "cluster kubeconfig")
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "cluster directory (volumes go to DIR/volumes)")
	cmd.Flags().StringVar(&opts.Name, "name", devcluster.ProvisionerName, "provisioner name")
	return cmd
}

// devReapCmd stops a cluster once its owner process is gone; the test
// harness starts it so a crashed test binary leaves no process behind.
func devReapCmd() *cobra.Command {
	var (
		dir       string
		pid       int
		startTime uint64
		remove    bool
	)
	cmd := &cobra.Command{
		Use:    "reap",
		Short:  "Stop a dev cluster when the process that owns it exits",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || pid <= 0 {
				return fmt.Errorf("reap needs --dir and --pid")
			}
			// Ignore the owner's terminal signals: reaping is our whole job.
			signal.Ignore(syscall.SIGINT, syscall.SIGHUP)
			return devcluster.Reap(context.Background(), dir, pid, startTime, remove)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "cluster directory")
	cmd.Flags().IntVar(&pid, "pid", 0, "owner process")
	cmd.Flags().Uint64Var(&startTime, "start-time", 0, "owner's start time (guards against PID reuse)")
	cmd.Flags().BoolVar(&remove, "remove", false, "delete the cluster directory afterwards")
	return cmd
}

func devImagesBuildCmd(g *Globals) *cobra.Command {
	var dir, cacheDir string
	cmd := &cobra.Command{
		Use:   "build [NAME...]",
		Short: "Build the dev images (" + strings.Join(devimage.Names(), ", ") + ") from Debian packages and import them into the real node",
		Long: `Builds OCI images from Debian packages with mmdebstrap, using this machine's
apt sources, and imports them into the local cluster's real node (when it
runs). An image is rebuilt only when its inputs change. Their entrypoints
honour the official images' environment (POSTGRES_PASSWORD, MYSQL_ROOT_PASSWORD, ...).`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if len(names) == 0 {
				names = devimage.Names()
			}
			var recipes []devimage.Recipe
			for _, n := range names {
				r, err := devimage.Lookup(n)
				if err != nil {
					return err
				}
				recipes = append(recipes, r)
			}
			d, err := clusterDir(g, dir)
			if err != nil {
				return err
			}
			if cacheDir == "" {
				if cacheDir, err = devimage.DefaultCacheDir(); err != nil {
					return err
				}
			}
			var built []devimage.Built
			for _, r := range recipes {
				b, err := devimage.BuildDebian(cmd.Context(), r, devimage.BuildOptions{CacheDir: cacheDir, Progress: g.ErrOut})
				if err != nil {
					return err
				}
				built = append(built, b)
			}
			imported, err := devcluster.ImportImages(cmd.Context(), d, built)
			if err != nil {
				return err
			}
			res := map[string]any{"images": built, "imported": imported}
			return g.Printer().Print(res, func(t *Table) {
				for _, b := range built {
					state := "built"
					if b.Cached {
						state = "up to date"
					}
					t.Line("%s: %s (%s)", b.Ref, state, b.Archive)
				}
				if imported {
					t.Line("imported into the real node of %s", d)
				} else {
					t.Line("not imported: no real node runs in %s (wild dev cluster up --real-node on)", d)
				}
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "cluster state directory (default <data-dir>/devcluster)")
	cmd.Flags().StringVar(&cacheDir, "cache-dir", "", "where built images are kept (default <user cache>/wild/devimages)")
	return cmd
}

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
)

func init() {
	register(90, func(root *cobra.Command, g *Globals) {
		dev := &cobra.Command{
			Use:   "dev",
			Short: "Developer tools: a local Kubernetes control plane",
		}
		cluster := &cobra.Command{
			Use:   "cluster",
			Short: "A real Kubernetes control plane on this machine; nodes and pods are simulated by kwok (no container runs)",
		}
		cluster.AddCommand(devClusterBuildCmd(g), devClusterUpCmd(g), devClusterDownCmd(g), devClusterStatusCmd(g))
		dev.AddCommand(cluster, devProvisionerCmd(), devReapCmd())
		root.AddCommand(dev)
	})
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
		Short: "Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (reused when up to date)",
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

func devClusterUpCmd(g *Globals) *cobra.Command {
	var (
		dir, binDir string
		nodes       int
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local control plane (or return it when already running) and print its kubeconfig path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 1 || nodes > 100 {
				return fmt.Errorf("--nodes must be between 1 and 100, got %d", nodes)
			}
			d, err := clusterDir(g, dir)
			if err != nil {
				return err
			}
			c, err := devcluster.Up(cmd.Context(), devcluster.Options{Dir: d, Nodes: nodes, BinDir: binDir, Progress: g.ErrOut})
			if err != nil {
				return err
			}
			return g.Printer().Print(c, func(t *Table) { t.Line("%s", c.Kubeconfig) })
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "cluster state directory (default <data-dir>/devcluster)")
	cmd.Flags().IntVar(&nodes, "nodes", 3, "number of fake nodes")
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "control plane binaries (env WILD_DEVCLUSTER_BIN; default <repo>/.build/devcluster/bin)")
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

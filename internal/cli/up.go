package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/lifecycle"
)

// DevInstance is the instance `wild up` creates for the local cluster.
const DevInstance = lifecycle.DevInstance

func addUpCommands(root *cobra.Command, g *Globals) {
	root.AddCommand(upCmd(g), downCmd(g))
}

func upCmd(g *Globals) *cobra.Command {
	var (
		nodes    int
		realNode string
		domain   string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local Kubernetes control plane and an instance named \"dev\" that uses it",
		Long: `Give yourself a working Wild Cloud with no cluster of your own.

wild up builds the local control plane if needed (the first build takes a few
minutes), starts it (etcd, kube-apiserver, controller manager, scheduler, kwok
and a volume provisioner) under <data-dir>/devcluster, creates the instance
"dev" whose kubeconfig points at it, and selects that instance.

On that cluster wild up also creates self-signed wildcard certificates
(cert-manager/wildcard-wild-cloud-tls and the internal one), standing in
for what cert-manager issues on a real cluster.

The control plane is real. As root with containerd installed it also runs
a real node, real-node-0 (kubelet, containerd, kube-proxy, CoreDNS), where
pods that select it run real containers; the other nodes are simulated by
kwok, where pods are reported Running and Ready but no container runs.

Running it again is safe: a running cluster is reused, and the instance's
kubeconfig is refreshed. Stop it with: wild down. For a real cluster, use
wild instance create NAME --domain D --kubeconfig PATH instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, err := realNodeMode(realNode)
			if err != nil {
				return err
			}
			dataDir, err := g.ResolveDataDir()
			if err != nil {
				return err
			}
			res, err := (&lifecycle.Up{DataDir: dataDir, Nodes: nodes, Domain: domain, RealNode: mode, Observer: g.observer()}).Run(cmd.Context())
			if err != nil {
				return err
			}
			for _, c := range res.Certificates {
				fmt.Fprintf(g.ErrOut, "created self-signed wildcard certificate %s\n", c)
			}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("instance %q is ready and selected (cluster %s)", res.Instance, res.Server)
				t.Line("kubeconfig: %s", res.Kubeconfig)
				t.Line("")
				t.Line("next:")
				t.Line("  wild app add ghost mysql            # ghost and the mysql it needs, in one transaction")
				t.Line("  wild app deploy ghost --with-deps")
			})
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 3, "number of simulated (kwok) nodes")
	realNodeFlag(cmd, &realNode)
	cmd.Flags().StringVar(&domain, "domain", "wild.test", "domain for the dev instance's apps")
	return cmd
}

func downCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the local control plane started by wild up (its data is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dataDir, err := g.ResolveDataDir()
			if err != nil {
				return err
			}
			dir := devcluster.DefaultDir(dataDir)
			if err := devcluster.Down(dir); err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"stopped": dir}, func(t *Table) {
				t.Line("stopped the dev cluster in %s (data kept; start again with: wild up)", dir)
			})
		},
	}
}

package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
)

// DevInstance is the instance `wild up` creates for the local cluster.
const DevInstance = "dev"

func init() {
	register(5, func(root *cobra.Command, g *Globals) {
		root.AddCommand(upCmd(g), downCmd(g))
	})
}

func upCmd(g *Globals) *cobra.Command {
	var nodes int
	var domain string
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

The control plane is real; the nodes are simulated by kwok, so pods are
scheduled and reported Running and Ready, but no container actually runs.

Running it again is safe: a running cluster is reused, and the instance's
kubeconfig is refreshed. Stop it with: wild down. For a real cluster, use
wild instance create NAME --domain D --kubeconfig PATH instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dataDir, err := g.ResolveDataDir()
			if err != nil {
				return err
			}
			binDir, err := devcluster.Build(cmd.Context(), devcluster.BuildOptions{Progress: g.ErrOut})
			if err != nil {
				return err
			}
			cl, err := devcluster.Up(cmd.Context(), devcluster.Options{Dir: devcluster.DefaultDir(dataDir), Nodes: nodes, BinDir: binDir, Progress: g.ErrOut})
			if err != nil {
				return err
			}
			inst, created, err := ensureDevInstance(instance.NewStore(dataDir), domain, cl.Kubeconfig)
			if err != nil {
				return err
			}
			certs, err := lifecycle.EnsureDevCertificates(cmd.Context(), inst)
			if err != nil {
				return fmt.Errorf("create the dev wildcard certificates: %w", err)
			}
			for _, c := range certs {
				fmt.Fprintf(g.ErrOut, "created self-signed wildcard certificate %s\n", c)
			}
			res := map[string]any{"instance": inst.Name, "created": created, "kubeconfig": cl.Kubeconfig, "server": cl.Server, "clusterDir": cl.Dir}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("instance %q is ready and selected (cluster %s)", inst.Name, cl.Server)
				t.Line("kubeconfig: %s", cl.Kubeconfig)
				t.Line("")
				t.Line("next:")
				t.Line("  wild app add mysql && wild app add ghost")
				t.Line("  wild app deploy ghost --with-deps")
			})
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 3, "number of simulated (kwok) nodes")
	cmd.Flags().StringVar(&domain, "domain", "wild.test", "domain for the dev instance's apps")
	return cmd
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

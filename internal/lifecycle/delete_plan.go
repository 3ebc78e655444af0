package lifecycle

import (
	"context"
	"sort"

	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/side"
)

// DeletePlan is what a Delete would remove and what it would leave, so a
// user confirms knowing the cost. It changes nothing.
type DeletePlan struct {
	App       string `json:"app"`
	Namespace string `json:"namespace"`
	// Volumes are the PersistentVolumeClaims in the namespace: their data
	// goes with them unless the StorageClass retains released volumes.
	Volumes []kube.PVCStatus `json:"volumes"`
	// Secrets are the secret names in secrets.yaml (never values); they
	// are deleted from the instance and the cluster.
	Secrets []string `json:"secrets"`
	// Local is what is removed from the instance directory.
	Local []string `json:"local"`
	// Dependents need this app; Delete refuses unless forced.
	Dependents []string `json:"dependents,omitempty"`
	// Keeps is what stays: the apps it uses (and its data in them), its
	// snapshots, the catalog package.
	Keeps []string `json:"keeps"`
	// Copies are the namespaces of the app's other copies (a retired or a
	// standby one a restore made), which go too.
	Copies []string `json:"copies,omitempty"`
	// ClusterUnreachable is set when volumes could not be listed.
	ClusterUnreachable string `json:"clusterUnreachable,omitempty"`
}

// Plan describes the delete without doing it.
func (d *Delete) Plan(ctx context.Context) (*DeletePlan, error) {
	t, err := loadTargetWith(d.Instance, d.App, d.Instance.AppDir(d.App), true)
	if err != nil {
		return nil, err
	}
	p := &DeletePlan{App: d.App, Namespace: t.namespace, Volumes: []kube.PVCStatus{}, Secrets: []string{},
		Local: []string{"apps/" + d.App + "/", "config.yaml apps." + d.App, "secrets.yaml apps." + d.App}}
	if p.Dependents, err = Dependents(d.Instance, d.App); err != nil {
		return nil, err
	}
	if entries, err := d.Instance.ListSecrets("apps." + d.App); err == nil {
		for _, e := range entries {
			p.Secrets = append(p.Secrets, e.Path)
		}
	}
	for _, ref := range sortedKeys(t.manifest.InstalledAs) {
		p.Keeps = append(p.Keeps, t.manifest.InstalledAs[ref]+" (the app it uses as "+ref+", and what "+d.App+" stored there)")
	}
	p.Keeps = append(p.Keeps, "its snapshots (.snapshots/"+d.App+"/)", "the catalog package: it can be added again")
	p.Volumes, p.ClusterUnreachable = d.volumes(ctx, p, t)
	if !t.side.Original {
		p.Local = append(p.Local, side.Path(d.App)+" (which copy serves)")
	}
	return p, nil
}

// volumes lists the claims of every copy of the app, and the other
// copies' namespaces into p, or says why it could not.
func (d *Delete) volumes(ctx context.Context, p *DeletePlan, t *target) ([]kube.PVCStatus, string) {
	c := d.Client
	if c == nil {
		var err error
		if c, err = clientFor(d.Instance); err != nil {
			return []kube.PVCStatus{}, oneLine(err)
		}
	}
	others, err := otherCopies(ctx, c, d.Instance, t)
	if err != nil {
		return []kube.PVCStatus{}, oneLine(err)
	}
	p.Copies = namespacesOf(others)
	out := []kube.PVCStatus{}
	for _, ns := range append([]string{t.namespace}, p.Copies...) {
		st, err := c.Status(ctx, ns, nil)
		if err != nil {
			return []kube.PVCStatus{}, oneLine(err)
		}
		out = append(out, st.PVCs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, ""
}

package lifecycle

import (
	"fmt"
	"strings"

	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/merge"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// planFresh lists what --fresh discards: config values that differ from
// the installed package's defaults, and every secret (by name).
func (u *Update) planFresh(p *updatePlan, cfg, sec *yamldoc.Doc) error {
	cur, err := ReadInstalledManifest(u.Instance, u.App)
	if err != nil {
		return err
	}
	oldPkg, err := installedPackage(u.Instance, u.App)
	if err != nil {
		return err
	}
	all, err := cfg.Map()
	if err != nil {
		return err
	}
	base, _, err := RenderDefaults(u.engine(), oldPkg.Manifest, newContext(all, cur.InstalledAs), map[string]any{})
	if err != nil {
		return err
	}
	prefix := "apps." + u.App + "."
	ours := cfg.Leaves([]string{"apps", u.App})
	for _, k := range sortedKeys(ours) {
		rel := strings.TrimPrefix(k, prefix)
		if bv, _ := yamldoc.Lookup(base, strings.Split(rel, ".")); bv == nil || !merge.Same(bv, ours[k]) {
			p.review.Lost = append(p.review.Lost, fmt.Sprintf("config %s = %s", k, merge.Show(ours[k])))
		}
	}
	secrets := sec.Leaves([]string{"apps", u.App})
	for _, k := range sortedKeys(secrets) {
		p.review.Lost = append(p.review.Lost, "secret "+k+" (a new value is generated; apps using the old one must be redeployed)")
	}
	return nil
}

// writeFresh deletes the app's config and secrets and adds it again, in
// the same transaction.
func (u *Update) writeFresh(e *instance.Edit, p *updatePlan, op *operation.Op) error {
	e.Config.Delete([]string{"apps", u.App})
	e.Secrets.Delete([]string{"apps", u.App})
	res := &AddResult{App: u.App}
	if err := stageAdd(&u.Env, e, addOptions{App: u.App, Deps: u.Deps}, p.newPkg, op, res); err != nil {
		return err
	}
	e.Message = u.message(p.review)
	p.review.SecretsAdded = res.SecretsAdded
	p.review.Files = res.Files
	for _, k := range res.ConfigAdded {
		p.review.Config = append(p.review.Config, ConfigChange{Key: strings.TrimPrefix(k, "apps."+u.App+"."), Change: change.Created})
	}
	return nil
}

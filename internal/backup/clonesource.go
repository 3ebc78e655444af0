package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
)

// RepositorySource is a backup repository a clone reads directly, without
// the instance that wrote it: another data directory's repository on a
// shared path or NFS mount, or an S3 bucket.
type RepositorySource struct {
	Destination Destination
	// Password is the repository's (the source's `wild backup key
	// export`). It is never recorded.
	Password string `json:"-"`
	// Instance is the name of the instance whose backups these are.
	Instance string
	// Domain is that instance's cloud.domain, so no value naming it is
	// carried; "" takes it from the app's backed-up domain, less its
	// first label.
	Domain string
}

// sourceDomain is the source instance's domain.
func (c *Clone) sourceDomain(srcCfg map[string]any) string {
	if c.Source != nil {
		if v, err := c.Source.GetConfig("cloud.domain"); err == nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	if c.Repository.Domain != "" {
		return c.Repository.Domain
	}
	if d, ok := lookup(srcCfg, "domain").(string); ok && strings.Count(d, ".") >= 2 {
		_, rest, _ := strings.Cut(d, ".")
		return rest
	}
	return ""
}

// sourceName is the source instance's name, for records and messages.
func (c *Clone) sourceName() string {
	if c.Repository != nil {
		return c.Repository.Instance
	}
	if c.Source != nil {
		return c.Source.Name
	}
	return ""
}

// openSource opens the repository the backup is in, read only. Its
// connection file and cache are the target's (under the target's cache
// directory), so not even the source's cache is written.
func (c *Clone) openSource(ctx context.Context) (Store, error) {
	if c.Open == nil {
		return nil, problem.New(problem.Internal, "no backup repository implementation is configured")
	}
	var dest Destination
	var pw string
	if r := c.Repository; r != nil {
		dest, pw = r.Destination, r.Password
	} else {
		d, err := ReadDestination(c.Source)
		if err != nil {
			return nil, fmt.Errorf("instance %s: %w", c.Source.Name, err)
		}
		if pw, err = password(c.Source, false); err != nil {
			return nil, err
		}
		dest = d
	}
	own, err := ReadDestination(c.Instance)
	if err != nil {
		return nil, err
	}
	dest.CacheDir = filepath.Join(own.CacheDir, "clone-from-"+c.sourceName())
	s, err := c.Open(ctx, dest, pw, false)
	if errors.Is(err, ErrNotFound) {
		return nil, problem.Wrap(problem.NotFound, err, "the backup repository of "+c.sourceName())
	}
	if err != nil {
		return nil, fmt.Errorf("open the backup repository of %s: %w", c.sourceName(), err)
	}
	return s, nil
}

// sourcePlan finds the backup to clone: in the source instance's plans,
// or, for a bare repository, in its snapshots.
func (c *Clone) sourcePlan(ctx context.Context) (*RecoveryPlan, error) {
	if c.Repository == nil {
		return (&Restore{Env: Env{Instance: c.Source}, App: c.App, From: c.From}).plan()
	}
	if c.From != "" && !validTimestamp(c.From) {
		return nil, problem.New(problem.Invalid, fmt.Sprintf("%q is not a backup id (like 20260308T231537Z)", c.From))
	}
	store, err := c.openSource(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Close(context.WithoutCancel(ctx))
	snaps, err := store.List(ctx, Source{Instance: c.Repository.Instance, App: c.App})
	if err != nil {
		return nil, err
	}
	for _, s := range snaps {
		if c.From == "" || s.Tags["plan"] == c.From {
			return c.planOf(ctx, store, s)
		}
	}
	what := "no backup"
	if c.From != "" {
		what = "no backup " + c.From
	}
	return nil, problem.New(problem.NotFound, fmt.Sprintf("the repository holds %s of %s from instance %s", what, c.App, c.Repository.Instance))
}

// planOf rebuilds a plan from a snapshot's files, as far as a clone needs
// it: each dump's database is matched to the config key of the target's
// manifest whose backed-up value names it.
func (c *Clone) planOf(ctx context.Context, store Store, s Snapshot) (*RecoveryPlan, error) {
	in := func(ctx context.Context, name string) (io.ReadCloser, error) { return store.Open(ctx, s.ID, name) }
	srcCfg, err := readSection(ctx, in, configFile)
	if err != nil {
		return nil, err
	}
	pkg, err := c.Catalog.Get(c.App)
	if err != nil {
		return nil, err
	}
	files := make([]string, len(s.Files))
	for i, f := range s.Files {
		files[i] = f.Name
	}
	p := &RecoveryPlan{App: c.App, Instance: c.Repository.Instance, Timestamp: s.Tags["plan"], Snapshot: s.ID, Status: StatusBackedUp}
	p.Strategies, err = entriesOf(files, pkg.Manifest, srcCfg)
	return p, err
}

// entriesOf is the strategies a snapshot's file names show.
func entriesOf(files []string, m *catalog.Manifest, srcCfg map[string]any) ([]StrategyEntry, error) {
	out := []StrategyEntry{{Name: "config", Status: StatusBackedUp}}
	var pvcs []string
	for _, f := range files {
		dir, base := path.Split(f)
		switch dir {
		case "postgres/", "mysql/":
			db := strings.TrimSuffix(strings.TrimSuffix(base, ".dump"), ".sql")
			key, err := configKeyOf(m, srcCfg, db)
			if err != nil {
				return nil, err
			}
			out = append(out, StrategyEntry{Name: strings.TrimSuffix(dir, "/"), Status: StatusBackedUp,
				Params: map[string]string{"dbName": db, "configKey": key, "file": f}})
		case "volume/":
			pvc := strings.TrimSuffix(base, ".tar")
			if err := names.Validate("volume (PVC name)", pvc); err != nil {
				return nil, fmt.Errorf("the backup holds %s: %w", f, err)
			}
			pvcs = append(pvcs, pvc)
		}
	}
	if len(pvcs) > 0 {
		out = append(out, StrategyEntry{Name: "volume", Status: StatusBackedUp, Params: map[string]string{"pvcs": strings.Join(pvcs, ",")}})
	}
	return out, nil
}

// configKeyOf finds the manifest's database config key whose backed-up
// value is db (or db's colored copy, after a switch).
func configKeyOf(m *catalog.Manifest, srcCfg map[string]any, db string) (string, error) {
	keys := []string{"dbName"}
	if m.Restore != nil && len(m.Restore.Databases) > 0 {
		keys = keys[:0]
		for _, d := range m.Restore.Databases {
			keys = append(keys, d.ConfigKey)
		}
	}
	// Exact names first: x_search is its own database, not x's copy.
	for _, k := range keys {
		if db == fmt.Sprint(lookup(srcCfg, k)) {
			return k, nil
		}
	}
	for _, k := range keys {
		v := fmt.Sprint(lookup(srcCfg, k))
		if db == v+"_blue" || db == v+"_green" {
			return k, nil
		}
	}
	return "", fmt.Errorf("the backup's database %s matches none of %s's database config keys (%s)", db, m.Name, strings.Join(keys, ", "))
}

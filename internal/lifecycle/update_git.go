package lifecycle

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/merge"
)

// mergeFiles is the git-mode three-way merge of compiled files: base is
// the installed package compiled with the config the files were compiled
// from (normally the current one), ours the
// committed apps/<app>/, theirs the new package compiled with the merged
// config. Bookkeeping (.package/, manifest.yaml, dot files) is theirs.
func (u *Update) mergeFiles(rv *UpdateReview, oldPkg *catalog.Package, cur *catalog.Manifest, oldCfg map[string]any, theirs map[string][]byte) (map[string][]byte, error) {
	m := *oldPkg.Manifest
	m.InstalledAs = cur.InstalledAs
	base, err := compile(u.engine(), oldPkg, &m, oldCfg)
	if err != nil {
		return nil, fmt.Errorf("compile the installed package for the merge base: %w", err)
	}
	ours, err := readTree(u.Instance.AppDir(u.App))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for f, b := range theirs {
		out[f] = b
	}
	for f, o := range ours {
		if bookkeeping(f) {
			continue
		}
		b, inBase := base[f]
		t, inTheirs := theirs[f]
		switch {
		case inBase && bytes.Equal(o, b):
			// untouched by the user: theirs (or gone, if upstream removed it)
		case !inBase && !inTheirs:
			out[f] = o // a file the user added
		case inBase && !inTheirs:
			out[f] = o
			rv.Conflicts = append(rv.Conflicts, f+" (removed by the new package, but you edited it; delete it or keep it)")
		default:
			merged, conflict := merge.Lines(b, o, t)
			out[f] = merged
			if conflict {
				rv.Conflicts = append(rv.Conflicts, f)
			} else if !bytes.Equal(merged, t) {
				rv.Merged = append(rv.Merged, f)
			}
		}
	}
	sort.Strings(rv.Conflicts)
	sort.Strings(rv.Merged)
	return out, nil
}

// bookkeeping files are wild's, not the user's: always taken as compiled.
func bookkeeping(f string) bool {
	return strings.HasPrefix(f, ".") || f == catalog.ManifestFile
}

// continueMerge commits a git-mode update once its conflicts are resolved.
func (u *Update) continueMerge() (*UpdateReview, error) {
	msg := gitmode.Pending(u.Instance, u.App)
	if msg == "" {
		return nil, fmt.Errorf("%s has no update waiting on conflict resolution", u.App)
	}
	if has, files, err := gitmode.HasConflictMarkers(u.Instance, u.App); err != nil {
		return nil, err
	} else if has {
		return nil, fmt.Errorf("%s still has conflict markers in %s; remove them first", u.App, strings.Join(files, ", "))
	}
	unlock, err := u.Instance.LockApp(u.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := u.Instance.Update(func(e *instance.Edit) error { e.Message = msg; return nil }); err != nil {
		return nil, err
	}
	gitmode.ClearPending(u.Instance, u.App)
	rv := &UpdateReview{App: u.App, Applied: true}
	if h, err := gitmode.Head(u.Instance); err == nil {
		rv.Commit = h
	}
	return rv, nil
}

package kube

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// kustomizationNames are the file names Kustomize reads in a directory.
var kustomizationNames = map[string]bool{"kustomization.yaml": true, "kustomization.yml": true, "Kustomization": true}

// refFields are the kustomization fields whose entries Kustomize may load
// from a URL or a git repository.
var refFields = []string{"resources", "bases", "components", "crds", "transformers", "generators", "validators"}

// checkNoRemote refuses a kustomization under dir that names a remote
// resource (https://…, git@…, github.com/…?ref=…). Kustomize would fetch
// it (HTTP GET, git clone) at deploy time: an app package would pull code
// from outside the catalog, unreviewed and unpinned. krusty has no switch
// for this, so the kustomizations are read first.
func checkNoRemote(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !kustomizationNames[d.Name()] {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var k map[string]any
		if err := yaml.Unmarshal(b, &k); err != nil {
			return nil // kustomize reports the syntax error itself
		}
		for _, f := range refFields {
			items, _ := k[f].([]any)
			for _, it := range items {
				if s, ok := it.(string); ok && isRemote(s) {
					rel, _ := filepath.Rel(dir, p)
					return fmt.Errorf("%s: %s entry %q is a remote resource; wild does not fetch remote Kustomize resources: vendor the files into the app package", rel, f, s)
				}
			}
		}
		return nil
	})
}

func isRemote(s string) bool {
	s = strings.TrimSpace(s)
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git@") || strings.Contains(s, "?ref=") ||
		strings.Contains(s, "?version=") || strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "gitlab.com/") ||
		strings.HasPrefix(s, "bitbucket.org/")
}

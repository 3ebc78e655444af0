package catalog

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// kustomizationNames are the file names Kustomize looks for in a directory.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// IsKustomization reports whether a package file is a kustomization.
func IsKustomization(f string) bool {
	for _, n := range kustomizationNames {
		if path.Base(f) == n {
			return true
		}
	}
	return false
}

// Kustomization is the part of a kustomization file the catalog needs:
// what it pulls in.
type Kustomization struct {
	Resources          []string    `yaml:"resources"`
	Components         []string    `yaml:"components"`
	Bases              []string    `yaml:"bases"`
	ConfigMapGenerator []Generator `yaml:"configMapGenerator"`
	SecretGenerator    []Generator `yaml:"secretGenerator"`
}

// Generator is one configMapGenerator or secretGenerator entry.
type Generator struct {
	Name  string   `yaml:"name"`
	Files []string `yaml:"files"`
	Envs  []string `yaml:"envs"`
	Env   string   `yaml:"env"` // deprecated single form, still read by Kustomize
}

// ParseKustomization reads a (rendered) kustomization file.
func ParseKustomization(file string, data []byte) (*Kustomization, error) {
	var k Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &k, nil
}

// GeneratorFiles are the files the generators read, as paths relative to
// the kustomization's directory dir ("." for the package root).
func (k *Kustomization) GeneratorFiles(dir string) []string {
	var out []string
	for _, g := range append(append([]Generator{}, k.ConfigMapGenerator...), k.SecretGenerator...) {
		for _, f := range g.Files {
			// files: entries may be KEY=PATH.
			if _, p, ok := strings.Cut(f, "="); ok {
				f = p
			}
			out = append(out, path.Join(dir, f))
		}
		for _, f := range g.Envs {
			out = append(out, path.Join(dir, f))
		}
		if g.Env != "" {
			out = append(out, path.Join(dir, g.Env))
		}
	}
	return out
}

// IsRemote reports whether a resources/components/bases entry is a URL or
// a git reference that Kustomize would fetch over the network.
func IsRemote(ref string) bool {
	r := strings.ToLower(ref)
	for _, p := range []string{"://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/", "?ref=", ".git//"} {
		if strings.Contains(r, p) {
			return true
		}
	}
	return false
}

// LeftoverTemplate returns the first line (from 1) holding "{{", or 0.
func LeftoverTemplate(data []byte) int {
	i := bytes.Index(data, []byte("{{"))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

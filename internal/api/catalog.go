package api

import (
	"context"
	"net/http"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
)

// Package is a catalog entry as the API shows it.
type Package struct {
	Name            string          `json:"name"`
	Is              string          `json:"is,omitempty"`
	Description     string          `json:"description,omitempty"`
	Version         string          `json:"version,omitempty"`
	Icon            string          `json:"icon,omitempty"`
	Requires        []Requirement   `json:"requires,omitempty"`
	Schema          []catalog.Field `json:"schema,omitempty" doc:"Form fields inferred from defaultConfig."`
	DefaultSecrets  []string        `json:"defaultSecrets,omitempty" doc:"Names of the secrets the app gets (values are generated or templated)."`
	RequiredSecrets []string        `json:"requiredSecrets,omitempty"`
}

// Requirement is one dependency: an app type and the name templates use.
type Requirement struct {
	Type string `json:"type"`
	Ref  string `json:"ref"`
}

func packageOf(m *catalog.Manifest, full bool) Package {
	p := Package{Name: m.Name, Is: m.Is, Description: m.Description, Version: m.Version, Icon: m.Icon}
	for _, r := range m.Requires {
		p.Requires = append(p.Requires, Requirement{Type: r.Name, Ref: r.Ref()})
	}
	if !full {
		return p
	}
	p.Schema = catalog.ConfigSchema(m)
	for _, d := range m.DefaultSecrets {
		p.DefaultSecrets = append(p.DefaultSecrets, d.Key)
	}
	p.RequiredSecrets = m.RequiredSecrets
	return p
}

type packagesOut struct {
	Body struct {
		Packages []Package `json:"packages"`
	}
}

type packageIn struct {
	App string `path:"app" maxLength:"63"`
}

type packageOut struct{ Body Package }

func (s *Server) catalogRoutes() {
	tags := []string{"catalog"}
	register(s, op{id: "list-catalog", method: http.MethodGet, path: "/catalog", scope: auth.Read, tags: tags,
		summary: "List the Wild Directory's app packages"}, func(ctx context.Context, _ *empty) (*packagesOut, error) {
		cat, err := s.Catalog()
		if err != nil {
			return nil, err
		}
		pkgs, err := cat.List()
		if err != nil {
			return nil, err
		}
		out := &packagesOut{}
		out.Body.Packages = []Package{}
		for _, p := range pkgs {
			out.Body.Packages = append(out.Body.Packages, packageOf(p.Manifest, false))
		}
		return out, nil
	})
	register(s, op{id: "get-catalog-app", method: http.MethodGet, path: "/catalog/{app}", scope: auth.Read, tags: tags,
		summary: "One app package, with the config schema its form uses"}, func(ctx context.Context, in *packageIn) (*packageOut, error) {
		if err := names.Validate("app", in.App); err != nil {
			return nil, &problem.Error{Code: problem.Invalid, Err: err}
		}
		cat, err := s.Catalog()
		if err != nil {
			return nil, err
		}
		p, err := cat.Get(in.App)
		if err != nil {
			return nil, &problem.Error{Code: problem.NotFound, Err: err}
		}
		return &packageOut{Body: packageOf(p.Manifest, true)}, nil
	})
}

package api

import (
	"context"
	"net/http"
	"os"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
)

type InstIn struct {
	Instance string `path:"instance" maxLength:"63"`
}

func (in *InstIn) open(s *Server) (*instance.Instance, error) {
	if err := names.Validate("instance", in.Instance); err != nil {
		return nil, &problem.Error{Code: problem.Invalid, Err: err}
	}
	inst, err := s.Store.Open(in.Instance)
	if err != nil {
		return nil, &problem.Error{Code: problem.NotFound, Err: err,
			Hint: &problem.Hint{Action: "instance.list", Text: "list the instances"}}
	}
	return inst, nil
}

type instanceOut struct{ Body instance.Info }

type instancesOut struct {
	Body struct {
		Instances []instance.Info `json:"instances"`
	}
}

type instanceCreateIn struct {
	Body struct {
		Name       string `json:"name" minLength:"1" maxLength:"63"`
		Domain     string `json:"domain" minLength:"1" maxLength:"253"`
		Email      string `json:"email,omitempty" maxLength:"254"`
		Kubeconfig string `json:"kubeconfig,omitempty" maxLength:"1048576" doc:"The kubeconfig file's content (YAML)."`
	}
}

type pathIn struct {
	InstIn
	Path string `query:"path" maxLength:"512" doc:"Dotted path, e.g. apps.ghost.port; empty for the whole file."`
}

type valueOut struct {
	Body struct {
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
}

type setIn struct {
	InstIn
	Body struct {
		Path  string `json:"path" minLength:"1" maxLength:"512"`
		Value string `json:"value" maxLength:"65536" doc:"Read as YAML for config (8080 is a number); taken as a string for secrets."`
	}
}

type secretsOut struct {
	Body struct {
		Secrets []instance.SecretEntry `json:"secrets"`
	}
}

type revealIn struct {
	pathIn
	Reveal bool `query:"reveal" doc:"Must be true: reading a secret value is recorded in the audit log."`
}

func (s *Server) instanceRoutes() {
	tags := []string{"instances"}
	register(s, op{id: "list-instances", method: http.MethodGet, path: "/instances", scope: auth.Read, tags: tags,
		summary: "List instances"}, func(ctx context.Context, _ *empty) (*instancesOut, error) {
		list, err := s.Store.List()
		if err != nil {
			return nil, err
		}
		out := &instancesOut{}
		out.Body.Instances = []instance.Info{}
		for _, n := range list {
			info, err := s.Store.Describe(n)
			if err != nil {
				return nil, err
			}
			out.Body.Instances = append(out.Body.Instances, info)
		}
		return out, nil
	})
	register(s, op{id: "create-instance", method: http.MethodPost, path: "/instances", scope: auth.Admin, status: http.StatusAccepted, tags: tags,
		summary: "Create an instance"}, s.createInstance)
	register(s, op{id: "get-instance", method: http.MethodGet, path: "/instances/{instance}", scope: auth.Read, tags: tags,
		summary: "Get an instance"}, func(ctx context.Context, in *InstIn) (*instanceOut, error) {
		if _, err := in.open(s); err != nil {
			return nil, err
		}
		info, err := s.Store.Describe(in.Instance)
		return &instanceOut{Body: info}, err
	})
	register(s, op{id: "delete-instance", method: http.MethodDelete, path: "/instances/{instance}", scope: auth.Admin, status: http.StatusAccepted, tags: tags,
		summary: "Delete an instance's local data (its cluster is left alone)"}, func(ctx context.Context, in *InstIn) (*accepted, error) {
		if _, err := in.open(s); err != nil {
			return nil, err
		}
		return s.start(ctx, central.Spec{Action: "delete-instance", Instance: in.Instance,
			Do: func(context.Context, string, event.Observer) (any, error) { return nil, s.Store.Delete(in.Instance) }})
	})
	register(s, op{id: "use-instance", method: http.MethodPost, path: "/instances/{instance}/use", scope: auth.Operate, tags: tags,
		summary: "Make an instance the current one"}, func(ctx context.Context, in *InstIn) (*instanceOut, error) {
		if _, err := in.open(s); err != nil {
			return nil, err
		}
		if err := s.Store.Use(in.Instance); err != nil {
			return nil, err
		}
		info, err := s.Store.Describe(in.Instance)
		return &instanceOut{Body: info}, err
	})
	s.configRoutes()
	s.settingsRoutes()
}

func (s *Server) createInstance(ctx context.Context, in *instanceCreateIn) (*accepted, error) {
	b := in.Body
	if err := names.Validate("instance", b.Name); err != nil {
		return nil, &problem.Error{Code: problem.Invalid, Err: err}
	}
	return s.start(ctx, central.Spec{Action: "create-instance", Instance: b.Name,
		Do: func(context.Context, string, event.Observer) (any, error) {
			opts := instance.CreateOptions{Name: b.Name, Domain: b.Domain, Email: b.Email}
			if b.Kubeconfig != "" {
				f, err := os.CreateTemp("", "kubeconfig-*")
				if err != nil {
					return nil, err
				}
				defer os.Remove(f.Name())
				if _, err := f.WriteString(b.Kubeconfig); err != nil {
					f.Close()
					return nil, err
				}
				f.Close()
				opts.Kubeconfig = f.Name()
			}
			if _, err := s.Store.Create(opts); err != nil {
				return nil, &problem.Error{Code: problem.Invalid, Err: err}
			}
			return s.Store.Describe(b.Name)
		}})
}

func (s *Server) configRoutes() {
	tags := []string{"config"}
	register(s, op{id: "get-config", method: http.MethodGet, path: "/instances/{instance}/config", scope: auth.Read, tags: tags,
		summary: "Read config.yaml by dotted path"}, func(ctx context.Context, in *pathIn) (*valueOut, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		v, err := inst.GetConfig(in.Path)
		return value(in.Path, v), asNotFound(err)
	})
	register(s, op{id: "set-config", method: http.MethodPut, path: "/instances/{instance}/config", scope: auth.Operate, tags: tags,
		summary: "Set a config value by dotted path (redeploy the app to apply it)"}, func(ctx context.Context, in *setIn) (*valueOut, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		if err := inst.SetConfig(in.Body.Path, in.Body.Value); err != nil {
			return nil, &problem.Error{Code: problem.Invalid, Err: err}
		}
		v, err := inst.GetConfig(in.Body.Path)
		return value(in.Body.Path, v), err
	})
	register(s, op{id: "list-secrets", method: http.MethodGet, path: "/instances/{instance}/secrets", scope: auth.Read, tags: tags,
		summary: "List secret paths (values masked)"}, func(ctx context.Context, in *pathIn) (*secretsOut, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		entries, err := inst.ListSecrets(in.Path)
		out := &secretsOut{}
		out.Body.Secrets = entries
		return out, asNotFound(err)
	})
	register(s, op{id: "reveal-secret", method: http.MethodGet, path: "/instances/{instance}/secrets/value", scope: auth.Admin, tags: tags,
		summary: "Reveal one secret value (recorded in the audit log)"}, func(ctx context.Context, in *revealIn) (*valueOut, error) {
		if !in.Reveal || in.Path == "" {
			return nil, invalid("pass path and reveal=true to read a secret value; it is recorded in the audit log")
		}
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		v, err := inst.GetSecret(in.Path)
		if err != nil {
			return nil, asNotFound(err)
		}
		s.audit(ctx, "secret.reveal", in.Instance, in.Path)
		return value(in.Path, v), nil
	})
	register(s, op{id: "set-secret", method: http.MethodPut, path: "/instances/{instance}/secrets", scope: auth.Operate, tags: tags,
		summary: "Set a secret value by dotted path (the response never holds it)"}, func(ctx context.Context, in *setIn) (*empty, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		if err := inst.SetSecret(in.Body.Path, in.Body.Value); err != nil {
			return nil, &problem.Error{Code: problem.Invalid, Err: err}
		}
		s.audit(ctx, "secret.set", in.Instance, in.Body.Path)
		return &empty{}, nil
	})
	register(s, op{id: "get-audit", method: http.MethodGet, path: "/audit", scope: auth.Admin, tags: []string{"auth"},
		summary: "The audit log: secret reveals, token changes, failed sign-ins"}, func(ctx context.Context, _ *empty) (*auditOut, error) {
		es, err := s.Audit.Entries()
		out := &auditOut{}
		out.Body.Entries = es
		return out, err
	})
}

type auditOut struct {
	Body struct {
		Entries []central.AuditEntry `json:"entries"`
	}
}

func value(path string, v any) *valueOut {
	out := &valueOut{}
	out.Body.Path, out.Body.Value = path, v
	return out
}

// asNotFound classifies a failed read by path: the path is not there.
func asNotFound(err error) error {
	if err == nil || problem.CodeOf(err) != problem.Internal {
		return err
	}
	return &problem.Error{Code: problem.NotFound, Err: err}
}

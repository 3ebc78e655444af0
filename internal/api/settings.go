package api

import (
	"context"
	"net/http"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/problem"
)

type settingsIn struct {
	InstIn
	Body instance.Settings
}

type kubeconfigIn struct {
	InstIn
	Body struct {
		Kubeconfig string `json:"kubeconfig" minLength:"1" maxLength:"1048576" doc:"The kubeconfig file's content (YAML)."`
	}
}

// settingsRoutes are the instance-wide settings: domain, operator email,
// SMTP relay and the kubeconfig.
func (s *Server) settingsRoutes() {
	tags := []string{"instances"}
	register(s, op{id: "get-settings", method: http.MethodGet, path: "/instances/{instance}/settings", scope: auth.Read, tags: tags,
		summary: "The instance's domain, operator email and SMTP relay"}, func(ctx context.Context, in *InstIn) (*body[instance.Settings], error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		st, err := inst.Settings()
		return &body[instance.Settings]{Body: st}, err
	})
	register(s, op{id: "set-settings", method: http.MethodPut, path: "/instances/{instance}/settings", scope: auth.Admin, tags: tags,
		summary: "Replace the instance's settings (redeploy apps to apply them)"}, func(ctx context.Context, in *settingsIn) (*body[instance.Settings], error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		if err := inst.SetSettings(in.Body); err != nil {
			return nil, &problem.Error{Code: problem.Invalid, Err: err}
		}
		s.audit(ctx, "settings.set", in.Instance, "")
		st, err := inst.Settings()
		return &body[instance.Settings]{Body: st}, err
	})
	register(s, op{id: "set-kubeconfig", method: http.MethodPut, path: "/instances/{instance}/kubeconfig", scope: auth.Admin, tags: tags,
		summary: "Upload a new kubeconfig (e.g. after the cluster moved)"}, func(ctx context.Context, in *kubeconfigIn) (*instanceOut, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		if err := inst.SetKubeconfigData([]byte(in.Body.Kubeconfig)); err != nil {
			return nil, &problem.Error{Code: problem.Invalid, Err: err}
		}
		s.audit(ctx, "kubeconfig.set", in.Instance, "")
		info, err := s.Store.Describe(in.Instance)
		return &instanceOut{Body: info}, err
	})
}

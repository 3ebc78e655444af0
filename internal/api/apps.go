package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

type AppIn struct {
	InstIn
	App string `path:"app" maxLength:"63"`
}

func (in *AppIn) open(s *Server) (*instance.Instance, error) {
	if err := names.Validate("app", in.App); err != nil {
		return nil, &problem.Error{Code: problem.Invalid, Err: err}
	}
	return in.InstIn.open(s)
}

// env is the service layer's environment for one call.
func (s *Server) env(inst *instance.Instance, id string, obs event.Observer) (lifecycle.Env, error) {
	cat, err := s.Catalog()
	if err != nil {
		return lifecycle.Env{}, err
	}
	return lifecycle.Env{Instance: inst, Catalog: cat, Observer: obs, OperationID: id}, nil
}

// run starts an app operation in the daemon; build makes the service
// layer's call once the operation has its id and observer.
func (s *Server) run(ctx context.Context, in *AppIn, action string, build func(env lifecycle.Env) func(context.Context) (any, error)) (*accepted, error) {
	inst, err := in.open(s)
	if err != nil {
		return nil, err
	}
	return s.runOn(ctx, inst, in.Instance, in.App, action, build)
}

// runOn is run on an opened instance, for an app or, when app is "", the
// whole instance.
func (s *Server) runOn(ctx context.Context, inst *instance.Instance, instName, app, action string, build func(env lifecycle.Env) func(context.Context) (any, error)) (*accepted, error) {
	return s.start(ctx, central.Spec{Action: action, Instance: instName, App: app,
		Do: func(ctx context.Context, id string, obs event.Observer) (any, error) {
			env, err := s.env(inst, id, obs)
			if err != nil {
				return nil, err
			}
			return build(env)(ctx)
		}})
}

type appsOut struct {
	Body struct {
		Apps []lifecycle.AppSummary `json:"apps"`
	}
}

type addIn struct {
	InstIn
	Body struct {
		Name string            `json:"name" minLength:"1" maxLength:"63"`
		Deps map[string]string `json:"deps,omitempty" doc:"Which added app satisfies each requirement (ref -> app)."`
		Set  map[string]string `json:"set,omitempty" doc:"Config values, keys relative to apps.<name>."`
	}
}

type addManyIn struct {
	InstIn
	Body struct {
		Names  []string                       `json:"names" minItems:"1" maxItems:"100" doc:"Apps to add together, in any order: they are added in dependency order, so one may depend on another named with it."`
		Values map[string]lifecycle.AddValues `json:"values,omitempty" doc:"An app's own deps (ref -> app) and set (config values, keys relative to apps.<name>), by app name; each names an app of names."`
	}
}

type deployIn struct {
	AppIn
	Body struct {
		WithDeps       bool `json:"withDeps,omitempty"`
		NoWait         bool `json:"noWait,omitempty"`
		TimeoutSeconds int  `json:"timeoutSeconds,omitempty" minimum:"0" maximum:"3600"`
	}
}

type updateIn struct {
	AppIn
	Body struct {
		Renames        map[string]string `json:"renames,omitempty" doc:"Carry values across renamed keys: old -> new, relative to apps.<app>."`
		AcceptRemoved  bool              `json:"acceptRemoved,omitempty"`
		AcceptBreaking bool              `json:"acceptBreaking,omitempty"`
		Deps           map[string]string `json:"deps,omitempty"`
		Fresh          bool              `json:"fresh,omitempty"`
		Deploy         bool              `json:"deploy,omitempty" doc:"Deploy after a clean update."`
		NoBackup       bool              `json:"noBackup,omitempty" doc:"Do not back up an app that has data before updating it."`
	}
}

type rollbackIn struct {
	AppIn
	Body struct {
		Snapshot string `json:"snapshot,omitempty" maxLength:"200"`
		To       string `json:"to,omitempty" maxLength:"200" doc:"A git revision (git mode)."`
	}
}

type deleteIn struct {
	AppIn
	Force bool `query:"force" doc:"Delete even when other apps depend on this one."`
}

type reviewOut struct{ Body *lifecycle.UpdateReview }

type defaultsIn struct {
	AppIn
	Dep []string `query:"dep" maxItems:"20" doc:"A dependency choice, ref=app (repeatable)."`
}

// depsOf reads ref=app pairs.
func depsOf(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		ref, app, ok := strings.Cut(p, "=")
		if !ok || ref == "" || app == "" {
			return nil, invalid("dep %q: give ref=app, e.g. db=postgres", p)
		}
		out[ref] = app
	}
	return out, nil
}

// body is the answer of a read: the service layer's result as it is.
type body[T any] struct{ Body T }

// appRead adapts a read of one app to a handler.
func appRead[T any](s *Server, read func(ctx context.Context, env lifecycle.Env, app string) (T, error)) func(context.Context, *AppIn) (*body[T], error) {
	return func(ctx context.Context, in *AppIn) (*body[T], error) {
		env, err := s.readEnv(in)
		if err != nil {
			return nil, err
		}
		r, err := read(ctx, env, in.App)
		return &body[T]{Body: r}, err
	}
}

type outdatedOut struct {
	Body struct {
		Apps []lifecycle.OutdatedApp `json:"apps"`
	}
}

type recordsIn struct {
	InstIn
	App string `query:"app" maxLength:"63"`
}

type recordsOut struct {
	Body struct {
		Records []operation.Record `json:"records"`
	}
}

func (s *Server) appRoutes() {
	s.appReadRoutes()
	s.appWriteRoutes()
}

func (s *Server) appReadRoutes() {
	tags := []string{"apps"}
	register(s, op{id: "list-apps", method: http.MethodGet, path: "/instances/{instance}/apps", scope: auth.Read, tags: tags,
		summary: "The catalog with each app's state in this instance"}, func(ctx context.Context, in *InstIn) (*appsOut, error) {
		env, err := s.instEnv(in)
		if err != nil {
			return nil, err
		}
		apps, err := (&lifecycle.List{Env: env, Cluster: lifecycle.ClusterStateIfConfigured(env.Instance)}).Run(ctx)
		out := &appsOut{}
		out.Body.Apps = apps
		return out, err
	})
	register(s, op{id: "get-app", method: http.MethodGet, path: "/instances/{instance}/apps/{app}", scope: auth.Read, tags: tags,
		summary: "One app: config, secret names, dependencies, state"}, appRead(s, func(ctx context.Context, env lifecycle.Env, app string) (*lifecycle.AppDetail, error) {
		return (&lifecycle.Show{Env: env, App: app, Cluster: lifecycle.ClusterStateIfConfigured(env.Instance)}).Run(ctx)
	}))
	register(s, op{id: "app-status", method: http.MethodGet, path: "/instances/{instance}/apps/{app}/status", scope: auth.Read, tags: tags,
		summary: "Live status: resources, pods, ingress hosts, volumes, last operation"}, appRead(s, func(ctx context.Context, env lifecycle.Env, app string) (*lifecycle.StatusResult, error) {
		// Concurrent reads of one app's status share one computation: a
		// status costs a build and cluster reads, and every open page
		// polls it.
		v, err, _ := s.reads.Do("status\x00"+env.Instance.Dir+"\x00"+app, func() (any, error) {
			return (&lifecycle.Status{Env: env, App: app, Client: s.clients.For(env.Instance)}).Run(context.WithoutCancel(ctx))
		})
		r, _ := v.(*lifecycle.StatusResult)
		return r, err
	}))
	register(s, op{id: "app-diff", method: http.MethodGet, path: "/instances/{instance}/apps/{app}/diff", scope: auth.Read, tags: tags,
		summary: "Drift between the compiled manifests and the cluster"}, appRead(s, func(ctx context.Context, env lifecycle.Env, app string) (*lifecycle.DiffResult, error) {
		return (&lifecycle.Diff{Env: env, App: app, Client: s.clients.For(env.Instance)}).Run(ctx)
	}))
	register(s, op{id: "outdated", method: http.MethodGet, path: "/instances/{instance}/outdated", scope: auth.Read, tags: tags,
		summary: "Apps whose catalog package changed since they were added"}, func(ctx context.Context, in *InstIn) (*outdatedOut, error) {
		env, err := s.instEnv(in)
		if err != nil {
			return nil, err
		}
		rows, err := (&lifecycle.Outdated{Env: env}).Run(ctx)
		out := &outdatedOut{}
		out.Body.Apps = rows
		return out, err
	})
	register(s, op{id: "deploy-preview", method: http.MethodPost, path: "/instances/{instance}/apps/{app}/deploy-preview", scope: auth.Read, tags: tags,
		summary: "Dry-run a deploy: what would be created, changed or pruned, with diffs"}, appRead(s, func(ctx context.Context, env lifecycle.Env, app string) (*lifecycle.DeployResult, error) {
		return (&lifecycle.Deploy{Env: env, App: app, DryRun: true, Client: s.clients.For(env.Instance)}).Run(ctx)
	}))
	register(s, op{id: "update-review", method: http.MethodPost, path: "/instances/{instance}/apps/{app}/update-review", scope: auth.Read, tags: tags,
		summary: "Review an update from the catalog without changing anything"}, func(ctx context.Context, in *updateIn) (*reviewOut, error) {
		env, err := s.readEnv(&in.AppIn)
		if err != nil {
			return nil, err
		}
		r, err := in.update(env, true).Run(ctx)
		// Breaking changes are part of the review, not a failed read: the
		// reviewer resolves them in the answer.
		var be *lifecycle.BreakingError
		if errors.As(err, &be) {
			err = nil
		}
		return &reviewOut{Body: r}, err
	})
	register(s, op{id: "app-defaults", method: http.MethodGet, path: "/instances/{instance}/apps/{app}/defaults", scope: auth.Read, tags: tags,
		summary: "The app's default config rendered for this instance: templated defaults resolved"}, func(ctx context.Context, in *defaultsIn) (*body[map[string]any], error) {
		env, err := s.readEnv(&in.AppIn)
		if err != nil {
			return nil, err
		}
		deps, err := depsOf(in.Dep)
		if err != nil {
			return nil, err
		}
		v, err := (&lifecycle.Add{Env: env, App: in.App, Deps: deps}).Defaults()
		return &body[map[string]any]{Body: v}, err
	})
	register(s, op{id: "delete-plan", method: http.MethodGet, path: "/instances/{instance}/apps/{app}/delete-plan", scope: auth.Read, tags: tags,
		summary: "What deleting the app would remove (namespace, volumes, secrets) and what stays"}, appRead(s, func(ctx context.Context, env lifecycle.Env, app string) (*lifecycle.DeletePlan, error) {
		return (&lifecycle.Delete{Env: env, App: app, Client: s.clients.For(env.Instance)}).Plan(ctx)
	}))
	register(s, op{id: "app-snapshots", method: http.MethodGet, path: "/instances/{instance}/apps/{app}/snapshots", scope: auth.Read, tags: tags,
		summary: "The snapshots a rollback can restore, newest first"}, appRead(s, func(ctx context.Context, env lifecycle.Env, app string) ([]lifecycle.SnapshotInfo, error) {
		return lifecycle.Snapshots(env.Instance, app)
	}))
	register(s, op{id: "app-records", method: http.MethodGet, path: "/instances/{instance}/records", scope: auth.Read, tags: tags,
		summary: "The service layer's operation records (also those run by the CLI)"}, func(ctx context.Context, in *recordsIn) (*recordsOut, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		recs, err := operation.List(inst.Path(instance.OperationsDir), in.App)
		out := &recordsOut{}
		out.Body.Records = recs
		return out, err
	})
}

func (s *Server) readEnv(in *AppIn) (lifecycle.Env, error) {
	inst, err := in.open(s)
	if err != nil {
		return lifecycle.Env{}, err
	}
	return s.env(inst, "", nil)
}

// instEnv is the environment for an instance-wide read.
func (s *Server) instEnv(in *InstIn) (lifecycle.Env, error) {
	inst, err := in.open(s)
	if err != nil {
		return lifecycle.Env{}, err
	}
	return s.env(inst, "", nil)
}

func (in *updateIn) update(env lifecycle.Env, dry bool) *lifecycle.Update {
	b := in.Body
	u := &lifecycle.Update{Env: env, App: in.App, DryRun: dry, Deploy: b.Deploy && !dry, AcceptRemoved: b.AcceptRemoved,
		Renames: b.Renames, AcceptBreaking: b.AcceptBreaking, Deps: b.Deps, Fresh: b.Fresh, Cluster: lifecycle.ClusterHooksFor(env)}
	if !b.NoBackup && !dry {
		u.BackupFirst = backup.BeforeUpdate(backupEnv(env.Instance, env.Observer))
	}
	return u
}

func (s *Server) appWriteRoutes() {
	tags := []string{"apps"}
	register(s, op{id: "add-app", method: http.MethodPost, path: "/instances/{instance}/apps", scope: auth.Operate, status: http.StatusAccepted, tags: tags,
		summary: "Add an app: resolve dependencies, merge config, generate secrets, compile"}, func(ctx context.Context, in *addIn) (*accepted, error) {
		ai := &AppIn{InstIn: in.InstIn, App: in.Body.Name}
		return s.run(ctx, ai, "add", func(env lifecycle.Env) func(context.Context) (any, error) {
			return result((&lifecycle.Add{Env: env, App: in.Body.Name, Deps: in.Body.Deps, Set: in.Body.Set}).Run)
		})
	})
	register(s, op{id: "add-apps", method: http.MethodPost, path: "/instances/{instance}/apps/batch", scope: auth.Operate, status: http.StatusAccepted, tags: tags,
		summary: "Add several apps in one transaction: all of them or none"}, func(ctx context.Context, in *addManyIn) (*accepted, error) {
		for _, name := range in.Body.Names {
			if err := names.Validate("app", name); err != nil {
				return nil, &problem.Error{Code: problem.Invalid, Err: err}
			}
		}
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		// One transaction over the instance's files: an instance-wide
		// operation, which waits for no app's and blocks every app's.
		return s.runOn(ctx, inst, in.Instance, "", "add", func(env lifecycle.Env) func(context.Context) (any, error) {
			return result((&lifecycle.AddMany{Env: env, Apps: in.Body.Names, Values: in.Body.Values}).Run)
		})
	})
	register(s, op{id: "deploy-app", method: http.MethodPost, path: "/instances/{instance}/apps/{app}/deploy", scope: auth.Operate, status: http.StatusAccepted, tags: tags,
		summary: "Deploy an app and wait until it is ready"}, func(ctx context.Context, in *deployIn) (*accepted, error) {
		return s.run(ctx, &in.AppIn, "deploy", func(env lifecycle.Env) func(context.Context) (any, error) {
			d := &lifecycle.Deploy{Env: env, App: in.App, WithDeps: in.Body.WithDeps, NoWait: in.Body.NoWait,
				Timeout: time.Duration(in.Body.TimeoutSeconds) * time.Second}
			return result(d.Run)
		})
	})
	register(s, op{id: "update-app", method: http.MethodPost, path: "/instances/{instance}/apps/{app}/update", scope: auth.Operate, status: http.StatusAccepted, tags: tags,
		summary: "Update an app from the catalog (review first with update-review)"}, func(ctx context.Context, in *updateIn) (*accepted, error) {
		return s.run(ctx, &in.AppIn, "update", func(env lifecycle.Env) func(context.Context) (any, error) {
			return result(in.update(env, false).Run)
		})
	})
	register(s, op{id: "rollback-app", method: http.MethodPost, path: "/instances/{instance}/apps/{app}/rollback", scope: auth.Operate, status: http.StatusAccepted, tags: tags,
		summary: "Restore the app's last snapshot (or a git revision)"}, func(ctx context.Context, in *rollbackIn) (*accepted, error) {
		return s.run(ctx, &in.AppIn, "rollback", func(env lifecycle.Env) func(context.Context) (any, error) {
			r := &lifecycle.Rollback{Env: env, App: in.App, Snapshot: in.Body.Snapshot, To: in.Body.To, Cluster: lifecycle.ClusterHooksFor(env)}
			return result(r.Run)
		})
	})
	register(s, op{id: "delete-app", method: http.MethodDelete, path: "/instances/{instance}/apps/{app}", scope: auth.Operate, status: http.StatusAccepted, tags: tags,
		summary: "Delete an app from the cluster and the instance"}, func(ctx context.Context, in *deleteIn) (*accepted, error) {
		return s.run(ctx, &in.AppIn, "delete", func(env lifecycle.Env) func(context.Context) (any, error) {
			return result((&lifecycle.Delete{Env: env, App: in.App, Force: in.Force}).Run)
		})
	})
}

// result adapts a typed Run to the runner's untyped one.
func result[T any](run func(context.Context) (T, error)) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) { return run(ctx) }
}

package api

import (
	"context"
	"net/http"
	"time"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/side"
)

// BackupOpener is the repository the daemon's backups use.
var BackupOpener backup.Opener = kopiastore.Open

type backupIn struct {
	AppIn
	Body struct {
		Skip []string `json:"skip,omitempty" doc:"Strategies to leave out (postgres, mysql, volume); config is always kept."`
	}
}

type restoreIn struct {
	AppIn
	Body struct {
		From           string `json:"from,omitempty" maxLength:"32" doc:"Backup id (e.g. 20261205T030000Z); the newest completed one when empty."`
		TimeoutSeconds int    `json:"timeoutSeconds,omitempty" minimum:"0" maximum:"3600"`
	}
}

type verifyIn struct {
	AppIn
	Body struct {
		From           string `json:"from,omitempty" maxLength:"32" doc:"Backup id to drill; the newest completed one when empty."`
		TimeoutSeconds int    `json:"timeoutSeconds,omitempty" minimum:"0" maximum:"3600"`
	}
}

type cloneIn struct {
	AppIn
	Body struct {
		FromInstance   string            `json:"fromInstance,omitempty" maxLength:"63" doc:"The instance whose backup is cloned (same data directory); it is only read. Or give repository."`
		Repository     *cloneRepoIn      `json:"repository,omitempty" doc:"A bare backup repository to clone from, instead of fromInstance."`
		From           string            `json:"from,omitempty" maxLength:"32" doc:"Backup id in that instance; its newest completed one when empty."`
		Set            map[string]string `json:"set,omitempty" doc:"Config of the new app, keys relative to apps.APP; wins over what is carried."`
		TimeoutSeconds int               `json:"timeoutSeconds,omitempty" minimum:"0" maximum:"3600"`
	}
}

type cloneRepoIn struct {
	Path            string                `json:"path,omitempty" maxLength:"4096" doc:"A repository directory (shared path or NFS mount)."`
	S3              *backup.S3Destination `json:"s3,omitempty" doc:"Or an S3 repository."`
	SecretAccessKey string                `json:"secretAccessKey,omitempty" maxLength:"256" doc:"The S3 secret key; never recorded."`
	Password        string                `json:"password" minLength:"1" maxLength:"256" doc:"The repository password (wild backup key export); never recorded."`
	Instance        string                `json:"instance" minLength:"1" maxLength:"63" doc:"The instance whose backups in the repository are cloned."`
	Domain          string                `json:"domain,omitempty" maxLength:"253" doc:"That instance's domain; default: from the app's backed-up domain."`
}

func (r *cloneRepoIn) source() *backup.RepositorySource {
	if r == nil {
		return nil
	}
	src := &backup.RepositorySource{Instance: r.Instance, Domain: r.Domain, Password: r.Password, Destination: backup.Destination{Path: r.Path, S3: r.S3}}
	if r.S3 != nil {
		s3 := *r.S3
		s3.SecretAccessKey = r.SecretAccessKey
		src.Destination.S3 = &s3
	}
	return src
}

type pruneIn struct {
	AppIn
	Body struct {
		DryRun bool `json:"dryRun,omitempty"`
	}
}

type planIn struct {
	AppIn
	ID string `path:"id" maxLength:"32" pattern:"^[0-9TZ]+$"`
}

type plansOut struct {
	Body struct {
		Backups []*backup.RecoveryPlan `json:"backups"`
		Active  backup.Active          `json:"active"`
		// LastVerified is the newest passed restore drill, with its RPO
		// and measured RTO.
		LastVerified *backup.Verification `json:"lastVerified,omitempty"`
	}
}

type planOut struct{ Body *backup.RecoveryPlan }

type scheduleCheckIn struct {
	Schedule string `query:"schedule" minLength:"1" maxLength:"128" doc:"A cron schedule, e.g. 0 3 * * * or @daily."`
}

type scheduleCheckOut struct {
	Body struct {
		Next []time.Time `json:"next" doc:"The next three runs, in UTC."`
	}
}

// backupEnv is the backup operations' environment for one call.
func backupEnv(inst *instance.Instance, obs event.Observer) backup.Env {
	return backup.Env{Instance: inst, Observer: obs, Open: BackupOpener}
}

// runBackupOp starts a backup operation (seed 004's routes) in the daemon.
func (s *Server) runBackupOp(ctx context.Context, in *AppIn, action string, build func(env backup.Env) func(context.Context) (any, error)) (*accepted, error) {
	inst, err := in.open(s)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, central.Spec{Action: action, Instance: in.Instance, App: in.App,
		Do: func(ctx context.Context, id string, obs event.Observer) (any, error) {
			return build(backupEnv(inst, obs))(ctx)
		}})
}

func (s *Server) backupRoutes() {
	tags := []string{"backups"}
	post := func(id, path, summary string) op {
		return op{id: id, method: http.MethodPost, path: path, scope: auth.Operate, status: http.StatusAccepted, tags: tags, summary: summary}
	}
	register(s, post("backup-app", "/instances/{instance}/apps/{app}/backup", "Back up an app: config, databases and volumes into the encrypted repository"),
		func(ctx context.Context, in *backupIn) (*accepted, error) {
			return s.runBackupOp(ctx, &in.AppIn, "backup", func(env backup.Env) func(context.Context) (any, error) {
				return result((&backup.Backup{Env: env, App: in.App, Skip: in.Body.Skip}).Run)
			})
		})
	register(s, post("restore-app", "/instances/{instance}/apps/{app}/restore", "Restore a backup to the standby color; the live app is not touched"),
		func(ctx context.Context, in *restoreIn) (*accepted, error) {
			return s.runBackupOp(ctx, &in.AppIn, "restore", func(env backup.Env) func(context.Context) (any, error) {
				r := &backup.Restore{Env: env, App: in.App, From: in.Body.From, Timeout: time.Duration(in.Body.TimeoutSeconds) * time.Second}
				return result(r.Run)
			})
		})
	register(s, post("switch-app", "/instances/{instance}/apps/{app}/switch", "Move traffic to the restored standby"),
		func(ctx context.Context, in *AppIn) (*accepted, error) {
			return s.runBackupOp(ctx, in, "switch", func(env backup.Env) func(context.Context) (any, error) {
				return result((&backup.Switch{Env: env, App: in.App}).Run)
			})
		})
	register(s, post("cleanup-app", "/instances/{instance}/apps/{app}/cleanup", "Remove the retired side once the switch is verified"),
		func(ctx context.Context, in *AppIn) (*accepted, error) {
			return s.runBackupOp(ctx, in, "cleanup", func(env backup.Env) func(context.Context) (any, error) {
				return result((&backup.Cleanup{Env: env, App: in.App}).Run)
			})
		})
	register(s, post("verify-app", "/instances/{instance}/apps/{app}/verify", "Drill a restore into a throwaway side, check rows and checksums, probe readiness, remove it"),
		func(ctx context.Context, in *verifyIn) (*accepted, error) {
			return s.runBackupOp(ctx, &in.AppIn, "verify", func(env backup.Env) func(context.Context) (any, error) {
				v := &backup.Verify{Env: env, App: in.App, From: in.Body.From, Timeout: time.Duration(in.Body.TimeoutSeconds) * time.Second}
				return result(v.Run)
			})
		})
	register(s, post("clone-app", "/instances/{instance}/apps/{app}/clone", "Clone an app's backup from another instance into this one, with this instance's domain and secrets policy"),
		func(ctx context.Context, in *cloneIn) (*accepted, error) {
			var src *instance.Instance
			if in.Body.Repository == nil || in.Body.FromInstance != "" {
				var err error
				if src, err = (&InstIn{Instance: in.Body.FromInstance}).open(s); err != nil {
					return nil, err
				}
			}
			cat, err := s.Catalog()
			if err != nil {
				return nil, err
			}
			inst, err := in.open(s)
			if err != nil {
				return nil, err
			}
			c := &backup.Clone{Env: backupEnv(inst, nil), Catalog: cat, App: in.App, Source: src, Repository: in.Body.Repository.source(),
				From: in.Body.From, Set: in.Body.Set, Timeout: time.Duration(in.Body.TimeoutSeconds) * time.Second}
			// Bad input is answered now, not as a failed operation.
			if err := c.Check(ctx); err != nil {
				return nil, err
			}
			return s.runBackupOp(ctx, &in.AppIn, "clone", func(env backup.Env) func(context.Context) (any, error) {
				c.Env = env
				return result(c.Run)
			})
		})
	register(s, post("prune-backups", "/instances/{instance}/apps/{app}/backups/prune", "Delete the backups the retention policy drops"),
		func(ctx context.Context, in *pruneIn) (*accepted, error) {
			return s.runBackupOp(ctx, &in.AppIn, "prune", func(env backup.Env) func(context.Context) (any, error) {
				return result((&backup.Prune{Env: env, App: in.App, DryRun: in.Body.DryRun}).Run)
			})
		})
	register(s, op{id: "list-backups", method: http.MethodGet, path: "/instances/{instance}/apps/{app}/backups", scope: auth.Read, tags: tags,
		summary: "An app's backups (recovery plans), newest first, and its active color"}, func(ctx context.Context, in *AppIn) (*plansOut, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		out := &plansOut{}
		if out.Body.Backups, err = (&backup.List{Env: backupEnv(inst, nil), App: in.App}).Run(ctx); err != nil {
			return nil, err
		}
		out.Body.LastVerified = backup.LastVerified(out.Body.Backups)
		out.Body.Active, err = side.Read(inst, in.App)
		return out, err
	})
	register(s, op{id: "check-backup-schedule", method: http.MethodGet, path: "/backup/schedule-check", scope: auth.Read, tags: tags,
		summary: "Check a backup schedule the way wild serve's scheduler reads it, and show its next runs"}, func(ctx context.Context, in *scheduleCheckIn) (*scheduleCheckOut, error) {
		out := &scheduleCheckOut{}
		next, err := central.NextRuns(in.Schedule, time.Now().UTC(), 3)
		if err != nil {
			return nil, &problem.Error{Code: problem.Invalid, Err: err}
		}
		out.Body.Next = next
		return out, nil
	})
	register(s, op{id: "get-backup", method: http.MethodGet, path: "/instances/{instance}/apps/{app}/backup/{id}", scope: auth.Read, tags: tags,
		summary: "One backup's recovery plan: strategies, phases, standby"}, func(ctx context.Context, in *planIn) (*planOut, error) {
		inst, err := in.open(s)
		if err != nil {
			return nil, err
		}
		p, err := backup.LoadPlan(inst, in.App, in.ID)
		return &planOut{Body: p}, err
	})
}

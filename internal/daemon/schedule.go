package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wild-cloud/wild/internal/api"
	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
)

// backupJobs lists every instance's scheduled app backups, read afresh at
// each tick so config edits apply without a restart.
func backupJobs(store *instance.Store) func() ([]central.Job, []error) {
	return func() ([]central.Job, []error) {
		names, err := store.List()
		if err != nil {
			return nil, []error{err}
		}
		var jobs []central.Job
		var errs []error
		for _, n := range names {
			inst, err := store.Open(n)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			scheds, err := backup.ReadSchedules(inst)
			if err != nil {
				errs = append(errs, fmt.Errorf("instance %s: %w", n, err))
				continue
			}
			for app, s := range scheds {
				if s.Cron != "" {
					jobs = append(jobs, central.Job{Key: n + "/" + app, Cron: s.Cron, Last: backup.LastBackup(inst, app)})
				}
				if s.Verify != "" {
					jobs = append(jobs, central.Job{Key: n + "/" + app + verifySuffix, Cron: s.Verify, Last: lastDrill(inst, app)})
				}
			}
		}
		return jobs, errs
	}
}

// verifySuffix marks a drill's job key (INSTANCE/APP/verify) apart from
// the app's backup job (INSTANCE/APP).
const verifySuffix = "/verify"

func lastDrill(inst *instance.Instance, app string) time.Time {
	plans, err := backup.ListPlans(inst, app)
	if err != nil {
		return time.Time{}
	}
	return backup.LastDrill(plans)
}

// startScheduledBackup runs one due backup or drill as a daemon operation,
// so it has an id, events and a record like any other, and conflicts with
// an operation already running on the app.
func startScheduledBackup(store *instance.Store, runner *central.Runner) func(context.Context, string) error {
	return func(_ context.Context, key string) error {
		key, drill := strings.CutSuffix(key, verifySuffix)
		name, app, _ := strings.Cut(key, "/")
		inst, err := store.Open(name)
		if err != nil {
			return err
		}
		action := "backup"
		if drill {
			action = "verify"
		}
		_, err = runner.Start(central.Spec{Action: action, Instance: name, App: app, By: "scheduler",
			Do: func(ctx context.Context, id string, obs event.Observer) (any, error) {
				env := backup.Env{Instance: inst, Observer: obs, Open: api.BackupOpener}
				if drill {
					return (&backup.Verify{Env: env, App: app}).Run(ctx)
				}
				return (&backup.Scheduled{Env: env, App: app}).Run(ctx)
			}})
		return err
	}
}

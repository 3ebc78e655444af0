package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/wild-cloud/wild/internal/api"
	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/retention"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/wire"
)

type backupsData struct {
	App    string
	Plans  []planRow
	Active backup.Active
	// Standby is the newest plan a restore went to and that is not
	// cleaned up yet: the wizard's switch and cleanup steps act on it.
	Standby *backup.RecoveryPlan
	// LastVerified is the newest passed restore drill.
	LastVerified *backup.Verification
	Schedule     backup.Schedule
	// Next are the saved schedule's next runs, or CronErr why the
	// scheduler cannot read it.
	Next    []time.Time
	CronErr string
	// Default is backup.retention, which applies when the app has none.
	Default retention.Policy
	// Counts are the retention fields of the form, from the app's own
	// policy (empty when it has none).
	Counts  []count
	Ops     []wire.RunInfo
	Running string
}

type count struct{ Key, Label, Value string }

func countsOf(p retention.Policy) []count {
	out := []count{{"keepLast", "Last", ""}, {"keepDaily", "Daily", ""}, {"keepWeekly", "Weekly", ""}, {"keepMonthly", "Monthly", ""}}
	for i, n := range []int{p.KeepLast, p.KeepDaily, p.KeepWeekly, p.KeepMonthly} {
		if n != 0 {
			out[i].Value = strconv.Itoa(n)
		}
	}
	return out
}

// planRow is a plan with what its backup operation stored, when the
// operation's record is still there.
type planRow struct {
	*backup.RecoveryPlan
	Stats *backup.Stats
}

// backupActions are the operations the backups page shows.
var backupActions = map[string]bool{"backup": true, "restore": true, "switch": true, "cleanup": true, "prune": true, "verify": true, "clone": true}

func (u *UI) backups(w http.ResponseWriter, r *http.Request, p page) {
	app := r.PathValue("app")
	base := appAPI(p.Inst, app)
	var detail lifecycle.AppDetail
	if err := u.api.Get(r.Context(), r, base, &detail); err != nil {
		u.fail(w, p, err)
		return
	}
	var list struct {
		Backups      []*backup.RecoveryPlan
		Active       backup.Active
		LastVerified *backup.Verification
	}
	if err := u.api.Get(r.Context(), r, base+"/backups", &list); err != nil {
		u.fail(w, p, err)
		return
	}
	d := backupsData{App: app, Active: list.Active, LastVerified: list.LastVerified}
	u.configValue(r, p.Inst, "backup.apps."+app, &d.Schedule)
	u.configValue(r, p.Inst, "backup.retention", &d.Default)
	d.Counts = countsOf(d.Schedule.Retention)
	d.Next, d.CronErr = u.nextRuns(r, d.Schedule.Cron)
	var ops struct{ Operations []wire.RunInfo }
	_ = u.api.Get(r.Context(), r, "/operations?instance="+url.QueryEscape(p.Inst)+"&app="+url.QueryEscape(app), &ops)
	sort.Slice(ops.Operations, func(i, j int) bool { return ops.Operations[i].StartedAt.After(ops.Operations[j].StartedAt) })
	stats := map[string]*backup.Stats{}
	for _, o := range ops.Operations {
		if o.Status == wire.Running && d.Running == "" {
			d.Running = o.ID
		}
		if !backupActions[o.Action] {
			continue
		}
		d.Ops = append(d.Ops, o)
		var res backup.BackupResult
		if o.Action == "backup" && json.Unmarshal(o.Result, &res) == nil && res.ID != "" {
			stats[res.ID] = &res.Stats
		}
	}
	for _, pl := range list.Backups {
		d.Plans = append(d.Plans, planRow{RecoveryPlan: pl, Stats: stats[pl.Timestamp]})
		if d.Standby == nil && pl.Standby != nil && pl.Status != backup.StatusCleaned && pl.Status != backup.StatusBackedUp {
			d.Standby = pl
		}
	}
	p.Title, p.Data = "Backups of "+app, d
	u.render(w, "backups", p)
}

// nextRuns asks the daemon's scheduler what a saved schedule means.
func (u *UI) nextRuns(r *http.Request, cron string) ([]time.Time, string) {
	if cron == "" {
		return nil, ""
	}
	var out struct{ Next []time.Time }
	err := u.api.Get(r.Context(), r, "/backup/schedule-check?schedule="+url.QueryEscape(cron), &out)
	var ae *api.Error
	if errors.As(err, &ae) {
		return nil, ae.Body.Message
	}
	return out.Next, ""
}

// configValue reads a config.yaml key into v; a missing key leaves v.
func (u *UI) configValue(r *http.Request, inst, key string, v any) {
	var out struct{ Value json.RawMessage }
	if u.api.Get(r.Context(), r, "/instances/"+url.PathEscape(inst)+"/config?path="+url.QueryEscape(key), &out) == nil && len(out.Value) > 0 {
		_ = json.Unmarshal(out.Value, v)
	}
}

// humanBytes is a size in the binary units people read (1.5 MiB).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// humanSeconds shows a duration in seconds the way an RPO or RTO is read.
func humanSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

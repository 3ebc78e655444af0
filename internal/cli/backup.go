package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/backup"
)

const backupHelp = `Backups go into one encrypted, deduplicated repository per instance. Where it
lives is config.yaml's backup.destination:

  wild config set backup.destination.path /mnt/nfs/wild-backups   # a directory or NFS mount
  wild config set backup.destination.s3.endpoint s3.example.com    # or S3-compatible storage,
  wild config set backup.destination.s3.bucket wild                #   with s3.prefix, s3.region,
  wild config set backup.destination.s3.accessKeyID KEY            #   s3.insecure (plain http)
  wild secret set backup.s3.secretAccessKey                        #   and the secret key

With none, it is <data-dir>/backups/<instance>. The repository password is
generated at the first backup and kept in secrets.yaml (backup.repositoryPassword).
WITHOUT IT THE BACKUPS CANNOT BE READ: keep a copy (wild backup key export).`

func addBackupCommands(root *cobra.Command, g *Globals) {
	appCmd := subcommand(root, "app")
	for _, c := range []*cobra.Command{appBackupCmd(g), appBackupsCmd(g), appRestoreCmd(g), appSwitchCmd(g), appCleanupCmd(g), appVerifyCmd(g), appCloneCmd(g)} {
		appCmd.AddCommand(needs(c, engineBackup))
	}
	b := &cobra.Command{Use: "backup", Short: "The backup repository of the instance", Long: backupHelp}
	key := &cobra.Command{Use: "key", Short: "The backup repository's password"}
	key.AddCommand(needs(backupKeyExportCmd(g), engineBackup))
	b.AddCommand(needs(backupPruneCmd(g), engineBackup))
	b.AddCommand(key)
	root.AddCommand(b)
}

func (g *Globals) backupEnv() (backup.Env, error) {
	inst, err := g.instance()
	if err != nil {
		return backup.Env{}, err
	}
	return backup.Env{Instance: inst, Observer: g.observer(), Open: g.engines.OpenBackup}, nil
}

func appBackupCmd(g *Globals) *cobra.Command {
	var skip []string
	cmd := &cobra.Command{
		Use:   "backup NAME",
		Short: "Back up an app: its config, databases and volumes",
		Long: `Back up an app into the instance's backup repository: its config.yaml and
secrets.yaml sections and compiled files, a dump of each database its manifest
declares (pg_dump / mariadb-dump run inside the database pod), and the files of
its volumes (through a short-lived helper pod). A RecoveryPlan record is kept
under backups/NAME/ID/plan.yaml.

` + backupHelp,
		Example: `  wild app backup gitea
  wild app backup ghost --skip volume   # databases and config only
  wild app backup gitea -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.backupEnv()
			if err != nil {
				return err
			}
			res, err := (&backup.Backup{Env: env, App: args[0], Skip: skip}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("backed up %s: %s (%s read, %s new)", res.App, res.ID, humanBytes(res.Stats.Bytes), humanBytes(res.Stats.NewBytes))
				for _, s := range res.Strategies {
					t.Line("  %-8s %s", s.Name, strings.Join(s.Files, ", "))
				}
				printWarnings(t, res.Warnings)
				t.Line("restore it to a standby: wild app restore %s --from %s", res.App, res.ID)
			})
		},
	}
	cmd.Flags().StringSliceVar(&skip, "skip", nil, "leave out strategies: postgres, mysql, volume (config is always kept)")
	return cmd
}

func appBackupsCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:     "backups NAME",
		Short:   "List an app's backups and what was restored from them",
		Example: "  wild app backups gitea\n  wild app backups gitea -o yaml   # whole recovery plans",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.backupEnv()
			if err != nil {
				return err
			}
			plans, err := (&backup.List{Env: env, App: args[0]}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(plans, func(t *Table) {
				t.Header("id", "status", "standby", "strategies", "drill", "note")
				for _, p := range plans {
					var names []string
					for _, s := range p.Strategies {
						names = append(names, s.Name)
					}
					t.Row(p.Timestamp, p.Status, p.StandbyColor, strings.Join(names, ","), drillState(p.Verification), p.Error)
				}
				if v := backup.LastVerified(plans); v != nil {
					t.Line("last verified restore: %s at %s; RPO %s, RTO %s", v.Backup, v.VerifiedAt.Format(time.RFC3339), secs(v.RPOSeconds), secs(v.RTOSeconds))
				} else {
					t.Line("no verified restore yet: wild app verify %s", args[0])
				}
			})
		},
	}
}

func appRestoreCmd(g *Globals) *cobra.Command {
	var from string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore NAME",
		Short: "Restore a backup to a standby color, next to the live app",
		Long: `Restore a backup (the newest, or --from ID) to the standby color: namespace
NAME-COLOR, databases DB_COLOR, volumes PVC-COLOR, with the compiled manifests
renamed as the manifest's restore: field declares, and the Ingress hosts on a
preview name (HOST-COLOR). The live app is not touched; check the standby, then
wild app switch NAME moves traffic to it.`,
		Example: "  wild app restore gitea\n  wild app restore gitea --from 20260308T231537Z",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.backupEnv()
			if err != nil {
				return err
			}
			res, err := (&backup.Restore{Env: env, App: args[0], From: from, Timeout: timeout}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("restored %s backup %s to %s (namespace %s)", res.App, res.ID, res.Color, res.Namespace)
				for _, h := range sortedKeys(res.Hosts) {
					t.Line("  preview %s -> %s", h, res.Hosts[h])
				}
				printWarnings(t, res.Warnings)
				t.Line("next: wild app switch %s", res.App)
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup ID to restore (default: the newest; see wild app backups NAME)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the standby to be ready")
	return cmd
}

func appSwitchCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "switch NAME",
		Short: "Move an app's traffic to its restored standby",
		Long: `Switch moves the Ingress hosts from the live side to the restored standby and
records the standby as the active color. Running it again after a failure
finishes the switch.

From then on the restored copy is the app: deploy, update, status, diff, backup
and delete act on it (namespace NAME-COLOR, its databases and volumes), and the
retired side stays untouched until 'wild app cleanup NAME' removes it.`,
		Example: "  wild app switch gitea",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.backupEnv()
			if err != nil {
				return err
			}
			res, err := (&backup.Switch{Env: env, App: args[0]}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("%s: %s is active (namespace %s); %s is retired", res.App, res.Active, res.Namespace, res.Retired)
				t.Line("next, once you are satisfied: wild app cleanup %s", res.App)
			})
		},
	}
}

func appCleanupCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:     "cleanup NAME",
		Short:   "Remove the retired side of an app after a verified switch",
		Example: "  wild app cleanup gitea",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.backupEnv()
			if err != nil {
				return err
			}
			res, err := (&backup.Cleanup{Env: env, App: args[0]}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("%s: removed %s", res.App, strings.Join(res.Removed, ", "))
				printWarnings(t, res.Warnings)
			})
		},
	}
}

func drillState(v *backup.Verification) string {
	switch {
	case v == nil:
		return ""
	case v.Passed:
		return "passed"
	}
	return "FAILED"
}

func secs(s float64) string { return (time.Duration(s * float64(time.Second))).String() }

func appVerifyCmd(g *Globals) *cobra.Command {
	var from string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "verify NAME",
		Short: "Drill a restore: restore a backup into a throwaway side, check it, remove it",
		Long: `A restore drill: the backup (the newest, or --from ID) is restored into the
throwaway color verify (namespace NAME-verify, databases DB_verify, volumes
PVC-verify); each table's row count and checksum are compared with what the
backup recorded, the app is started there and probed for readiness, and the
throwaway side is removed, whether the drill passed or not. The result (with
the measured RTO and the backup's age, the RPO) is kept on the backup's plan
and shown by wild app backups NAME. The live app is not touched. Schedule it
with config backup.apps.NAME.verify (cron).`,
		Example: "  wild app verify gitea\n  wild app verify gitea --from 20260308T231537Z",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.backupEnv()
			if err != nil {
				return err
			}
			res, err := (&backup.Verify{Env: env, App: args[0], From: from, Timeout: timeout}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("%s backup %s verified: restored and ready in %s (RTO); the backup was %s old (RPO)", res.App, res.Backup, secs(res.RTOSeconds), secs(res.RPOSeconds))
				for _, c := range res.Checked {
					t.Line("  checked %s", c)
				}
				t.Line("  removed %s", strings.Join(res.Removed, ", "))
				printWarnings(t, res.Warnings)
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup ID to drill (default: the newest; see wild app backups NAME)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the restored app to be ready")
	return cmd
}

func backupKeyExportCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Print the backup repository password, for safekeeping",
		Long: `Prints the password of the instance's backup repository. Without it the
backups cannot be read: store it somewhere other than this machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			pw, err := backup.ExportKey(inst)
			if err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"password": pw}, func(t *Table) { t.Line("%s", pw) })
		},
	}
}

func printWarnings(t *Table, ws []string) {
	for _, w := range ws {
		t.Line("  warning: %s", w)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func backupPruneCmd(g *Globals) *cobra.Command {
	var dry bool
	cmd := &cobra.Command{
		Use:   "prune APP",
		Short: "Delete the backups an app's retention policy drops",
		Long: `Applies the retention policy of config.yaml to an app's backups:

  backup:
    retention: {keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6}   # every app
    apps:
      gitea:
        schedule: "0 3 * * *"        # wild serve backs gitea up at 03:00 and prunes
        retention: {keepDaily: 14}   # replaces backup.retention for gitea

keepLast keeps the newest N; keepDaily/Weekly/Monthly keep the newest backup of
each of the N most recent days, ISO weeks or months that have one. Only settled
backups count: running, failed or restored-to-a-standby ones are never deleted.
With no policy, nothing is deleted.`,
		Example: "  wild backup prune gitea --dry-run\n  wild backup prune gitea",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.backupEnv()
			if err != nil {
				return err
			}
			res, err := (&backup.Prune{Env: env, App: args[0], DryRun: dry}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				verb := "deleted"
				if res.DryRun {
					verb = "would delete"
				}
				t.Line("%s: kept %d backups, %s %d", res.App, len(res.Kept), verb, len(res.Dropped))
				for _, id := range res.Dropped {
					t.Line("  %s %s", verb, id)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "list what would be deleted, delete nothing")
	return cmd
}

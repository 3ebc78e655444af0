package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
)

// CloneHelp is the clone policy, shared by --help and the README.
const CloneHelp = `Clone restores an app's backup made in another instance of this data
directory (--from-instance, only read, never changed) into the current instance,
as this instance's own new app:

  1. The app is added from this instance's catalog: its config defaults are
     this instance's, so its domain, hosts, namespace and the addresses of its
     dependencies (e.g. its postgres) are this instance's. Config values whose
     default is not a template and that the source's owner changed (e.g.
     disableRegistration) are carried over, except anything naming the
     source's domain; lists and maps are not carried. --set wins over both.
  2. Its secrets are this instance's own (generated here: database passwords,
     admin tokens), except the keys its manifest lists under restore.dataSecrets,
     which its data cannot live without (e.g. Gitea's secretKey, which encrypts
     stored 2FA secrets): those come from the backup.
  3. It is deployed, stopped, its databases are replaced by the backup's dumps
     (owned by this instance's database user) and its volumes by the backup's
     files, and it is started again, serving this instance's hosts.

Instead of an instance, --from-repository PATH (a repository directory: another
data directory's <data-dir>/backups/NAME, a shared path or NFS mount) or
--from-s3 ENDPOINT/BUCKET[/PREFIX] reads a bare repository, with
--repository-instance NAME (whose backups to take) and the repository password
in the environment variable WILD_BACKUP_PASSWORD (that instance's
wild backup key export; never on the command line), and for S3 the secret key in
WILD_S3_SECRET_ACCESS_KEY.

The app's dependencies (its database server) must be added and deployed here
first. When both instances share one cluster, give the clone its own namespace
(--set namespace=...): the source's namespace belongs to the source. An app this instance already has is refused. A clone that fails is
resumed by running the same command again; backups/NAME/clone.yaml records
how far it got.`

func appCloneCmd(g *Globals) *cobra.Command {
	var from, fromInstance string
	var repo repoFlags
	var sets []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "clone NAME --from-instance SOURCE",
		Short: "Clone an app's backup from another instance into this one, with this instance's domain and secrets",
		Long:  CloneHelp,
		Example: `  # gitea of instance "home" into instance "lab", which has its postgres deployed:
  wild --instance lab app clone gitea --from-instance home
  wild --instance lab app clone gitea --from-instance home --from 20261205T030000Z
  wild --instance lab app clone gitea --from-instance home --set namespace=gitea-lab
  # from another machine's repository in S3:
  WILD_BACKUP_PASSWORD=... WILD_S3_SECRET_ACCESS_KEY=... wild app clone gitea \
    --from-s3 s3.example.com/wild/home/ --s3-access-key-id KEY --repository-instance home`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op := &backup.Clone{App: args[0], From: from, Timeout: timeout}
			var err error
			if op.Set, err = keyValues("--set", sets); err != nil {
				return err
			}
			if op.Repository, err = repo.source(); err != nil {
				return err
			}
			if op.Repository == nil {
				if op.Source, err = g.sourceInstance(fromInstance); err != nil {
					return err
				}
			} else if fromInstance != "" {
				return problem.New(problem.Invalid, "give --from-instance or a repository (--from-repository, --from-s3), not both")
			}
			if op.Env, err = g.backupEnv(); err != nil {
				return err
			}
			if op.Catalog, err = g.catalog(); err != nil {
				return err
			}
			res, err := op.Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				verb := "cloned"
				if res.Resumed {
					verb = "resumed and finished the clone of"
				}
				t.Line("%s %s from %s backup %s into namespace %s", verb, res.App, res.Source, res.ID, res.Namespace)
				for _, h := range res.Hosts {
					t.Line("  serves %s", h)
				}
				for _, r := range res.Restored {
					t.Line("  restored %s", r)
				}
				if len(res.ConfigCarried) > 0 {
					t.Line("  config from %s: %s", res.Source, strings.Join(res.ConfigCarried, ", "))
				}
				if len(res.SecretsCarried) > 0 {
					t.Line("  secrets from %s (its data needs them): %s", res.Source, strings.Join(res.SecretsCarried, ", "))
				}
				printWarnings(t, res.Warnings)
			})
		},
	}
	cmd.Flags().StringVar(&fromInstance, "from-instance", "", "the instance whose backup is cloned (see wild instance list)")
	repo.add(cmd)
	cmd.Flags().StringVar(&from, "from", "", "backup ID in that instance (default: its newest completed; see wild --instance SOURCE app backups NAME)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "set a config value of the new app: KEY=VALUE, KEY relative to apps.NAME (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the app to be ready, at each deploy")
	return cmd
}

// sourceInstance opens the instance a clone reads from.
func (g *Globals) sourceInstance(name string) (*instance.Instance, error) {
	if name == "" {
		return nil, problem.New(problem.Invalid, "--from-instance is required: the instance whose backup is cloned").With("instance.list", "list the instances")
	}
	if err := names.Validate("instance", name); err != nil {
		return nil, problem.New(problem.Invalid, "--from-instance: "+err.Error())
	}
	s, err := g.store()
	if err != nil {
		return nil, err
	}
	inst, err := s.Open(name)
	if errors.Is(err, instance.ErrNotFound) {
		return nil, problem.New(problem.NotFound, fmt.Sprintf("instance %s (--from-instance) does not exist in this data directory", name)).With("instance.list", "list the instances")
	}
	return inst, err
}

// repoFlags name a bare repository to clone from.
type repoFlags struct {
	path, s3, region, accessKey, instance, domain string
	insecure                                      bool
}

func (r *repoFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.path, "from-repository", "", "a backup repository directory to clone from, instead of --from-instance")
	f.StringVar(&r.s3, "from-s3", "", "an S3 repository to clone from: ENDPOINT/BUCKET[/PREFIX]")
	f.StringVar(&r.region, "s3-region", "", "the S3 repository's region")
	f.StringVar(&r.accessKey, "s3-access-key-id", "", "the S3 repository's access key id (secret key: WILD_S3_SECRET_ACCESS_KEY)")
	f.BoolVar(&r.insecure, "s3-insecure", false, "plain http to the S3 endpoint")
	f.StringVar(&r.instance, "repository-instance", "", "the instance whose backups in the repository are cloned")
	f.StringVar(&r.domain, "repository-domain", "", "that instance's domain, so no value naming it is carried (default: from the app's backed-up domain)")
}

// source is the repository the flags name, or nil for none.
func (r *repoFlags) source() (*backup.RepositorySource, error) {
	if r.path == "" && r.s3 == "" {
		return nil, nil
	}
	if r.path != "" && r.s3 != "" {
		return nil, problem.New(problem.Invalid, "give --from-repository or --from-s3, not both")
	}
	if r.instance == "" {
		return nil, problem.New(problem.Invalid, "--repository-instance is required with a repository: the instance whose backups to clone")
	}
	pw := getenv("WILD_BACKUP_PASSWORD")
	if pw == "" {
		return nil, problem.New(problem.Invalid, "set WILD_BACKUP_PASSWORD to the repository's password (wild backup key export on the instance that wrote it)")
	}
	src := &backup.RepositorySource{Instance: r.instance, Domain: r.domain, Password: pw, Destination: backup.Destination{Path: r.path}}
	if r.s3 == "" {
		return src, nil
	}
	endpoint, rest, _ := strings.Cut(r.s3, "/")
	bucket, prefix, _ := strings.Cut(rest, "/")
	if endpoint == "" || bucket == "" {
		return nil, problem.New(problem.Invalid, fmt.Sprintf("--from-s3 %q: want ENDPOINT/BUCKET[/PREFIX]", r.s3))
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	src.Destination = backup.Destination{S3: &backup.S3Destination{Endpoint: endpoint, Bucket: bucket, Prefix: prefix, Region: r.region,
		AccessKeyID: r.accessKey, SecretAccessKey: getenv("WILD_S3_SECRET_ACCESS_KEY"), Insecure: r.insecure}}
	return src, nil
}

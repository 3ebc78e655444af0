// Package lifecycle is the service layer of Wild Cloud: every operation on
// an app (Add, Deploy, Delete, Diff, Status, List, Update, Rollback,
// Outdated, Up) is a small type that holds options and has one Run entry
// point, and the CLI, the HTTP API and the UI all call it the same way.
// Operations return typed results and typed errors (package problem), and
// report progress as events (package event) to the Observer in Env; they
// never print.
//
// This comment is the lifecycle model the code refers to ("see doc.go").
//
// # Three systems
//
// An app lives in three places that do not share a transaction:
//
//   - The Wild Directory (the catalog): app packages, a manifest.yaml plus
//     Kustomize resources written as templates. Read-only to us; its
//     versions only move forward.
//   - The instance directory: config.yaml, secrets.yaml (the source of truth
//     for what is wanted), the compiled apps/NAME/ and the operation records.
//     Immediately consistent: every write is locked and atomic (package
//     instance).
//   - The cluster: what is running. Eventually consistent: objects converge,
//     namespaces take seconds to go away, controllers change what we wrote.
//
// Operations therefore never try to make the three agree in one step. Each
// one finishes its own system's part and is safe to run again: a retry
// makes progress instead of starting over.
//
// # States of an app
//
//	not added    the catalog has it; the instance and the cluster do not.
//	added        config, secrets and compiled files exist; nothing deployed
//	             (Add). Adding again recompiles and keeps every value.
//	deploying    namespace, secrets and objects are being applied (Deploy).
//	deployed     every object is Current (kstatus).
//	changed      the instance changed after a deploy, in one of three ways:
//	             config edited (Deploy notices from the compile stamp and
//	             recompiles first); compiled files edited by hand (git mode
//	             keeps them and they win over a recompile); or the catalog
//	             has a newer package (Outdated lists it, Update merges it).
//	drifted      the cluster differs from what a deploy would apply; Diff
//	             shows it, Status and List report it, Deploy repairs it.
//	             In git mode, committed hand edits are "customized", not drift.
//	deleting     Delete removes the cluster part (bounded in time) and then
//	             the local part, always.
//	stuck        a namespace left Terminating, usually by finalizers. List
//	             reports it; Deploy and Delete clear it.
//
// # Edge cases and where they are handled
//
//  1. A namespace stuck Terminating. Deploy's "namespace" phase clears the
//     finalizers of what is left, then the namespace's own, up to three
//     times, and then fails naming what still blocks it
//     (kube.Client.ClearTerminating). Delete does the same after its
//     graceful wait.
//  2. Delete then deploy at once. Delete does not wait for the cluster to
//     finish; Deploy's namespace phase handles whatever state it finds, so
//     the redeploy succeeds once the old namespace is cleared. A namespace
//     deleted after that phase, while the deploy writes into it, is
//     recovered once and the writes repeated (kube.IsNamespaceTerminating).
//  3. A dependency not deployed, not ready, or being deleted (its
//     namespace Terminating, edge case 1 met by a dependent app). Deploy's
//     "dependencies" phase refuses before anything is applied, with a
//     DependencyError (problem code precondition_failed) whose hint is to
//     deploy the dependency, which also recovers its namespace, or the app
//     with WithDeps.
//  4. Secrets changed in the cluster by hand. secrets.yaml wins: Deploy's
//     "secrets" phase rewrites NAME-secrets from it, and the workloads that
//     use a changed secret are restarted through a hash stamped on their
//     pod template.
//  5. Volumes that outlive an app. Delete removes the namespace and so the
//     claims; what happens to the data follows the StorageClass's reclaim
//     policy, which the dev cluster's provisioner honours.
//
// # Rules every operation follows
//
//   - Per-app locks: an operation on an app takes its lock (Instance.LockApp,
//     which excludes other processes and other goroutines). A caller that
//     already holds it calls RunLocked; a caller that must not wait uses
//     Instance.TryLockApp and gets a problem.Conflict naming the holder.
//   - Every mutating run leaves an operation record (package operation) with
//     its phases, warnings and changes; Env.OperationID chooses its id.
//     Warnings are in the record, in the result and so in -o json.
//   - Cancelling the context stops the run between phases; the record says
//     "cancelled" (or "interrupted" when a deadline passed).
//   - Secret values never appear in results, events, records or errors.
package lifecycle

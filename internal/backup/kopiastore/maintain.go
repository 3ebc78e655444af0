package kopiastore

import (
	"context"
	"fmt"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/snapshot/snapshotmaintenance"
)

// MaintainOptions chooses how thorough a maintenance run is.
type MaintainOptions struct {
	// Full runs kopia's full cycle: snapshot garbage collection, rewriting
	// of half-empty packs and deletion of unreferenced blobs, which is what
	// frees the space of deleted snapshots. Otherwise a quick cycle
	// (index compaction) runs.
	Full bool
	// NoSafetyMargin frees space at once (two passes, seconds apart)
	// instead of after kopia's safety delays (hours), which protect
	// backups written concurrently by another process. Only for a
	// repository nothing else writes to meanwhile.
	NoSafetyMargin bool
}

// Maintain runs kopia maintenance, so that deleted snapshots (Delete,
// retention) eventually free their space. It does nothing if another
// process of this machine is already maintaining the repository.
func (s *Store) Maintain(ctx context.Context, opt MaintainOptions) error {
	mode := maintenance.ModeQuick
	if opt.Full {
		mode = maintenance.ModeFull
	}
	safety := maintenance.SafetyFull
	if opt.NoSafetyMargin {
		safety = maintenance.SafetyNone
	}
	dr, ok := s.rep.(repo.DirectRepository)
	if !ok {
		return fmt.Errorf("backup repository at %s: maintenance needs direct access", s.dest)
	}
	run := func() error {
		err := repo.DirectWriteSession(ctx, dr, repo.WriteSessionOptions{Purpose: "wild: maintenance"},
			func(ctx context.Context, w repo.DirectRepositoryWriter) error {
				return snapshotmaintenance.Run(ctx, w, mode, false, safety)
			})
		if err != nil {
			return fmt.Errorf("maintain backup repository at %s: %w", s.dest, err)
		}
		return nil
	}
	if err := run(); err != nil || !opt.Full || !opt.NoSafetyMargin {
		return err
	}
	// kopia stamps a deletion with whole seconds and drops from its index
	// only contents deleted before the run started, so what one pass
	// marks deleted a second pass, seconds later, frees.
	select {
	case <-time.After(secondPassDelay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return run()
}

const secondPassDelay = 2 * time.Second

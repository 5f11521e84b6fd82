package service

import (
	"context"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// AccountNames names the accounts among ids that the caller may know by
// name, for pages that list ids (a form's owner, a usage report's
// children, an audit trail): the accounts it sees, and its own ancestors,
// whose names it already reads on its invitations and settings. Any other
// id is left out, exactly as one that does not exist.
func (s *Service) AccountNames(ctx context.Context, c Caller, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := s.read(ctx, func(tx store.Tx) error {
		accs, err := tx.GetAccounts(ctx, ids)
		if err != nil {
			return err
		}
		for _, a := range accs {
			if c.Acting.Path.Contains(a.ID) {
				out[a.ID] = a.Name
				continue
			}
			// As seenIn decides it, on the account already read.
			r, err := reachIn(ctx, tx, c, a)
			if err != nil {
				return err
			}
			if r >= canopy.ReachSee {
				out[a.ID] = a.Name
			}
		}
		return nil
	})
	return out, err
}

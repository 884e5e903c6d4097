package user

import (
	"context"

	"microtask/internal/ledger"
)

// CommitSignup exposes the sign-up hook's commit step to the tests.
func (s *Service) CommitSignup(ctx context.Context, t ledger.Transfer) (bool, error) {
	return s.commitSignup(ctx, t)
}

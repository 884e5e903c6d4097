package user

import (
	"context"
	"time"

	"microtask/internal/auth"
	"microtask/internal/operation"
)

// CommitSignup runs the sign-up's commit step for user id, as the operation
// engine would.
func (s *Service) CommitSignup(ctx context.Context, id, name, email string, role auth.Role, passwordHash []byte, at time.Time) (bool, error) {
	return s.commitSignup(ctx, operation.Op[signup]{
		ID: s.signup.Name + ":" + id, Ref: id, At: at,
		Data: signup{Name: name, Email: email, Role: role, PasswordHash: passwordHash},
	})
}

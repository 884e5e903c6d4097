package user_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/platform/clocktest"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
)

// BenchmarkTopWorkers reads the top workers of a platform whose richest
// accounts are buyers': ten workers and n buyers, each buyer richer than
// every worker. Its cost must not grow with n. It runs on the embedded
// database as it runs (reads from memory); TestTopWorkersQueryBudget in
// httpapi counts the commands as MongoDB would receive them. (Sending the
// reads to the embedded FerretDB instead would time FerretDB, which reads a
// whole collection for any query but one by _id.)
func BenchmarkTopWorkers(b *testing.B) {
	for _, n := range []int{0, 1_000, 4_000} {
		b.Run(fmt.Sprintf("buyers=%d", n), func(b *testing.B) {
			e := apptest.Build(b, storagetest.NewDB(b), clocktest.New(apptest.Start))
			ctx := context.Background()
			for i := range 10 {
				s, err := e.Users.Register(ctx, user.Registration{Name: "Worker", Email: fmt.Sprintf("w%d@example.com", i),
					Password: "Passw0rd!", Role: auth.RoleWorker})
				if err != nil {
					b.Fatal(err)
				}
				e.Give(b, s.User.ID, money.Coins(100*(i+1)))
			}
			for range n {
				e.Give(b, e.User(b, auth.RoleBuyer).UserID, 10_000)
			}
			for b.Loop() {
				top, err := e.Users.TopWorkers(ctx)
				if err != nil || len(top) != user.TopWorkersCount {
					b.Fatalf("TopWorkers() = %d workers, %v", len(top), err)
				}
			}
		})
	}
}

// TestTopWorkersFollowRoleAndStatus: the board TopWorkers reads follows
// every change of role and status, whatever the account had before.
func TestTopWorkersFollowRoleAndStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		role   auth.Role
		change func(t *testing.T, e *apptest.Env, admin auth.Principal, id string)
		want   bool // the rich user is the first of the top workers
	}{
		{name: "a worker", role: auth.RoleWorker, want: true},
		{name: "a buyer", role: auth.RoleBuyer},
		{name: "a suspended worker", role: auth.RoleWorker, change: setStatus(user.StatusSuspended)},
		{name: "a reinstated worker", role: auth.RoleWorker, change: func(t *testing.T, e *apptest.Env, admin auth.Principal, id string) {
			setStatus(user.StatusSuspended)(t, e, admin, id)
			setStatus(user.StatusActive)(t, e, admin, id)
		}, want: true},
		{name: "a deleted worker", role: auth.RoleWorker, change: func(t *testing.T, e *apptest.Env, admin auth.Principal, id string) {
			if err := e.Users.Delete(t.Context(), admin, id); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a worker made a buyer", role: auth.RoleWorker, change: setRole(auth.RoleBuyer)},
		{name: "a buyer made a worker", role: auth.RoleBuyer, change: setRole(auth.RoleWorker), want: true},
		{name: "a suspended buyer made a worker", role: auth.RoleBuyer, change: func(t *testing.T, e *apptest.Env, admin auth.Principal, id string) {
			setStatus(user.StatusSuspended)(t, e, admin, id)
			setRole(auth.RoleWorker)(t, e, admin, id)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t)
			admin := e.User(t, auth.RoleAdmin)
			for i := range user.TopWorkersCount {
				e.Give(t, register(t, e, auth.RoleWorker), money.Coins(100*(i+1)))
			}
			rich := register(t, e, tt.role)
			e.Give(t, rich, 10_000)
			if tt.change != nil {
				tt.change(t, e, admin, rich)
			}
			top, err := e.Users.TopWorkers(t.Context())
			if err != nil || len(top) != user.TopWorkersCount {
				t.Fatalf("TopWorkers() = %d workers, %v; want %d", len(top), err, user.TopWorkersCount)
			}
			if got := top[0].ID == rich; got != tt.want {
				t.Errorf("the rich user is the first of the top workers: %v, want %v (first: %+v)", got, tt.want, top[0])
			}
		})
	}
}

// TestTopWorkersAnAdminMadeAWorker: an admin has no ledger account (no
// sign-up bonus); made a worker, theirs is created on the board, where the
// coins they then earn count.
func TestTopWorkersAnAdminMadeAWorker(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	admin, other := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleAdmin)
	e.Give(t, register(t, e, auth.RoleWorker), 100)
	setRole(auth.RoleWorker)(t, e, admin, other.UserID)
	e.Give(t, other.UserID, 500)
	top, err := e.Users.TopWorkers(t.Context())
	if err != nil || len(top) != 2 || top[0].ID != other.UserID || top[0].Coins != 500 {
		t.Errorf("TopWorkers() = %+v, %v; want the former admin first, with 500 coins", top, err)
	}
}

var registered atomic.Int64

// register signs a user up, with the bonus and the board the sign-up gives.
func register(t *testing.T, e *apptest.Env, role auth.Role) string {
	t.Helper()
	s, err := e.Users.Register(t.Context(), user.Registration{Name: "Name", Password: "Passw0rd!", Role: role,
		Email: fmt.Sprintf("%s%d@example.com", role, registered.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	return s.User.ID
}

func setStatus(st user.Status) func(*testing.T, *apptest.Env, auth.Principal, string) {
	return func(t *testing.T, e *apptest.Env, admin auth.Principal, id string) {
		t.Helper()
		if err := e.Users.SetStatus(t.Context(), admin, id, st, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func setRole(r auth.Role) func(*testing.T, *apptest.Env, auth.Principal, string) {
	return func(t *testing.T, e *apptest.Env, admin auth.Principal, id string) {
		t.Helper()
		if err := e.Users.SetRole(t.Context(), admin, id, r, ""); err != nil {
			t.Fatal(err)
		}
	}
}

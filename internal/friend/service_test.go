package friend_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/friend"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestAskingEachOtherAtOnce: two users asking each other at the same time
// end up friends, with one friendship between them, whatever the order.
func TestAskingEachOtherAtOnce(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	for range 10 {
		x, y := e.User(t, auth.RoleWorker), e.User(t, auth.RoleBuyer)
		var wg sync.WaitGroup
		for _, pair := range [][2]auth.Principal{{x, y}, {y, x}} {
			wg.Go(func() {
				_, _, err := e.Friends.Ask(ctx, pair[0], pair[1].UserID)
				// The second may find the first's request still pending,
				// or accepted by the other's ask.
				if err != nil && !errors.Is(err, friend.ErrPending) && !errors.Is(err, friend.ErrAlreadyFriends) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		list, err := e.Friends.List(ctx, x, page.Request{Number: 1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		pending, err := e.Friends.Requests(ctx, x, true, page.Request{Number: 1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Friends.Requests(ctx, x, false, page.Request{Number: 1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if list.Total+pending.Total+out.Total != 1 {
			t.Errorf("friends %d, incoming %d, outgoing %d: want one friendship or request between them", list.Total, pending.Total, out.Total)
		}
		ok, err := e.Friends.Friends(ctx, x.UserID, y.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (list.Total == 1) {
			t.Errorf("Friends() = %v with %d friendships", ok, list.Total)
		}
	}
}

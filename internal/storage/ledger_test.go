package storage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/user"
)

// board returns an account's board and whether the account exists.
func board(t *testing.T, s *LedgerStore, account string) (string, bool) {
	t.Helper()
	var d accountDoc
	err := s.accounts.FindOne(context.Background(), bson.D{{Key: "_id", Value: account}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return d.Board, true
}

// TestSetBoard runs board changes on accounts in order, as they may arrive:
// the highest number wins, and only going on a board creates an account.
// "copy" is the embedded database as it runs, "server" sends the writes as
// they are, as to MongoDB.
func TestSetBoard(t *testing.T) {
	for _, mode := range []string{"copy", "server"} {
		t.Run(mode, func(t *testing.T) {
			db := newTestDB(t)
			if mode == "server" {
				db = newServerReadsDB(t)
			}
			s := NewLedgerStore(db)
			testSetBoard(t, s)
		})
	}
}

func testSetBoard(t *testing.T, s *LedgerStore) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.ApplyPosting(ctx, "grant:a", ledger.Posting{Account: "user:a", Amount: 10}, false, now); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		account    string
		board      string
		seq        int64
		wantBoard  string
		wantExists bool
	}{
		{"on, first change", "user:a", "workers", 0, "workers", true},
		{"again: nothing changes", "user:a", "workers", 0, "workers", true},
		{"off, late: an older change", "user:a", "", 0, "workers", true},
		{"off", "user:a", "", 1, "", true},
		{"on, late", "user:a", "workers", 0, "", true},
		{"on again", "user:a", "workers", 3, "workers", true},
		{"off a missing account: none made", "user:b", "", 1, "", false},
		{"on, a missing account: made", "user:c", "workers", 2, "workers", true},
	}
	for _, st := range steps {
		if err := s.SetBoard(ctx, st.account, st.board, st.seq, now); err != nil {
			t.Fatalf("%s: SetBoard() error = %v", st.name, err)
		}
		if got, ok := board(t, s, st.account); got != st.wantBoard || ok != st.wantExists {
			t.Errorf("%s: board = %q (account exists %v), want %q (%v)", st.name, got, ok, st.wantBoard, st.wantExists)
		}
	}
	got, err := s.Leaders(ctx, "workers", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []ledger.Account{{Name: "user:a", Balance: 10, Pending: []string{"grant:a"}}, {Name: "user:c", Balance: 0, Pending: []string{}}}
	if !slices.EqualFunc(got, want, func(a, b ledger.Account) bool {
		return a.Name == b.Name && a.Balance == b.Balance && slices.Equal(a.Pending, b.Pending)
	}) {
		t.Errorf("Leaders() = %+v, want %+v", got, want)
	}
}

// TestBoardWorkers runs migration 0013's step on users of before it: the
// active workers' accounts go on the workers' board, and nobody else's.
func TestBoardWorkers(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	users, accounts := NewUserStore(db), NewLedgerStore(db)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, u := range []user.User{
		{ID: "worker", Role: "worker", Status: user.StatusActive},
		{ID: "poor-worker", Role: "worker", Status: user.StatusActive}, // no account yet
		{ID: "suspended", Role: "worker", Status: user.StatusSuspended},
		{ID: "deleted", Role: "worker", Status: user.StatusDeleted},
		{ID: "buyer", Role: "buyer", Status: user.StatusActive},
	} {
		u.Email, u.Name = u.ID+"@example.com", u.ID
		if err := users.Insert(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		if u.ID != "poor-worker" {
			if _, err := accounts.ApplyPosting(ctx, "grant:"+u.ID, ledger.Posting{Account: ledger.UserAccount(u.ID), Amount: 10}, false, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 { // safe to repeat
		if err := (migrator{db}).boardWorkers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	leaders, err := accounts.Leaders(ctx, user.WorkersBoard, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range leaders {
		got = append(got, a.Name)
	}
	if want := []string{"user:worker", "user:poor-worker"}; !slices.Equal(got, want) {
		t.Errorf("the workers' board = %v, want %v", got, want)
	}
}

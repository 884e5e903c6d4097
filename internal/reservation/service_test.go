package reservation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/reservation"
	"microtask/internal/storage/storagetest"
	"microtask/internal/task"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// market is a test's environment with a buyer and a worker.
type market struct {
	*apptest.Env
	ctx           context.Context
	buyer, worker auth.Principal
}

func newMarket(t *testing.T) *market {
	t.Helper()
	e := apptest.New(t)
	return &market{Env: e, ctx: t.Context(), buyer: e.User(t, auth.RoleBuyer), worker: e.User(t, auth.RoleWorker)}
}

// newTask posts a task of the buyer's with slots slots of 10 coins, due in
// due, after giving the buyer its cost.
func (m *market) newTask(t *testing.T, slots int, due time.Duration) task.Task {
	t.Helper()
	m.Give(t, m.buyer.UserID, money.Coins(slots)*10)
	tk, err := m.Tasks.Create(m.ctx, m.buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"},
		Workers: slots, Pay: 10, CompletionDate: m.Clock.Now().Add(due)})
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	return tk
}

func (m *market) reserve(t *testing.T, taskID string) reservation.Reservation {
	t.Helper()
	r, err := m.Reservations.Reserve(m.ctx, m.worker, taskID)
	if err != nil {
		t.Fatalf("Reserve() error = %v", err)
	}
	return r
}

func (m *market) stored(t *testing.T, id string) reservation.Reservation {
	t.Helper()
	r, err := m.Stores.Reservations.ByID(m.ctx, id)
	if err != nil {
		t.Fatalf("ByID(%s) error = %v", id, err)
	}
	return r
}

// TestReservationsEndWithTheirTask: when a task ends with slots reserved
// (closed early by its buyer, deleted, expired, removed by an admin), its
// refund takes the reserved slots and their reservations end cancelled at
// once: they leave the worker's list and no longer count toward the
// worker's limit, so the worker may reserve another task straight away.
func TestReservationsEndWithTheirTask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(m *market, t *testing.T, tk task.Task)
	}{
		{"closed early", func(m *market, t *testing.T, tk task.Task) {
			if _, err := m.Tasks.CloseEarly(m.ctx, m.buyer, tk.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(m *market, t *testing.T, tk task.Task) {
			if _, err := m.Tasks.Delete(m.ctx, m.buyer, tk.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed by an admin", func(m *market, t *testing.T, tk task.Task) {
			if _, err := m.Tasks.Remove(m.ctx, m.User(t, auth.RoleAdmin), tk.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"expired", func(m *market, t *testing.T, tk task.Task) {
			// The task's completion date comes before the reservation's
			// time runs out; only the tasks' expiry job runs.
			m.Clock.Advance(31 * time.Minute)
			if n, err := m.Tasks.ExpireDue(m.ctx); err != nil || n != 1 {
				t.Fatalf("ExpireDue() = %d, %v; want 1", n, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMarket(t)
			ending := m.newTask(t, 2, 30*time.Minute)
			r := m.reserve(t, ending.ID)
			for range reservation.DefaultPerWorker - 1 {
				m.reserve(t, m.newTask(t, 1, 24*time.Hour).ID)
			}
			next := m.newTask(t, 1, 24*time.Hour)
			if _, err := m.Reservations.Reserve(m.ctx, m.worker, next.ID); !errors.Is(err, reservation.ErrTooMany) {
				t.Fatalf("Reserve() over the limit = %v, want %v", err, reservation.ErrTooMany)
			}

			tt.end(m, t, ending)

			if got := m.stored(t, r.ID); got.Status != reservation.StatusCancelled || got.EndedAt.IsZero() {
				t.Errorf("reservation of the ended task = %s (ended %v), want cancelled", got.Status, got.EndedAt)
			}
			if n, err := m.Stores.Reservations.CountLive(m.ctx, m.worker.UserID); err != nil || n != int64(reservation.DefaultPerWorker-1) {
				t.Errorf("CountLive() = %d, %v; want %d", n, err, reservation.DefaultPerWorker-1)
			}
			m.reserve(t, next.ID) // the cancelled one no longer counts
			if got := m.Balance(t, ledger.EscrowAccount(ending.ID)); got != 0 {
				t.Errorf("escrow of the ended task = %d, want 0: the reserved slot refunded too", got)
			}
		})
	}
}

// TestReservationRecordedAfterItsTaskClosed: the task is closed between
// the hold of the slot and the record of the reservation (the reservation's
// two steps); the refund takes the held slot before the reservation exists,
// and the reservation, once recorded, ends cancelled too.
func TestReservationRecordedAfterItsTaskClosed(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 2, 24*time.Hour)
	closed := false
	m.Operations.InjectFailures(func(step string) error {
		if step == "committed" && !closed { // the reservation's hold: the first operation
			closed = true
			if refunded, err := m.Tasks.CloseEarly(m.ctx, m.buyer, tk.ID); err != nil || refunded != 20 {
				t.Errorf("CloseEarly() = %d, %v; want 20", refunded, err)
			}
		}
		return nil
	})
	r, err := m.Reservations.Reserve(m.ctx, m.worker, tk.ID)
	m.Operations.InjectFailures(nil)
	if err != nil {
		t.Fatalf("Reserve() error = %v", err)
	}
	if got := m.stored(t, r.ID); got.Status != reservation.StatusCancelled {
		t.Errorf("reservation = %s, want cancelled", got.Status)
	}
	if n, err := m.Stores.Reservations.CountLive(m.ctx, m.worker.UserID); err != nil || n != 0 {
		t.Errorf("CountLive() = %d, %v; want 0", n, err)
	}
}

// TestReservationSwappedWhileTheTaskCloses: between the buyer's close
// reading the task and its refund's commit, one worker releases their
// reserved slot and another reserves it, which leaves as many free and
// reserved slots as were read; the refund still takes only the slots it read
// (it reads the task again), and the new reservation ends cancelled with it.
func TestReservationSwappedWhileTheTaskCloses(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 2, 24*time.Hour)
	first := m.reserve(t, tk.ID)
	other := m.User(t, auth.RoleWorker)
	var second reservation.Reservation
	swapped := false
	m.Operations.InjectFailures(func(step string) error {
		if step == "started" && !swapped { // the refund's: the first operation
			swapped = true
			if err := m.Reservations.Release(m.ctx, m.worker, first.ID); err != nil {
				t.Errorf("Release() error = %v", err)
			}
			var err error
			if second, err = m.Reservations.Reserve(m.ctx, other, tk.ID); err != nil {
				t.Errorf("Reserve() error = %v", err)
			}
		}
		return nil
	})
	refunded, err := m.Tasks.CloseEarly(m.ctx, m.buyer, tk.ID)
	m.Operations.InjectFailures(nil)
	if err != nil || refunded != 20 {
		t.Fatalf("CloseEarly() = %d, %v; want 20", refunded, err)
	}
	for _, c := range []struct {
		r    reservation.Reservation
		want reservation.Status
	}{{first, reservation.StatusReleased}, {second, reservation.StatusCancelled}} {
		if got := m.stored(t, c.r.ID); got.Status != c.want {
			t.Errorf("reservation of %s = %s, want %s", c.r.WorkerID, got.Status, c.want)
		}
	}
}

func TestParseHeldID(t *testing.T) {
	r := reservation.Reservation{ID: reservation.ID("task", "worker"), Seq: 12}
	tests := []struct {
		held    string
		wantID  string
		wantSeq int
		wantOK  bool
	}{
		{r.HeldID(), r.ID, 12, true},
		{"abc:1", "abc", 1, true},
		{"abc", "", 0, false},
		{"abc:", "", 0, false},
		{"abc:0", "", 0, false},
		{"abc:x", "", 0, false},
	}
	for _, tt := range tests {
		id, seq, ok := reservation.ParseHeldID(tt.held)
		if id != tt.wantID || seq != tt.wantSeq || ok != tt.wantOK {
			t.Errorf("ParseHeldID(%q) = %q, %d, %v; want %q, %d, %v", tt.held, id, seq, ok, tt.wantID, tt.wantSeq, tt.wantOK)
		}
	}
}

package reservation_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/block"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/reservation"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// newTaskAllotting posts a task of the buyer's as newTask does, whose
// reservations last allotted at most.
func (m *market) newTaskAllotting(t *testing.T, slots int, due, allotted time.Duration) task.Task {
	t.Helper()
	m.Give(t, m.buyer.UserID, money.Coins(slots)*10)
	tk, err := m.Tasks.Create(m.ctx, m.buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"},
		Workers: slots, Pay: 10, CompletionDate: m.Clock.Now().Add(due), TimeAllotted: allotted})
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	return tk
}

// wantTask checks a task's free and held slots and its escrow, which a
// reservation never changes: a held slot's pay stays there.
func (m *market) wantTask(t *testing.T, taskID string, free int, held []string, escrow money.Coins) {
	t.Helper()
	tk, err := m.Tasks.ByID(m.ctx, taskID)
	if err != nil {
		t.Fatalf("Tasks.ByID() error = %v", err)
	}
	if tk.OpenSlots != free || !slices.Equal(tk.Held, held) {
		t.Errorf("task: %d free, held %v; want %d, %v", tk.OpenSlots, tk.Held, free, held)
	}
	if got := m.Balance(t, ledger.EscrowAccount(taskID)); got != escrow {
		t.Errorf("escrow = %d, want %d", got, escrow)
	}
}

// fresh returns a new buyer and worker on the same environment, for the
// cases of a table that do not move the clock: the cases share one
// database, which saves building one per case.
func (m *market) fresh(t *testing.T) *market {
	t.Helper()
	return &market{Env: m.Env, ctx: m.ctx, buyer: m.User(t, auth.RoleBuyer), worker: m.User(t, auth.RoleWorker)}
}

func (m *market) live(t *testing.T, worker auth.Principal) []reservation.Reservation {
	t.Helper()
	p, err := m.Reservations.Mine(m.ctx, worker, page.Request{Number: 1, Limit: 10})
	if err != nil {
		t.Fatalf("Mine() error = %v", err)
	}
	return p.Items
}

// TestReserveHoldsAFreeSlot: a worker's reservation holds one free slot of
// the task, its pay still in escrow, for the time the buyer allotted or
// until the task's completion date if that comes first.
func TestReserveHoldsAFreeSlot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		due, allotted time.Duration
		wantExpiresIn time.Duration
	}{
		{"for the time allotted", 24 * time.Hour, 30 * time.Minute, 30 * time.Minute},
		{"until the completion date", 10 * time.Minute, time.Hour, 10 * time.Minute},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := shared.fresh(t)
			tk := m.newTaskAllotting(t, 2, tt.due, tt.allotted)
			now := m.Clock.Now()

			got := m.reserve(t, tk.ID)
			want := reservation.Reservation{ID: reservation.ID(tk.ID, m.worker.UserID), Seq: 1, TaskID: tk.ID, TaskTitle: "T",
				WorkerID: m.worker.UserID, Status: reservation.StatusLive, ExpiresAt: now.Add(tt.wantExpiresIn), CreatedAt: now}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Reserve() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, m.stored(t, got.ID)); diff != "" {
				t.Errorf("stored reservation mismatch (-want +got):\n%s", diff)
			}
			m.wantTask(t, tk.ID, 1, []string{got.HeldID()}, 20)
			if mine := m.live(t, m.worker); len(mine) != 1 || mine[0].ID != got.ID {
				t.Errorf("Mine() = %+v, want the reservation", mine)
			}
		})
	}
}

// TestReserveRefused: a reservation is refused, with the reason, to anyone
// but a worker, for a task that takes no work, twice for one task, after
// submitting to it, to a worker its buyer blocked, and past the worker's
// limit; a refusal holds nothing.
func TestReserveRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setUp makes the worker's reservation of tk (one slot, due in a
		// day) one to refuse, and returns who reserves and which task.
		setUp func(t *testing.T, m *market, tk task.Task) (auth.Principal, string)
		want  error
		ownDB bool // the case moves the clock
	}{
		{"a buyer", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			return m.buyer, tk.ID
		}, auth.ErrWrongRole, false},
		{"an admin", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			return m.User(t, auth.RoleAdmin), tk.ID
		}, auth.ErrWrongRole, false},
		{"no such task", func(t *testing.T, m *market, _ task.Task) (auth.Principal, string) {
			return m.worker, "nope"
		}, task.ErrNotFound, false},
		{"a deleted task", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			if _, err := m.Tasks.Delete(m.ctx, m.buyer, tk.ID); err != nil {
				t.Fatal(err)
			}
			return m.worker, tk.ID
		}, task.ErrNotFound, false},
		{"reserved already", func(t *testing.T, m *market, _ task.Task) (auth.Principal, string) {
			two := m.newTask(t, 2, 24*time.Hour)
			m.reserve(t, two.ID)
			return m.worker, two.ID
		}, reservation.ErrAlreadyReserved, false},
		{"submitted already", func(t *testing.T, m *market, _ task.Task) (auth.Principal, string) {
			two := m.newTask(t, 2, 24*time.Hour)
			if _, err := m.Submissions.Submit(m.ctx, m.worker, two.ID, "proof"); err != nil {
				t.Fatal(err)
			}
			return m.worker, two.ID
		}, reservation.ErrSubmitted, false},
		{"full", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			if _, err := m.Submissions.Submit(m.ctx, m.User(t, auth.RoleWorker), tk.ID, "proof"); err != nil {
				t.Fatal(err)
			}
			return m.worker, tk.ID
		}, task.ErrFull, false},
		{"held by another worker", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			if _, err := m.Reservations.Reserve(m.ctx, m.User(t, auth.RoleWorker), tk.ID); err != nil {
				t.Fatal(err)
			}
			return m.worker, tk.ID
		}, task.ErrFull, false},
		{"paused", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			if _, err := m.Tasks.SetPaused(m.ctx, m.buyer, tk.ID, true); err != nil {
				t.Fatal(err)
			}
			return m.worker, tk.ID
		}, task.ErrPaused, false},
		{"closed early", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			if _, err := m.Tasks.CloseEarly(m.ctx, m.buyer, tk.ID); err != nil {
				t.Fatal(err)
			}
			return m.worker, tk.ID
		}, task.ErrClosed, false},
		{"past its completion date", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			m.Clock.Advance(24 * time.Hour)
			return m.worker, tk.ID
		}, task.ErrExpired, true},
		{"blocked by the buyer", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			if _, err := m.Blocks.Block(m.ctx, m.buyer, m.worker.UserID); err != nil {
				t.Fatal(err)
			}
			return m.worker, tk.ID
		}, block.ErrBlocked, false},
		{"over the limit", func(t *testing.T, m *market, tk task.Task) (auth.Principal, string) {
			for range reservation.DefaultPerWorker {
				m.reserve(t, m.newTask(t, 1, 24*time.Hour).ID)
			}
			return m.worker, tk.ID
		}, reservation.ErrTooMany, false},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var m *market
			if tt.ownDB {
				m = newMarket(t)
			} else {
				m = shared.fresh(t)
			}
			tk := m.newTask(t, 1, 24*time.Hour)
			who, taskID := tt.setUp(t, m, tk)
			before, _ := m.Tasks.ByID(m.ctx, taskID)
			live := m.live(t, m.worker)

			if _, err := m.Reservations.Reserve(m.ctx, who, taskID); !errors.Is(err, tt.want) {
				t.Fatalf("Reserve() error = %v, want %v", err, tt.want)
			}
			if after, _ := m.Tasks.ByID(m.ctx, taskID); after.OpenSlots != before.OpenSlots || !slices.Equal(after.Held, before.Held) {
				t.Errorf("task after the refusal: %d free, held %v; want %d, %v", after.OpenSlots, after.Held, before.OpenSlots, before.Held)
			}
			if got := m.live(t, m.worker); len(got) != len(live) {
				t.Errorf("worker holds %d reservations, want %d", len(got), len(live))
			}
		})
	}
}

// TestReleaseGivesTheSlotBack: the worker releases a live reservation of
// theirs: the slot is free again, the reservation ends released, and the
// worker may reserve the task again later (the same ID, the next Seq).
// Another worker's reservation is not found; an ended one is not released
// twice.
func TestReleaseGivesTheSlotBack(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 1, 24*time.Hour)
	r := m.reserve(t, tk.ID)
	other := m.User(t, auth.RoleWorker)
	if err := m.Reservations.Release(m.ctx, other, r.ID); !errors.Is(err, reservation.ErrNotFound) {
		t.Errorf("Release() by another worker = %v, want %v", err, reservation.ErrNotFound)
	}
	if _, err := m.Reservations.Get(m.ctx, other, r.ID); !errors.Is(err, reservation.ErrNotFound) {
		t.Errorf("Get() by another worker = %v, want %v", err, reservation.ErrNotFound)
	}
	m.Clock.Advance(time.Minute)

	if err := m.Reservations.Release(m.ctx, m.worker, r.ID); err != nil {
		t.Fatalf("Release() error = %v", err)
	}
	got := m.stored(t, r.ID)
	if got.Status != reservation.StatusReleased || !got.EndedAt.Equal(m.Clock.Now()) {
		t.Errorf("released reservation = %s, ended %v; want released at %v", got.Status, got.EndedAt, m.Clock.Now())
	}
	m.wantTask(t, tk.ID, 1, nil, 10)
	if mine := m.live(t, m.worker); len(mine) != 0 {
		t.Errorf("Mine() = %+v, want none live", mine)
	}
	if err := m.Reservations.Release(m.ctx, m.worker, r.ID); !errors.Is(err, reservation.ErrEnded) {
		t.Errorf("Release() again = %v, want %v", err, reservation.ErrEnded)
	}

	again := m.reserve(t, tk.ID)
	if again.ID != r.ID || again.Seq != 2 || again.HeldID() == r.HeldID() {
		t.Errorf("reserved again = %+v, want ID %s with Seq 2", again, r.ID)
	}
	m.wantTask(t, tk.ID, 0, []string{again.HeldID()}, 10)
}

// TestExpireDue: the job ends the reservations whose time ran out as
// expired and frees their slots; a reservation still within its time, or
// one used by a submission, stays as it is.
func TestExpireDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		submit     bool          // the worker submits with the reservation first
		after      time.Duration // from the reservation to the job's run
		wantStatus reservation.Status
		wantFree   int
	}{
		{"within its time", false, 30*time.Minute - time.Millisecond, reservation.StatusLive, 1},
		{"at its expiry", false, 30 * time.Minute, reservation.StatusLive, 1},
		{"past its expiry", false, 30*time.Minute + time.Millisecond, reservation.StatusExpired, 2},
		{"used by a submission", true, time.Hour, reservation.StatusUsed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMarket(t) // the clock moves
			tk := m.newTaskAllotting(t, 2, 24*time.Hour, 30*time.Minute)
			r := m.reserve(t, tk.ID)
			if tt.submit {
				if _, err := m.Submissions.Submit(m.ctx, m.worker, tk.ID, "proof"); err != nil {
					t.Fatal(err)
				}
			}
			m.Clock.Advance(tt.after)

			n, err := m.Reservations.ExpireDue(m.ctx)
			wantN := 0
			if tt.wantStatus == reservation.StatusExpired {
				wantN = 1
			}
			if err != nil || n != wantN {
				t.Fatalf("ExpireDue() = %d, %v; want %d", n, err, wantN)
			}
			if got := m.stored(t, r.ID); got.Status != tt.wantStatus {
				t.Errorf("reservation = %s, want %s", got.Status, tt.wantStatus)
			}
			var held []string
			if tt.wantStatus == reservation.StatusLive {
				held = []string{r.HeldID()}
			}
			m.wantTask(t, tk.ID, tt.wantFree, held, 20)
		})
	}
}

// TestSubmitIntoAReservation: a worker submits into the slot they hold,
// even when the task has no free slot, which other workers are refused;
// the reservation ends used and approving pays the worker exactly the pay
// from escrow. A reservation that ended before the submission leaves the
// work to a free slot, if there is one.
func TestSubmitIntoAReservation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before ends the reservation r, or not, before the worker submits.
		before     func(t *testing.T, m *market, tk task.Task, r reservation.Reservation)
		wantErr    error
		wantStatus reservation.Status
	}{
		{"held", func(t *testing.T, m *market, tk task.Task, _ reservation.Reservation) {
			if _, err := m.Submissions.Submit(m.ctx, m.User(t, auth.RoleWorker), tk.ID, "proof"); !errors.Is(err, task.ErrFull) {
				t.Errorf("Submit() by another worker = %v, want %v: the only slot is held", err, task.ErrFull)
			}
		}, nil, reservation.StatusUsed},
		{"expired, its slot still free", func(t *testing.T, m *market, _ task.Task, _ reservation.Reservation) {
			m.Clock.Advance(time.Hour + time.Millisecond)
			if n, err := m.Reservations.ExpireDue(m.ctx); err != nil || n != 1 {
				t.Fatalf("ExpireDue() = %d, %v; want 1", n, err)
			}
		}, nil, reservation.StatusExpired},
		{"released, its slot taken since", func(t *testing.T, m *market, tk task.Task, r reservation.Reservation) {
			if err := m.Reservations.Release(m.ctx, m.worker, r.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Submissions.Submit(m.ctx, m.User(t, auth.RoleWorker), tk.ID, "proof"); err != nil {
				t.Fatal(err)
			}
		}, task.ErrFull, reservation.StatusReleased},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMarket(t) // some cases move the clock
			tk := m.newTask(t, 1, 24*time.Hour)
			r := m.reserve(t, tk.ID)
			tt.before(t, m, tk, r)

			sub, err := m.Submissions.Submit(m.ctx, m.worker, tk.ID, "proof")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Submit() error = %v, want %v", err, tt.wantErr)
			}
			if got := m.stored(t, r.ID); got.Status != tt.wantStatus {
				t.Errorf("reservation = %s, want %s", got.Status, tt.wantStatus)
			}
			if tt.wantErr != nil {
				m.wantTask(t, tk.ID, 0, nil, 10) // the other worker's pending submission holds the pay
				return
			}
			m.wantTask(t, tk.ID, 0, nil, 10)
			if got, err := m.Tasks.ByID(m.ctx, tk.ID); err != nil || !slices.Equal(got.PendingSubs, []string{sub.ID}) {
				t.Errorf("task's pending submissions = %v, %v; want [%s]", got.PendingSubs, err, sub.ID)
			}
			if _, err := m.Submissions.Approve(m.ctx, m.buyer, sub.ID); err != nil {
				t.Fatalf("Approve() error = %v", err)
			}
			if got := m.Coins(t, m.worker.UserID); got != 10 {
				t.Errorf("worker has %d coins, want 10", got)
			}
			if got := m.Coins(t, m.buyer.UserID); got != 0 {
				t.Errorf("buyer has %d coins, want 0", got)
			}
			if got := m.Balance(t, ledger.EscrowAccount(tk.ID)); got != 0 {
				t.Errorf("escrow = %d, want 0", got)
			}
			if got := m.sub(t, sub.ID); got.Status != submission.StatusApproved {
				t.Errorf("submission = %s, want approved", got.Status)
			}
		})
	}
}

func (m *market) sub(t *testing.T, id string) submission.Submission {
	t.Helper()
	s, err := m.Submissions.Get(m.ctx, id)
	if err != nil {
		t.Fatalf("Submissions.Get() error = %v", err)
	}
	return s
}

// TestLimitPerWorker: a worker holds at most the configured number of live
// reservations; one that ends (released, or used by a submission) no longer
// counts.
func TestLimitPerWorker(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *app.Config) { c.ReservationsPer = 2 })
	m := &market{Env: e, ctx: t.Context(), buyer: e.User(t, auth.RoleBuyer), worker: e.User(t, auth.RoleWorker)}
	first, second, third := m.newTask(t, 2, 24*time.Hour), m.newTask(t, 2, 24*time.Hour), m.newTask(t, 2, 24*time.Hour)
	r1 := m.reserve(t, first.ID)
	m.reserve(t, second.ID)
	if _, err := m.Reservations.Reserve(m.ctx, m.worker, third.ID); !errors.Is(err, reservation.ErrTooMany) {
		t.Fatalf("Reserve() of a third = %v, want %v", err, reservation.ErrTooMany)
	}
	m.wantTask(t, third.ID, 2, nil, 20)

	if err := m.Reservations.Release(m.ctx, m.worker, r1.ID); err != nil {
		t.Fatal(err)
	}
	r3 := m.reserve(t, third.ID)
	if _, err := m.Reservations.Reserve(m.ctx, m.worker, first.ID); !errors.Is(err, reservation.ErrTooMany) {
		t.Fatalf("Reserve() past the limit again = %v, want %v", err, reservation.ErrTooMany)
	}
	if _, err := m.Submissions.Submit(m.ctx, m.worker, third.ID, "proof"); err != nil {
		t.Fatal(err)
	}
	if got := m.stored(t, r3.ID); got.Status != reservation.StatusUsed {
		t.Errorf("reservation submitted with = %s, want used", got.Status)
	}
	m.reserve(t, first.ID) // the used one no longer counts
	if n, err := m.Stores.Reservations.CountLive(m.ctx, m.worker.UserID); err != nil || n != 2 {
		t.Errorf("CountLive() = %d, %v; want 2", n, err)
	}
}

package operation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/operation"
	"microtask/internal/platform/clocktest"
	"microtask/internal/platform/logging"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

type fixture struct {
	db    *docdb.DB
	clock *clocktest.Clock
	svc   service
}

// service is the operation engine and the ledger as one process has them,
// with the kinds of operation of these tests registered: each a plain one
// without steps of its own, but for "claim", which a test registers with its
// business document.
type service struct {
	*operation.Engine
	*ledger.Ledger
}

var plainKinds = []string{"signup", "task-fund", "purchase", "bonus", "x"}

// transfer is an operation of a plain kind to run.
type transfer struct {
	ID       string
	Postings []ledger.Posting
}

// Post runs t with empty data.
func (s service) Post(ctx context.Context, t transfer) (operation.Result, error) {
	kind, ref, _ := strings.Cut(t.ID, ":")
	return s.Run(ctx, operation.Request{Kind: kind, Ref: ref, Postings: t.Postings, Data: struct{}{}})
}

// Handle registers the claim kind with c's steps.
func (s service) Handle(c *claim) {
	if err := s.Register(c.kind().Define()); err != nil {
		panic(err)
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{db: storagetest.NewDB(t), clock: clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	f.svc = f.restart()
	return f
}

// restart returns a new engine on the same database, as a new process would
// have after a crash: nothing in memory, same database, same clock.
func (f *fixture) restart() service {
	l := ledger.New(storage.NewLedgerStore(f.db), logging.Discard())
	e := operation.NewEngine(storage.NewOperationStore(f.db), l, nil, logging.Discard(), f.clock.Now)
	for _, k := range plainKinds {
		if err := e.Register(operation.Kind[struct{}]{Name: k}.Define()); err != nil {
			panic(err)
		}
	}
	return service{e, l}
}

func mustPost(t testing.TB, s service, id string, ps []ledger.Posting) operation.Result {
	t.Helper()
	tr, err := s.Post(context.Background(), transfer{ID: id, Postings: ps})
	if err != nil {
		t.Fatalf("Post(%s) error = %v", id, err)
	}
	return tr
}

func wantBalances(t testing.TB, s service, want map[string]money.Coins) {
	t.Helper()
	for acct, w := range want {
		got, err := s.Balance(context.Background(), acct)
		if err != nil {
			t.Fatalf("Balance(%s) error = %v", acct, err)
		}
		if got != w {
			t.Errorf("Balance(%s) = %d, want %d", acct, got, w)
		}
	}
}

func wantAuditBalanced(t testing.TB, s service) ledger.Report {
	t.Helper()
	r, err := s.Audit(context.Background())
	if err != nil {
		t.Fatalf("Audit() error = %v", err)
	}
	if !r.Balanced || r.InFlight != 0 || r.Sum != 0 || r.Uncleared != 0 {
		t.Fatalf("Audit() = balanced %v, open %d, sum %d, uncleared %d, problems:\n%s", r.Balanced, r.InFlight, r.Sum,
			r.Uncleared, strings.Join(r.Problems, "\n"))
	}
	return r
}

func TestPostMovesCoins(t *testing.T) {
	f := newFixture(t)
	mustPost(t, f.svc, "signup:alice", ledger.Move(ledger.Mint, "user:alice", 50))
	tr := mustPost(t, f.svc, "task-fund:t1", ledger.Move("user:alice", "escrow:t1", 30))
	if tr.State != operation.Posted || tr.Replayed {
		t.Errorf("Post() = %+v, want posted now", tr)
	}
	wantBalances(t, f.svc, map[string]money.Coins{
		ledger.Mint: -50, "user:alice": 20, "escrow:t1": 30, "user:nobody": 0,
	})
	r := wantAuditBalanced(t, f.svc)
	if r.Accounts != 3 || r.Movements != 2 {
		t.Errorf("Audit() counted %d accounts and %d transfers, want 3 and 2", r.Accounts, r.Movements)
	}
}

func TestPostIsIdempotent(t *testing.T) {
	f := newFixture(t)
	first := mustPost(t, f.svc, "signup:bob", ledger.Move(ledger.Mint, "user:bob", 10))
	again := mustPost(t, f.svc, "signup:bob", ledger.Move(ledger.Mint, "user:bob", 10))
	if !again.At.Equal(first.At) || again.State != operation.Posted {
		t.Errorf("second Post() = %+v, want the first transfer back %+v", again, first)
	}
	if first.Replayed || !again.Replayed {
		t.Errorf("Replayed = %v then %v, want false then true", first.Replayed, again.Replayed)
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:bob": 10})

	_, err := f.svc.Post(context.Background(), transfer{ID: "signup:bob", Postings: ledger.Move(ledger.Mint, "user:bob", 11)})
	if !errors.Is(err, operation.ErrReused) {
		t.Errorf("Post() with other postings error = %v, want ErrOperationReused", err)
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:bob": 10})
	wantAuditBalanced(t, f.svc)
}

func TestPostRejectsMalformedTransfers(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		tr   transfer
	}{
		{"no kind", transfer{ID: "abc", Postings: ledger.Move(ledger.Mint, "user:a", 1)}},
		{"empty reference", transfer{ID: "signup:", Postings: ledger.Move(ledger.Mint, "user:a", 1)}},
		{"one posting", transfer{ID: "x:1", Postings: []ledger.Posting{{Account: "user:a", Amount: 1}}}},
		{"does not sum to zero", transfer{ID: "x:2", Postings: []ledger.Posting{{Account: ledger.Mint, Amount: -1}, {Account: "user:a", Amount: 2}}}},
		{"zero amount", transfer{ID: "x:3", Postings: ledger.Move(ledger.Mint, "user:a", 0)}},
		{"unknown account kind", transfer{ID: "x:4", Postings: ledger.Move(ledger.Mint, "bank:a", 1)}},
		{"same account twice", transfer{ID: "x:5", Postings: ledger.Move("user:a", "user:a", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.Post(context.Background(), tt.tr); err == nil {
				t.Errorf("Post(%+v) error = nil, want an error", tt.tr)
			}
		})
	}
	r := wantAuditBalanced(t, f.svc)
	if r.Movements != 0 {
		t.Errorf("Audit() found %d transfers, want none written", r.Movements)
	}
}

func TestInsufficientFundsLeavesNothingBehind(t *testing.T) {
	f := newFixture(t)
	mustPost(t, f.svc, "signup:carol", ledger.Move(ledger.Mint, "user:carol", 5))
	mustPost(t, f.svc, "signup:dan", ledger.Move(ledger.Mint, "user:dan", 4))

	// Two debits: carol's is applied first (accounts sort), dan's comes up
	// short, so carol's must be undone.
	req := transfer{ID: "task-fund:big", Postings: []ledger.Posting{
		{Account: "user:carol", Amount: -3}, {Account: "user:dan", Amount: -5}, {Account: "escrow:big", Amount: 8},
	}}
	tr, err := f.svc.Post(context.Background(), req)
	if !errors.Is(err, ledger.ErrInsufficientCoins) {
		t.Fatalf("Post() error = %v, want ErrInsufficientCoins", err)
	}
	if tr.State != operation.Failed {
		t.Errorf("Post() state = %s, want failed", tr.State)
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:carol": 5, "user:dan": 4, "escrow:big": 0})

	// The outcome is recorded: the same operation fails again even once it
	// could succeed, rather than moving coins the caller was told did not move.
	mustPost(t, f.svc, "bonus:dan", ledger.Move(ledger.Mint, "user:dan", 10))
	if _, err := f.svc.Post(context.Background(), req); !errors.Is(err, ledger.ErrInsufficientCoins) {
		t.Errorf("Post() again error = %v, want the recorded ErrInsufficientCoins", err)
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:carol": 5, "user:dan": 14, "escrow:big": 0})
	wantAuditBalanced(t, f.svc)
}

func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	f := newFixture(t)
	mustPost(t, f.svc, "signup:erin", ledger.Move(ledger.Mint, "user:erin", 100))

	const n = 100
	var ok, short atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := f.svc.Post(context.Background(), transfer{
				ID:       fmt.Sprintf("task-fund:t%d", i),
				Postings: ledger.Move("user:erin", fmt.Sprintf("escrow:t%d", i), 3),
			})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ledger.ErrInsufficientCoins):
				short.Add(1)
			default:
				t.Errorf("Post() error = %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 33 || short.Load() != 67 {
		t.Errorf("got %d posted and %d short, want 33 and 67", ok.Load(), short.Load())
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:erin": 1})
	wantAuditBalanced(t, f.svc)
}

func TestConcurrentSameOperationMovesOnce(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	var ran atomic.Int64
	for range 10 {
		wg.Go(func() {
			tr, err := f.svc.Post(context.Background(), transfer{
				ID: "purchase:cs_1", Postings: ledger.Move(ledger.Mint, "user:fay", 150),
			})
			if err != nil {
				t.Errorf("Post() error = %v", err)
			}
			if !tr.Replayed {
				ran.Add(1)
			}
		})
	}
	wg.Wait()
	if ran.Load() != 1 {
		t.Errorf("%d calls report running the transfer, want 1", ran.Load())
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:fay": 150, ledger.Mint: -150})
	wantAuditBalanced(t, f.svc)
}

// claim is a business document a hook commits, as a submission would be
// approved: it can be taken once, by one operation.
type claim struct {
	mu      sync.Mutex
	status  string // open or taken
	op      string
	settled map[string]bool
}

func newClaim(status, op string) *claim {
	return &claim{status: status, op: op, settled: map[string]bool{}}
}

func (c *claim) kind() operation.Kind[struct{}] {
	return operation.Kind[struct{}]{
		Name: "claim",
		Commit: func(_ context.Context, t operation.Op[struct{}]) (bool, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.op == t.ID {
				return true, nil
			}
			if c.status != "open" {
				return false, nil
			}
			c.status, c.op = "taken", t.ID
			return true, nil
		},
		Revert: func(_ context.Context, t operation.Op[struct{}]) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.op == t.ID {
				c.status, c.op = "open", ""
			}
			return nil
		},
		Settle: func(_ context.Context, t operation.Op[struct{}]) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.settled[t.ID] = true
			return nil
		},
	}
}

func (c *claim) state() (status string, settled int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, len(c.settled)
}

// crashScenario is one transfer run through the protocol.
type crashScenario struct {
	name        string
	setup       func(t testing.TB, s service) // funds accounts before the transfer
	claim       func() *claim                 // the hook's business document, if any
	transfer    transfer
	wantErr     error // the transfer's outcome
	wantBalance map[string]money.Coins
	wantClaim   string // the claim's final status
	wantSettled int
}

var crashScenarios = []crashScenario{
	{
		name:        "credit from the mint",
		transfer:    transfer{ID: "signup:u1", Postings: ledger.Move(ledger.Mint, "user:u1", 10)},
		wantBalance: map[string]money.Coins{"user:u1": 10, ledger.Mint: -10},
	},
	{
		name: "short second debit is undone",
		setup: func(t testing.TB, s service) {
			mustPost(t, s, "signup:a", ledger.Move(ledger.Mint, "user:a", 5))
		},
		transfer: transfer{ID: "task-fund:t", Postings: []ledger.Posting{
			{Account: "user:a", Amount: -3}, {Account: "user:b", Amount: -5}, {Account: "escrow:t", Amount: 8},
		}},
		wantErr:     ledger.ErrInsufficientCoins,
		wantBalance: map[string]money.Coins{"user:a": 5, "user:b": 0, "escrow:t": 0},
	},
	{
		name: "hooked and committed",
		setup: func(t testing.TB, s service) {
			mustPost(t, s, "task-fund:t", ledger.Move(ledger.Mint, "escrow:t", 20))
		},
		claim:       func() *claim { return newClaim("open", "") },
		transfer:    transfer{ID: "claim:s1", Postings: ledger.Move("escrow:t", "user:w", 20)},
		wantBalance: map[string]money.Coins{"escrow:t": 0, "user:w": 20},
		wantClaim:   "taken",
		wantSettled: 1,
	},
	{
		name: "hook cancels",
		setup: func(t testing.TB, s service) {
			mustPost(t, s, "task-fund:t", ledger.Move(ledger.Mint, "escrow:t", 20))
		},
		claim:       func() *claim { return newClaim("taken", "claim:other") },
		transfer:    transfer{ID: "claim:s1", Postings: ledger.Move("escrow:t", "user:w", 20)},
		wantErr:     operation.ErrCancelled,
		wantBalance: map[string]money.Coins{"escrow:t": 20, "user:w": 0},
		wantClaim:   "taken",
	},
	{
		name:        "operation without postings",
		claim:       func() *claim { return newClaim("open", "") },
		transfer:    transfer{ID: "claim:s1"},
		wantBalance: map[string]money.Coins{},
		wantClaim:   "taken",
		wantSettled: 1,
	},
	{
		name:        "operation without postings, cancelled",
		claim:       func() *claim { return newClaim("taken", "claim:other") },
		transfer:    transfer{ID: "claim:s1"},
		wantErr:     operation.ErrCancelled,
		wantBalance: map[string]money.Coins{},
		wantClaim:   "taken",
	},
	{
		name:        "hooked, short debit reverts the commit",
		claim:       func() *claim { return newClaim("open", "") },
		transfer:    transfer{ID: "claim:s1", Postings: ledger.Move("user:poor", "user:w", 20)},
		wantErr:     ledger.ErrInsufficientCoins,
		wantBalance: map[string]money.Coins{"user:poor": 0, "user:w": 0},
		wantClaim:   "open",
	},
}

var errCrash = errors.New("crash")

// TestCrashAfterEveryStepRecovers stops a transfer after each step of the
// protocol in turn, as a crash would, then restarts the service and runs
// recovery: every transfer must end exactly as an uninterrupted run ends, with
// the audit balanced.
func TestCrashAfterEveryStepRecovers(t *testing.T) {
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel() // every run has its own database
			steps := sc.run(t, "")
			if len(steps) < 3 {
				t.Fatalf("uninterrupted run went through steps %v, want several", steps)
			}
			for _, step := range steps {
				t.Run("after "+step, func(t *testing.T) { sc.run(t, step) })
			}
		})
	}
}

// run runs the scenario on a fresh database, crashing after crashAt (none if
// empty) and recovering, checks the outcome and returns the steps the first
// attempt went through.
func (sc crashScenario) run(t *testing.T, crashAt string) []string {
	f := newFixture(t)
	var c *claim
	register := func(s service) {
		if c != nil {
			s.Handle(c)
		}
	}
	if sc.claim != nil {
		c = sc.claim()
	}
	register(f.svc)
	if sc.setup != nil {
		sc.setup(t, f.svc)
	}

	var steps []string
	f.svc.InjectFailures(func(step string) error {
		steps = append(steps, step)
		if step == crashAt {
			return errCrash
		}
		return nil
	})
	_, err := f.svc.Post(context.Background(), sc.transfer)
	if crashAt == "" {
		if !errors.Is(err, sc.wantErr) {
			t.Fatalf("Post() error = %v, want %v", err, sc.wantErr)
		}
	} else {
		if !slices.Contains(steps, crashAt) {
			t.Fatalf("run never reached step %q (steps %v)", crashAt, steps)
		}
		crashedEarly := errors.Is(err, errCrash)
		if !crashedEarly {
			t.Fatalf("Post() error = %v, want the crash", err)
		}

		// A client retrying at once finds the operation in progress.
		s2 := f.restart()
		register(s2)
		tr, err := s2.Post(context.Background(), sc.transfer)
		if tr.State.Open() && !errors.Is(err, operation.ErrInProgress) && !(tr.State == operation.Posted && err == nil) {
			t.Errorf("retry during the lease: Post() = %s, %v; want ErrInProgress", tr.State, err)
		}

		// The lease runs out; recovery on the restarted service finishes it.
		f.clock.Advance(operation.LeaseTTL(s2.Engine) + time.Second)
		if _, err := s2.Recover(context.Background()); err != nil {
			t.Fatalf("Recover() error = %v", err)
		}
	}

	// Whatever happened, asking again gives the final outcome.
	s3 := f.restart()
	register(s3)
	tr, err := s3.Post(context.Background(), sc.transfer)
	if !errors.Is(err, sc.wantErr) {
		t.Errorf("final Post() error = %v, want %v", err, sc.wantErr)
	}
	if tr.State.Open() {
		t.Errorf("final transfer still open in state %s", tr.State)
	}
	wantBalances(t, s3, sc.wantBalance)
	wantAuditBalanced(t, s3)
	if c != nil {
		status, settled := c.state()
		if status != sc.wantClaim || settled != sc.wantSettled {
			t.Errorf("claim = %s with %d settle(s), want %s with %d", status, settled, sc.wantClaim, sc.wantSettled)
		}
	}
	return steps
}

// TestCancelledOperationCanRunLater: a cancelled operation leaves no record,
// so the same id runs once its business document allows it, even with other
// postings (a task's refund is retried under the same id with the slot count
// it has by then).
func TestCancelledOperationCanRunLater(t *testing.T) {
	f := newFixture(t)
	c := newClaim("taken", "claim:other")
	f.svc.Handle(c)
	mustPost(t, f.svc, "task-fund:t", ledger.Move(ledger.Mint, "escrow:t", 5))
	req := transfer{ID: "claim:s1", Postings: ledger.Move("escrow:t", "user:w", 5)}
	if _, err := f.svc.Post(context.Background(), req); !errors.Is(err, operation.ErrCancelled) {
		t.Fatalf("Post() while taken = %v, want ErrCancelled", err)
	}
	if r := wantAuditBalanced(t, f.svc); r.Movements != 1 {
		t.Errorf("audit counts %d transfers, want only the funding: a cancel leaves none", r.Movements)
	}
	c.mu.Lock()
	c.status, c.op = "open", ""
	c.mu.Unlock()
	tr := mustPost(t, f.svc, "claim:s1", ledger.Move("escrow:t", "user:w", 4))
	if tr.Replayed || tr.State != operation.Posted {
		t.Errorf("Post() once open = %+v, want it run now", tr)
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:w": 4, "escrow:t": 1})
	wantAuditBalanced(t, f.svc)
}

func TestRetryAfterLeaseExpiryFinishesTransfer(t *testing.T) {
	f := newFixture(t)
	f.svc.InjectFailures(func(step string) error {
		if step == "applied:0" {
			return errCrash
		}
		return nil
	})
	req := transfer{ID: "signup:gil", Postings: ledger.Move(ledger.Mint, "user:gil", 10)}
	if _, err := f.svc.Post(context.Background(), req); !errors.Is(err, errCrash) {
		t.Fatalf("Post() error = %v, want the crash", err)
	}
	f.clock.Advance(operation.LeaseTTL(f.svc.Engine) + time.Second)
	s2 := f.restart()
	if _, err := s2.Post(context.Background(), req); err != nil {
		t.Fatalf("Post() after the lease expired error = %v, want it finished", err)
	}
	wantBalances(t, s2, map[string]money.Coins{"user:gil": 10})
	wantAuditBalanced(t, s2)
}

func TestRecoverFinishesManyTransfers(t *testing.T) {
	f := newFixture(t)
	f.svc.InjectFailures(func(step string) error {
		if step == "applied:1" {
			return errCrash
		}
		return nil
	})
	const n = 25 // several recovery batches of 10
	for i := range n {
		_, err := f.svc.Post(context.Background(), transfer{
			ID: fmt.Sprintf("signup:u%d", i), Postings: ledger.Move(ledger.Mint, fmt.Sprintf("user:u%d", i), 1),
		})
		if !errors.Is(err, errCrash) {
			t.Fatalf("Post() error = %v, want the crash", err)
		}
	}
	f.clock.Advance(operation.LeaseTTL(f.svc.Engine) + time.Second)
	s2 := f.restart()
	operation.SetRecoverBatch(s2.Engine, 10)
	done, err := s2.Recover(context.Background())
	if err != nil || done != n {
		t.Fatalf("Recover() = %d, %v; want %d, nil", done, err, n)
	}
	wantBalances(t, f.svc, map[string]money.Coins{ledger.Mint: -n, "user:u0": 1, "user:u24": 1})
	wantAuditBalanced(t, f.svc)
}

// TestRecoverAbandonedDoesNotWaitForLeases: after a crash of the only
// writer, what it left in flight is finished at once, without waiting for
// its leases to expire, which Recover waits for.
func TestRecoverAbandonedDoesNotWaitForLeases(t *testing.T) {
	f := newFixture(t)
	f.svc.InjectFailures(func(step string) error {
		if step == "applied:0" {
			return errCrash
		}
		return nil
	})
	if _, err := f.svc.Post(context.Background(), transfer{ID: "signup:u", Postings: ledger.Move(ledger.Mint, "user:u", 5)}); !errors.Is(err, errCrash) {
		t.Fatalf("Post() error = %v, want the crash", err)
	}
	s2 := f.restart()
	if done, err := s2.Recover(context.Background()); err != nil || done != 0 {
		t.Fatalf("Recover() under a live lease = %d, %v; want 0, nil", done, err)
	}
	if done, err := s2.Engine.RecoverAbandoned(context.Background()); err != nil || done != 1 {
		t.Fatalf("RecoverAbandoned() = %d, %v; want 1, nil", done, err)
	}
	wantBalances(t, f.svc, map[string]money.Coins{ledger.Mint: -5, "user:u": 5})
	wantAuditBalanced(t, f.svc)
}

// BenchmarkPost measures one operation with two postings (user to escrow)
// and no steps of its own on the embedded database: five write commands
// (the record, two postings, the end, the clean-up). Each one opens
// a new escrow account, so the accounts collection grows with b.N; run it
// with a fixed -benchtime Nx to compare like with like.
func BenchmarkPost(b *testing.B) {
	f := newFixture(b)
	mustPost(b, f.svc, "signup:buyer", ledger.Move(ledger.Mint, "user:buyer", money.Coins(b.N+1)))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_, err := f.svc.Post(ctx, transfer{
			ID: fmt.Sprintf("task-fund:%d", i), Postings: ledger.Move("user:buyer", fmt.Sprintf("escrow:%d", i), 1),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestRegisterRefusesDuplicates: each kind has one owner, and an operation
// runs only with a kind and data type the wiring registered.
func TestRegisterRefusesDuplicates(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.Register(operation.Kind[struct{}]{Name: "signup"}.Define()); err == nil {
		t.Errorf("Register() of signup twice: no error")
	}
	if err := f.svc.Register(operation.Kind[int]{}.Define()); err == nil {
		t.Errorf("Register() of a kind without a name: no error")
	}
	ctx := context.Background()
	for name, req := range map[string]operation.Request{
		"unknown kind":   {Kind: "nope", Ref: "1", Data: struct{}{}},
		"wrong data":     {Kind: "signup", Ref: "1", Data: 5},
		"no reference":   {Kind: "signup", Data: struct{}{}},
		"bad postings":   {Kind: "signup", Ref: "1", Data: struct{}{}, Postings: ledger.Move(ledger.Mint, "user:a", 0)},
		"single posting": {Kind: "signup", Ref: "1", Data: struct{}{}, Postings: []ledger.Posting{{Account: "user:a", Amount: 1}}},
	} {
		if _, err := f.svc.Run(ctx, req); err == nil {
			t.Errorf("%s: Run() error = nil", name)
		}
	}
	wantAuditBalanced(t, f.svc)
}

// parcel is data of a test kind that its steps check.
type parcel struct {
	To    string
	Count int
	When  time.Time
}

// TestDataReachesEveryStep: the kind's data, as the caller gave it, reaches
// each step, also when recovery reads it back after a crash; it is gone from
// the record once the operation ends.
func TestDataReachesEveryStep(t *testing.T) {
	want := parcel{To: "user:ann", Count: 3, When: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	for _, crashAt := range []string{"", "committed", "applied:1"} {
		t.Run("crash after "+crashAt, func(t *testing.T) {
			f := newFixture(t)
			var got []parcel
			var mu sync.Mutex
			seen := func(_ context.Context, op operation.Op[parcel]) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, op.Data)
				return nil
			}
			kind := operation.Kind[parcel]{
				Name:   "parcel",
				Commit: func(ctx context.Context, op operation.Op[parcel]) (bool, error) { return true, seen(ctx, op) },
				Settle: seen,
			}
			register := func(s service) {
				if err := s.Register(kind.Define()); err != nil {
					t.Fatal(err)
				}
			}
			register(f.svc)
			f.svc.InjectFailures(func(step string) error {
				if step == crashAt {
					return errCrash
				}
				return nil
			})
			_, err := kind.Run(context.Background(), f.svc, "p1", ledger.Move(ledger.Mint, "user:ann", 3), want)
			if crashAt != "" {
				if !errors.Is(err, errCrash) {
					t.Fatalf("Run() error = %v, want the crash", err)
				}
				f.clock.Advance(operation.LeaseTTL(f.svc.Engine) + time.Second)
				s2 := f.restart()
				register(s2)
				if _, err := s2.Recover(context.Background()); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) < 2 {
				t.Fatalf("steps saw %v, want commit and settle", got)
			}
			for _, p := range got {
				if !p.When.Equal(want.When) || p.To != want.To || p.Count != want.Count {
					t.Errorf("a step saw %+v, want %+v", p, want)
				}
			}
			rec, err := storage.NewOperationStore(f.db).Get(context.Background(), "parcel:p1")
			if err != nil || rec.Data != nil || rec.State != operation.Posted {
				t.Errorf("record after the end = %+v, %v; want posted, without data", rec, err)
			}
			wantAuditBalanced(t, f.svc)
		})
	}
}

// TestRetryKindRunsAgainAfterFailing: an operation of a kind that allows it
// runs again after failing for lack of coins, with the postings asked for
// now, and still moves coins once, however many calls ask at once.
func TestRetryKindRunsAgainAfterFailing(t *testing.T) {
	f := newFixture(t)
	kind := operation.Kind[struct{}]{Name: "retried", Retry: true}
	if err := f.svc.Register(kind.Define()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(ps []ledger.Posting) (operation.Result, error) {
		return kind.Run(ctx, f.svc, "r1", ps, struct{}{})
	}
	mustPost(t, f.svc, "signup:poor", ledger.Move(ledger.Mint, "user:poor", 5))
	fromPoor := ledger.Move("user:poor", "user:w", 10)
	for i := range 2 {
		if _, err := run(fromPoor); !errors.Is(err, ledger.ErrInsufficientCoins) {
			t.Fatalf("run %d while short: error = %v, want ErrInsufficientCoins", i+1, err)
		}
	}
	// Other postings now: nothing moved the first time, so they may differ.
	mustPost(t, f.svc, "signup:rich", ledger.Move(ledger.Mint, "user:rich", 10))
	fromRich := ledger.Move("user:rich", "user:w", 10)
	var ran, replayed atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			res, err := run(fromRich)
			switch {
			case err == nil && !res.Replayed:
				ran.Add(1)
			case err == nil:
				replayed.Add(1)
			case !errors.Is(err, operation.ErrInProgress):
				t.Errorf("run() error = %v", err)
			}
		})
	}
	wg.Wait()
	if ran.Load() != 1 {
		t.Errorf("%d calls ran the operation, %d replayed it; want one to run", ran.Load(), replayed.Load())
	}
	wantBalances(t, f.svc, map[string]money.Coins{"user:w": 10, "user:rich": 0, "user:poor": 5})
	if res, err := run(fromRich); err != nil || !res.Replayed || res.State != operation.Posted {
		t.Errorf("run() once posted = %+v, %v; want the posted operation replayed", res, err)
	}
	wantAuditBalanced(t, f.svc)
}

// TestRetryAfterACrashInTheRetry: a reopened operation that a crash
// interrupts is finished by recovery, like any other.
func TestRetryAfterACrashInTheRetry(t *testing.T) {
	for _, crashAt := range []string{"reopened", "applied:0"} {
		t.Run(crashAt, func(t *testing.T) {
			f := newFixture(t)
			kind := operation.Kind[struct{}]{Name: "retried", Retry: true}
			register := func(s service) {
				if err := s.Register(kind.Define()); err != nil {
					t.Fatal(err)
				}
			}
			register(f.svc)
			ctx := context.Background()
			move := ledger.Move("user:a", "user:w", 10)
			if _, err := kind.Run(ctx, f.svc, "r1", move, struct{}{}); !errors.Is(err, ledger.ErrInsufficientCoins) {
				t.Fatalf("first run error = %v, want ErrInsufficientCoins", err)
			}
			mustPost(t, f.svc, "signup:a", ledger.Move(ledger.Mint, "user:a", 10))
			f.svc.InjectFailures(func(step string) error {
				if step == crashAt {
					return errCrash
				}
				return nil
			})
			if _, err := kind.Run(ctx, f.svc, "r1", move, struct{}{}); !errors.Is(err, errCrash) {
				t.Fatalf("retry error = %v, want the crash", err)
			}
			f.clock.Advance(operation.LeaseTTL(f.svc.Engine) + time.Second)
			s2 := f.restart()
			register(s2)
			if _, err := s2.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			wantBalances(t, s2, map[string]money.Coins{"user:a": 0, "user:w": 10})
			wantAuditBalanced(t, s2)
		})
	}
}

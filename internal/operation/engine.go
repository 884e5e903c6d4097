package operation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"microtask/internal/ledger"
)

// DefaultLeaseTTL is how long a runner owns an open operation before Recover
// may take it over. Steps take milliseconds; the lease only has to outlast a
// stalled process, and a runner renews it when half of it has gone.
const DefaultLeaseTTL = time.Minute

// errLeaseLost means another runner took over an operation whose lease this
// runner let expire; this runner must stop touching it.
var errLeaseLost = errors.New("lease on operation lost")

// Engine runs operations, and recovers those a crash interrupted. It is the
// one Runner.
type Engine struct {
	store    Store
	ledger   Ledger
	log      *slog.Logger
	now      func() time.Time
	leaseTTL time.Duration
	batch    int // operations Recover reads at a time
	kinds    map[string]Definition

	mu       sync.Mutex
	inflight map[string]chan struct{} // operations running in this process

	failpoint func(step string) error // see InjectFailures
	observer  Observer
}

// Observer learns how operations and recovery rounds end, for metrics.
// *metrics.Metrics implements it.
type Observer interface {
	// OperationRan is called when Run returns: kind, its outcome (posted,
	// replayed, failed, cancelled, in_progress, reused or error) and how
	// long it took.
	OperationRan(kind, outcome string, d time.Duration)
	// RecoveryRan is called after each round of RunRecovery.
	RecoveryRan(recovered int, err error, d time.Duration)
}

type noObserver struct{}

func (noObserver) OperationRan(string, string, time.Duration) {}
func (noObserver) RecoveryRan(int, error, time.Duration)      {}

// NewEngine returns an Engine keeping its records in store, moving coins
// in l and reporting operations and recovery rounds to o (nil: to no one).
// now may be nil for time.Now; tests pass a fake clock.
func NewEngine(store Store, l Ledger, o Observer, log *slog.Logger, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	if o == nil {
		o = noObserver{}
	}
	return &Engine{
		store:    store,
		ledger:   l,
		log:      log,
		now:      now,
		leaseTTL: DefaultLeaseTTL,
		batch:    100,
		kinds:    map[string]Definition{},
		inflight: map[string]chan struct{}{},
		observer: o,
	}
}

// Register adds kinds of operation, while wiring, before any runs. A name
// registered twice is an error: each kind has one owner.
func (e *Engine) Register(defs ...Definition) error {
	for _, d := range defs {
		if d.name == "" {
			return errors.New("operation kind without a name")
		}
		if _, dup := e.kinds[d.name]; dup {
			return fmt.Errorf("operation kind %q registered twice", d.name)
		}
		e.kinds[d.name] = d
	}
	return nil
}

// InjectFailures makes the runner call f after every step of the protocol
// ("started", "committed", "applied:0", "settled", ...); an error from f
// stops the run there, as a crash would, leaving the operation for recovery.
// Tests use it to prove that every interruption is recovered; nil turns it
// off. Call it before operations run.
func (e *Engine) InjectFailures(f func(step string) error) {
	e.failpoint = f
}

// clock returns the current time as the database stores it (UTC,
// milliseconds), so that leases read back compare equal to those written.
func (e *Engine) clock() time.Time {
	return e.now().UTC().Truncate(time.Millisecond)
}

// Run runs an operation and returns how it ended. Running the same id again
// returns the first outcome without doing anything again: nil when posted,
// ledger.ErrInsufficientCoins when it failed, ErrCancelled when its commit
// no longer applied, ErrReused when the postings differ, and ErrInProgress
// while another process is running it.
//
// Once the operation is recorded it is finished even if ctx is cancelled: a
// client hanging up must not leave it half done until recovery.
func (e *Engine) Run(ctx context.Context, req Request) (Result, error) {
	start := time.Now()
	res, err := e.runRequest(ctx, req)
	e.observer.OperationRan(req.Kind, outcomeName(res, err), time.Since(start))
	return res, err
}

// outcomeName names how Run ended, for the observer.
func outcomeName(res Result, err error) string {
	switch {
	case err == nil && res.Replayed:
		return "replayed"
	case err == nil:
		return "posted"
	case errors.Is(err, ledger.ErrInsufficientCoins):
		return "failed"
	case errors.Is(err, ErrCancelled):
		return "cancelled"
	case errors.Is(err, ErrInProgress):
		return "in_progress"
	case errors.Is(err, ErrReused):
		return "reused"
	}
	return "error"
}

func (e *Engine) runRequest(ctx context.Context, req Request) (Result, error) {
	def, ok := e.kinds[req.Kind]
	if !ok {
		return Result{}, fmt.Errorf("operation kind %q is not registered", req.Kind)
	}
	if req.Ref == "" {
		return Result{}, fmt.Errorf("operation of kind %s without a reference", req.Kind)
	}
	if got := reflect.TypeOf(req.Data); got != def.dataType {
		return Result{}, fmt.Errorf("operation %s: data of type %v, want %v", req.ID(), got, def.dataType)
	}
	if err := ledger.Validate(req.Postings); err != nil {
		return Result{}, fmt.Errorf("operation %s: %w", req.ID(), err)
	}
	req.Postings = ledger.Ordered(req.Postings)
	for {
		res, done, err := e.try(ctx, req, def)
		if done {
			return res, err
		}
	}
}

// try is one attempt of Run. done is false when the operation it waited for
// or found was cancelled meanwhile, which leaves no record, or started again
// by another caller: Run then tries the operation itself.
func (e *Engine) try(ctx context.Context, req Request, def Definition) (_ Result, done bool, err error) {
	id := req.ID()
	release, busy := e.claim(id)
	if busy != nil {
		// The same operation is running in this process: wait for its result.
		select {
		case <-busy:
		case <-ctx.Done():
			return Result{}, true, ctx.Err()
		}
		rec, err := e.store.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return Result{}, false, nil
		}
		if err != nil {
			return Result{}, true, fmt.Errorf("read operation %s: %w", id, err)
		}
		if rec.State.Open() {
			// The run waited for was cancelled, and another caller woken
			// with this one has started the operation again: wait for
			// that run instead (if it is another process's, the next
			// attempt says so).
			return Result{}, false, nil
		}
		res, err := existing(rec, req)
		return res, true, err
	}
	defer release()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.leaseTTL/2)
	defer cancel()
	// The steps wait for the disk once, at the end, rather than each for
	// the previous: they reach it in their order all the same. The claim
	// is released after, so that a caller waiting for this run reads what
	// is durable.
	ctx, flush := e.store.Deferred(ctx)
	defer func() {
		if ferr := flush(); ferr != nil && err == nil {
			err = fmt.Errorf("operation %s: %w", id, ferr)
		}
	}()

	now := e.clock()
	rec := Record{ID: id, Postings: req.Postings, Data: inMemory{req.Data}, State: Pending,
		LeaseUntil: now.Add(e.leaseTTL), CreatedAt: now, UpdatedAt: now}
	err = e.store.Insert(ctx, rec, req.Data)
	if errors.Is(err, ErrExists) {
		found, err := e.store.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return Result{}, false, nil // cancelled and forgotten since
		}
		if err != nil {
			return Result{}, true, fmt.Errorf("read operation %s: %w", id, err)
		}
		if found.State == Failed && def.retry {
			// Nothing moved: run it again, as asked now, unless a concurrent
			// call reopened it first (then the next attempt finds it running).
			ok, err := e.store.Reopen(ctx, rec, req.Data)
			if err != nil {
				return Result{}, true, fmt.Errorf("reopen operation %s: %w", id, err)
			}
			if !ok {
				return Result{}, false, nil
			}
			if err := e.step("reopened"); err != nil {
				return resultOf(rec, false), true, err
			}
			res, err := e.run(ctx, rec)
			return res, true, err
		}
		if found.State.Open() && !found.LeaseUntil.After(now) && samePostings(found.Postings, req.Postings) {
			// Abandoned by a crashed runner: finish it here rather than wait
			// for recovery.
			found, ok, err := e.takeLease(ctx, found)
			if err != nil || !ok {
				return resultOf(found, false), true, errors.Join(err, ErrInProgress)
			}
			res, err := e.run(ctx, found)
			return res, true, err
		}
		res, err := existing(found, req)
		return res, true, err
	}
	if err != nil {
		return Result{}, true, fmt.Errorf("start operation %s: %w", id, err)
	}
	if err := e.step("started"); err != nil {
		return resultOf(rec, false), true, err
	}
	res, err := e.run(ctx, rec)
	return res, true, err
}

func resultOf(rec Record, replayed bool) Result {
	return Result{ID: rec.ID, State: rec.State, Replayed: replayed, At: rec.CreatedAt}
}

// existing returns the outcome of an operation found already recorded when
// asked to run req.
func existing(rec Record, req Request) (Result, error) {
	if !samePostings(rec.Postings, req.Postings) {
		return resultOf(rec, true), ErrReused
	}
	return resultOf(rec, true), outcome(rec.State)
}

func samePostings(a, b []ledger.Posting) bool {
	return slices.Equal(ledger.Ordered(a), ledger.Ordered(b))
}

// outcome turns an operation's state into its caller's error.
func outcome(s State) error {
	switch s {
	case Posted:
		return nil
	case Failed:
		return ledger.ErrInsufficientCoins
	case Cancelled:
		return ErrCancelled
	default:
		return ErrInProgress
	}
}

// claim marks op as running in this process. If it already is, claim returns
// a channel closed when that run ends.
func (e *Engine) claim(op string) (release func(), busy <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ch, ok := e.inflight[op]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	e.inflight[op] = ch
	return func() {
		e.mu.Lock()
		delete(e.inflight, op)
		e.mu.Unlock()
		close(ch)
	}, nil
}

// takeLease takes over an operation whose lease has expired. False if
// another runner took it first.
func (e *Engine) takeLease(ctx context.Context, rec Record) (Record, bool, error) {
	next := e.clock().Add(e.leaseTTL)
	ok, err := e.store.RenewLease(ctx, rec.ID, rec.LeaseUntil, next)
	if err != nil {
		return rec, false, fmt.Errorf("take over operation %s: %w", rec.ID, err)
	}
	if !ok {
		return rec, false, nil
	}
	rec.LeaseUntil = next
	return rec, true, nil
}

// keepLease renews the lease when half of it has gone, and fails if another
// runner has taken the operation over in the meantime. Runners check it
// before every step, so a runner that stalled past its lease stops instead of
// repeating a posting that another runner has already settled.
func (e *Engine) keepLease(ctx context.Context, rec *Record) error {
	now := e.clock()
	if rec.LeaseUntil.Sub(now) > e.leaseTTL/2 {
		return nil
	}
	next := now.Add(e.leaseTTL)
	ok, err := e.store.RenewLease(ctx, rec.ID, rec.LeaseUntil, next)
	if err != nil {
		return fmt.Errorf("renew lease on %s: %w", rec.ID, err)
	}
	if !ok {
		return fmt.Errorf("operation %s: %w", rec.ID, errLeaseLost)
	}
	rec.LeaseUntil = next
	return nil
}

func (e *Engine) step(name string) error {
	if e.failpoint == nil {
		return nil
	}
	return e.failpoint(name)
}

// run takes an operation in flight, whose lease this runner holds, from its
// current state to its end. Every step is safe to repeat, so run may start
// from any state a crash left behind.
func (e *Engine) run(ctx context.Context, rec Record) (Result, error) {
	def, ok := e.kinds[rec.Kind()]
	if !ok {
		return resultOf(rec, false), fmt.Errorf("operation %s: kind %q is not registered", rec.ID, rec.Kind())
	}
	ended := false // by another runner, meanwhile
	for rec.State.Open() {
		if err := e.keepLease(ctx, &rec); err != nil {
			return resultOf(rec, false), err
		}
		var err error
		switch rec.State {
		case Pending:
			ended, err = e.apply(ctx, &rec, def)
		case Failing:
			ended, err = e.undo(ctx, &rec, def)
		}
		if err != nil {
			return resultOf(rec, false), err
		}
	}
	if rec.State == Posted && !ended {
		e.clear(ctx, rec) // another runner that ended it clears it too
	}
	return resultOf(rec, ended), outcome(rec.State)
}

// apply commits the business change, applies the postings and runs the
// follow-ups, ending in Posted, Failing or Cancelled.
func (e *Engine) apply(ctx context.Context, rec *Record, def Definition) (ended bool, _ error) {
	if def.commit != nil {
		ok, err := def.commit(ctx, *rec)
		if err != nil {
			return false, fmt.Errorf("commit %s: %w", rec.ID, err)
		}
		if err := e.step("committed"); err != nil {
			return false, err
		}
		if !ok {
			return false, e.cancel(ctx, rec)
		}
	}
	for i, p := range rec.Postings {
		res, err := e.ledger.Apply(ctx, rec.ID, p, e.clock())
		if err != nil {
			return false, fmt.Errorf("apply %s to %s: %w", rec.ID, p.Account, err)
		}
		if err := e.step(fmt.Sprintf("applied:%d", i)); err != nil {
			return false, err
		}
		if res == ledger.Short {
			return e.transition(ctx, rec, Failing)
		}
	}
	// Every posting is applied: nothing can make the operation fail now, so
	// its follow-ups may run before it is marked posted.
	if def.settle != nil {
		if err := def.settle(ctx, *rec); err != nil {
			return false, fmt.Errorf("settle %s: %w", rec.ID, err)
		}
		if err := e.step("settled"); err != nil {
			return false, err
		}
	}
	return e.transition(ctx, rec, Posted)
}

// clear takes a posted operation off its accounts' pending lists. It is
// clean-up, not money: if it fails, the operation stands and Recover clears
// the lists later.
func (e *Engine) clear(ctx context.Context, rec Record) {
	if len(rec.Postings) == 0 {
		return
	}
	accounts := make([]string, len(rec.Postings))
	for i, p := range rec.Postings {
		accounts[i] = p.Account
	}
	if err := e.ledger.Clear(ctx, rec.ID, accounts); err != nil {
		e.log.WarnContext(ctx, "clear pending operation; recovery will", "op", rec.ID, "err", err)
	}
}

// undo reverses the postings a failing operation applied and the business
// change, and ends it as Failed.
func (e *Engine) undo(ctx context.Context, rec *Record, def Definition) (ended bool, _ error) {
	for i := len(rec.Postings) - 1; i >= 0; i-- {
		if err := e.ledger.Undo(ctx, rec.ID, rec.Postings[i]); err != nil {
			return false, fmt.Errorf("undo %s on %s: %w", rec.ID, rec.Postings[i].Account, err)
		}
		if err := e.step(fmt.Sprintf("undone:%d", i)); err != nil {
			return false, err
		}
	}
	if def.revert != nil {
		if err := def.revert(ctx, *rec); err != nil {
			return false, fmt.Errorf("revert %s: %w", rec.ID, err)
		}
		if err := e.step("reverted"); err != nil {
			return false, err
		}
	}
	return e.transition(ctx, rec, Failed)
}

// cancel ends an operation whose business change no longer applies.
// Nothing was applied, so it leaves no record, and its id may be used again.
func (e *Engine) cancel(ctx context.Context, rec *Record) error {
	if err := e.store.Delete(ctx, rec.ID, rec.LeaseUntil); err != nil {
		return fmt.Errorf("forget cancelled %s: %w", rec.ID, err)
	}
	rec.State = Cancelled
	return e.step("forgotten")
}

// transition moves an operation to state to, which ends it when to is
// final. If it is no longer in its state under this runner's lease, another
// runner has taken it over: rec becomes what that runner left, ended is true
// if that runner ended it, and this one stops otherwise.
func (e *Engine) transition(ctx context.Context, rec *Record, to State) (ended bool, _ error) {
	now := e.clock()
	ok, err := e.store.SetState(ctx, rec.ID, rec.State, to, rec.LeaseUntil, now)
	if err != nil {
		return false, fmt.Errorf("mark %s %s: %w", rec.ID, to, err)
	}
	if !ok {
		found, err := e.store.Get(ctx, rec.ID)
		if err != nil {
			return false, fmt.Errorf("read operation %s: %w", rec.ID, err)
		}
		*rec = found
		if found.State.Open() {
			return false, fmt.Errorf("operation %s: %w", rec.ID, errLeaseLost)
		}
		return true, nil
	}
	rec.State, rec.UpdatedAt = to, now
	if !to.Open() {
		rec.Data, rec.LeaseUntil = nil, time.Time{}
	}
	return false, e.step("state:" + string(to))
}

// Recover resumes every operation in flight whose lease has expired, then
// takes off the accounts' pending lists the operations that have ended,
// which a crash between an operation's end and its clean-up leaves behind.
// It returns how many operations it finished. Operations that end failed or
// cancelled count as finished; errors are those of operations that could not
// be finished now (they stay open for the next round).
func (e *Engine) Recover(ctx context.Context) (int, error) {
	return e.recover(ctx, e.clock())
}

// RecoverAbandoned finishes every operation in flight at once, whatever
// its lease: for a process that knows nothing else runs them, such as the
// only writer of a database, just started after a crash, which need not
// wait for the dead runner's leases to expire.
func (e *Engine) RecoverAbandoned(ctx context.Context) (int, error) {
	return e.recover(ctx, e.clock().Add(100*365*24*time.Hour))
}

// recover finishes the operations in flight whose lease ends before the
// given time.
func (e *Engine) recover(ctx context.Context, leaseBefore time.Time) (int, error) {
	var (
		done int
		errs []error
		seen = map[string]bool{}
	)
	for {
		open, err := e.store.Expired(ctx, leaseBefore, e.batch)
		if err != nil {
			return done, fmt.Errorf("list operations in flight: %w", err)
		}
		fresh := 0
		for _, rec := range open {
			if seen[rec.ID] {
				continue // could not be finished earlier in this round
			}
			seen[rec.ID] = true
			fresh++
			finished, err := e.recoverOne(ctx, rec)
			if err != nil {
				errs = append(errs, err)
			}
			if finished {
				done++
			}
		}
		if len(open) < e.batch || fresh == 0 {
			break
		}
	}
	if err := e.clearEnded(ctx); err != nil {
		errs = append(errs, err)
	}
	return done, errors.Join(errs...)
}

// recoverOne takes over one abandoned operation and runs it to a final
// state. False if someone else is running it.
func (e *Engine) recoverOne(ctx context.Context, rec Record) (bool, error) {
	release, busy := e.claim(rec.ID)
	if busy != nil {
		return false, nil // running in this process right now
	}
	defer release()
	rec, ok, err := e.takeLease(ctx, rec)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, nil // another instance took it
	}
	res, err := e.run(ctx, rec)
	if err != nil && !errors.Is(err, ledger.ErrInsufficientCoins) && !errors.Is(err, ErrCancelled) {
		return false, fmt.Errorf("recover operation %s: %w", rec.ID, err)
	}
	e.log.InfoContext(ctx, "operation recovered", "op", rec.ID, "state", string(res.State))
	return true, nil
}

// clearEnded takes off the accounts' pending lists the operations that have
// ended. An operation in flight stays; one that does not exist stays too, for
// the audit to report.
func (e *Engine) clearEnded(ctx context.Context) error {
	accounts, err := e.ledger.WithPending(ctx, e.batch)
	if err != nil {
		return fmt.Errorf("list accounts with pending operations: %w", err)
	}
	ended := map[string][]string{} // op -> accounts
	state := map[string]State{}
	for _, a := range accounts {
		for _, op := range a.Pending {
			st, known := state[op]
			if !known {
				rec, err := e.store.Get(ctx, op)
				switch {
				case errors.Is(err, ErrNotFound):
				case err != nil:
					return fmt.Errorf("read operation %s: %w", op, err)
				default:
					st = rec.State
				}
				state[op] = st
			}
			if st == Posted || st == Failed {
				ended[op] = append(ended[op], a.Name)
			}
		}
	}
	var errs []error
	for op, accts := range ended {
		if err := e.ledger.Clear(ctx, op, accts); err != nil {
			errs = append(errs, fmt.Errorf("clear %s: %w", op, err))
		}
	}
	return errors.Join(errs...)
}

// RunRecovery calls Recover now and then every interval until ctx is done.
func (e *Engine) RunRecovery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := e.Recover(ctx)
		if ctx.Err() == nil {
			e.observer.RecoveryRan(n, err, time.Since(start))
		}
		if err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "operation recovery", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

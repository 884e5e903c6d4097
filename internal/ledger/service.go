package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"microtask/internal/money"
)

// DefaultLeaseTTL is how long a runner owns an open transfer before Recover
// may take it over. Steps take milliseconds; the lease only has to outlast a
// stalled process, and a runner renews it when half of it has gone.
const DefaultLeaseTTL = time.Minute

// Service runs transfers, recovers interrupted ones and audits the ledger.
type Service struct {
	store    Store
	log      *slog.Logger
	now      func() time.Time
	leaseTTL time.Duration
	batch    int // transfers Recover reads at a time
	hooks    map[string]Hook
	checks   []namedCheck

	mu       sync.Mutex
	inflight map[string]chan struct{} // operations running in this process

	failpoint func(step string) error // see InjectFailures
}

// NewService returns a Service. now may be nil for time.Now; tests pass a
// fake clock.
func NewService(store Store, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{
		store:    store,
		log:      log,
		now:      now,
		leaseTTL: DefaultLeaseTTL,
		batch:    100,
		hooks:    map[string]Hook{},
		inflight: map[string]chan struct{}{},
	}
}

// InjectFailures makes the service call f after every step of the transfer
// protocol ("started", "committed", "applied:0", "settled", ...); an error
// from f stops the run there, as a crash would, leaving the transfer for
// recovery. Tests use it to prove that every interruption is recovered; nil
// turns it off. Call it before transfers run.
func (s *Service) InjectFailures(f func(step string) error) {
	s.failpoint = f
}

// Handle registers the hook of an operation kind (the part of transfer IDs
// before the colon). Call it while wiring, before any transfer runs.
func (s *Service) Handle(kind string, h Hook) {
	s.hooks[kind] = h
}

// clock returns the current time as the database stores it (UTC,
// milliseconds), so that leases read back compare equal to those written.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

// Post runs transfer t (its ID, Postings and Meta; the other fields are
// ignored) and returns it as it ended. Posting the same ID again returns the
// first outcome without moving anything: nil when posted,
// ErrInsufficientCoins when it failed, ErrCancelled when the hook cancelled it,
// ErrOperationReused when the postings differ, and ErrInProgress while another
// process is running it.
//
// Once the transfer is written it is finished even if ctx is cancelled: a
// client hanging up must not leave coins half-moved until recovery.
func (s *Service) Post(ctx context.Context, t Transfer) (Transfer, error) {
	if err := t.validate(); err != nil {
		return Transfer{}, err
	}
	t.Postings = ordered(t.Postings)

	for {
		rec, done, err := s.post(ctx, t)
		if done {
			return rec, err
		}
	}
}

// post is one attempt of Post. done is false when the transfer it waited for
// or found was cancelled meanwhile, which leaves no record: Post then tries
// the operation itself.
func (s *Service) post(ctx context.Context, t Transfer) (_ Transfer, done bool, _ error) {
	release, busy := s.claim(t.ID)
	if busy != nil {
		// The same operation is running in this process: wait for its result.
		select {
		case <-busy:
		case <-ctx.Done():
			return Transfer{}, true, ctx.Err()
		}
		rec, err := s.store.Get(ctx, t.ID)
		if errors.Is(err, ErrTransferNotFound) {
			return Transfer{}, false, nil
		}
		if err != nil {
			return Transfer{}, true, fmt.Errorf("read transfer %s: %w", t.ID, err)
		}
		rec, err = s.existing(rec, t)
		return rec, true, err
	}
	defer release()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.leaseTTL/2)
	defer cancel()

	now := s.clock()
	_, t.Hooked = s.hooks[t.Kind()]
	t.State, t.Open = Pending, true
	t.LeaseUntil, t.CreatedAt, t.UpdatedAt = now.Add(s.leaseTTL), now, now
	err := s.store.Insert(ctx, t)
	if errors.Is(err, ErrTransferExists) {
		rec, err := s.store.Get(ctx, t.ID)
		if errors.Is(err, ErrTransferNotFound) {
			return Transfer{}, false, nil // cancelled and forgotten since
		}
		if err != nil {
			return Transfer{}, true, fmt.Errorf("read transfer %s: %w", t.ID, err)
		}
		if rec.Open && !rec.LeaseUntil.After(now) && samePostings(rec, t) {
			// Abandoned by a crashed runner: finish it here rather than wait
			// for recovery.
			rec, ok, err := s.takeLease(ctx, rec)
			if err != nil || !ok {
				return rec, true, errors.Join(err, ErrInProgress)
			}
			rec, err = s.run(ctx, rec)
			return rec, true, err
		}
		rec, err = s.existing(rec, t)
		return rec, true, err
	}
	if err != nil {
		return Transfer{}, true, fmt.Errorf("start transfer %s: %w", t.ID, err)
	}
	if err := s.step("started"); err != nil {
		return t, true, err
	}
	rec, err := s.run(ctx, t)
	return rec, true, err
}

// existing returns the outcome of a transfer found already recorded when
// asked to post req.
func (s *Service) existing(rec, req Transfer) (Transfer, error) {
	rec.Replayed = true
	if !samePostings(rec, req) {
		return rec, ErrOperationReused
	}
	return outcome(rec)
}

func samePostings(a, b Transfer) bool {
	return slices.Equal(ordered(a.Postings), ordered(b.Postings))
}

// claim marks op as running in this process. If it already is, claim returns
// a channel closed when that run ends.
func (s *Service) claim(op string) (release func(), busy <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.inflight[op]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	s.inflight[op] = ch
	return func() {
		s.mu.Lock()
		delete(s.inflight, op)
		s.mu.Unlock()
		close(ch)
	}, nil
}

// takeLease takes over a transfer whose lease has expired. False if another
// runner took it first.
func (s *Service) takeLease(ctx context.Context, t Transfer) (Transfer, bool, error) {
	next := s.clock().Add(s.leaseTTL)
	ok, err := s.store.RenewLease(ctx, t.ID, t.LeaseUntil, next)
	if err != nil || !ok {
		return t, false, err
	}
	t.LeaseUntil = next
	return t, true, nil
}

// keepLease renews the lease when half of it has gone, and fails if another
// runner has taken the transfer over in the meantime. Runners check it before
// every step, so a runner that stalled past its lease stops instead of
// repeating a posting that another runner has already settled.
func (s *Service) keepLease(ctx context.Context, t *Transfer) error {
	now := s.clock()
	if t.LeaseUntil.Sub(now) > s.leaseTTL/2 {
		return nil
	}
	next := now.Add(s.leaseTTL)
	ok, err := s.store.RenewLease(ctx, t.ID, t.LeaseUntil, next)
	if err != nil {
		return fmt.Errorf("renew lease on %s: %w", t.ID, err)
	}
	if !ok {
		return fmt.Errorf("transfer %s: %w", t.ID, errLeaseLost)
	}
	t.LeaseUntil = next
	return nil
}

func (s *Service) step(name string) error {
	if s.failpoint == nil {
		return nil
	}
	return s.failpoint(name)
}

// run takes a transfer in flight, whose lease this runner holds, from its
// current state to its end. Every step is safe to repeat, so run may start
// from any state a crash left behind.
func (s *Service) run(ctx context.Context, t Transfer) (Transfer, error) {
	hook, hasHook := s.hooks[t.Kind()]
	if t.Hooked && !hasHook {
		return t, fmt.Errorf("transfer %s: no hook registered for kind %q", t.ID, t.Kind())
	}
	for t.Open {
		if err := s.keepLease(ctx, &t); err != nil {
			return t, err
		}
		var err error
		switch t.State {
		case Pending:
			err = s.apply(ctx, &t, hook)
		case Failing:
			err = s.undo(ctx, &t, hook)
		default:
			err = fmt.Errorf("transfer %s in unknown state %q", t.ID, t.State)
		}
		if err != nil {
			return t, err
		}
	}
	if t.State == Posted && !t.Replayed {
		s.clear(ctx, t)
	}
	return outcome(t)
}

// apply commits the business change, applies the postings and runs the
// follow-ups, ending in Posted, Failing or Cancelled.
func (s *Service) apply(ctx context.Context, t *Transfer, hook Hook) error {
	if t.Hooked && hook.Commit != nil {
		ok, err := hook.Commit(ctx, *t)
		if err != nil {
			return fmt.Errorf("commit %s: %w", t.ID, err)
		}
		if err := s.step("committed"); err != nil {
			return err
		}
		if !ok {
			return s.cancel(ctx, t)
		}
	}
	for i, p := range t.Postings {
		res, err := s.store.ApplyPosting(ctx, t.ID, p, mayGoNegative(p.Account), s.clock())
		if err != nil {
			return fmt.Errorf("apply %s to %s: %w", t.ID, p.Account, err)
		}
		if err := s.step(fmt.Sprintf("applied:%d", i)); err != nil {
			return err
		}
		if res == Short {
			return s.transition(ctx, t, Failing)
		}
	}
	// Every posting is applied: nothing can make the transfer fail now, so
	// its follow-ups may run before it is marked posted.
	if t.Hooked && hook.Settle != nil {
		if err := hook.Settle(ctx, *t); err != nil {
			return fmt.Errorf("settle %s: %w", t.ID, err)
		}
		if err := s.step("settled"); err != nil {
			return err
		}
	}
	return s.transition(ctx, t, Posted)
}

// clear removes a posted transfer's operation from its accounts' pending
// lists. It is clean-up, not money: if it fails, the transfer stands and
// Recover clears the lists later.
func (s *Service) clear(ctx context.Context, t Transfer) {
	if len(t.Postings) == 0 {
		return
	}
	accounts := make([]string, len(t.Postings))
	for i, p := range t.Postings {
		accounts[i] = p.Account
	}
	if err := s.store.ClearPending(ctx, t.ID, accounts); err != nil {
		s.log.WarnContext(ctx, "clear pending operation; recovery will", "op", t.ID, "err", err)
	}
}

// undo reverses the postings a failing transfer applied and the business
// change, and ends it as Failed.
func (s *Service) undo(ctx context.Context, t *Transfer, hook Hook) error {
	for i := len(t.Postings) - 1; i >= 0; i-- {
		if err := s.store.UndoPosting(ctx, t.ID, t.Postings[i]); err != nil {
			return fmt.Errorf("undo %s on %s: %w", t.ID, t.Postings[i].Account, err)
		}
		if err := s.step(fmt.Sprintf("undone:%d", i)); err != nil {
			return err
		}
	}
	if t.Hooked && hook.Revert != nil {
		if err := hook.Revert(ctx, *t); err != nil {
			return fmt.Errorf("revert %s: %w", t.ID, err)
		}
		if err := s.step("reverted"); err != nil {
			return err
		}
	}
	return s.transition(ctx, t, Failed)
}

// cancel ends a transfer whose business change no longer applies. Nothing
// was applied, so it leaves no record, and its id may be used again.
func (s *Service) cancel(ctx context.Context, t *Transfer) error {
	if err := s.store.Delete(ctx, t.ID, t.LeaseUntil); err != nil {
		return fmt.Errorf("forget cancelled %s: %w", t.ID, err)
	}
	t.State, t.Open = Cancelled, false
	return s.step("forgotten")
}

// transition moves a transfer to state to, which ends it when to is final.
// If it is no longer in its state under this runner's lease, another runner
// has taken it over: t becomes what that runner left, and this one stops
// unless the transfer has ended.
func (s *Service) transition(ctx context.Context, t *Transfer, to State) error {
	now := s.clock()
	ok, err := s.store.SetState(ctx, t.ID, t.State, to, t.LeaseUntil, now)
	if err != nil {
		return fmt.Errorf("mark %s %s: %w", t.ID, to, err)
	}
	if !ok {
		rec, err := s.store.Get(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("read transfer %s: %w", t.ID, err)
		}
		*t = rec
		if rec.Open {
			return fmt.Errorf("transfer %s: %w", t.ID, errLeaseLost)
		}
		t.Replayed = true // another runner ended it; its clean-up is its own
		return nil
	}
	t.State, t.UpdatedAt = to, now
	t.Open = to.open()
	if !t.Open {
		t.Private, t.LeaseUntil = nil, time.Time{}
	}
	return s.step("state:" + string(to))
}

// Recover resumes every transfer in flight whose lease has expired, then
// clears the pending lists of accounts of the operations that have ended,
// which a crash between a transfer's end and its clean-up leaves behind. It
// returns how many transfers it finished. Transfers that end failed or
// cancelled count as finished; errors are those of transfers that could not
// be finished now (they stay open for the next round).
func (s *Service) Recover(ctx context.Context) (int, error) {
	var (
		done int
		errs []error
		seen = map[string]bool{}
	)
	for {
		open, err := s.store.Expired(ctx, s.clock(), s.batch)
		if err != nil {
			return done, fmt.Errorf("list transfers in flight: %w", err)
		}
		fresh := 0
		for _, t := range open {
			if seen[t.ID] {
				continue // could not be finished earlier in this round
			}
			seen[t.ID] = true
			fresh++
			finished, err := s.recoverOne(ctx, t)
			if err != nil {
				errs = append(errs, err)
			}
			if finished {
				done++
			}
		}
		if len(open) < s.batch || fresh == 0 {
			break
		}
	}
	if err := s.clearEnded(ctx); err != nil {
		errs = append(errs, err)
	}
	return done, errors.Join(errs...)
}

// recoverOne takes over one abandoned transfer and runs it to a final
// state. False if someone else is running it.
func (s *Service) recoverOne(ctx context.Context, t Transfer) (bool, error) {
	release, busy := s.claim(t.ID)
	if busy != nil {
		return false, nil // running in this process right now
	}
	defer release()
	t, ok, err := s.takeLease(ctx, t)
	if err != nil {
		return false, fmt.Errorf("lease transfer %s: %w", t.ID, err)
	}
	if !ok {
		return false, nil // another instance took it
	}
	t, err = s.run(ctx, t)
	if err != nil && !errors.Is(err, ErrInsufficientCoins) && !errors.Is(err, ErrCancelled) && !errors.Is(err, ErrOperationReused) {
		return false, fmt.Errorf("recover transfer %s: %w", t.ID, err)
	}
	s.log.InfoContext(ctx, "transfer recovered", "op", t.ID, "state", string(t.State))
	return true, nil
}

// clearEnded removes from the pending lists of accounts the operations whose
// transfers have ended. An operation whose transfer is in flight stays; one
// whose transfer does not exist stays too, for the audit to report.
func (s *Service) clearEnded(ctx context.Context) error {
	accounts, err := s.store.WithPending(ctx, s.batch)
	if err != nil {
		return fmt.Errorf("list accounts with pending operations: %w", err)
	}
	ended := map[string][]string{} // op -> accounts
	state := map[string]State{}
	for _, a := range accounts {
		for _, op := range a.Pending {
			st, known := state[op]
			if !known {
				t, err := s.store.Get(ctx, op)
				switch {
				case errors.Is(err, ErrTransferNotFound):
					st = ""
				case err != nil:
					return fmt.Errorf("read transfer %s: %w", op, err)
				default:
					st = t.State
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
		if err := s.store.ClearPending(ctx, op, accts); err != nil {
			errs = append(errs, fmt.Errorf("clear %s: %w", op, err))
		}
	}
	return errors.Join(errs...)
}

// RunRecovery calls Recover now and then every interval until ctx is done.
func (s *Service) RunRecovery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Recover(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "ledger recovery", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Balance returns an account's balance; an account never used has 0.
func (s *Service) Balance(ctx context.Context, account string) (money.Coins, error) {
	b, err := s.Balances(ctx, []string{account})
	return b[account], err
}

// Balances returns the balances of several accounts in one read; accounts
// never used are 0.
func (s *Service) Balances(ctx context.Context, accounts []string) (map[string]money.Coins, error) {
	found, err := s.store.Accounts(ctx, accounts)
	if err != nil {
		return nil, fmt.Errorf("read balances: %w", err)
	}
	out := make(map[string]money.Coins, len(accounts))
	for _, a := range accounts {
		out[a] = 0
	}
	for _, a := range found {
		out[a.Name] = a.Balance
	}
	return out, nil
}

// Richest returns up to limit accounts of a kind ("user", "escrow"...),
// highest balance first.
func (s *Service) Richest(ctx context.Context, kind string, limit int) ([]Account, error) {
	accts, err := s.store.Richest(ctx, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("read richest %s accounts: %w", kind, err)
	}
	return accts, nil
}

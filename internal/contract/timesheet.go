package contract

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/job"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
)

// Weeks and timesheets of hourly contracts
//
// An hourly contract's weeks run from Monday 00:00 UTC to the next: the
// hire funds the week it falls in (rate × weekly hour limit), and the
// week-funding job (FundWeeks) funds each next one when it starts, as a
// week-fund operation whose commit adds the week to the escrow and moves
// NextWeek on. A buyer short of coins is not taken below zero: the
// funding fails and reverts, the contract is paused (its worker and buyer
// told) and funds nothing more until the buyer resumes it (Resume), which
// funds the week then current. The worker logs a week's hours once it has
// started (LogTime: the week becomes submitted, its timesheet in the
// buyer's review); the buyer approves it (ApproveTimesheet) or disputes it
// within TimesheetReview, after which the job of ReleaseDue approves it.
// Approving pays hours × rate from the week's escrow to the worker and
// refunds the rest to the buyer, in the one release operation, invoiced as
// any release. A timesheet in review blocks the contract's end as a
// milestone in review does; a funded week without one is refunded by it.

// TimesheetReview is how long a timesheet waits for its buyer before the
// job approves it.
const TimesheetReview = 5 * 24 * time.Hour

// MaxMemoLen bounds a timesheet's memo, in characters.
const MaxMemoLen = 1000

// fundWeeksBatch bounds the contracts one round of FundWeeks funds.
const fundWeeksBatch = 50

// Monday is the start of the week t falls in: the Monday before or on it,
// 00:00 UTC.
func Monday(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// week is the contract's (unfunded) week starting at start: its ID and
// its place derive from the contract and the date, so that a funding
// asked again names the same item.
func (c Contract) week(start, now time.Time) Item {
	seq := int(start.Sub(Monday(c.CreatedAt))/(7*24*time.Hour)) + 1
	return Item{ID: idgen.Derive("week", c.ID, start.Format(time.DateOnly)), ContractID: c.ID, Kind: KindWeek, Seq: seq,
		Title: "Week of " + start.Format(time.DateOnly), Coins: c.WeekCoins(), WeekStart: start, Status: ItemUnfunded, CreatedAt: now}
}

// payOf is what releasing the item pays the worker: a milestone's coins;
// a week's hours × rate, at most what the week holds.
func payOf(c Contract, it Item) money.Coins {
	if it.Kind != KindWeek {
		return it.Coins
	}
	return min(c.Rate*money.Coins(it.Hours), it.Coins)
}

// payout is the postings of coins leaving the contract's escrow, worker
// to the worker and the rest to the buyer: one posting per account.
func payout(c Contract, coins, worker money.Coins) []ledger.Posting {
	ps := []ledger.Posting{{Account: ledger.ContractAccount(c.ID), Amount: -coins}}
	if worker > 0 {
		ps = append(ps, ledger.Posting{Account: ledger.UserAccount(c.Worker.ID), Amount: worker})
	}
	if coins > worker {
		ps = append(ps, ledger.Posting{Account: ledger.UserAccount(c.Buyer.ID), Amount: coins - worker})
	}
	return ps
}

// Timesheet is a worker's log of a week's hours.
type Timesheet struct {
	WeekStart time.Time // the week's Monday, 00:00 UTC
	Hours     int       // 0 to the contract's weekly hour limit
	Memo      string    // what was done; optional
}

// check trims the memo and checks the fields whose bounds do not depend
// on the contract.
func (ts *Timesheet) check() []apperr.FieldError {
	var errs apperr.Fields
	ts.Memo = strings.TrimSpace(ts.Memo)
	switch {
	case ts.WeekStart.IsZero():
		errs.Add("week_start", "is required: the week's Monday, e.g. 2026-12-07")
	case !ts.WeekStart.Equal(Monday(ts.WeekStart)):
		errs.Add("week_start", "must be a Monday, 00:00 UTC")
	}
	errs.MaxText("memo", ts.Memo, MaxMemoLen)
	return errs
}

// LogTime logs the hours of a funded, started week of the worker's
// hourly contract: the week is submitted, in its buyer's review for
// TimesheetReview. One timesheet per week (ErrTimesheetLogged); hours 0 to
// the weekly hour limit (422). An admin's rework of a disputed timesheet
// lets the worker log the week again.
func (s *Service) LogTime(ctx context.Context, p auth.Principal, contractID string, ts Timesheet) (Item, error) {
	ts.WeekStart = ts.WeekStart.UTC()
	errs := apperr.Fields(ts.check())
	return retried(func() (Item, error) {
		c, _, err := s.party(ctx, p, auth.RoleWorker, contractID, "")
		if err != nil {
			return Item{}, err
		}
		if c.Type != job.TypeHourly {
			return Item{}, ErrNotHourly
		}
		fields := slices.Clone(errs)
		if ts.Hours < 0 || ts.Hours > c.WeeklyHourLimit {
			fields.Add("hours", "must be 0 to %d, the contract's weekly hour limit", c.WeeklyHourLimit)
		}
		if err := fields.Err(); err != nil {
			return Item{}, err
		}
		if c.Status != StatusActive {
			return Item{}, ErrEnded
		}
		it, err := s.store.Item(ctx, c.week(ts.WeekStart, c.CreatedAt).ID)
		switch {
		case errors.Is(err, ErrItemNotFound):
			return Item{}, ErrWeekNotFunded
		case err != nil:
			return Item{}, err
		case it.Status == ItemUnfunded || it.Status == ItemCancelled || ts.WeekStart.After(s.clock()):
			return Item{}, ErrWeekNotFunded
		case it.Status != ItemFunded || !held(c.Held, it.ID) || held(c.Submitted, it.ID):
			return Item{}, ErrTimesheetLogged
		}
		next := c.Escrow
		next.Submitted = append(slices.Clone(c.Submitted), it.ID)
		it.Status, it.Rev, it.Hours, it.Message, it.Attachments = ItemSubmitted, c.Rev+1, ts.Hours, ts.Memo, []string{}
		it.ReworkDeadline = time.Time{}
		it.Submissions++
		_, err = s.submit.Run(ctx, s.ops, it.ID+":"+strconv.Itoa(it.Submissions), nil,
			itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
		if err != nil {
			return Item{}, fmt.Errorf("log week %s: %w", it.ID, err)
		}
		return s.store.Item(ctx, it.ID)
	})
}

// Timesheets returns a page of an hourly contract's weeks with their
// timesheets, the latest first, to its parties and admins.
func (s *Service) Timesheets(ctx context.Context, p auth.Principal, contractID string, r page.Request) (page.Of[Item], error) {
	c, err := s.store.Contract(ctx, contractID)
	if err != nil {
		return page.Of[Item]{}, err
	}
	switch {
	case !c.HasParty(p.UserID) && !p.Is(auth.RoleAdmin):
		return page.Of[Item]{}, ErrNotFound
	case c.Type != job.TypeHourly:
		return page.Of[Item]{}, ErrNotHourly
	}
	items, total, err := s.store.Weeks(ctx, contractID, r)
	if err != nil {
		return page.Of[Item]{}, fmt.Errorf("weeks of contract %s: %w", contractID, err)
	}
	return page.Of[Item]{Items: items, Request: r, Total: total}, nil
}

// ApproveTimesheet approves the buyer's timesheet in review (a week's
// id): hours × rate to the worker, the rest of the week back to the
// buyer. ErrTimesheetNotFound to anyone but its buyer.
func (s *Service) ApproveTimesheet(ctx context.Context, p auth.Principal, id string) (Item, error) {
	return retried(func() (Item, error) {
		it, err := s.store.Item(ctx, id)
		if errors.Is(err, ErrItemNotFound) || (err == nil && it.Kind != KindWeek) {
			return Item{}, ErrTimesheetNotFound
		}
		if err != nil {
			return Item{}, err
		}
		c, err := s.store.Contract(ctx, it.ContractID)
		if err != nil {
			return Item{}, fmt.Errorf("read contract %s: %w", it.ContractID, err)
		}
		if c.Buyer.ID != p.UserID {
			return Item{}, ErrTimesheetNotFound
		}
		return s.releaseItem(ctx, c, it, false)
	})
}

// tellTimesheet tells the worker (and the buyer, when the job approved
// it) of an approved timesheet.
func (s *Service) tellTimesheet(ctx context.Context, opID string, c ref, it Item) {
	refund := it.Coins - it.WorkerCoins
	if it.AutoRelease {
		s.tell(ctx, notification.Notification{ID: opID + ":buyer", UserID: c.Buyer.ID, Type: notification.MilestoneReleased,
			Page: notification.Contracts, Message: fmt.Sprintf("The timesheet of %s of %q (%d hours) was approved automatically: %d coins to %s, %d back to you.",
				it.Title, c.JobTitle, it.Hours, it.WorkerCoins, c.Worker.Name, refund)})
	}
	s.tell(ctx, notification.Notification{ID: opID, UserID: c.Worker.ID, Type: notification.MilestoneReleased, Page: notification.Contracts,
		Message: fmt.Sprintf("Your timesheet of %s of %q (%d hours) was approved: you earned %d coins.", it.Title, c.JobTitle, it.Hours, it.WorkerCoins)})
}

// weekOp is the data of a week's funding (or of a pause, Item the week
// that could not be funded): the contract's escrow as the commit makes
// it, and Prev, when the next week started before.
type weekOp struct {
	Contract ref
	Next     Escrow
	Rev      int64
	Item     Item
	Prev     time.Time // when the next week started before
	Paused   bool      // whether the contract was paused before
}

// fundWeek funds the contract's week at start: the item is made unfunded
// first (so that an end meanwhile finds and refunds it), then the
// operation escrows it. Short of coins: ledger.ErrInsufficientCoins, the
// commit reverted.
func (s *Service) fundWeek(ctx context.Context, c Contract, start time.Time) (Item, error) {
	it := c.week(start, s.clock())
	if err := s.store.InsertItems(ctx, []Item{it}); err != nil {
		return Item{}, fmt.Errorf("insert week %s: %w", it.ID, err)
	}
	next := c.Escrow
	next.Held = append(slices.Clone(c.Held), it.ID)
	next.Holding += it.Coins
	next.NextWeek, next.Paused = start.AddDate(0, 0, 7), false
	it.Status, it.Rev = ItemFunded, c.Rev+1
	_, err := s.weekFund.Run(ctx, s.ops, it.ID, ledger.Move(ledger.UserAccount(c.Buyer.ID), ledger.ContractAccount(c.ID), it.Coins),
		weekOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it, Prev: c.NextWeek, Paused: c.Paused})
	if err != nil {
		return Item{}, fmt.Errorf("fund week %s: %w", it.ID, err)
	}
	return s.store.Item(ctx, it.ID)
}

func (s *Service) commitWeek(ctx context.Context, op operation.Op[weekOp]) (bool, error) {
	return s.store.Commit(ctx, op.Data.Contract.ID, op.ID, op.Data.Rev, op.Data.Next)
}

// revertWeek undoes a week's funding whose coins fell short: the week
// leaves the escrow, and the next week starts when it did before (a
// resumed contract is paused again).
func (s *Service) revertWeek(ctx context.Context, op operation.Op[weekOp]) error {
	c, it := op.Data.Contract, op.Data.Item
	if err := s.store.Unfund(ctx, c.ID, op.ID, it.ID, it.Coins); err != nil {
		return err
	}
	return s.store.RestoreWeek(ctx, c.ID, op.Data.Next.NextWeek, op.Data.Prev, op.Data.Paused)
}

func (s *Service) settleWeek(ctx context.Context, op operation.Op[weekOp]) error {
	c, it := op.Data.Contract, op.Data.Item
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("mark week %s funded: %w", it.ID, err)
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Worker.ID, Type: notification.MilestoneFunded, Page: notification.Contracts,
		Message: fmt.Sprintf("%d coins are in escrow for the %s of %q.", it.Coins, strings.ToLower(it.Title[:1])+it.Title[1:], c.JobTitle)})
	return nil
}

// FundWeeks funds the next week of each active hourly contract whose next
// week has started: the job of the weeks. A week the job comes to late
// (more than a week after it started) is skipped for the week then
// current: nobody worked on an escrow that was not there. A buyer short of
// coins has the contract paused instead. It returns how many weeks it
// funded.
func (s *Service) FundWeeks(ctx context.Context) (int, error) {
	now := s.clock()
	due, err := s.store.WeekDue(ctx, now, fundWeeksBatch)
	if err != nil {
		return 0, fmt.Errorf("read contracts whose week starts: %w", err)
	}
	n := 0
	for _, c := range due {
		start := c.NextWeek
		if !now.Before(start.AddDate(0, 0, 7)) {
			start = Monday(now)
		}
		_, err := s.fundWeek(ctx, c, start)
		switch {
		case err == nil:
			n++
		case errors.Is(err, ledger.ErrInsufficientCoins):
			if err := s.pause(ctx, c.ID, c.week(start, now)); err != nil && !errors.Is(err, operation.ErrCancelled) {
				return n, err
			}
		case errors.Is(err, operation.ErrCancelled):
			// changed meanwhile: the next round reads it again
		default:
			return n, err
		}
	}
	return n, nil
}

// pause pauses the contract whose week the buyer could not fund, and
// tells both parties.
func (s *Service) pause(ctx context.Context, contractID string, week Item) error {
	c, err := s.store.Contract(ctx, contractID)
	if err != nil {
		return err
	}
	if c.Status != StatusActive || c.Paused {
		return nil
	}
	next := c.Escrow
	next.Paused = true
	_, err = s.pauseOp.Run(ctx, s.ops, week.ID, nil, weekOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: week})
	if err != nil {
		return fmt.Errorf("pause contract %s: %w", c.ID, err)
	}
	return nil
}

func (s *Service) settlePause(ctx context.Context, op operation.Op[weekOp]) error {
	c, it := op.Data.Contract, op.Data.Item
	s.tell(ctx, notification.Notification{ID: op.ID + ":worker", UserID: c.Worker.ID, Type: notification.ContractPaused, Page: notification.Contracts,
		Message: fmt.Sprintf("%s could not fund the %s of %q: the contract is paused until they do. Hours of an unfunded week are not paid.",
			c.Buyer.Name, strings.ToLower(it.Title[:1])+it.Title[1:], c.JobTitle)})
	s.tell(ctx, notification.Notification{ID: op.ID + ":buyer", UserID: c.Buyer.ID, Type: notification.ContractPaused, Page: notification.Contracts,
		Message: fmt.Sprintf("You are short of the %d coins of the %s of %q: the contract is paused. Buy coins, then resume it.",
			it.Coins, strings.ToLower(it.Title[:1])+it.Title[1:], c.JobTitle)})
	return nil
}

// Resume resumes the buyer's paused hourly contract, funding the week
// then current (409 insufficient_coins, still paused, when short).
func (s *Service) Resume(ctx context.Context, p auth.Principal, contractID string) (Detail, error) {
	_, err := retried(func() (Item, error) {
		c, _, err := s.party(ctx, p, auth.RoleBuyer, contractID, "")
		if err != nil {
			return Item{}, err
		}
		switch {
		case c.Status != StatusActive:
			return Item{}, ErrEnded
		case c.Type != job.TypeHourly:
			return Item{}, ErrNotHourly
		case !c.Paused:
			return Item{}, ErrNotPaused
		}
		start := c.NextWeek
		if now := s.clock(); !now.Before(start.AddDate(0, 0, 7)) {
			start = Monday(now)
		}
		return s.fundWeek(ctx, c, start)
	})
	if err != nil {
		return Detail{}, err
	}
	return s.detail(ctx, contractID)
}

// UnloggedGrace is how long after a week ends its worker may still log
// it: a funded week without a timesheet by then is refunded to the buyer
// (RefundUnlogged). Seven days: the week's own review window (five days)
// and a weekend more, so that a worker away for a week loses nothing, while
// a buyer's coins are not held for a week nobody claims until the
// contract ends. A timesheet logged before the job comes is still taken:
// the week is the worker's until its refund commits.
const UnloggedGrace = 7 * 24 * time.Hour

// RefundUnlogged refunds to their buyers the funded weeks whose worker
// never logged them within UnloggedGrace after they ended: the job of the
// weeks, beside FundWeeks. Each is a week-refund operation whose commit
// takes the week out of the contract's escrow, as the end's refund would,
// guarded by the contract's revision: a timesheet logged at the same
// moment either commits first (the week is in review and left) or is
// refused (ErrTimesheetLogged). A week sent back by an admin's rework, or
// logged once, is not this job's (its rework deadline is the buyer's to
// act on). Both parties are told. It returns how many weeks it refunded.
func (s *Service) RefundUnlogged(ctx context.Context) (int, error) {
	due, err := s.store.Unlogged(ctx, s.clock().Add(-7*24*time.Hour-UnloggedGrace), fundWeeksBatch)
	if err != nil {
		return 0, fmt.Errorf("read weeks never logged: %w", err)
	}
	n := 0
	for _, it := range due {
		_, err := retried(func() (Item, error) {
			c, err := s.store.Contract(ctx, it.ContractID)
			if err != nil {
				return Item{}, fmt.Errorf("read contract %s: %w", it.ContractID, err)
			}
			return s.refundWeek(ctx, c, it)
		})
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrTimesheetLogged), errors.Is(err, ErrEnded), errors.Is(err, operation.ErrCancelled):
			// logged or ended meanwhile
		default:
			return n, err
		}
	}
	return n, nil
}

// refundWeek refunds a funded week that has no timesheet: ErrEnded if the
// contract ended (its end refunded the week), ErrTimesheetLogged if the
// week is in review, disputed, or no longer held.
func (s *Service) refundWeek(ctx context.Context, c Contract, it Item) (Item, error) {
	switch {
	case c.Status != StatusActive:
		return Item{}, ErrEnded
	case !held(c.Held, it.ID) || held(c.Submitted, it.ID) || held(c.Disputed, it.ID) || it.Submissions > 0:
		return Item{}, ErrTimesheetLogged
	}
	next := c.Escrow
	next.Held = without(c.Held, it.ID)
	next.Holding -= it.Coins
	next.Refunded += it.Coins
	it.Status, it.Rev = ItemRefunded, c.Rev+1
	_, err := s.weekBack.Run(ctx, s.ops, it.ID, ledger.Move(ledger.ContractAccount(c.ID), ledger.UserAccount(c.Buyer.ID), it.Coins),
		itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
	if err != nil {
		return Item{}, fmt.Errorf("refund week %s: %w", it.ID, err)
	}
	return s.store.Item(ctx, it.ID)
}

// settleWeekRefund marks the week refunded and tells both parties.
func (s *Service) settleWeekRefund(ctx context.Context, op operation.Op[itemOp]) error {
	it, c := op.Data.Item, op.Data.Contract
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("mark week %s refunded: %w", it.ID, err)
	}
	week := strings.ToLower(it.Title[:1]) + it.Title[1:]
	days := int(UnloggedGrace.Hours() / 24)
	s.tell(ctx, notification.Notification{ID: op.ID + ":worker", UserID: c.Worker.ID, Type: notification.WeekRefunded, Page: notification.Contracts,
		Message: fmt.Sprintf("You logged no hours for the %s of %q within %d days of its end: its %d coins went back to %s.",
			week, c.JobTitle, days, it.Coins, c.Buyer.Name)})
	s.tell(ctx, notification.Notification{ID: op.ID + ":buyer", UserID: c.Buyer.ID, Type: notification.WeekRefunded, Page: notification.Contracts,
		Message: fmt.Sprintf("%s logged no hours for the %s of %q: its %d coins in escrow are back with you.",
			c.Worker.Name, week, c.JobTitle, it.Coins)})
	return nil
}

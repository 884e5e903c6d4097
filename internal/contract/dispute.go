package contract

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/platform/idgen"
)

// Disputes of milestones
//
// Either party may dispute a submitted milestone (Dispute): the
// milestone-dispute operation's commit takes it out of the buyer's review
// (Submitted) into Disputed, so that neither an approval, a request for
// changes, the auto-release job nor the contract's end can act on it (all
// of them need it in Submitted, or nothing disputed, and all commit under
// the contract's revision); its coins stay in escrow. The dispute is filed
// in the admins' queue of reports (package report, target type
// "milestone"), whose decision calls Decide: release (to the worker),
// refund (to the buyer), split (worker_coins to the worker, the rest to
// the buyer) or rework (back to the worker, funded, with a deadline; a
// missed deadline lets the buyer have it refunded: RefundMissed). Each
// decision is a milestone-decide operation of the same shape as a
// release: its commit takes the item out of Disputed (and, but for
// rework, out of Held), its postings move the coins out of contract:<id>.

// Resolution is an admin's decision of a disputed milestone.
type Resolution string

// The resolutions.
const (
	ResolveRelease Resolution = "release" // all its coins to the worker
	ResolveRefund  Resolution = "refund"  // all its coins back to the buyer
	ResolveSplit   Resolution = "split"   // Ruling.WorkerCoins to the worker, the rest to the buyer
	ResolveRework  Resolution = "rework"  // back to the worker, to submit again by Ruling.Deadline
)

// Bounds of a dispute, in characters: those of a report's reason, as a
// dispute is one in the admins' queue.
const (
	MinDisputeReasonLen = 10
	MaxDisputeReasonLen = 1000
)

// Dispute is a party's dispute of a submitted milestone, filed in the
// admins' queue of reports under ID.
type Dispute struct {
	ID         string // the report's ID: derived from the item and its round of disputes
	ContractID string
	ItemID     string
	By         Party
	Reason     string
	At         time.Time
}

// Ruling is an admin's decision of a dispute.
type Ruling struct {
	DisputeID   string // the report decided: it must be the item's latest dispute
	Action      Resolution
	WorkerCoins money.Coins // ResolveSplit: 1 to the item's coins - 1
	Deadline    time.Time   // ResolveRework: in the future, within MaxDueDateAhead
	Note        string      // the admin's note, for the log
}

// ErrSuperseded answers a decision of a dispute that is not the
// milestone's latest.
var ErrSuperseded = apperr.New(apperr.Conflict, "dispute_superseded", "the report is not the milestone's latest dispute")

// disputeData is the data of a dispute: the contract's escrow as its
// commit makes it, and the item and the dispute as the settle step
// stores and files them.
type disputeData struct {
	Contract ref
	Next     Escrow
	Rev      int64
	Item     Item
	Dispute  Dispute
}

// decideData is the data of an admin's decision of a dispute.
type decideData struct {
	Contract ref
	Next     Escrow
	Rev      int64
	Item     Item
	Ruling   Ruling
	AdminID  string
	Refund   money.Coins // what goes back to the buyer
}

func checkDisputeReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	var errs apperr.Fields
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		errs.Add("reason", "is required")
	case n < MinDisputeReasonLen || n > MaxDisputeReasonLen:
		errs.Add("reason", "must be %d to %d characters", MinDisputeReasonLen, MaxDisputeReasonLen)
	}
	return reason, errs.Err()
}

// Dispute disputes a submitted milestone of the party's contract (either
// party; ErrNotFound to anyone else), with a reason: its coins stay in
// escrow, both parties are told, and the dispute goes to the admins'
// queue of reports. A milestone not in review: ErrNotSubmitted; disputed
// already: ErrDisputed.
func (s *Service) Dispute(ctx context.Context, p auth.Principal, contractID, itemID, reason string) (Dispute, error) {
	return s.dispute(ctx, p, contractID, itemID, "", reason)
}

// dispute is Dispute of an item of the kind (any if empty):
// ErrItemNotFound for one of another kind.
func (s *Service) dispute(ctx context.Context, p auth.Principal, contractID, itemID string, kind ItemKind, reason string) (Dispute, error) {
	reason, err := checkDisputeReason(reason)
	if err != nil {
		return Dispute{}, err
	}
	return retried(func() (Dispute, error) {
		c, it, err := s.party(ctx, p, "", contractID, itemID)
		if err != nil {
			return Dispute{}, err
		}
		switch {
		case !c.HasParty(p.UserID):
			return Dispute{}, ErrNotFound
		case kind != "" && it.Kind != kind:
			return Dispute{}, ErrItemNotFound
		case held(c.Disputed, it.ID):
			return Dispute{}, ErrDisputed
		case c.Status != StatusActive:
			return Dispute{}, ErrEnded
		case !held(c.Submitted, it.ID) || it.Status != ItemSubmitted:
			return Dispute{}, ErrNotSubmitted
		}
		by := c.Buyer
		if p.UserID == c.Worker.ID {
			by = c.Worker
		}
		next := c.Escrow
		next.Submitted = without(c.Submitted, it.ID)
		next.Disputed = append(slices.Clone(c.Disputed), it.ID)
		it.Disputes++
		round := strconv.Itoa(it.Disputes)
		d := Dispute{ID: idgen.Derive("dispute", it.ID, round), ContractID: c.ID, ItemID: it.ID, By: by, Reason: reason, At: s.clock()}
		it.Status, it.Rev, it.DisputeID, it.Resolution = ItemDisputed, c.Rev+1, d.ID, ""
		_, err = s.disputeOp.Run(ctx, s.ops, it.ID+":"+round, nil,
			disputeData{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it, Dispute: d})
		if err != nil {
			return Dispute{}, fmt.Errorf("dispute milestone %s: %w", it.ID, err)
		}
		s.log.InfoContext(ctx, "milestone disputed", "contract_id", c.ID, "item_id", it.ID, "dispute_id", d.ID)
		return d, nil
	})
}

// DisputeOf disputes a submitted milestone (milestoneID) or a timesheet
// in review (timesheetID: its week's id) of the party's contract: exactly
// one of the two (422, with the reason's bounds), naming an item of its
// kind (a week named as a milestone: ErrItemNotFound; a milestone or a
// missing item as a timesheet: ErrTimesheetNotFound). Otherwise as
// Dispute.
func (s *Service) DisputeOf(ctx context.Context, p auth.Principal, contractID, milestoneID, timesheetID, reason string) (Dispute, error) {
	var errs apperr.Fields
	if (milestoneID == "") == (timesheetID == "") {
		errs.Add("milestone_id", "give either milestone_id or timesheet_id")
		errs.Add("timesheet_id", "give either milestone_id or timesheet_id")
	}
	if _, err := checkDisputeReason(reason); err != nil {
		errs.AddFrom(err)
	}
	if err := errs.Err(); err != nil {
		return Dispute{}, err
	}
	if timesheetID != "" {
		d, err := s.dispute(ctx, p, contractID, timesheetID, KindWeek, reason)
		if errors.Is(err, ErrItemNotFound) {
			return Dispute{}, ErrTimesheetNotFound
		}
		return d, err
	}
	return s.dispute(ctx, p, contractID, milestoneID, KindMilestone, reason)
}

func (s *Service) commitDispute(ctx context.Context, op operation.Op[disputeData]) (bool, error) {
	return s.store.Commit(ctx, op.Data.Contract.ID, op.ID, op.Data.Rev, op.Data.Next)
}

// settleDispute marks the item disputed, files the dispute for the admins
// and tells both parties.
func (s *Service) settleDispute(ctx context.Context, op operation.Op[disputeData]) error {
	it, c, d := op.Data.Item, op.Data.Contract, op.Data.Dispute
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("mark milestone %s disputed: %w", it.ID, err)
	}
	if err := s.disputes.File(ctx, d); err != nil {
		return fmt.Errorf("file the dispute of milestone %s: %w", it.ID, err)
	}
	msg := fmt.Sprintf("%s disputed %q of %q: its %d coins stay in escrow until an admin decides.", d.By.Name, it.Title, c.JobTitle, it.Coins)
	for _, to := range []Party{c.Buyer, c.Worker} {
		s.tell(ctx, notification.Notification{ID: op.ID + ":" + to.ID, UserID: to.ID, Type: notification.MilestoneDisputed,
			Page: notification.Contracts, Message: msg})
	}
	return nil
}

// Case returns a disputed (or once disputed) milestone with its contract,
// for the admin deciding its dispute: ErrItemNotFound if there is none.
func (s *Service) Case(ctx context.Context, itemID string) (Contract, Item, error) {
	it, err := s.store.Item(ctx, itemID)
	if err != nil {
		return Contract{}, Item{}, err
	}
	c, err := s.store.Contract(ctx, it.ContractID)
	if err != nil {
		return Contract{}, Item{}, fmt.Errorf("read contract %s: %w", it.ContractID, err)
	}
	return c, it, nil
}

// checkRuling checks a ruling's fields against the item at now: an
// Invalid error lists every bad one.
func checkRuling(r Ruling, it Item, now time.Time) error {
	var errs apperr.Fields
	switch r.Action {
	case ResolveRelease, ResolveRefund, ResolveSplit, ResolveRework:
	default:
		errs.Add("action", "must be one of: release, refund, split, rework")
	}
	switch {
	case r.Action == ResolveSplit && (r.WorkerCoins < 1 || r.WorkerCoins >= it.Coins):
		errs.Add("worker_coins", "must be 1 to %d: the worker's part of the milestone's %d coins", it.Coins-1, it.Coins)
	case r.Action != ResolveSplit && r.WorkerCoins != 0:
		errs.Add("worker_coins", "goes with the action split only")
	}
	switch {
	case r.Action != ResolveRework:
		if !r.Deadline.IsZero() {
			errs.Add("deadline", "goes with the action rework only")
		}
	case r.Deadline.IsZero():
		errs.Add("deadline", "is required for rework: when the worker's new submission is due")
	case !r.Deadline.After(now):
		errs.Add("deadline", "must be in the future")
	case r.Deadline.After(now.Add(MaxDueDateAhead)):
		errs.Add("deadline", "must be within two years")
	}
	return errs.Err()
}

// Decide carries out an admin's decision of a disputed milestone (admins
// only): one milestone-decide operation that pays the worker, refunds the
// buyer, splits the coins between them, or sends the milestone back to
// the worker with a deadline, recorded in the admin log and told to both
// parties; a payment to the worker is invoiced like a release. A
// milestone not (or no longer) in dispute: ErrNotDisputed. Two decisions
// at once: one commits, the other reads again and finds it decided.
func (s *Service) Decide(ctx context.Context, p auth.Principal, itemID string, r Ruling) (Item, error) {
	if !p.Is(auth.RoleAdmin) {
		return Item{}, auth.ErrWrongRole
	}
	r.Deadline = r.Deadline.UTC().Truncate(time.Millisecond)
	r.Note = strings.TrimSpace(r.Note)
	return retried(func() (Item, error) {
		c, it, err := s.Case(ctx, itemID)
		if err != nil {
			return Item{}, err
		}
		if err := checkRuling(r, it, s.clock()); err != nil {
			return Item{}, err
		}
		switch {
		case !held(c.Disputed, it.ID) || it.Status != ItemDisputed:
			return Item{}, ErrNotDisputed
		case it.DisputeID != r.DisputeID:
			return Item{}, ErrSuperseded
		}
		next := c.Escrow
		next.Disputed = without(c.Disputed, it.ID)
		var worker money.Coins
		switch r.Action {
		case ResolveRelease:
			worker, it.Status = payOf(c, it), ItemReleased // a week: its hours × rate
		case ResolveRefund:
			it.Status = ItemRefunded
		case ResolveSplit:
			worker, it.Status = r.WorkerCoins, ItemSplit
		case ResolveRework:
			it.Status, it.ReworkDeadline = ItemFunded, r.Deadline
		}
		var postings []ledger.Posting
		var refund money.Coins
		if r.Action != ResolveRework {
			refund = it.Coins - worker
			next.Held = without(c.Held, it.ID)
			next.Holding -= it.Coins
			next.Paid += worker
			next.Refunded += refund
			postings = payout(c, it.Coins, worker)
		}
		it.Rev, it.Resolution, it.WorkerCoins = c.Rev+1, r.Action, worker
		// One operation per dispute and decision: the same decision asked
		// twice runs once; two different ones race on the commit.
		_, err = s.decide.Run(ctx, s.ops, it.ID+":"+strconv.Itoa(it.Disputes)+":"+string(r.Action), postings,
			decideData{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it, Ruling: r, AdminID: p.UserID, Refund: refund})
		if err != nil {
			return Item{}, fmt.Errorf("decide the dispute of milestone %s: %w", it.ID, err)
		}
		s.log.InfoContext(ctx, "dispute decided", "contract_id", c.ID, "item_id", it.ID, "action", string(r.Action))
		return s.store.Item(ctx, it.ID)
	})
}

func (s *Service) commitDecide(ctx context.Context, op operation.Op[decideData]) (bool, error) {
	return s.store.Commit(ctx, op.Data.Contract.ID, op.ID, op.Data.Rev, op.Data.Next)
}

// settleDecide stores the item as decided, has the worker's part
// invoiced, records the decision in the admin log and tells both parties.
func (s *Service) settleDecide(ctx context.Context, op operation.Op[decideData]) error {
	it, c, r := op.Data.Item, op.Data.Contract, op.Data.Ruling
	if it.WorkerCoins > 0 {
		it.ReleasedAt = op.At
	}
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("mark milestone %s decided: %w", it.ID, err)
	}
	if it.WorkerCoins > 0 {
		if err := s.invoices.Released(ctx, Payment{OperationID: op.ID, ContractID: c.ID, JobID: c.JobID, JobTitle: c.JobTitle, MilestoneTitle: it.Title,
			Buyer: c.Buyer, Worker: c.Worker, Coins: it.WorkerCoins, At: op.At}); err != nil {
			return fmt.Errorf("invoice milestone %s: %w", it.ID, err)
		}
	}
	var summary string
	switch r.Action {
	case ResolveRelease:
		summary = fmt.Sprintf("%d coins released to %s", it.WorkerCoins, c.Worker.Name)
	case ResolveRefund:
		summary = fmt.Sprintf("%d coins refunded to %s", op.Data.Refund, c.Buyer.Name)
	case ResolveSplit:
		summary = fmt.Sprintf("%d coins to %s, %d back to %s", it.WorkerCoins, c.Worker.Name, op.Data.Refund, c.Buyer.Name)
	case ResolveRework:
		summary = "sent back to " + c.Worker.Name + " until " + r.Deadline.Format(time.RFC3339)
	}
	if err := s.admins.Record(ctx, adminlog.Entry{ID: op.ID, AdminID: op.Data.AdminID, Kind: adminlog.DisputeDecided, TargetType: "milestone",
		TargetID: it.ID, Summary: summary, Reason: r.Note, At: op.At}); err != nil {
		return fmt.Errorf("record the decision on milestone %s: %w", it.ID, err)
	}
	msg := fmt.Sprintf("An admin decided the dispute of %q of %q: %s.", it.Title, c.JobTitle, summary)
	if r.Action == ResolveRework {
		msg += " Missed, the buyer may have it refunded."
	}
	for _, to := range []Party{c.Buyer, c.Worker} {
		s.tell(ctx, notification.Notification{ID: op.ID + ":" + to.ID, UserID: to.ID, Type: notification.DisputeDecided,
			Page: notification.Contracts, Message: msg})
	}
	return nil
}

// RefundMissed refunds to the buyer a milestone an admin sent back whose
// rework deadline passed without a new submission (a late submission
// before this is still the buyer's to review). Anything else:
// ErrReworkNotMissed.
func (s *Service) RefundMissed(ctx context.Context, p auth.Principal, contractID, itemID string) (Item, error) {
	return retried(func() (Item, error) {
		c, it, err := s.party(ctx, p, auth.RoleBuyer, contractID, itemID)
		if err != nil {
			return Item{}, err
		}
		switch {
		case c.Status != StatusActive:
			return Item{}, ErrEnded
		case it.Status != ItemFunded || !held(c.Held, it.ID) || held(c.Submitted, it.ID) || it.ReworkDeadline.IsZero() ||
			!s.clock().After(it.ReworkDeadline):
			return Item{}, ErrReworkNotMissed
		}
		next := c.Escrow
		next.Held = without(c.Held, it.ID)
		next.Holding -= it.Coins
		next.Refunded += it.Coins
		it.Status, it.Rev = ItemRefunded, c.Rev+1
		_, err = s.refund.Run(ctx, s.ops, it.ID+":"+strconv.Itoa(it.Disputes),
			ledger.Move(ledger.ContractAccount(c.ID), ledger.UserAccount(c.Buyer.ID), it.Coins),
			itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
		if err != nil {
			return Item{}, fmt.Errorf("refund milestone %s: %w", it.ID, err)
		}
		return s.store.Item(ctx, it.ID)
	})
}

// settleRefund marks the item refunded and tells the worker.
func (s *Service) settleRefund(ctx context.Context, op operation.Op[itemOp]) error {
	it, c := op.Data.Item, op.Data.Contract
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("mark milestone %s refunded: %w", it.ID, err)
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Worker.ID, Type: notification.DisputeDecided, Page: notification.Contracts,
		Message: fmt.Sprintf("The rework of %q of %q was not submitted by its deadline: its %d coins went back to %s.",
			it.Title, c.JobTitle, it.Coins, c.Buyer.Name)})
	return nil
}

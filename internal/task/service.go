package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/platform/job"
	"microtask/internal/webhook"
)

// Service applies the task rules.
type Service struct {
	store       Store
	ops         operation.Runner
	notify      Notifier
	users       UserNames
	cancel      PendingCanceller
	held        Reservations
	log         *slog.Logger
	now         func() time.Time
	newID       func() string
	autoApprove time.Duration
	admins      adminlog.Recorder
	blocks      BlockLists
	records     Records
	workers     Candidates
	quals       QualificationTypes
	events      Events

	fund   operation.Kind[Task]
	refund operation.Kind[refund]
	slots  operation.Kind[moreSlots]
}

// moreSlots is the data of the operation that adds open slots to a task.
type moreSlots struct {
	TaskID  string
	BuyerID string
	Count   int
}

// refund is the data of the operation that closes a task and gives its
// open slots' pay back.
type refund struct {
	Task   Task // as it was read when the refund was asked for
	Reason RefundReason
	Amount money.Coins
	By     string // the admin who removed the task
}

// Deps is what a Service is built with.
type Deps struct {
	Store  Store
	Ops    operation.Runner
	Notify Notifier
	Users  UserNames
	// Submissions cancels a removed task's pending submissions;
	// Reservations ends the reservations of the reserved slots a refund
	// takes.
	Submissions    PendingCanceller
	Reservations   Reservations
	Blocks         BlockLists         // gives a new task its buyer's list of blocked workers
	Records        Records            // counts new tasks in their buyers' track records
	Workers        Candidates         // what workers bring to requirements, for their available lists
	Qualifications QualificationTypes // which qualification types a buyer may require
	Events         Events             // tells buyers' webhooks of tasks filled, closed and expired
	Admins         adminlog.Recorder  // records admins' removals
	// AutoApproveAfter is the default review delay of new tasks.
	AutoApproveAfter time.Duration
	Log              *slog.Logger
	Now              func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, ops: d.Ops, notify: d.Notify, users: d.Users, cancel: d.Submissions, held: d.Reservations, log: d.Log,
		now: now, newID: idgen.New, autoApprove: d.AutoApproveAfter, admins: d.Admins, blocks: d.Blocks, records: d.Records,
		workers: d.Workers, quals: d.Qualifications, events: d.Events}
	// task-fund:<task> moves a new task's cost from its buyer to its escrow,
	// then records the task.
	s.fund = operation.Kind[Task]{Name: "task-fund", Settle: s.settleFund}
	// task-refund:<task>:<refunds so far> gives the escrow of a closed,
	// deleted or expired task's free and reserved slots back to its buyer,
	// and ends the reservations of the reserved ones.
	s.refund = operation.Kind[refund]{Name: "task-refund", Commit: s.commitRefund, Settle: s.settleRefund}
	// task-slots:<task>:<request> marks the task as being funded (no
	// refund can close it meanwhile), moves the new slots' pay from its
	// buyer to its escrow, then opens the slots.
	s.slots = operation.Kind[moreSlots]{Name: "task-slots", Commit: s.commitSlots, Revert: s.revertSlots, Settle: s.settleSlots}
	return s
}

// AutoApproveAfter is how long new tasks' submissions wait for review
// before they are approved automatically.
func (s *Service) AutoApproveAfter() time.Duration { return s.autoApprove }

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.fund.Define(), s.refund.Define(), s.slots.Define()}
}

// NewTask is a buyer's new task.
type NewTask struct {
	Text
	Workers        int
	Pay            money.Coins
	CompletionDate time.Time
	Category       string        // empty: CategoryOther
	Tags           []string      // normalized by Create (NormalizeTags)
	TimeAllotted   time.Duration // for a reservation's work; DefaultTimeAllotted if zero
	Requirements   Requirements  // what the task asks of its workers; none if zero
	// Key is the client's Idempotency-Key, if it sent one: the task's ID
	// is derived from it, so that the request run again after a crash
	// finds the task the first run funded instead of funding a second.
	Key string
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Create posts a task: its whole cost, workers × pay, moves from the buyer to
// the task's escrow, and the task appears once the coins have moved. A field
// out of its bounds (bounds.go): an Invalid error listing every bad one. Not
// enough coins: ledger.ErrInsufficientCoins, and no task.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewTask) (Task, error) {
	if !p.Is(auth.RoleBuyer) {
		return Task{}, auth.ErrWrongRole
	}
	now := s.clock()
	// Dates are kept to the millisecond: round first, so that a date
	// accepted as future is still future once stored.
	in.CompletionDate = in.CompletionDate.UTC().Truncate(time.Millisecond)
	if err := s.CheckNew(ctx, p.UserID, &in, now); err != nil {
		return Task{}, err
	}
	name, err := s.users.Name(ctx, p.UserID)
	if err != nil {
		return Task{}, fmt.Errorf("name of buyer %s: %w", p.UserID, err)
	}
	id := s.newID()
	if in.Key != "" {
		id = idgen.Derive("task", p.UserID, in.Key)
	}
	t := Task{
		ID: id, Title: in.Title, Detail: in.Detail, SubmissionInfo: in.SubmissionInfo, ImageURL: in.ImageURL,
		OpenSlots: in.Workers, Pay: in.Pay, CompletionDate: in.CompletionDate,
		Buyer: Party{ID: p.UserID, Name: name}, Status: StatusOpen, AutoApproveAfter: s.autoApprove, TimeAllotted: in.TimeAllotted,
		CreatedAt: now, Category: in.Category, Tags: in.Tags, Requirements: in.Requirements,
	}
	_, err = s.fund.Run(ctx, s.ops, t.ID, ledger.Move(ledger.UserAccount(p.UserID), ledger.EscrowAccount(t.ID), money.Coins(in.Workers)*in.Pay), t)
	if err != nil {
		return Task{}, fmt.Errorf("fund task %s: %w", t.ID, err)
	}
	s.log.InfoContext(ctx, "task created", "task_id", t.ID, "slots", t.OpenSlots, "pay", int64(t.Pay))
	return s.store.ByID(ctx, t.ID)
}

// settleFund inserts the task once its escrow is funded, then gives it its
// buyer's blocked workers, in this order so that a block saved meanwhile
// finds the task (block.Service.SyncTask).
func (s *Service) settleFund(ctx context.Context, op operation.Op[Task]) error {
	if err := s.store.Insert(ctx, op.Data); err != nil {
		return fmt.Errorf("insert task %s: %w", op.Data.ID, err)
	}
	if err := s.records.TaskPosted(ctx, op.ID, op.Data.Buyer.ID); err != nil {
		return fmt.Errorf("record task %s of buyer %s: %w", op.Data.ID, op.Data.Buyer.ID, err)
	}
	return s.blocks.SyncTask(ctx, op.Data.Buyer.ID, op.Data.ID)
}

// Batched is one task of a batch, as the batch makes it: checked by
// NewTask's rules (NewTask.Check) first.
type Batched struct {
	NewTask
	ID  string // derived from the batch and the row, so that a step run again makes the same task
	Row int
}

// ForBatch returns the tasks of a batch of the buyer's as they are stored
// once funded, open and with their whole escrow, as Create makes one.
func (s *Service) ForBatch(ctx context.Context, buyerID, batchID string, rows []Batched, at time.Time) ([]Task, error) {
	name, err := s.users.Name(ctx, buyerID)
	if err != nil {
		return nil, fmt.Errorf("name of buyer %s: %w", buyerID, err)
	}
	out := make([]Task, len(rows))
	for i, in := range rows {
		out[i] = Task{
			ID: in.ID, Title: in.Title, Detail: in.Detail, SubmissionInfo: in.SubmissionInfo, ImageURL: in.ImageURL,
			OpenSlots: in.Workers, Pay: in.Pay, CompletionDate: in.CompletionDate.UTC().Truncate(time.Millisecond),
			Buyer: Party{ID: buyerID, Name: name}, Status: StatusOpen, AutoApproveAfter: s.autoApprove, TimeAllotted: in.TimeAllotted,
			CreatedAt: at, Category: in.Category, Tags: in.Tags, Requirements: in.Requirements, BatchID: batchID, BatchRow: in.Row,
		}
	}
	return out, nil
}

// InsertFunded records the tasks of a batch whose escrow operation op has
// funded, from its Settle step: in bulk, once however often the step runs,
// then counts them in the buyer's record and gives them the buyer's
// blocked workers (as settleFund does for one).
func (s *Service) InsertFunded(ctx context.Context, op, buyerID string, tasks []Task) error {
	if err := s.store.InsertBatch(ctx, tasks); err != nil {
		return fmt.Errorf("insert %d tasks of %s: %w", len(tasks), op, err)
	}
	if err := s.records.TasksPosted(ctx, op, buyerID, len(tasks)); err != nil {
		return fmt.Errorf("record the tasks of %s: %w", op, err)
	}
	return s.blocks.SyncTask(ctx, buyerID, "") // every task of the buyer's, these included
}

// EachOfBatch calls fn for every task of a batch, in row order.
func (s *Service) EachOfBatch(ctx context.Context, batchID string, fn func(Task) error) error {
	return s.store.EachOfBatch(ctx, batchID, fn)
}

// CloseBatch closes every open task of a batch, as CloseEarly closes one
// (each with its own refund operation), and returns what came back. Safe
// to run again: a task closed already is left.
func (s *Service) CloseBatch(ctx context.Context, batchID string) (money.Coins, error) {
	var open []Task
	if err := s.store.EachOfBatch(ctx, batchID, func(t Task) error {
		if t.Status == StatusOpen {
			open = append(open, t)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read tasks of batch %s: %w", batchID, err)
	}
	var refunded money.Coins
	for _, t := range open {
		for try := 0; ; try++ { // a slot may be taken or reopen between the read and the commit
			amount, err := s.close(ctx, t, RefundClosed, "")
			if err == nil {
				refunded += amount
				break
			}
			if !errors.Is(err, operation.ErrCancelled) || try == 3 {
				return refunded, fmt.Errorf("close task %s of batch %s: %w", t.ID, batchID, err)
			}
			id := t.ID
			if t, err = s.store.ByID(ctx, id); err != nil {
				return refunded, fmt.Errorf("read task %s: %w", id, err)
			}
			if t.Status != StatusOpen {
				break
			}
		}
	}
	return refunded, nil
}

// List returns one page of live tasks matching f. A worker's available
// tasks (f.NotBy) leave out those whose requirements they do not meet, in
// the same query: what they bring is read through the authentication
// cache.
func (s *Service) List(ctx context.Context, f Filter, r page.Request) (page.Of[Task], error) {
	f.BuyerID, f.All, f.Candidate = "", false, nil
	f.Now = s.clock()
	if f.Available && f.NotBy != "" {
		c, err := s.workers.Candidate(ctx, f.NotBy)
		if err != nil {
			return page.Of[Task]{}, fmt.Errorf("read what worker %s brings to requirements: %w", f.NotBy, err)
		}
		f.Candidate = &c
	}
	items, total, err := s.store.List(ctx, f, r)
	if err != nil {
		return page.Of[Task]{}, fmt.Errorf("list tasks: %w", err)
	}
	return page.Of[Task]{Items: items, Request: r, Total: total}, nil
}

// Mine returns one page of the buyer's own tasks, expired ones included.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Task], error) {
	items, total, err := s.store.List(ctx, Filter{BuyerID: p.UserID, Now: s.clock()}, r)
	if err != nil {
		return page.Of[Task]{}, fmt.Errorf("list tasks of buyer %s: %w", p.UserID, err)
	}
	return page.Of[Task]{Items: items, Request: r, Total: total}, nil
}

// Get returns a task that is not deleted.
func (s *Service) Get(ctx context.Context, id string) (Task, error) {
	t, err := s.store.ByID(ctx, id)
	if err == nil && t.Status == StatusDeleted {
		return Task{}, ErrNotFound
	}
	return t, err
}

// EachImageURL calls fn with the image URL of every task that has one,
// deleted ones included (the admins still list them): the images in use, for
// the sweep of uploads.
func (s *Service) EachImageURL(ctx context.Context, fn func(url string) error) error {
	return s.store.EachImageURL(ctx, fn)
}

// UpdateText changes a task's text, category and tags (its buyer only),
// held to the bounds of a new task. Money fields never change here.
func (s *Service) UpdateText(ctx context.Context, p auth.Principal, id string, e TextEdit) (Task, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return Task{}, err
	}
	if t.Buyer.ID != p.UserID {
		return Task{}, ErrNotFound // to anyone else, as if it did not exist: one answer for every resource
	}
	var errs apperr.Fields
	errs.AddFrom(e.check())
	if e.Qualifications != nil {
		if err := CheckRequirable(ctx, s.quals, p.UserID, Requirements{Qualifications: *e.Qualifications}, &errs); err != nil {
			return Task{}, err
		}
	}
	if err := errs.Err(); err != nil {
		return Task{}, err
	}
	return s.store.SetText(ctx, id, e)
}

// RequiredByOpenTask reports whether an open task requires the
// qualification type, which may then not be deleted. Tasks closed,
// expired or deleted do not count: they take no more workers.
func (s *Service) RequiredByOpenTask(ctx context.Context, typeID string) (bool, error) {
	return s.store.RequiresOpen(ctx, typeID)
}

// CheckQualifications is an Invalid error naming each qualification type
// r requires that the buyer may not require, or nil; the batches check
// their template with it.
func (s *Service) CheckQualifications(ctx context.Context, buyerID string, r Requirements) error {
	var errs apperr.Fields
	if err := CheckRequirable(ctx, s.quals, buyerID, r, &errs); err != nil {
		return err
	}
	return errs.Err()
}

// CheckNew checks a buyer's new task at now as Create does, bounds and
// requirements (the qualification types they name must be ones the buyer
// may require), normalizing it: an Invalid error lists every bad field.
func (s *Service) CheckNew(ctx context.Context, buyerID string, in *NewTask, now time.Time) error {
	var errs apperr.Fields
	errs.AddFrom(in.check(now))
	if err := CheckRequirable(ctx, s.quals, buyerID, in.Requirements, &errs); err != nil {
		return err
	}
	return errs.Err()
}

// Delete deletes a task (its buyer only) and refunds what its escrow holds
// for open slots. Refused while submissions await review.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) (money.Coins, error) {
	for range 3 { // a slot may reopen between the read and the commit; read again
		t, err := s.Get(ctx, id)
		if err != nil {
			return 0, err
		}
		if t.Buyer.ID != p.UserID {
			return 0, ErrNotFound // as in UpdateText
		}
		if len(t.PendingSubs) > 0 {
			return 0, ErrPendingSubmissions
		}
		refunded, err := s.close(ctx, t, RefundDeleted, "")
		if errors.Is(err, operation.ErrCancelled) {
			continue
		}
		return refunded, err
	}
	return 0, operation.ErrInProgress
}

// own returns the buyer's task, not deleted; someone else's is not found.
func (s *Service) own(ctx context.Context, p auth.Principal, id string) (Task, error) {
	t, err := s.Get(ctx, id)
	if err == nil && t.Buyer.ID != p.UserID {
		return Task{}, ErrNotFound // as in UpdateText
	}
	return t, err
}

// AddSlots opens count (1 to MaxSlots) more slots on the buyer's open
// task: their pay, count × the task's pay, moves from the buyer to the
// task's escrow first (ledger.ErrInsufficientCoins, and nothing changes, if
// the buyer lacks it). request names the request, the client's
// Idempotency-Key if it sent one: the same request adds the slots once.
func (s *Service) AddSlots(ctx context.Context, p auth.Principal, id string, count int, request string) (Task, error) {
	if err := checkSlots(count); err != nil {
		return Task{}, err
	}
	t, err := s.own(ctx, p, id)
	if err != nil {
		return Task{}, err
	}
	if request == "" {
		request = s.newID()
	}
	ref := t.ID + ":" + idgen.Derive("slots", p.UserID, request)
	_, err = s.slots.Run(ctx, s.ops, ref, ledger.Move(ledger.UserAccount(p.UserID), ledger.EscrowAccount(t.ID), money.Coins(count)*t.Pay),
		moreSlots{TaskID: t.ID, BuyerID: p.UserID, Count: count})
	if errors.Is(err, operation.ErrCancelled) {
		return Task{}, s.whyNoSlots(ctx, id, count)
	}
	if err != nil {
		return Task{}, err
	}
	s.log.InfoContext(ctx, "task slots added", "task_id", t.ID, "count", count)
	return s.store.ByID(ctx, id)
}

// whyNoSlots says why slots could not be added to the task.
func (s *Service) whyNoSlots(ctx context.Context, id string, count int) error {
	t, err := s.store.ByID(ctx, id)
	switch {
	case err != nil:
		return err
	case t.Status != StatusOpen:
		return ErrNotOpen
	case t.OpenSlots+count > MaxSlots:
		return ErrTooManySlots
	}
	return operation.ErrInProgress // another change of its slots is running
}

func (s *Service) commitSlots(ctx context.Context, op operation.Op[moreSlots]) (bool, error) {
	return s.store.BeginFunding(ctx, op.Data.TaskID, op.Data.BuyerID, op.ID, op.Data.Count)
}

func (s *Service) revertSlots(ctx context.Context, op operation.Op[moreSlots]) error {
	return s.store.AbortFunding(ctx, op.Data.TaskID, op.ID)
}

func (s *Service) settleSlots(ctx context.Context, op operation.Op[moreSlots]) error {
	return s.store.FinishFunding(ctx, op.Data.TaskID, op.ID, op.Data.Count)
}

// Extend moves the completion date of the buyer's open task later, to at
// most a year from now.
func (s *Service) Extend(ctx context.Context, p auth.Principal, id string, date time.Time) (Task, error) {
	t, err := s.own(ctx, p, id)
	if err != nil {
		return Task{}, err
	}
	now := s.clock()
	date = date.UTC().Truncate(time.Millisecond)
	if date.After(now.Add(MaxCompletionAhead)) {
		return Task{}, apperr.InvalidFields(apperr.FieldError{Field: "completion_date", Message: "must be within a year"})
	}
	ok, err := s.store.SetCompletionDate(ctx, t.ID, p.UserID, date, now)
	if err != nil {
		return Task{}, fmt.Errorf("extend task %s: %w", t.ID, err)
	}
	if !ok {
		return Task{}, ErrNotLater
	}
	return s.store.ByID(ctx, id)
}

// CloseEarly closes the buyer's open task: its open slots' pay comes back
// at once, and work already submitted is still reviewed (a slot a rejection
// reopens later is refunded by the expiry job).
func (s *Service) CloseEarly(ctx context.Context, p auth.Principal, id string) (money.Coins, error) {
	for range 3 { // a slot may be taken or reopen between the read and the commit
		t, err := s.own(ctx, p, id)
		if err != nil {
			return 0, err
		}
		if t.Status != StatusOpen {
			return 0, ErrNotOpen
		}
		refunded, err := s.close(ctx, t, RefundClosed, "")
		if errors.Is(err, operation.ErrCancelled) {
			continue
		}
		return refunded, err
	}
	return 0, operation.ErrInProgress
}

// SetPaused pauses the buyer's open task (it takes no submissions, and
// leaves the list of available tasks) or resumes it.
func (s *Service) SetPaused(ctx context.Context, p auth.Principal, id string, paused bool) (Task, error) {
	t, err := s.own(ctx, p, id)
	if err != nil {
		return Task{}, err
	}
	ok, err := s.store.SetPaused(ctx, t.ID, p.UserID, paused)
	if err != nil {
		return Task{}, fmt.Errorf("pause task %s: %w", t.ID, err)
	}
	if !ok {
		return Task{}, ErrNotOpen
	}
	return s.store.ByID(ctx, id)
}

// AdminFilter selects tasks for the admins' list.
type AdminFilter struct {
	Query   string
	BuyerID string
}

// AdminList returns a page of all tasks, whatever their state (admins).
func (s *Service) AdminList(ctx context.Context, p auth.Principal, f AdminFilter, r page.Request) (page.Of[Task], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Task]{}, auth.ErrWrongRole
	}
	items, total, err := s.store.List(ctx, Filter{All: true, Query: f.Query, BuyerID: f.BuyerID, Now: s.clock()}, r)
	if err != nil {
		return page.Of[Task]{}, fmt.Errorf("list tasks for admins: %w", err)
	}
	return page.Of[Task]{Items: items, Request: r, Total: total}, nil
}

// Remove deletes a task whatever its state (admins only): its pending
// submissions are cancelled, which reopens their slots and tells their
// workers, and then everything its escrow holds goes back to the buyer, who
// is told. A submission approved meanwhile stays approved and paid.
func (s *Service) Remove(ctx context.Context, p auth.Principal, id string) (money.Coins, error) {
	if !p.Is(auth.RoleAdmin) {
		return 0, auth.ErrWrongRole
	}
	for range 5 { // reviews, submissions and reopened slots may land in between
		t, err := s.Get(ctx, id)
		if err != nil {
			return 0, err
		}
		if len(t.PendingSubs) > 0 {
			if err := s.cancel.CancelPending(ctx, t.ID, t.PendingSubs); err != nil {
				return 0, fmt.Errorf("cancel pending submissions of task %s: %w", t.ID, err)
			}
			continue
		}
		refunded, err := s.close(ctx, t, RefundRemoved, p.UserID)
		if errors.Is(err, operation.ErrCancelled) {
			continue
		}
		if err == nil {
			s.log.InfoContext(ctx, "task removed by an admin", "task_id", id, "refunded", int64(refunded))
		}
		return refunded, err
	}
	return 0, operation.ErrInProgress
}

// close runs the operation that closes a task for reason and gives its open
// slots' pay back to the buyer. Its id carries the task's refund count, so
// that a slot reopened later (a rejection after expiry) is refunded by a new
// operation rather than deduplicated into the old one.
func (s *Service) close(ctx context.Context, t Task, reason RefundReason, by string) (money.Coins, error) {
	amount := t.Refundable()
	var postings []ledger.Posting
	if amount > 0 {
		postings = ledger.Move(ledger.EscrowAccount(t.ID), ledger.UserAccount(t.Buyer.ID), amount)
	}
	_, err := s.refund.Run(ctx, s.ops, fmt.Sprintf("%s:%d", t.ID, t.Refunds), postings, refund{Task: t, Reason: reason, Amount: amount, By: by})
	return amount, err
}

func (s *Service) commitRefund(ctx context.Context, op operation.Op[refund]) (bool, error) {
	t := op.Data.Task
	return s.store.Refund(ctx, Refund{
		Op: op.ID, TaskID: t.ID, Reason: op.Data.Reason, Refunds: t.Refunds, OpenSlots: t.OpenSlots, Held: t.Held, BuyerID: t.Buyer.ID,
		Now: s.clock(),
	})
}

func (s *Service) settleRefund(ctx context.Context, op operation.Op[refund]) error {
	// The commit took exactly the reserved slots read (Store.Refund): their
	// reservations end now rather than when their time runs out.
	if err := s.held.CancelHeld(ctx, op.Data.Task.Held, op.At); err != nil {
		return fmt.Errorf("end reservations of task %s: %w", op.Data.Task.ID, err)
	}
	if err := s.emitEnd(ctx, op); err != nil {
		return err
	}
	title, amount := op.Data.Task.Title, op.Data.Amount
	var msg string
	switch op.Data.Reason {
	case RefundExpired:
		msg = fmt.Sprintf("Your task “%s” reached its completion date; %d coins for its unfilled slots came back to you.", title, amount)
	case RefundClosed:
		msg = fmt.Sprintf("Your task “%s” is closed; %d coins for its open slots came back to you.", title, amount)
	case RefundRemoved:
		msg = fmt.Sprintf("An admin removed your task “%s”; %d coins came back to you.", title, amount)
		if op.Data.By != "" { // operations from before actions were recorded name no admin
			if err := s.admins.Record(ctx, adminlog.Entry{ID: op.ID, AdminID: op.Data.By, Kind: adminlog.TaskRemoved, TargetType: "task",
				TargetID: op.Data.Task.ID, Summary: fmt.Sprintf("task removed; %d coins refunded to its buyer", amount), At: op.At}); err != nil {
				return fmt.Errorf("log removal of task %s: %w", op.Data.Task.ID, err)
			}
		}
	default:
		msg = fmt.Sprintf("Your task “%s” was deleted; %d coins came back to you.", title, amount)
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: op.Data.Task.Buyer.ID, Message: msg, Type: notification.TaskRefunded, Page: notification.MyTasks, CreatedAt: op.At,
	})
}

// emitEnd tells the buyer's webhooks that a task closed or expired: the
// refund that ended it, not one of a slot reopened later.
func (s *Service) emitEnd(ctx context.Context, op operation.Op[refund]) error {
	t := op.Data.Task
	if t.Status != StatusOpen {
		return nil
	}
	var typ webhook.EventType
	switch op.Data.Reason {
	case RefundClosed:
		t.Status, typ = StatusClosed, webhook.TaskClosed
	case RefundExpired:
		t.Status, typ = StatusExpired, webhook.TaskExpired
	default:
		return nil
	}
	t.OpenSlots, t.Held = 0, nil
	if err := s.events.Emit(ctx, t.Buyer.ID, typ, op.ID, op.At, t.EventData(op.At)); err != nil {
		return fmt.Errorf("tell of task %s: %w", t.ID, err)
	}
	return nil
}

// NoteSlotTaken tells the buyer's webhooks that the task is full, if it
// is now: called by the steps that take a slot (a submission, a
// reservation). It reads the task only when the buyer wants to know. The
// event's id derives from the slots' holders, so that the steps of two
// submissions that both see the last slot gone tell it once, and the task
// filled again later tells it again.
func (s *Service) NoteSlotTaken(ctx context.Context, buyerID, taskID string) error {
	if ok, err := s.events.Wants(ctx, buyerID, webhook.TaskFull); err != nil || !ok {
		return err
	}
	t, err := s.store.ByID(ctx, taskID)
	if err != nil {
		return fmt.Errorf("read task %s: %w", taskID, err)
	}
	now := s.clock()
	if t.StatusAt(now) != StatusFull {
		return nil
	}
	holders := slices.Concat(t.PendingSubs, t.Held)
	slices.Sort(holders)
	key := idgen.Derive(append([]string{t.ID, strconv.Itoa(t.Refunds)}, holders...)...)
	if err := s.events.Emit(ctx, t.Buyer.ID, webhook.TaskFull, key, now, t.EventData(now)); err != nil {
		return fmt.Errorf("tell of task %s: %w", t.ID, err)
	}
	return nil
}

// ExpireDue refunds the open slots of tasks past their completion date and
// returns how many it closed. Safe to run anywhere, any number of times.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	due, err := s.store.Due(ctx, s.clock(), 100)
	if err != nil {
		return 0, fmt.Errorf("find due tasks: %w", err)
	}
	return job.Each(due, func(t Task) string { return "expire task " + t.ID },
		func(t Task) error {
			reason := RefundExpired
			if t.Status == StatusClosed {
				reason = RefundClosed // a slot reopened after its buyer closed it
			}
			_, err := s.close(ctx, t, reason, "")
			return err // job.Each names the task
		},
		operation.ErrCancelled, operation.ErrInProgress)
}

// CheckEscrow is the ledger audit's invariant 4, for the wiring to add to
// the audit: every task's escrow holds the pay of its open slots and pending
// submissions, and no escrow account holds coins for a task that does not
// exist. Accounts with an operation in flight are skipped.
func (s *Service) CheckEscrow(ctx context.Context, balances map[string]money.Coins, busy map[string]bool) ([]string, error) {
	var problems []string
	seen := map[string]bool{}
	err := s.store.Each(ctx, func(t Task) error {
		acct := ledger.EscrowAccount(t.ID)
		seen[acct] = true
		if busy[acct] {
			return nil
		}
		if got, want := balances[acct], t.EscrowDue(); got != want {
			problems = append(problems, fmt.Sprintf("task %s: escrow holds %d, want %d (%d free slots, %d reserved and %d pending submissions at %d)",
				t.ID, got, want, t.OpenSlots, len(t.Held), len(t.PendingSubs), t.Pay))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check the escrow of tasks: %w", err)
	}
	for acct, bal := range balances {
		if ledger.AccountKind(acct) == "escrow" && !seen[acct] && !busy[acct] && bal != 0 {
			problems = append(problems, fmt.Sprintf("%s holds %d but its task does not exist", acct, bal))
		}
	}
	return problems, nil
}

// The task's documents are this package's: the other capabilities change
// them through these methods.

// ByID returns a task, deleted ones included.
func (s *Service) ByID(ctx context.Context, id string) (Task, error) { return s.store.ByID(ctx, id) }

// ReserveSlot takes one open slot of the task for a submission, if the task
// takes submissions at now. True if it did now or had already; false if the
// task does not take it (Task.TakesSubmissions says why).
func (s *Service) ReserveSlot(ctx context.Context, taskID, submissionID, workerID string, now time.Time) (bool, error) {
	return s.store.ReserveSlot(ctx, taskID, submissionID, workerID, now)
}

// HoldSlot reserves one free slot of the task for the worker, as held
// (a reservation's HeldID), if the task takes submissions at now and the
// worker has not submitted to it. True if it did now or had already.
func (s *Service) HoldSlot(ctx context.Context, taskID, held, workerID string, now time.Time) (bool, error) {
	return s.store.HoldSlot(ctx, taskID, held, workerID, now)
}

// UseHeld turns the worker's reserved slot into the submission's, if the
// task takes work at now (Task.TakesWork). True if it did now or had
// already.
func (s *Service) UseHeld(ctx context.Context, taskID, held, submissionID, workerID string, now time.Time) (bool, error) {
	return s.store.UseHeld(ctx, taskID, held, submissionID, workerID, now)
}

// ReleaseHeld frees a reserved slot for operation op. True if it did now or
// had already; false if it is no longer held.
func (s *Service) ReleaseHeld(ctx context.Context, taskID, held, op string) (bool, error) {
	return s.store.ReleaseHeld(ctx, taskID, held, op)
}

// ReleaseSlot takes a reviewed submission off the task's pending list; with
// reopen (a rejection) its slot opens again.
func (s *Service) ReleaseSlot(ctx context.Context, taskID, submissionID string, reopen bool) error {
	return s.store.ReleaseSlot(ctx, taskID, submissionID, reopen)
}

// ConsumeSlot uses up one open slot of a task that is not deleted for
// operation op (an overturned rejection paid from escrow). True if it did
// now or had already.
func (s *Service) ConsumeSlot(ctx context.Context, taskID, op string) (bool, error) {
	return s.store.ConsumeSlot(ctx, taskID, op)
}

// ReclaimSlot moves one open slot of a task that is not deleted to the
// submission's pending one, for operation op (a rejection sent back for
// rework, paid from escrow). True if it did now or had already.
func (s *Service) ReclaimSlot(ctx context.Context, taskID, submissionID, op string) (bool, error) {
	return s.store.ReclaimSlot(ctx, taskID, submissionID, op)
}

// AddPending lists the submission as pending on the task for operation op
// (a rework its buyer paid into the task's escrow), once.
func (s *Service) AddPending(ctx context.Context, taskID, submissionID, op string) error {
	return s.store.AddPending(ctx, taskID, submissionID, op)
}

// StatusNow is the status readers are told of t now (Task.StatusAt).
func (s *Service) StatusNow(t Task) Status { return t.StatusAt(s.clock()) }

// SetHidden takes a buyer's tasks out of the lists (suspended or deleted) or
// puts them back.
func (s *Service) SetHidden(ctx context.Context, buyerID string, hidden bool) error {
	return s.store.SetHidden(ctx, buyerID, hidden)
}

// OpenSlots adds up the open slots of a buyer's live tasks.
func (s *Service) OpenSlots(ctx context.Context, buyerID string) (int64, error) {
	return s.store.OpenSlots(ctx, buyerID)
}

// SetBlocked gives the buyer's tasks, or the one task, the list of
// workers the buyer blocked (block.Tasks).
func (s *Service) SetBlocked(ctx context.Context, buyerID, taskID string, workerIDs []string, version int64) error {
	return s.store.SetBlocked(ctx, buyerID, taskID, workerIDs, version)
}

// Acquainted reports whether a worker and a buyer know each other through
// the buyer's tasks: the worker submitted to one, or reserved one of
// reserved, or, if open, may see one that takes work (the chat's rule of
// who may write to whom). One read.
func (s *Service) Acquainted(ctx context.Context, buyerID, workerID string, reserved []string, open bool) (bool, error) {
	return s.store.Acquainted(ctx, buyerID, workerID, reserved, open, s.clock())
}

// CountByBuyer counts a buyer's tasks that are not deleted.
func (s *Service) CountByBuyer(ctx context.Context, buyerID string) (int64, error) {
	return s.store.CountByBuyer(ctx, buyerID)
}

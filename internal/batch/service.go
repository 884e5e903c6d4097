package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/platform/job"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/webhook"
)

// Service applies the batch rules.
type Service struct {
	store       Store
	tasks       Tasks
	submissions Submissions
	events      Events
	ops         operation.Runner
	log         *slog.Logger
	now         func() time.Time

	fund  operation.Kind[funding]
	close operation.Kind[closing]
}

// funding is the data of the operation that funds a batch; its template
// and rows are on the batch and its rows, stored before it runs.
type funding struct {
	BatchID string
	BuyerID string
}

// closing is the data of the operation that closes a batch.
type closing struct {
	BatchID string
}

// Deps is what a Service is built with.
type Deps struct {
	Store       Store
	Tasks       Tasks
	Submissions Submissions
	Events      Events // tells buyers' webhooks of completed batches
	Ops         operation.Runner
	Log         *slog.Logger
	Now         func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, tasks: d.Tasks, submissions: d.Submissions, events: d.Events, ops: d.Ops, log: d.Log, now: now}
	// batch-fund:<batch> moves the whole batch's cost from its buyer to the
	// escrow of each of its tasks, one posting per task (so that each
	// task's escrow holds what it owes, as for a task posted alone), then
	// makes the tasks, in bulk. Short of coins, it makes none: the batch
	// fails.
	s.fund = operation.Kind[funding]{Name: "batch-fund", Settle: s.settleFund, Revert: s.revertFund}
	// batch-close:<batch> closes the batch, then each of its open tasks
	// with its own refund (task-refund), as closing it alone would.
	s.close = operation.Kind[closing]{Name: "batch-close", Commit: s.commitClose, Settle: s.settleClose}
	return s
}

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.fund.Define(), s.close.Define()}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// NewBatch is a buyer's new batch.
type NewBatch struct {
	Name string // empty: named by its size
	// Template is every task's fields; its task_title, task_detail and
	// submission_info may hold {{column}} placeholders.
	Template task.NewTask
	Items    []byte // the CSV file: a header, then 1 to MaxRows rows
	// Key is the client's Idempotency-Key, if it sent one: the batch's ID
	// derives from it, so that the request run again after a crash finds
	// the batch the first run funded instead of funding a second.
	Key string
}

// Create checks every row of a new batch first (an Invalid error naming
// each bad row and column), then makes one task per row, funded by one
// operation: all of them, or none and ledger.ErrInsufficientCoins.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewBatch) (Batch, error) {
	if !p.Is(auth.RoleBuyer) {
		return Batch{}, auth.ErrWrongRole
	}
	now := s.clock()
	in.Name = strings.TrimSpace(in.Name)
	qualErrs := s.tasks.CheckQualifications(ctx, p.UserID, in.Template.Requirements)
	if apperr.KindOf(qualErrs) != apperr.Invalid && qualErrs != nil {
		return Batch{}, qualErrs
	}
	tpl, columns, rows, err := prepare(in, now, qualErrs)
	if err != nil {
		return Batch{}, err
	}
	id := idgen.New()
	if in.Key != "" {
		id = idgen.Derive("batch", p.UserID, in.Key)
	}
	if in.Name == "" {
		in.Name = fmt.Sprintf("%d tasks from %s", len(rows), now.Format("2006-01-02 15:04"))
	}
	b := Batch{ID: id, BuyerID: p.UserID, Name: in.Name, Template: tpl, Columns: columns, Rows: len(rows), Status: StatusFunding, CreatedAt: now}
	for i := range rows {
		rows[i].BatchID = id
	}
	// The batch and its rows first, which the operation's steps read; a
	// batch whose operation never ran stays funding, and is never shown.
	if err := s.store.Insert(ctx, b); err != nil {
		return Batch{}, fmt.Errorf("insert batch %s: %w", id, err)
	}
	if err := s.store.InsertRows(ctx, rows); err != nil {
		return Batch{}, fmt.Errorf("insert rows of batch %s: %w", id, err)
	}
	each := money.Coins(tpl.Workers) * tpl.Pay
	postings := make([]ledger.Posting, 0, len(rows)+1)
	postings = append(postings, ledger.Posting{Account: ledger.UserAccount(p.UserID), Amount: -b.Funded()})
	for _, r := range rows {
		postings = append(postings, ledger.Posting{Account: ledger.EscrowAccount(TaskID(id, r.N)), Amount: each})
	}
	if _, err := s.fund.Run(ctx, s.ops, id, postings, funding{BatchID: id, BuyerID: p.UserID}); err != nil {
		return Batch{}, fmt.Errorf("fund batch %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "batch created", "batch_id", id, "tasks", len(rows), "funded", int64(b.Funded()))
	return s.store.ByID(ctx, id)
}

// settleFund makes the tasks once their escrow is funded, then opens the
// batch. Every write is safe to repeat.
func (s *Service) settleFund(ctx context.Context, op operation.Op[funding]) error {
	b, err := s.store.ByID(ctx, op.Data.BatchID)
	if err != nil {
		return fmt.Errorf("read batch %s: %w", op.Data.BatchID, err)
	}
	rows, err := s.store.Rows(ctx, b.ID, 1, b.Rows)
	if err != nil {
		return fmt.Errorf("read rows of batch %s: %w", b.ID, err)
	}
	batched := make([]task.Batched, len(rows))
	for i, r := range rows {
		batched[i] = b.task(r)
	}
	tasks, err := s.tasks.ForBatch(ctx, b.BuyerID, b.ID, batched, op.At)
	if err != nil {
		return err
	}
	if err := s.tasks.InsertFunded(ctx, op.ID, b.BuyerID, tasks); err != nil {
		return err
	}
	if _, err := s.store.SetStatus(ctx, b.ID, StatusFunding, StatusOpen); err != nil {
		return fmt.Errorf("open batch %s: %w", b.ID, err)
	}
	return nil
}

// revertFund marks a batch whose buyer lacked the coins failed: it made no
// task.
func (s *Service) revertFund(ctx context.Context, op operation.Op[funding]) error {
	if _, err := s.store.SetStatus(ctx, op.Data.BatchID, StatusFunding, StatusFailed); err != nil {
		return fmt.Errorf("fail batch %s: %w", op.Data.BatchID, err)
	}
	return nil
}

// own returns the buyer's batch, funded or being funded; someone else's,
// and a failed one, are not found.
func (s *Service) own(ctx context.Context, p auth.Principal, id string) (Batch, error) {
	if !p.Is(auth.RoleBuyer) {
		return Batch{}, auth.ErrWrongRole
	}
	b, err := s.store.ByID(ctx, id)
	if err == nil && (b.BuyerID != p.UserID || b.Status == StatusFailed) {
		return Batch{}, ErrNotFound
	}
	return b, err
}

// Get returns one of the buyer's batches with its counts and coins.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Batch, Stats, error) {
	b, err := s.own(ctx, p, id)
	if err != nil {
		return Batch{}, Stats{}, err
	}
	st, err := s.stats(ctx, b)
	return b, st, err
}

// stats counts a batch's tasks by status and their submissions by status,
// and what their escrow holds, in two reads.
func (s *Service) stats(ctx context.Context, b Batch) (Stats, error) {
	st := Stats{Tasks: map[task.Status]int{}, Submissions: map[submission.Status]int{}, Funded: b.Funded()}
	if b.Status == StatusFunding {
		return st, nil
	}
	var ids []string
	err := s.tasks.EachOfBatch(ctx, b.ID, func(t task.Task) error {
		st.Tasks[s.tasks.StatusNow(t)]++
		st.Escrowed += t.EscrowDue()
		ids = append(ids, t.ID)
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("read tasks of batch %s: %w", b.ID, err)
	}
	err = s.submissions.EachOfTasks(ctx, ids, func(sub submission.Submission) error {
		st.Submissions[sub.Status]++
		if sub.Status == submission.StatusApproved {
			st.Paid += sub.Pay
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("read submissions of batch %s: %w", b.ID, err)
	}
	// What escrow paid out, and what it holds, is not what came back. (A
	// rejection an admin overturns from the buyer's balance counts as paid
	// here, and so lowers what this says came back.)
	st.Refunded = max(0, st.Funded-st.Escrowed-st.Paid)
	return st, nil
}

// List returns a page of the buyer's batches, newest first.
func (s *Service) List(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Batch], error) {
	if !p.Is(auth.RoleBuyer) {
		return page.Of[Batch]{}, auth.ErrWrongRole
	}
	items, total, err := s.store.List(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Batch]{}, fmt.Errorf("list batches of %s: %w", p.UserID, err)
	}
	return page.Of[Batch]{Items: items, Request: r, Total: total}, nil
}

// Close closes one of the buyer's open batches and each of its open tasks,
// whose open slots come back as for one task closed early (pending work is
// still reviewed), and returns the batch as it is then.
func (s *Service) Close(ctx context.Context, p auth.Principal, id string) (Batch, Stats, error) {
	b, err := s.own(ctx, p, id)
	if err != nil {
		return Batch{}, Stats{}, err
	}
	if b.Status != StatusOpen {
		return Batch{}, Stats{}, ErrNotOpen
	}
	res, err := s.close.Run(ctx, s.ops, id, nil, closing{BatchID: id})
	if errors.Is(err, operation.ErrCancelled) || (err == nil && res.Replayed) {
		return Batch{}, Stats{}, ErrNotOpen // closed by a concurrent request
	}
	if err != nil {
		return Batch{}, Stats{}, fmt.Errorf("close batch %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "batch closed", "batch_id", id)
	return s.Get(ctx, p, id)
}

func (s *Service) commitClose(ctx context.Context, op operation.Op[closing]) (bool, error) {
	return s.store.Close(ctx, op.Data.BatchID, op.ID, s.clock())
}

// settleClose closes the batch's open tasks, each by its own operation;
// run again after a crash, it closes those still open.
func (s *Service) settleClose(ctx context.Context, op operation.Op[closing]) error {
	_, err := s.tasks.CloseBatch(ctx, op.Data.BatchID)
	return err
}

// Results calls header with the columns of one of the buyer's batches,
// then line with each submission to its tasks, with its row, in row
// order: a few tasks' submissions in memory at a time, however many there
// are.
func (s *Service) Results(ctx context.Context, p auth.Principal, id string, header func(columns []string) error, line func(Result) error) error {
	b, err := s.own(ctx, p, id)
	if err != nil {
		return err
	}
	if err := header(b.Columns); err != nil {
		return err
	}
	var chunk []task.Task
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		defer func() { chunk = chunk[:0] }()
		rows, err := s.store.Rows(ctx, b.ID, chunk[0].BatchRow, chunk[len(chunk)-1].BatchRow)
		if err != nil {
			return fmt.Errorf("read rows of batch %s: %w", b.ID, err)
		}
		byRow := make(map[int]Row, len(rows))
		for _, r := range rows {
			byRow[r.N] = r
		}
		ids := make([]string, len(chunk))
		for i, t := range chunk {
			ids[i] = t.ID
		}
		byTask := map[string][]submission.Submission{}
		if err := s.submissions.EachOfTasks(ctx, ids, func(sub submission.Submission) error {
			byTask[sub.TaskID] = append(byTask[sub.TaskID], sub)
			return nil
		}); err != nil {
			return fmt.Errorf("read submissions of batch %s: %w", b.ID, err)
		}
		for _, t := range chunk {
			for _, sub := range byTask[t.ID] {
				if err := line(Result{Row: byRow[t.BatchRow], Submission: sub}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = s.tasks.EachOfBatch(ctx, b.ID, func(t task.Task) error {
		if chunk = append(chunk, t); len(chunk) == resultChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// busy reports whether a task of a batch still has work to come: a
// submission awaiting review, a reserved slot, or a free slot it may still
// take (open, if paused or its buyer suspended, before its date).
func busy(t task.Task, now time.Time) bool {
	return len(t.PendingSubs) > 0 || len(t.Held) > 0 || (t.OpenSlots > 0 && t.Status == task.StatusOpen && now.Before(t.CompletionDate))
}

var errBusy = errors.New("busy")

// CompleteDue marks completed the batches none of whose tasks has work to
// come any more, telling their buyers' webhooks (batch.completed, once),
// and returns how many. Safe to run anywhere, any number of times: the
// event's id derives from the batch, and it is stored before the mark.
func (s *Service) CompleteDue(ctx context.Context) (int, error) {
	due, err := s.store.Uncompleted(ctx, 100)
	if err != nil {
		return 0, fmt.Errorf("find batches to complete: %w", err)
	}
	now := s.clock()
	return job.Each(due, func(b Batch) string { return "complete batch " + b.ID }, func(b Batch) error {
		err := s.tasks.EachOfBatch(ctx, b.ID, func(t task.Task) error {
			if busy(t, now) {
				return errBusy
			}
			return nil
		})
		if err != nil {
			return err // errBusy: not yet, and not counted
		}
		st, err := s.stats(ctx, b)
		if err != nil {
			return err
		}
		data := webhook.BatchData{ID: b.ID, Name: b.Name, Tasks: b.Rows, Approved: int64(st.Submissions[submission.StatusApproved]),
			Rejected: int64(st.Submissions[submission.StatusRejected]), Paid: st.Paid, Refunded: st.Refunded, CompletedAt: now}
		if err := s.events.Emit(ctx, b.BuyerID, webhook.BatchCompleted, b.ID, now, data); err != nil {
			return err
		}
		return s.store.SetCompleted(ctx, b.ID, now)
	}, errBusy)
}

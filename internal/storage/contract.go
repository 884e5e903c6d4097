package storage

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/contract"
	"microtask/internal/docdb"
	"microtask/internal/job"
	"microtask/internal/money"
	"microtask/internal/page"
)

// ContractStore keeps the contracts and contract_items collections: one
// flat document per contract (its escrow's lists of item ids, its
// revision and the operations committed on it) and one per escrow item
// (milestone or week). It implements contract.Store.
type ContractStore struct {
	contracts docdb.Collection
	items     docdb.Collection
}

// NewContractStore returns the contracts store on d.
func NewContractStore(d *docdb.DB) *ContractStore {
	return &ContractStore{contracts: d.Collection("contracts"), items: d.Collection("contract_items")}
}

var _ contract.Store = (*ContractStore)(nil)

type contractDoc struct {
	ID              string     `bson:"_id"`
	JobID           string     `bson:"job_id"`
	JobTitle        string     `bson:"job_title"`
	ProposalID      string     `bson:"proposal_id"`
	Type            string     `bson:"type"`
	BuyerID         string     `bson:"buyer_id"`
	BuyerName       string     `bson:"buyer_name"`
	WorkerID        string     `bson:"worker_id"`
	WorkerName      string     `bson:"worker_name"`
	Parties         []string   `bson:"parties"` // the buyer and the worker, for the list of each
	Price           int64      `bson:"price_coins"`
	Rate            int64      `bson:"hourly_rate_coins"`
	WeeklyHourLimit int64      `bson:"weekly_hour_limit"`
	Status          string     `bson:"status"`
	Held            []string   `bson:"held"`
	Submitted       []string   `bson:"submitted"`
	Disputed        []string   `bson:"disputed"`
	Holding         int64      `bson:"escrow_coins"`
	Paid            int64      `bson:"paid_coins"`
	Refunded        int64      `bson:"refunded_coins"`
	NextWeek        *time.Time `bson:"next_week,omitempty"` // hourly contracts only
	Paused          bool       `bson:"paused"`
	Proposed        []string   `bson:"proposed"`     // milestones beyond the agreed price awaiting the worker (missing in older documents: none)
	Raised          int64      `bson:"raised_coins"` // what the worker's accepted changes added to the price
	Rev             int64      `bson:"rev"`
	Ops             []string   `bson:"ops"`
	CreatedAt       time.Time  `bson:"created_at"`
	EndedAt         *time.Time `bson:"ended_at,omitempty"`
	EndedBy         string     `bson:"ended_by,omitempty"`
	EndReason       string     `bson:"end_reason,omitempty"`
}

func contractFromDoc(d contractDoc) contract.Contract {
	return contract.Contract{ID: d.ID, JobID: d.JobID, JobTitle: d.JobTitle, ProposalID: d.ProposalID, Type: job.Type(d.Type),
		Buyer: contract.Party{ID: d.BuyerID, Name: d.BuyerName}, Worker: contract.Party{ID: d.WorkerID, Name: d.WorkerName},
		Price: money.Coins(d.Price), Rate: money.Coins(d.Rate), WeeklyHourLimit: int(d.WeeklyHourLimit), Status: contract.Status(d.Status),
		Escrow: contract.Escrow{Status: contract.Status(d.Status), Held: nonNil(d.Held), Submitted: nonNil(d.Submitted),
			Disputed: nonNil(d.Disputed), Holding: money.Coins(d.Holding), Paid: money.Coins(d.Paid), Refunded: money.Coins(d.Refunded),
			NextWeek: timeOf(d.NextWeek), Paused: d.Paused, Proposed: nonNil(d.Proposed), Raised: money.Coins(d.Raised)},
		Rev: d.Rev, Ops: d.Ops, CreatedAt: d.CreatedAt, EndedAt: timeOf(d.EndedAt), EndedBy: d.EndedBy, EndReason: d.EndReason}
}

func contractToDoc(c contract.Contract) contractDoc {
	return contractDoc{ID: c.ID, JobID: c.JobID, JobTitle: c.JobTitle, ProposalID: c.ProposalID,
		Type: string(c.Type), BuyerID: c.Buyer.ID, BuyerName: c.Buyer.Name, WorkerID: c.Worker.ID, WorkerName: c.Worker.Name,
		Parties: []string{c.Buyer.ID, c.Worker.ID}, Price: int64(c.Price), Rate: int64(c.Rate), WeeklyHourLimit: int64(c.WeeklyHourLimit),
		Status: string(c.Status), Held: nonNil(c.Held), Submitted: nonNil(c.Submitted), Disputed: nonNil(c.Disputed), Holding: int64(c.Holding), Paid: int64(c.Paid),
		Refunded: int64(c.Refunded), NextWeek: optTime(c.NextWeek), Paused: c.Paused, Proposed: nonNil(c.Proposed), Raised: int64(c.Raised),
		Rev: c.Rev, Ops: nonNil(c.Ops), CreatedAt: c.CreatedAt, EndedAt: optTime(c.EndedAt), EndedBy: c.EndedBy, EndReason: c.EndReason}
}

// InsertContract implements contract.Store.
func (s *ContractStore) InsertContract(ctx context.Context, c contract.Contract) error {
	err := s.contracts.InsertOne(ctx, contractToDoc(c))
	if docdb.IsDuplicate(err) {
		return nil // inserted by an earlier run of the same step
	}
	return err
}

// InsertContracts adds contracts in one command, each as it is given
// (ended too), with no operation behind them: for the load generator's
// seed, whose caller must have posted what each one's escrow holds
// (Holding) for the audit to balance. A duplicate ID stops it; those
// before it stay.
func (s *ContractStore) InsertContracts(ctx context.Context, cs []contract.Contract) error {
	docs := make([]any, len(cs))
	for i, c := range cs {
		docs[i] = contractToDoc(c)
	}
	return s.contracts.InsertMany(ctx, docs, true)
}

// Contract implements contract.Store.
func (s *ContractStore) Contract(ctx context.Context, id string) (contract.Contract, error) {
	var d contractDoc
	err := s.contracts.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return contract.Contract{}, contract.ErrNotFound
	}
	return contractFromDoc(d), err
}

// List implements contract.Store: one find and one count.
func (s *ContractStore) List(ctx context.Context, userID string, status contract.Status, p page.Request) ([]contract.Contract, int64, error) {
	q := bson.D{{Key: "parties", Value: userID}} // an element of the array
	if status != "" {
		q = append(q, bson.E{Key: "status", Value: string(status)})
	}
	return docdb.FindPage(ctx, s.contracts, q, newestFirst, p, contractFromDoc)
}

// Commit implements contract.Store: one conditional update, guarded by the
// revision; the operation recorded makes it safe to repeat.
func (s *ContractStore) Commit(ctx context.Context, contractID, op string, rev int64, e contract.Escrow) (bool, error) {
	return docdb.CommitOnce(ctx, s.contracts, contractID,
		bson.D{{Key: "_id", Value: contractID}, {Key: "rev", Value: rev - 1}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: string(e.Status)}, {Key: "held", Value: nonNil(e.Held)},
				{Key: "submitted", Value: nonNil(e.Submitted)}, {Key: "disputed", Value: nonNil(e.Disputed)}, {Key: "escrow_coins", Value: int64(e.Holding)},
				{Key: "paid_coins", Value: int64(e.Paid)}, {Key: "refunded_coins", Value: int64(e.Refunded)}, {Key: "paused", Value: e.Paused},
				{Key: "next_week", Value: optTime(e.NextWeek)}, {Key: "proposed", Value: nonNil(e.Proposed)}, {Key: "raised_coins", Value: int64(e.Raised)},
				{Key: "rev", Value: rev}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d contractDoc) bool { return slices.Contains(d.Ops, op) })
}

// Unfund implements contract.Store. It moves the revision on, so that a
// change read while the item was held no longer commits.
func (s *ContractStore) Unfund(ctx context.Context, contractID, op, itemID string, coins money.Coins) error {
	_, err := s.contracts.UpdateOne(ctx, bson.D{{Key: "_id", Value: contractID}, {Key: "ops", Value: op}}, bson.D{
		{Key: "$pull", Value: bson.D{{Key: "held", Value: itemID}, {Key: "ops", Value: op}}},
		{Key: "$inc", Value: bson.D{{Key: "escrow_coins", Value: -int64(coins)}, {Key: "rev", Value: int64(1)}}},
	}, false)
	return err
}

// SetEnded implements contract.Store.
func (s *ContractStore) SetEnded(ctx context.Context, contractID, by, reason string, at time.Time) error {
	_, err := s.contracts.UpdateOne(ctx, bson.D{{Key: "_id", Value: contractID}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "ended_at", Value: at}, {Key: "ended_by", Value: by}, {Key: "end_reason", Value: reason}}}}, false)
	return err
}

// Each implements contract.Store.
func (s *ContractStore) Each(ctx context.Context, fn func(contract.Contract) error) error {
	return docdb.Each(ctx, s.contracts, bson.D{}, docdb.Query{}, func(d contractDoc) error { return fn(contractFromDoc(d)) })
}

type contractItemDoc struct {
	ID          string     `bson:"_id"`
	ContractID  string     `bson:"contract_id"`
	Kind        string     `bson:"kind"`
	Seq         int64      `bson:"seq"`
	Title       string     `bson:"title"`
	Coins       int64      `bson:"coins"`
	DueDate     *time.Time `bson:"due_date,omitempty"`
	WeekStart   *time.Time `bson:"week_start,omitempty"`
	Hours       int64      `bson:"hours"`
	Status      string     `bson:"status"`
	Message     string     `bson:"message"`
	Attachments []string   `bson:"attachments"`
	SubmittedAt *time.Time `bson:"submitted_at,omitempty"`
	Submissions int64      `bson:"submissions"`
	Changes     int64      `bson:"changes"`
	ChangeNote  string     `bson:"change_note"`
	ReleasedAt  *time.Time `bson:"released_at,omitempty"`
	AutoRelease bool       `bson:"auto_release,omitempty"`
	Disputes    int64      `bson:"disputes"`
	DisputeID   string     `bson:"dispute_id"`
	Resolution  string     `bson:"resolution"`
	WorkerCoins int64      `bson:"worker_coins"`
	// ReworkDeadline is null when none.
	ReworkDeadline *time.Time `bson:"rework_deadline"`
	Rev            int64      `bson:"rev"`
	CreatedAt      time.Time  `bson:"created_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func itemToDoc(i contract.Item) contractItemDoc {
	return contractItemDoc{ID: i.ID, ContractID: i.ContractID, Kind: string(i.Kind), Seq: int64(i.Seq), Title: i.Title, Coins: int64(i.Coins),
		DueDate: optTime(i.DueDate), WeekStart: optTime(i.WeekStart), Hours: int64(i.Hours), Status: string(i.Status), Message: i.Message,
		Attachments: nonNil(i.Attachments), SubmittedAt: optTime(i.SubmittedAt), Submissions: int64(i.Submissions),
		Changes: int64(i.Changes), ChangeNote: i.ChangeNote, ReleasedAt: optTime(i.ReleasedAt), AutoRelease: i.AutoRelease,
		Disputes: int64(i.Disputes), DisputeID: i.DisputeID, Resolution: string(i.Resolution), WorkerCoins: int64(i.WorkerCoins),
		ReworkDeadline: optTime(i.ReworkDeadline), Rev: i.Rev, CreatedAt: i.CreatedAt}
}

func itemFromDoc(d contractItemDoc) contract.Item {
	return contract.Item{ID: d.ID, ContractID: d.ContractID, Kind: contract.ItemKind(d.Kind), Seq: int(d.Seq), Title: d.Title,
		Coins: money.Coins(d.Coins), DueDate: timeOf(d.DueDate), WeekStart: timeOf(d.WeekStart), Hours: int(d.Hours), Status: contract.ItemStatus(d.Status),
		Message: d.Message, Attachments: nonNil(d.Attachments), SubmittedAt: timeOf(d.SubmittedAt), Submissions: int(d.Submissions),
		Changes: int(d.Changes), ChangeNote: d.ChangeNote, ReleasedAt: timeOf(d.ReleasedAt), AutoRelease: d.AutoRelease,
		Disputes: int(d.Disputes), DisputeID: d.DisputeID, Resolution: contract.Resolution(d.Resolution), WorkerCoins: money.Coins(d.WorkerCoins),
		ReworkDeadline: timeOf(d.ReworkDeadline), Rev: d.Rev, CreatedAt: d.CreatedAt}
}

// InsertItems implements contract.Store: unordered, in commands of at
// most insertBatch items.
func (s *ContractStore) InsertItems(ctx context.Context, items []contract.Item) error {
	for chunk := range slices.Chunk(items, insertBatch) {
		docs := make([]any, len(chunk))
		for i, it := range chunk {
			docs[i] = itemToDoc(it)
		}
		if err := s.items.InsertMany(ctx, docs, false); err != nil && !docdb.IsDuplicate(err) {
			return err
		}
	}
	return nil
}

// Items implements contract.Store.
func (s *ContractStore) Items(ctx context.Context, contractID string) ([]contract.Item, error) {
	out := []contract.Item{}
	err := docdb.Each(ctx, s.items, bson.D{{Key: "contract_id", Value: contractID}},
		docdb.Query{Sort: bson.D{{Key: "seq", Value: 1}, {Key: "_id", Value: 1}}}, func(d contractItemDoc) error {
			out = append(out, itemFromDoc(d))
			return nil
		})
	return out, err
}

// Item implements contract.Store.
func (s *ContractStore) Item(ctx context.Context, id string) (contract.Item, error) {
	var d contractItemDoc
	err := s.items.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return contract.Item{}, contract.ErrItemNotFound
	}
	return itemFromDoc(d), err
}

// SetItem implements contract.Store: the item's changing fields, if its
// revision is below the new one.
func (s *ContractStore) SetItem(ctx context.Context, i contract.Item) error {
	d := itemToDoc(i)
	set := bson.D{{Key: "status", Value: d.Status}, {Key: "message", Value: d.Message}, {Key: "attachments", Value: d.Attachments},
		{Key: "submissions", Value: d.Submissions}, {Key: "changes", Value: d.Changes}, {Key: "change_note", Value: d.ChangeNote},
		{Key: "hours", Value: d.Hours}, {Key: "auto_release", Value: d.AutoRelease}, {Key: "disputes", Value: d.Disputes}, {Key: "dispute_id", Value: d.DisputeID},
		{Key: "resolution", Value: d.Resolution}, {Key: "worker_coins", Value: d.WorkerCoins}, {Key: "rework_deadline", Value: d.ReworkDeadline},
		{Key: "rev", Value: d.Rev}}
	if d.SubmittedAt != nil {
		set = append(set, bson.E{Key: "submitted_at", Value: *d.SubmittedAt})
	}
	if d.ReleasedAt != nil {
		set = append(set, bson.E{Key: "released_at", Value: *d.ReleasedAt})
	}
	_, err := s.items.UpdateOne(ctx, bson.D{{Key: "_id", Value: i.ID}, {Key: "rev", Value: bson.D{{Key: "$lt", Value: i.Rev}}}},
		bson.D{{Key: "$set", Value: set}}, false)
	return err
}

// Due implements contract.Store, through the index on status and
// submitted_at.
func (s *ContractStore) Due(ctx context.Context, kind contract.ItemKind, before time.Time, limit int) ([]contract.Item, error) {
	var out []contract.Item
	err := docdb.Each(ctx, s.items, bson.D{{Key: "status", Value: string(contract.ItemSubmitted)},
		{Key: "submitted_at", Value: bson.D{{Key: "$lte", Value: before}}}, {Key: "kind", Value: string(kind)}},
		docdb.Query{Sort: bson.D{{Key: "submitted_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, func(d contractItemDoc) error {
			out = append(out, itemFromDoc(d))
			return nil
		})
	return out, err
}

// Unlogged implements contract.Store: one find, through the index on
// status, kind and week_start (migration 0054).
func (s *ContractStore) Unlogged(ctx context.Context, before time.Time, limit int) ([]contract.Item, error) {
	var out []contract.Item
	err := docdb.Each(ctx, s.items, bson.D{{Key: "status", Value: string(contract.ItemFunded)}, {Key: "kind", Value: string(contract.KindWeek)},
		{Key: "week_start", Value: bson.D{{Key: "$lt", Value: before}}}, {Key: "submissions", Value: 0}},
		docdb.Query{Sort: bson.D{{Key: "week_start", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, func(d contractItemDoc) error {
			out = append(out, itemFromDoc(d))
			return nil
		})
	return out, err
}

// Contracted implements contract.Store: one find, through the index on
// buyer and worker.
func (s *ContractStore) Contracted(ctx context.Context, buyerID, workerID string) (bool, error) {
	var d struct {
		ID string `bson:"_id"`
	}
	err := s.contracts.FindOne(ctx, bson.D{{Key: "buyer_id", Value: buyerID}, {Key: "worker_id", Value: workerID}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return false, nil
	}
	return err == nil, err
}

// Weeks implements contract.Store: one find and one count.
func (s *ContractStore) Weeks(ctx context.Context, contractID string, p page.Request) ([]contract.Item, int64, error) {
	return docdb.FindPage(ctx, s.items, bson.D{{Key: "contract_id", Value: contractID}, {Key: "kind", Value: string(contract.KindWeek)}},
		bson.D{{Key: "seq", Value: -1}, {Key: "_id", Value: 1}}, p, itemFromDoc)
}

// WeekDue implements contract.Store, through the index on status and
// next_week (migration 0053).
func (s *ContractStore) WeekDue(ctx context.Context, now time.Time, limit int) ([]contract.Contract, error) {
	var out []contract.Contract
	err := docdb.Each(ctx, s.contracts, bson.D{{Key: "status", Value: string(contract.StatusActive)},
		{Key: "next_week", Value: bson.D{{Key: "$lte", Value: now}}}, {Key: "paused", Value: false}},
		docdb.Query{Sort: bson.D{{Key: "next_week", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, func(d contractDoc) error {
			out = append(out, contractFromDoc(d))
			return nil
		})
	return out, err
}

// RestoreWeek implements contract.Store.
func (s *ContractStore) RestoreWeek(ctx context.Context, contractID string, at, prev time.Time, paused bool) error {
	_, err := s.contracts.UpdateOne(ctx, bson.D{{Key: "_id", Value: contractID}, {Key: "next_week", Value: at}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "next_week", Value: prev}, {Key: "paused", Value: paused}}}}, false)
	return err
}

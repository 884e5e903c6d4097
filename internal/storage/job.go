package storage

import (
	"context"
	"errors"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/job"
	"microtask/internal/money"
	"microtask/internal/page"
)

// JobStore keeps the jobs and proposals collections: one flat document
// per job and per proposal (unique on job and worker: one proposal per
// worker and job). It implements job.Store.
type JobStore struct {
	jobs      docdb.Collection
	proposals docdb.Collection
}

// NewJobStore returns the jobs store on d.
func NewJobStore(d *docdb.DB) *JobStore {
	return &JobStore{jobs: d.Collection("jobs"), proposals: d.Collection("proposals")}
}

var _ job.Store = (*JobStore)(nil)

// noDeadline is what a job without a deadline sorts by: after every date,
// so that the nearest deadlines come first and none last (MongoDB sorts a
// null first).
var noDeadline = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

type jobDoc struct {
	ID              string     `bson:"_id"`
	Title           string     `bson:"title"`
	Description     string     `bson:"description"`
	Category        string     `bson:"category"`
	Skills          []string   `bson:"skills"`
	SkillKeys       []string   `bson:"skill_keys"` // lower case, for the filter
	Type            string     `bson:"type"`
	Budget          int64      `bson:"budget_coins"`
	HourlyRate      int64      `bson:"hourly_rate_coins"`
	WeeklyHourLimit int64      `bson:"weekly_hour_limit"`
	BudgetKey       int64      `bson:"budget_key"` // job.Job.BudgetKey, for the filters and the sort
	Deadline        *time.Time `bson:"deadline,omitempty"`
	DeadlineKey     time.Time  `bson:"deadline_key"` // the deadline, or noDeadline, for the sort
	// The job's requirements, kept as a task's (requirementsDoc), so
	// that admits filters jobs too: every job has them (migration 0067).
	Reqs       requirementsDoc `bson:",inline"`
	BuyerID    string          `bson:"buyer_id"`
	BuyerName  string          `bson:"buyer_name"`
	Status     string          `bson:"status"`
	Hidden     bool            `bson:"hidden,omitempty"` // its buyer is suspended or deleted
	ContractID string          `bson:"contract_id,omitempty"`
	CreatedAt  time.Time       `bson:"created_at"`
	ClosedAt   *time.Time      `bson:"closed_at,omitempty"`
}

func jobFromDoc(d jobDoc) job.Job {
	return job.Job{ID: d.ID, Title: d.Title, Description: d.Description, Category: d.Category, Skills: nonNil(d.Skills),
		Type: job.Type(d.Type), Budget: money.Coins(d.Budget), HourlyRate: money.Coins(d.HourlyRate),
		WeeklyHourLimit: int(d.WeeklyHourLimit), Deadline: timeOf(d.Deadline),
		Requirements: d.Reqs.requirements(),
		Buyer:        job.Party{ID: d.BuyerID, Name: d.BuyerName}, Status: job.Status(d.Status), Hidden: d.Hidden, ContractID: d.ContractID,
		CreatedAt: d.CreatedAt, ClosedAt: timeOf(d.ClosedAt)}
}

func skillKeys(skills []string) []string {
	keys := make([]string, len(skills))
	for i, s := range skills {
		keys[i] = job.SkillKey(s)
	}
	return keys
}

func deadlineOf(t time.Time) (*time.Time, time.Time) {
	if t.IsZero() {
		return nil, noDeadline
	}
	return &t, t
}

func jobToDoc(j job.Job) jobDoc {
	deadline, key := deadlineOf(j.Deadline)
	return jobDoc{ID: j.ID, Title: j.Title, Description: j.Description, Category: j.Category,
		Skills: nonNil(j.Skills), SkillKeys: skillKeys(j.Skills), Type: string(j.Type), Budget: int64(j.Budget),
		HourlyRate: int64(j.HourlyRate), WeeklyHourLimit: int64(j.WeeklyHourLimit), BudgetKey: int64(j.BudgetKey()),
		Deadline: deadline, DeadlineKey: key, Reqs: requirementsToDoc(j.Requirements),
		BuyerID: j.Buyer.ID, BuyerName: j.Buyer.Name, Status: string(j.Status), Hidden: j.Hidden, ContractID: j.ContractID,
		CreatedAt: j.CreatedAt, ClosedAt: optTime(j.ClosedAt)}
}

// Insert implements job.Store.
func (s *JobStore) Insert(ctx context.Context, j job.Job) error {
	return s.jobs.InsertOne(ctx, jobToDoc(j))
}

// InsertMany adds jobs in one command, each as it is given (closed or
// hired too), with no service behind it: for the load generator's seed.
// A duplicate ID stops it; those before it stay.
func (s *JobStore) InsertMany(ctx context.Context, jobs []job.Job) error {
	docs := make([]any, len(jobs))
	for i, j := range jobs {
		docs[i] = jobToDoc(j)
	}
	return s.jobs.InsertMany(ctx, docs, true)
}

// ByID implements job.Store.
func (s *JobStore) ByID(ctx context.Context, id string) (job.Job, error) {
	var d jobDoc
	err := s.jobs.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return job.Job{}, job.ErrNotFound
	}
	return jobFromDoc(d), err
}

// jobFilter turns a job.Filter into a query. Search words are matched
// literally (regexp.QuoteMeta): user input never becomes a pattern or an
// operator.
func jobFilter(f job.Filter) bson.D {
	var q bson.D
	if f.BuyerID != "" {
		q = bson.D{{Key: "buyer_id", Value: f.BuyerID}}
	} else {
		q = bson.D{{Key: "status", Value: string(job.StatusOpen)}, {Key: "hidden", Value: bson.D{{Key: "$ne", Value: true}}}}
	}
	if f.Category != "" {
		q = append(q, bson.E{Key: "category", Value: f.Category})
	}
	if f.Skill != "" {
		q = append(q, bson.E{Key: "skill_keys", Value: f.Skill}) // an element of the array
	}
	if f.Type != "" {
		q = append(q, bson.E{Key: "type", Value: string(f.Type)})
	}
	if f.MinBudget > 0 || f.MaxBudget > 0 {
		var r bson.D
		if f.MinBudget > 0 {
			r = append(r, bson.E{Key: "$gte", Value: int64(f.MinBudget)})
		}
		if f.MaxBudget > 0 {
			r = append(r, bson.E{Key: "$lte", Value: int64(f.MaxBudget)})
		}
		q = append(q, bson.E{Key: "budget_key", Value: r})
	}
	if f.Query != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(f.Query), Options: "i"}
		q = append(q, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "title", Value: re}}, bson.D{{Key: "description", Value: re}},
		}})
	}
	if f.Candidate != nil {
		q = append(q, admits(*f.Candidate)...) // the tasks' filter: the same fields, the same rule
	}
	return q
}

func jobSort(sort string) bson.D {
	switch sort {
	case job.SortBudget:
		return bson.D{{Key: "budget_key", Value: -1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}
	case job.SortDeadline:
		return bson.D{{Key: "deadline_key", Value: 1}, {Key: "_id", Value: 1}}
	default:
		return newestFirst
	}
}

// List implements job.Store: one find and one count.
func (s *JobStore) List(ctx context.Context, f job.Filter, p page.Request) ([]job.Job, int64, error) {
	return docdb.FindPage(ctx, s.jobs, jobFilter(f), jobSort(f.Sort), p, jobFromDoc)
}

// Edit implements job.Store: one conditional update, then a read.
func (s *JobStore) Edit(ctx context.Context, id, buyerID string, e job.Edit) (job.Job, error) {
	set := setFields(field{"title", e.Title}, field{"description", e.Description}, field{"category", e.Category})
	if e.Skills != nil {
		set = append(set, bson.E{Key: "skills", Value: nonNil(*e.Skills)}, bson.E{Key: "skill_keys", Value: skillKeys(*e.Skills)})
	}
	cur, err := s.ByID(ctx, id)
	if err != nil {
		return job.Job{}, err
	}
	if cur.Buyer.ID != buyerID {
		return job.Job{}, job.ErrNotFound
	}
	next := cur
	if e.Budget != nil {
		next.Budget = *e.Budget
		set = append(set, bson.E{Key: "budget_coins", Value: int64(*e.Budget)})
	}
	if e.HourlyRate != nil {
		next.HourlyRate = *e.HourlyRate
		set = append(set, bson.E{Key: "hourly_rate_coins", Value: int64(*e.HourlyRate)})
	}
	if e.WeeklyHourLimit != nil {
		next.WeeklyHourLimit = *e.WeeklyHourLimit
		set = append(set, bson.E{Key: "weekly_hour_limit", Value: int64(*e.WeeklyHourLimit)})
	}
	var unset bson.D
	if e.Deadline != nil {
		deadline, key := deadlineOf(*e.Deadline)
		set = append(set, bson.E{Key: "deadline_key", Value: key})
		if deadline == nil {
			unset = bson.D{{Key: "deadline", Value: ""}}
		} else {
			set = append(set, bson.E{Key: "deadline", Value: *deadline})
		}
	}
	set = append(set, requirementEdits(e.MinLevel, e.MinRating, e.Countries, e.Qualifications)...)
	if cur.Status != job.StatusOpen {
		return job.Job{}, job.ErrNotOpen
	}
	if len(set) == 0 && len(unset) == 0 {
		return cur, nil
	}
	// The budget key follows from the fields as they will be; the
	// condition holds them as read, so that two edits at once cannot
	// leave a key that matches neither.
	set = append(set, bson.E{Key: "budget_key", Value: int64(next.BudgetKey())})
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	n, err := s.jobs.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: id}, {Key: "buyer_id", Value: buyerID}, {Key: "status", Value: string(job.StatusOpen)},
		{Key: "budget_coins", Value: int64(cur.Budget)}, {Key: "hourly_rate_coins", Value: int64(cur.HourlyRate)},
		{Key: "weekly_hour_limit", Value: int64(cur.WeeklyHourLimit)},
	}, update, false)
	if err != nil {
		return job.Job{}, err
	}
	if n == 0 {
		return job.Job{}, job.ErrNotOpen // hired, closed, or its budget edited meanwhile: read it again
	}
	return s.ByID(ctx, id)
}

// SetStatus implements job.Store.
func (s *JobStore) SetStatus(ctx context.Context, id, buyerID string, status job.Status, contractID string, at time.Time) (bool, error) {
	set := bson.D{{Key: "status", Value: string(status)}, {Key: "closed_at", Value: at}}
	if contractID != "" {
		set = append(set, bson.E{Key: "contract_id", Value: contractID})
	}
	n, err := s.jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "buyer_id", Value: buyerID},
		{Key: "status", Value: string(job.StatusOpen)}}, bson.D{{Key: "$set", Value: set}}, false)
	return n == 1, err
}

// SetHidden implements job.Store.
func (s *JobStore) SetHidden(ctx context.Context, buyerID string, hidden bool) error {
	_, err := s.jobs.UpdateMany(ctx, bson.D{{Key: "buyer_id", Value: buyerID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "hidden", Value: hidden}}}})
	return err
}

// Reopen implements job.Store.
func (s *JobStore) Reopen(ctx context.Context, id, contractID string) error {
	_, err := s.jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(job.StatusHired)},
		{Key: "contract_id", Value: contractID}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "status", Value: string(job.StatusOpen)}}},
		{Key: "$unset", Value: bson.D{{Key: "contract_id", Value: ""}, {Key: "closed_at", Value: ""}}},
	}, false)
	return err
}

// RequiresOpen implements job.Store: one count of at most one, through
// the index on quals and status.
func (s *JobStore) RequiresOpen(ctx context.Context, typeID string) (bool, error) {
	n, err := s.jobs.Count(ctx, bson.D{{Key: "quals", Value: typeID}, {Key: "status", Value: string(job.StatusOpen)}})
	return n > 0, err
}

type proposalDoc struct {
	ID            string     `bson:"_id"`
	JobID         string     `bson:"job_id"`
	JobTitle      string     `bson:"job_title"`
	JobType       string     `bson:"job_type"`
	BuyerID       string     `bson:"buyer_id"`
	WorkerID      string     `bson:"worker_id"`
	WorkerName    string     `bson:"worker_name"`
	Bid           int64      `bson:"bid"`
	CoverLetter   string     `bson:"cover_letter"`
	EstimatedDays int64      `bson:"estimated_days"`
	Status        string     `bson:"status"`
	DeclineReason string     `bson:"decline_reason,omitempty"`
	CreatedAt     time.Time  `bson:"created_at"`
	DecidedAt     *time.Time `bson:"decided_at,omitempty"`
}

func proposalFromDoc(d proposalDoc) job.Proposal {
	return job.Proposal{ID: d.ID, JobID: d.JobID, JobTitle: d.JobTitle, JobType: job.Type(d.JobType), BuyerID: d.BuyerID,
		Worker: job.Party{ID: d.WorkerID, Name: d.WorkerName}, Bid: money.Coins(d.Bid), CoverLetter: d.CoverLetter,
		EstimatedDays: int(d.EstimatedDays), Status: job.ProposalStatus(d.Status), DeclineReason: d.DeclineReason,
		CreatedAt: d.CreatedAt, DecidedAt: timeOf(d.DecidedAt)}
}

func proposalToDoc(p job.Proposal) proposalDoc {
	return proposalDoc{ID: p.ID, JobID: p.JobID, JobTitle: p.JobTitle, JobType: string(p.JobType),
		BuyerID: p.BuyerID, WorkerID: p.Worker.ID, WorkerName: p.Worker.Name, Bid: int64(p.Bid), CoverLetter: p.CoverLetter,
		EstimatedDays: int64(p.EstimatedDays), Status: string(p.Status), DeclineReason: p.DeclineReason, CreatedAt: p.CreatedAt,
		DecidedAt: optTime(p.DecidedAt)}
}

// InsertProposal implements job.Store.
func (s *JobStore) InsertProposal(ctx context.Context, p job.Proposal) error {
	err := s.proposals.InsertOne(ctx, proposalToDoc(p))
	if docdb.IsDuplicate(err) {
		return job.ErrAlreadyProposed
	}
	return err
}

// InsertProposals adds proposals in one command, each as it is given
// (decided too), with no service behind it: for the load generator's
// seed. The first duplicate (ID, or job and worker) stops it with
// job.ErrAlreadyProposed; those before it stay.
func (s *JobStore) InsertProposals(ctx context.Context, ps []job.Proposal) error {
	docs := make([]any, len(ps))
	for i, p := range ps {
		docs[i] = proposalToDoc(p)
	}
	err := s.proposals.InsertMany(ctx, docs, true)
	if docdb.IsDuplicate(err) {
		return job.ErrAlreadyProposed
	}
	return err
}

func (s *JobStore) proposal(ctx context.Context, filter bson.D) (job.Proposal, error) {
	var d proposalDoc
	err := s.proposals.FindOne(ctx, filter, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return job.Proposal{}, job.ErrProposalNotFound
	}
	return proposalFromDoc(d), err
}

// Proposal implements job.Store.
func (s *JobStore) Proposal(ctx context.Context, id string) (job.Proposal, error) {
	return s.proposal(ctx, bson.D{{Key: "_id", Value: id}})
}

// WorkerProposal implements job.Store, through the unique index on job
// and worker.
func (s *JobStore) WorkerProposal(ctx context.Context, jobID, workerID string) (job.Proposal, error) {
	return s.proposal(ctx, bson.D{{Key: "job_id", Value: jobID}, {Key: "worker_id", Value: workerID}})
}

// Proposals implements job.Store: one find and one count.
func (s *JobStore) Proposals(ctx context.Context, jobID, workerID string, p page.Request) ([]job.Proposal, int64, error) {
	if jobID != "" {
		return docdb.FindPage(ctx, s.proposals, bson.D{{Key: "job_id", Value: jobID}},
			bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, p, proposalFromDoc)
	}
	return docdb.FindPage(ctx, s.proposals, bson.D{{Key: "worker_id", Value: workerID}}, newestFirst, p, proposalFromDoc)
}

// CountProposals implements job.Store.
func (s *JobStore) CountProposals(ctx context.Context, jobID string) (int64, error) {
	return s.proposals.Count(ctx, bson.D{{Key: "job_id", Value: jobID},
		{Key: "status", Value: bson.D{{Key: "$ne", Value: string(job.ProposalWithdrawn)}}}})
}

// SetProposalStatus implements job.Store.
func (s *JobStore) SetProposalStatus(ctx context.Context, id string, status job.ProposalStatus, reason string, at time.Time) (bool, error) {
	set := bson.D{{Key: "status", Value: string(status)}, {Key: "decided_at", Value: at}}
	if reason != "" {
		set = append(set, bson.E{Key: "decline_reason", Value: reason})
	}
	n, err := s.proposals.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(job.ProposalPending)}},
		bson.D{{Key: "$set", Value: set}}, false)
	return n == 1, err
}

// Unclaim implements job.Store.
func (s *JobStore) Unclaim(ctx context.Context, id string, status job.ProposalStatus, reason string, at time.Time) error {
	set := bson.D{{Key: "status", Value: string(status)}, {Key: "decided_at", Value: at}}
	if reason != "" {
		set = append(set, bson.E{Key: "decline_reason", Value: reason})
	}
	_, err := s.proposals.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(job.ProposalHired)}},
		bson.D{{Key: "$set", Value: set}}, false)
	return err
}

// PendingProposals implements job.Store.
func (s *JobStore) PendingProposals(ctx context.Context, jobID, except string) ([]job.Proposal, error) {
	var out []job.Proposal
	err := docdb.Each(ctx, s.proposals, bson.D{{Key: "job_id", Value: jobID}, {Key: "status", Value: string(job.ProposalPending)},
		{Key: "_id", Value: bson.D{{Key: "$ne", Value: except}}}}, docdb.Query{}, func(d proposalDoc) error {
		out = append(out, proposalFromDoc(d))
		return nil
	})
	return out, err
}

// Proposed implements job.Store: one find of one field, through the index
// on buyer and worker.
func (s *JobStore) Proposed(ctx context.Context, buyerID, workerID string) (bool, error) {
	var d struct {
		ID string `bson:"_id"`
	}
	err := s.proposals.FindOne(ctx, bson.D{{Key: "buyer_id", Value: buyerID}, {Key: "worker_id", Value: workerID}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return false, nil
	}
	return err == nil, err
}

package storage

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"microtask/migrations"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/reputation"
	"microtask/internal/task"
	"microtask/internal/user"
)

// Migrate applies the migrations in migrations/ to db, with the Go steps
// they name (MigrationSteps).
func Migrate(ctx context.Context, db *docdb.DB, log *slog.Logger) ([]docdb.Migration, error) {
	return db.Migrate(ctx, migrations.FS, MigrationSteps(db), log)
}

// MigrationSteps are the Go steps the migration files name, on db.
func MigrationSteps(db *docdb.DB) map[string]docdb.Step {
	m := migrator{db}
	return map[string]docdb.Step{
		"mergeTransferRecords": m.mergeTransferRecords,
		"boardWorkers":         m.boardWorkers,
		"taskSubmitters":       m.taskSubmitters,
		"taskLabels":           m.taskLabels,
		"userRecords":          m.userRecords,
		"taskHeld":             m.taskHeld,
		"markStandings":        m.markStandings,
		"taskRequirements":     m.taskRequirements,
		"taskQualifications":   m.taskQualifications,
		"jobRequirements":      m.jobRequirements,
	}
}

// migrator runs the Go steps of migrations on one database.
type migrator struct{ d *docdb.DB }

// legacyRunDoc is a transfer in flight as the ledger kept it before
// operations had one record.
type legacyRunDoc struct {
	ID         string            `bson:"_id"`
	Postings   []postingDoc      `bson:"postings"`
	Meta       map[string]string `bson:"meta,omitempty"`
	Private    map[string]string `bson:"private,omitempty"`
	State      string            `bson:"state"`
	LeaseUntil *time.Time        `bson:"lease_until,omitempty"`
	CreatedAt  time.Time         `bson:"created_at"`
	UpdatedAt  time.Time         `bson:"updated_at"`
}

// mergeTransferRecords folds the ledger's former three records of a
// transfer into its one operations document: the permanent journal record
// (transfers: postings and meta), the record in flight (transfer_runs: state,
// lease, private data) and the outcome (transfer_outcomes: final state).
// Then it drops those collections and the entries, which the posted
// operations now are, and renames transfers to operations. Each document is
// only touched while it has no state, so the step is safe to repeat.
//
// A transfer a crash left in flight keeps its former meta and private data,
// which no kind of operation reads: recovery reports it and leaves it open
// for an administrator.
func (m migrator) mergeTransferRecords(ctx context.Context) error {
	transfers := m.d.Collection("transfers")
	noState := bson.D{{Key: "$exists", Value: false}}
	var ended []struct {
		ID      string    `bson:"_id"`
		State   string    `bson:"state"`
		EndedAt time.Time `bson:"ended_at"`
	}
	if err := docdb.Each(ctx, m.d.Collection("transfer_outcomes"), bson.D{}, docdb.Query{}, func(o struct {
		ID      string    `bson:"_id"`
		State   string    `bson:"state"`
		EndedAt time.Time `bson:"ended_at"`
	}) error {
		ended = append(ended, o)
		return nil
	}); err != nil {
		return err
	}
	for _, o := range ended {
		if _, err := transfers.UpdateOne(ctx, bson.D{{Key: "_id", Value: o.ID}, {Key: "state", Value: noState}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: o.State}, {Key: "updated_at", Value: o.EndedAt}}}}, false); err != nil {
			return fmt.Errorf("outcome of %s: %w", o.ID, err)
		}
	}
	// A run is a transfer in flight; one that was never journaled has only
	// its run.
	var runs []legacyRunDoc
	if err := docdb.Each(ctx, m.d.Collection("transfer_runs"), bson.D{}, docdb.Query{}, func(r legacyRunDoc) error {
		runs = append(runs, r)
		return nil
	}); err != nil {
		return err
	}
	for _, r := range runs {
		set := bson.D{
			{Key: "postings", Value: r.Postings}, {Key: "state", Value: r.State},
			{Key: "lease_until", Value: r.LeaseUntil}, {Key: "created_at", Value: r.CreatedAt}, {Key: "updated_at", Value: r.UpdatedAt},
		}
		if r.Meta != nil {
			set = append(set, bson.E{Key: "meta", Value: r.Meta})
		}
		if r.Private != nil {
			set = append(set, bson.E{Key: "private", Value: r.Private})
		}
		if _, err := transfers.UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}, {Key: "state", Value: noState}},
			bson.D{{Key: "$set", Value: set}}, true); err != nil && !docdb.IsDuplicate(err) {
			return fmt.Errorf("run of %s: %w", r.ID, err)
		}
	}
	for _, name := range []string{"transfer_outcomes", "transfer_runs", "entries"} {
		if err := m.d.DropCollection(ctx, name); err != nil {
			return err
		}
	}
	return m.d.RenameCollection(ctx, "transfers", operationsCollection)
}

// boardWorkers puts the accounts of the users who belong on a board (the
// active workers) there, as the sign-up and every account change have done
// since migration 0013. Each account's board change is numbered with the
// user's token version, as the user service numbers it, so the step is safe
// to repeat and cannot undo a change made meanwhile.
func (m migrator) boardWorkers(ctx context.Context) error {
	var users []user.User
	if err := docdb.Each(ctx, m.d.Collection("users"), bson.D{}, docdb.Query{}, func(u userDoc) error {
		users = append(users, userFromDoc(u))
		return nil
	}); err != nil {
		return err
	}
	accounts, now := NewLedgerStore(m.d), time.Now().UTC()
	for _, u := range users {
		if b := u.Board(); b != "" {
			if err := accounts.SetBoard(ctx, ledger.UserAccount(u.ID), b, u.TokenVersion, now); err != nil {
				return fmt.Errorf("board of %s: %w", u.ID, err)
			}
		}
	}
	return nil
}

// taskSubmitters lists on each task the workers who submitted to it, as
// every submission has done since migration 0018, so that a worker's
// available tasks leave them out. Safe to repeat: a worker listed is not
// listed again.
func (m migrator) taskSubmitters(ctx context.Context) error {
	type pair struct {
		TaskID   string `bson:"task_id"`
		WorkerID string `bson:"worker_id"`
	}
	var pairs []pair
	if err := docdb.Each(ctx, m.d.Collection("submissions"), bson.D{}, docdb.Query{Fields: []string{"task_id", "worker_id"}}, func(p pair) error {
		pairs = append(pairs, p)
		return nil
	}); err != nil {
		return err
	}
	tasks := m.d.Collection("tasks")
	for _, p := range pairs {
		if _, err := tasks.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: p.TaskID}, {Key: "submitters", Value: bson.D{{Key: "$ne", Value: p.WorkerID}}}},
			bson.D{{Key: "$push", Value: bson.D{{Key: "submitters", Value: p.WorkerID}}}}, false); err != nil {
			return fmt.Errorf("submitters of task %s: %w", p.TaskID, err)
		}
	}
	return nil
}

// taskHeld gives every task the list of its reserved slots, empty, which
// refunds match on, and the default time allotted for a reservation's work.
func (m migrator) taskHeld(ctx context.Context) error {
	tasks := m.d.Collection("tasks")
	if _, err := tasks.UpdateMany(ctx, bson.D{{Key: "held", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "held", Value: bson.A{}}}}}); err != nil {
		return err
	}
	_, err := tasks.UpdateMany(ctx, bson.D{{Key: "time_allotted_minutes", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "time_allotted_minutes", Value: int64(task.DefaultTimeAllotted / time.Minute)}}}})
	return err
}

// taskLabels gives the tasks from before migration 0019 what every task
// has since: the category "other", no tags, the default allotted time
// unless they have one, and the precomputed effective pay the sort reads.
// Safe to repeat: only tasks without an effective pay are touched, each
// once.
func (m migrator) taskLabels(ctx context.Context) error {
	type old struct {
		ID           string   `bson:"_id"`
		Pay          int64    `bson:"payable_amount"`
		Category     *string  `bson:"category"`
		Tags         []string `bson:"tags"`
		TimeAllotted int64    `bson:"time_allotted_minutes"`
	}
	missing := bson.D{{Key: "effective_pay", Value: bson.D{{Key: "$exists", Value: false}}}}
	var todo []old
	if err := docdb.Each(ctx, m.d.Collection("tasks"), missing, docdb.Query{}, func(o old) error {
		todo = append(todo, o)
		return nil
	}); err != nil {
		return err
	}
	tasks := m.d.Collection("tasks")
	for _, o := range todo {
		t := task.Task{Pay: money.Coins(o.Pay), TimeAllotted: time.Duration(o.TimeAllotted) * time.Minute}
		if t.TimeAllotted == 0 {
			t.TimeAllotted = task.DefaultTimeAllotted
		}
		set := bson.D{{Key: "time_allotted_minutes", Value: int64(t.TimeAllotted / time.Minute)}, {Key: "effective_pay", Value: t.EffectivePay()}}
		if o.Category == nil {
			set = append(set, bson.E{Key: "category", Value: task.CategoryOther})
		}
		if o.Tags == nil {
			set = append(set, bson.E{Key: "tags", Value: []string{}})
		}
		if _, err := tasks.UpdateOne(ctx, append(bson.D{{Key: "_id", Value: o.ID}}, missing...),
			bson.D{{Key: "$set", Value: set}}, false); err != nil {
			return fmt.Errorf("labels of task %s: %w", o.ID, err)
		}
	}
	return nil
}

// userRecords counts every user's track record from the tasks and
// submissions there are, as the operations that post tasks and review work
// have done since migration 0020. Each record lists the operations it
// counted (the latest), so that one a crash left half done, whose settle
// step recovery runs after this step, is not counted twice. Safe to repeat:
// each record is counted again from the start.
func (m migrator) userRecords(ctx context.Context) error {
	type event struct {
		op string
		at time.Time
	}
	recs := map[string]*reputation.Record{}
	events := map[string][]event{}
	rec := func(id string) *reputation.Record {
		if recs[id] == nil {
			recs[id] = &reputation.Record{UserID: id}
		}
		return recs[id]
	}
	if err := docdb.Each(ctx, m.d.Collection("tasks"), bson.D{}, docdb.Query{Fields: []string{"_id", "buyer_id", "created_at"}}, func(t struct {
		ID        string    `bson:"_id"`
		BuyerID   string    `bson:"buyer_id"`
		CreatedAt time.Time `bson:"created_at"`
	}) error {
		rec(t.BuyerID).TasksPosted++
		events[t.BuyerID] = append(events[t.BuyerID], event{"task-fund:" + t.ID, t.CreatedAt})
		return nil
	}); err != nil {
		return err
	}
	if err := docdb.Each(ctx, m.d.Collection("submissions"), bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{"approved", "rejected"}}}}},
		docdb.Query{Fields: []string{"worker_id", "buyer_id", "status", "created_at", "reviewed_at", "ops"}}, func(s submissionDoc) error {
			w, b := rec(s.WorkerID), rec(s.BuyerID)
			if s.Status == "approved" {
				w.Approved++
				b.BuyerApproved++
			} else {
				w.Rejected++
				b.BuyerRejected++
			}
			at := s.CreatedAt
			if s.ReviewedAt != nil {
				at = *s.ReviewedAt
			}
			b.ReviewTimes[reputation.Bucket(at.Sub(s.CreatedAt))]++
			for _, op := range s.Ops {
				events[s.WorkerID] = append(events[s.WorkerID], event{op, at})
				events[s.BuyerID] = append(events[s.BuyerID], event{op, at})
			}
			return nil
		}); err != nil {
		return err
	}
	store := NewRecordStore(m.d)
	for id, r := range recs {
		evs := events[id]
		slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
		ops := make([]string, len(evs))
		for i, e := range evs {
			ops[i] = e.op
		}
		if err := store.reset(ctx, *r, ops); err != nil {
			return fmt.Errorf("record of %s: %w", id, err)
		}
	}
	return nil
}

// markStandings marks every record for its standing to be worked out
// (reputation.Service.Refresh): the levels, and the copy of the standing
// kept with each user, of everyone who has a record from before migration
// 0024, worked out from their whole record as from new work. Safe to
// repeat: a record marked again is worked out again.
func (m migrator) markStandings(ctx context.Context) error {
	_, err := m.d.Collection("records").UpdateMany(ctx, bson.D{},
		bson.D{{Key: "$set", Value: bson.D{{Key: fChanged, Value: true}, {Key: fWork, Value: true}}},
			{Key: "$inc", Value: bson.D{{Key: fSeq, Value: int64(1)}}}})
	return err
}

// taskRequirements gives the tasks from before migration 0025 the
// requirements every task has since: none (0), which the filter of a
// worker's available tasks compares with what they bring. Safe to repeat.
func (m migrator) taskRequirements(ctx context.Context) error {
	_, err := m.d.Collection("tasks").UpdateMany(ctx, bson.D{{Key: "min_level", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "min_level", Value: int64(0)}, {Key: "min_rating", Value: 0.0}}}})
	return err
}

// taskQualifications gives the tasks from before migration 0065 the
// countries and qualification slots every task has since: none ([] and
// empty slots), which the filter of a worker's available tasks compares
// with what they bring. Safe to repeat.
func (m migrator) taskQualifications(ctx context.Context) error {
	_, err := m.d.Collection("tasks").UpdateMany(ctx, bson.D{{Key: "countries", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: requirementFields(task.Requirements{})}})
	return err
}

// jobRequirements gives the jobs from before migration 0067 the countries
// and qualification slots a task has (requirementsDoc): none ([] and empty
// slots), which the filter of the jobs open to a worker compares with
// what they bring. Safe to repeat.
func (m migrator) jobRequirements(ctx context.Context) error {
	_, err := m.d.Collection("jobs").UpdateMany(ctx, bson.D{{Key: "countries", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: requirementFields(task.Requirements{})}})
	return err
}

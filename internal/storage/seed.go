package storage

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/operation"
	"microtask/internal/platform/idgen"
	"microtask/internal/task"
	"microtask/internal/user"
)

// SeedInert bulk-inserts n inert documents into each of the collections that
// grow with a marketplace (users, accounts, operations, tasks, submissions,
// notifications), in batches, as the documents their stores write. Inert means that no live query of the API returns them
// except an admin's lists: the users cannot sign in, the tasks have expired
// with nothing left in escrow, the submissions are reviewed and the
// notifications read. Their ledger records are complete and balanced (each
// user's sign-up bonus from the mint), so the audit still passes.
//
// It exists for the load generator's scale runs, which measure the API with
// as much data as a busy marketplace keeps; the API never calls it.
func SeedInert(ctx context.Context, d *docdb.DB, n int) error {
	const batch = 1000
	const bonus = 10
	now := time.Now().UTC().Truncate(time.Millisecond)
	past := now.Add(-30 * 24 * time.Hour)
	prefix := idgen.New()[:8] // several seedings of one database stay apart
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var users, accounts, operations, tasks, subs, notes []any
		for i := start; i < end; i++ {
			uid := fmt.Sprintf("seed%s%08d", prefix, i)
			tid := "t" + uid
			op := "signup:" + uid
			users = append(users, userDoc{ID: uid, Name: fmt.Sprintf("Seeded worker %d", i),
				Email: uid + "@seed.invalid", Role: "worker", Status: string(user.StatusActive), CreatedAt: past})
			accounts = append(accounts, accountDoc{ID: ledger.UserAccount(uid), Kind: "user", Balance: bonus,
				Pending: []string{}, CreatedAt: past})
			operations = append(operations, operationDoc{ID: op, State: string(operation.Posted), CreatedAt: past, UpdatedAt: past,
				Postings: []postingDoc{{Account: ledger.Mint, Amount: -bonus}, {Account: ledger.UserAccount(uid), Amount: bonus}}})
			tasks = append(tasks, taskDoc{ID: tid, Title: fmt.Sprintf("Seeded task %d", i), Detail: "An expired task of the scale run.",
				SubmissionInfo: "A screenshot", PendingSubs: []string{}, Pay: 1, CompletionDate: past, BuyerID: uid,
				BuyerName: "Seeded worker", Status: string(task.StatusExpired), AutoApproveAfter: 72 * 3600, Ops: []string{},
				CreatedAt: past})
			reviewed := past
			subs = append(subs, submissionDoc{ID: "s" + uid, TaskID: tid, TaskTitle: "Seeded task", Pay: 1, WorkerID: uid,
				WorkerName: "Seeded worker", BuyerID: uid, BuyerName: "Seeded worker", Details: "https://prnt.sc/seed",
				Status: "approved", AutoApproveAt: past, CreatedAt: past, ReviewedAt: &reviewed, Ops: []string{}})
			notes = append(notes, notificationDoc{ID: "n" + uid, UserID: uid, Message: "Welcome.", ActionRoute: "/dashboard",
				Read: true, CreatedAt: past})
		}
		for _, c := range []struct {
			name string
			docs []any
		}{
			{"users", users}, {"accounts", accounts}, {operationsCollection, operations}, {"tasks", tasks},
			{"submissions", subs}, {"notifications", notes},
		} {
			if err := d.Collection(c.name).InsertMany(ctx, c.docs, true); err != nil {
				return fmt.Errorf("seed %s: %w", c.name, err)
			}
		}
	}
	// The mint paid every bonus.
	_, err := d.Collection("accounts").UpdateOne(ctx, bson.D{{Key: "_id", Value: ledger.Mint}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(-bonus * n)}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "kind", Value: "world"}, {Key: "pending", Value: bson.A{}}, {Key: "created_at", Value: past}}},
		}, true)
	return err
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"microtask/internal/auth"
	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/platform/idgen"
	"microtask/internal/storage"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
)

// seedInert opens the embedded database of dataDir in this process, as the
// server would, migrates it and seeds n inert documents into each main
// collection (seedInertDocs). The server is started afterwards: the
// embedded database allows one process at a time.
func seedInert(dataDir string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	db, err := docdb.OpenEmbedded(ctx, filepath.Join(dataDir, "db"), "microtask", quiet)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	if _, err := storage.Migrate(ctx, db, quiet); err != nil {
		return err
	}
	return seedInertDocs(ctx, db, n)
}

// seedBatch is how many documents of a collection one command inserts.
const seedBatch = 1000

// seedBonus is each seeded user's balance: a sign-up bonus from the mint.
const seedBonus money.Coins = 10

// seedInertDocs adds n inert documents to each of the collections that grow
// with a marketplace (users, accounts, operations, tasks, submissions,
// notifications), through the stores' bulk inserts, a batch at a time. It
// exists for the load generator's scale runs, which measure the API with
// as much data as a busy marketplace keeps. Inert means that no live query
// of the API returns them but an admin's lists: the users are workers
// without a password (they cannot sign in) and on no ranking, their tasks
// expired with nothing left in escrow, their submissions are reviewed and
// their notifications read. Their ledger records are complete and
// balanced: each user's account holds a sign-up bonus that a posted
// operation moved from the mint, which paid them all, so the audit passes.
func seedInertDocs(ctx context.Context, db *docdb.DB, n int) error {
	users, accounts, ops := storage.NewUserStore(db), storage.NewLedgerStore(db), storage.NewOperationStore(db)
	tasks, subs, notes := storage.NewTaskStore(db), storage.NewSubmissionStore(db), storage.NewNotificationStore(db)
	past := time.Now().UTC().Truncate(time.Millisecond).Add(-30 * 24 * time.Hour)
	// Several seedings of one database stay apart: eight random hex digits
	// (an ID's first eight are its second, the same for seedings that
	// start within one).
	prefix := idgen.New()[8:16]
	for start := 0; start < n; start += seedBatch {
		b := inertBatch(prefix, start, min(start+seedBatch, n), past)
		for _, insert := range []struct {
			what string
			run  func() error
		}{
			{"users", func() error { return users.InsertMany(ctx, b.users) }},
			{"accounts", func() error { return accounts.InsertAccounts(ctx, b.accounts, past) }},
			{"operations", func() error { return ops.InsertEnded(ctx, b.operations) }},
			{"tasks", func() error { return tasks.InsertMany(ctx, b.tasks) }},
			{"submissions", func() error { return subs.InsertMany(ctx, b.submissions) }},
			{"notifications", func() error { return notes.InsertMany(ctx, b.notifications) }},
		} {
			if err := insert.run(); err != nil {
				return fmt.Errorf("seed %s %d to %d: %w", insert.what, start, start+len(b.users), err)
			}
		}
	}
	// The mint paid every bonus: one posting of their sum, taken off its
	// pending list at once (the signup operations seeded are its record).
	op := "seed:" + prefix
	paid := ledger.Posting{Account: ledger.Mint, Amount: -seedBonus * money.Coins(n)}
	if _, err := accounts.ApplyPosting(ctx, op, paid, true, past); err != nil {
		return fmt.Errorf("debit the mint for the seeded bonuses: %w", err)
	}
	if err := accounts.ClearPending(ctx, op, []string{ledger.Mint}); err != nil {
		return fmt.Errorf("clear the mint's seed posting: %w", err)
	}
	return nil
}

// inertDocs is one batch of the seed, as domain values.
type inertDocs struct {
	users         []user.User
	accounts      []ledger.Account
	operations    []operation.Record
	tasks         []task.Task
	submissions   []submission.Submission
	notifications []notification.Notification
}

// inertBatch returns the seed's documents from from to to (excluded), all
// dated at.
func inertBatch(prefix string, from, to int, at time.Time) inertDocs {
	var b inertDocs
	for i := from; i < to; i++ {
		uid := fmt.Sprintf("seed%s%08d", prefix, i)
		tid := "t" + uid
		self := task.Party{ID: uid, Name: "Seeded worker"}
		b.users = append(b.users, user.User{ID: uid, Name: fmt.Sprintf("Seeded worker %d", i), Email: uid + "@seed.invalid",
			Role: auth.RoleWorker, Status: user.StatusActive, CreatedAt: at})
		b.accounts = append(b.accounts, ledger.Account{Name: ledger.UserAccount(uid), Balance: seedBonus})
		b.operations = append(b.operations, operation.Record{ID: "signup:" + uid, State: operation.Posted,
			Postings: ledger.Move(ledger.Mint, ledger.UserAccount(uid), seedBonus), CreatedAt: at, UpdatedAt: at})
		// Expired with no free, reserved or pending slot: nothing in escrow.
		b.tasks = append(b.tasks, task.Task{ID: tid, Title: fmt.Sprintf("Seeded task %d", i),
			Detail: "An expired task of the scale run.", SubmissionInfo: "A screenshot", Pay: 1, CompletionDate: at,
			Buyer: self, Status: task.StatusExpired, AutoApproveAfter: 72 * time.Hour, TimeAllotted: task.DefaultTimeAllotted,
			Category: task.CategoryOther, CreatedAt: at})
		b.submissions = append(b.submissions, submission.Submission{ID: "s" + uid, TaskID: tid, TaskTitle: "Seeded task", Pay: 1,
			Worker: self, Buyer: self, Details: "https://prnt.sc/seed", Status: submission.StatusApproved, AutoApproveAt: at,
			CreatedAt: at, ReviewedAt: at})
		b.notifications = append(b.notifications, notification.Notification{ID: "n" + uid, UserID: uid, Message: "Welcome.",
			Type: notification.Other, ActionRoute: "/dashboard", Read: true, CreatedAt: at})
	}
	return b
}

// memory reports the server's resident and peak resident memory, from
// /proc on Linux.
func (s *server) memory() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return "unknown"
	}
	var rss, peak string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "VmRSS":
			rss = strings.TrimSpace(v)
		case "VmHWM":
			peak = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("RSS %s (peak %s)", rss, peak)
}

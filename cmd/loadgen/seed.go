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
	"microtask/internal/chat"
	contracts "microtask/internal/contract" // projects.go has types contract and job
	"microtask/internal/docdb"
	"microtask/internal/invoice"
	jobs "microtask/internal/job"
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
	return seedInertDocs(ctx, db, n, time.Now())
}

// seedBatch is how many documents of a collection one command inserts.
const seedBatch = 1000

// seedBonus is each seeded user's balance: a sign-up bonus from the mint.
const seedBonus money.Coins = 10

// seedInertDocs adds n inert documents to each of the collections that grow
// with a marketplace (users, accounts, operations, tasks, submissions,
// notifications) and n of each of the projects' and the conversations'
// records, through the stores' bulk inserts, a batch at a time. It exists
// for the load generator's scale runs, which measure the API with as much
// data as a busy marketplace keeps. Inert means that no live query of the
// API returns them but an admin's lists and their own users' lists: the
// users are workers without a password (they cannot sign in) and on no
// ranking, their tasks expired with nothing left in escrow, their
// submissions are reviewed and their notifications read. Their ledger
// records are complete and balanced: each user's account holds a sign-up
// bonus that a posted operation moved from the mint, which paid them all,
// so the audit passes.
//
// Seeded user i is the buyer of two jobs of the previous year (projects):
// one closed, with a declined proposal of user i+1 (the next one, the last
// user's being the first), and one hired, whose ended contract with user
// i+1 paid its one milestone. The contract holds nothing and never held
// anything in the ledger (no postings: the coins it paid are a record of
// the contract, no balance), so the contract-escrow check passes; its
// invoice is numbered in that year after the year's last number, so its
// numbers stay 1..n without a gap and this year's are untouched. Users i
// and i+1 also exchanged a few messages, all read. n must be 0 or at least
// 3, so that the pairs are n distinct conversations. clock is the time
// now, as the server will see it: the seed dates its documents before it.
func seedInertDocs(ctx context.Context, db *docdb.DB, n int, clock time.Time) error {
	if n > 0 && n < 3 {
		return fmt.Errorf("seed %d documents: want none or at least 3 (a ring of distinct pairs)", n)
	}
	users, accounts, ops := storage.NewUserStore(db), storage.NewLedgerStore(db), storage.NewOperationStore(db)
	tasks, subs, notes := storage.NewTaskStore(db), storage.NewSubmissionStore(db), storage.NewNotificationStore(db)
	jobStore, contractStore, invoices, chats := storage.NewJobStore(db), storage.NewContractStore(db), storage.NewInvoiceStore(db), storage.NewChatStore(db)
	now := clock.UTC().Truncate(time.Millisecond)
	past := now.Add(-30 * 24 * time.Hour)
	lastYear := time.Date(now.Year()-1, time.June, 1, 12, 0, 0, 0, time.UTC)
	lastSeq, err := invoices.Last(ctx, lastYear.Year())
	if err != nil {
		return fmt.Errorf("read the last invoice number of %d: %w", lastYear.Year(), err)
	}
	// Several seedings of one database stay apart: eight random hex digits
	// (an ID's first eight are its second, the same for seedings that
	// start within one).
	seeding := seedRun{prefix: idgen.New()[8:16], n: n, at: past, projectsAt: lastYear, lastSeq: lastSeq}
	for start := 0; start < n; start += seedBatch {
		b := seeding.batch(start, min(start+seedBatch, n))
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
			{"jobs", func() error { return jobStore.InsertMany(ctx, b.jobs) }},
			{"proposals", func() error { return jobStore.InsertProposals(ctx, b.proposals) }},
			{"contracts", func() error { return contractStore.InsertContracts(ctx, b.contracts) }},
			{"contract items", func() error { return contractStore.InsertItems(ctx, b.items) }},
			{"invoices", func() error { return invoices.InsertMany(ctx, b.invoices) }},
			{"conversations", func() error { return chats.InsertConversations(ctx, b.conversations) }},
			{"messages", func() error { return chats.InsertMessages(ctx, b.messages) }},
		} {
			if err := insert.run(); err != nil {
				return fmt.Errorf("seed %s %d to %d: %w", insert.what, start, start+len(b.users), err)
			}
		}
	}
	if n == 0 {
		return nil
	}
	// The mint paid every bonus: one posting of their sum, taken off its
	// pending list at once (the signup operations seeded are its record).
	op := "seed:" + seeding.prefix
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
	jobs          []jobs.Job
	proposals     []jobs.Proposal
	contracts     []contracts.Contract
	items         []contracts.Item
	invoices      []invoice.Invoice
	conversations []chat.Conversation
	messages      []chat.Message
}

// seedRun is one seeding: its users' IDs, its dates, and the invoice
// number its invoices follow.
type seedRun struct {
	prefix     string
	n          int
	at         time.Time // the marketplace's documents' date
	projectsAt time.Time // the projects' and the messages' date, of the previous year
	lastSeq    int64     // the last invoice number of projectsAt's year before the seed
}

// userID is seeded user i's ID.
func (r seedRun) userID(i int) string { return fmt.Sprintf("seed%s%08d", r.prefix, i) }

// seedPrice is each seeded contract's price, paid by its one milestone.
const seedPrice money.Coins = 40

// seedMessages is how many messages each seeded conversation holds.
const seedMessages = 3

// batch returns the seed's documents from from to to (excluded).
func (r seedRun) batch(from, to int) inertDocs {
	var b inertDocs
	at, pat := r.at, r.projectsAt
	pricing := money.DefaultPricing()
	for i := from; i < to; i++ {
		uid := r.userID(i)
		tid := "t" + uid
		self := task.Party{ID: uid, Name: "Seeded worker"}
		b.users = append(b.users, user.User{ID: uid, Name: r.name(i), Email: uid + "@seed.invalid",
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

		// Projects: user i buys from user i+1.
		buyer, worker := jobs.Party{ID: uid, Name: r.name(i)}, jobs.Party{ID: r.userID((i + 1) % r.n), Name: r.name((i + 1) % r.n)}
		closed, hired, cid := "jc"+uid, "jh"+uid, "c"+uid
		title := fmt.Sprintf("Seeded job %d", i)
		for _, j := range []struct {
			id, proposal, contract string
			status                 jobs.Status
			decided                jobs.ProposalStatus
		}{
			{closed, "pc" + uid, "", jobs.StatusClosed, jobs.ProposalDeclined},
			{hired, "ph" + uid, cid, jobs.StatusHired, jobs.ProposalHired},
		} {
			b.jobs = append(b.jobs, jobs.Job{ID: j.id, Title: title, Description: "A past job of the scale run.",
				Category: jobs.CategoryDataEntry, Skills: []string{"Seeding"}, Type: jobs.TypeFixed, Budget: seedPrice, Buyer: buyer,
				Status: j.status, ContractID: j.contract, CreatedAt: pat, ClosedAt: pat.Add(24 * time.Hour)})
			p := jobs.Proposal{ID: j.proposal, JobID: j.id, JobTitle: title, JobType: jobs.TypeFixed, BuyerID: uid, Worker: worker,
				Bid: seedPrice, CoverLetter: "I can do it.", EstimatedDays: 7, Status: j.decided, CreatedAt: pat.Add(time.Hour),
				DecidedAt: pat.Add(24 * time.Hour)}
			if j.decided == jobs.ProposalDeclined {
				p.DeclineReason = "The job was closed."
			}
			b.proposals = append(b.proposals, p)
		}
		ended := pat.Add(10 * 24 * time.Hour)
		b.contracts = append(b.contracts, contracts.Contract{ID: cid, JobID: hired, JobTitle: title, ProposalID: "ph" + uid,
			Type: jobs.TypeFixed, Buyer: contracts.Party(buyer), Worker: contracts.Party(worker), Price: seedPrice, Status: contracts.StatusEnded,
			Escrow:    contracts.Escrow{Status: contracts.StatusEnded, Paid: seedPrice},
			CreatedAt: pat.Add(24 * time.Hour), EndedAt: ended, EndedBy: uid, EndReason: "Done."})
		b.items = append(b.items, contracts.Item{ID: "i" + uid, ContractID: cid, Kind: contracts.KindMilestone, Seq: 1,
			Title: "All of it", Coins: seedPrice, Status: contracts.ItemReleased, Message: "Here it is.",
			SubmittedAt: ended.Add(-24 * time.Hour), Submissions: 1, ReleasedAt: ended, CreatedAt: pat.Add(24 * time.Hour)})
		b.invoices = append(b.invoices, invoice.Invoice{ID: invoice.IDOf("seed-release:" + cid), Ref: "seed-release:" + cid,
			Year: pat.Year(), Seq: r.lastSeq + int64(i) + 1, Seller: invoice.Party(worker), Buyer: invoice.Party(buyer),
			Lines: []invoice.Line{{Description: invoice.Describe(title + ": All of it"), Coins: seedPrice}}, Coins: seedPrice,
			Value: pricing.PayoutCents(seedPrice), Rate: invoice.RatePayout, CoinsPerDollar: pricing.CoinsPerDollar, Date: ended,
			Subjects: []invoice.Subject{{Type: invoice.SubjectContract, ID: cid}, {Type: invoice.SubjectJob, ID: hired}}})

		// Their conversation, read by both up to its last message.
		c := chat.Conversation{ID: chat.PairID(buyer.ID, worker.ID), CreatedAt: pat}
		for k := range seedMessages {
			from, to := buyer.ID, worker.ID
			if k%2 == 1 {
				from, to = to, from
			}
			m := chat.Message{ID: fmt.Sprintf("m%s%d", uid, k), ConversationID: c.ID, From: from, To: to,
				Text: fmt.Sprintf("Seeded message %d about the job.", k+1), CreatedAt: pat.Add(time.Duration(k) * time.Minute)}
			b.messages = append(b.messages, m)
			c.LastID, c.LastFrom, c.LastText, c.LastAt = m.ID, m.From, m.Text, m.CreatedAt
		}
		sides := [2]string{buyer.ID, worker.ID}
		if sides[1] < sides[0] {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for k, id := range sides {
			c.Sides[k] = chat.Side{UserID: id, ReadUpTo: c.LastID, Wrote: true}
		}
		b.conversations = append(b.conversations, c)
	}
	return b
}

// name is seeded user i's name.
func (r seedRun) name(i int) string { return fmt.Sprintf("Seeded worker %d", i) }

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

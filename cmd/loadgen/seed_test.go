package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	contracts "microtask/internal/contract" // projects.go has types contract and job
	"microtask/internal/invoice"
	jobs "microtask/internal/job"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestSeedIsInert: the scale runs' seed, run twice on a database the API
// already uses, goes through the stores and adds documents that only the
// admins' lists and their own users' lists show: its users cannot sign in
// and rank nowhere, its tasks and jobs are listed to nobody, its contracts
// ended holding nothing, its invoices take a past year's numbers 1..n
// (the second seeding's after the first's) and leave this year's alone,
// and no background job finds anything to do with them. The ledger audit, escrow included, balances afterwards (apptest
// checks it when the test ends).
func TestSeedIsInert(t *testing.T) {
	e := apptest.New(t)
	ctx := t.Context()
	buyer, worker, admin := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker), e.User(t, auth.RoleAdmin)
	e.Give(t, buyer.UserID, 20)
	tk, err := e.Tasks.Create(ctx, buyer, task.NewTask{Text: task.Text{Title: "Live", Detail: "D", SubmissionInfo: "S"},
		Workers: 2, Pay: 10, CompletionDate: e.Clock.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Submit(ctx, worker, tk.ID, "proof"); err != nil {
		t.Fatal(err)
	}
	before, err := e.Ledger.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}

	const n = 1500 // more than a batch
	for _, docs := range []int{n, 7} {
		if err := seedInertDocs(ctx, e.DB, docs, e.Clock.Now()); err != nil {
			t.Fatalf("seedInertDocs(%d) error = %v", docs, err)
		}
	}

	all := page.Request{Number: 1, Limit: page.MaxLimit}
	users, err := e.Users.List(ctx, admin, user.Filter{Query: "seed.invalid"}, all)
	if err != nil || users.Total != n+7 {
		t.Fatalf("admins' list of seeded users: %d, %v; want %d", users.Total, err, n+7)
	}
	tasks, err := e.Tasks.AdminList(ctx, admin, task.AdminFilter{}, all)
	if err != nil || tasks.Total != n+7+1 {
		t.Errorf("admins' list of tasks: %d, %v; want %d", tasks.Total, err, n+7+1)
	}
	subs, err := e.Submissions.AdminList(ctx, admin, submission.Filter{}, all)
	if err != nil || subs.Total != n+7+1 {
		t.Errorf("admins' list of submissions: %d, %v; want %d", subs.Total, err, n+7+1)
	}
	if r, err := e.Ledger.Audit(ctx); err != nil || !r.Balanced || r.Movements != before.Movements+n+7 || r.Accounts != before.Accounts+n+7 {
		t.Errorf("audit after the seed = %+v, %v; want balanced, with %d more movements and accounts", r, err, n+7)
	}

	// Projects and conversations: the ones of their own users, and in no
	// live list; a past year's invoices numbered 1..n without a gap,
	// leaving this year's numbering untouched.
	if open, err := e.Projects.List(ctx, jobs.Filter{}, all); err != nil || open.Total != 0 {
		t.Errorf("public list of jobs: %d, %v; want none", open.Total, err)
	}
	year := e.Clock.Now().Year()
	if last, err := e.Stores.Invoices.Last(ctx, year-1); err != nil || last != n+7 {
		t.Errorf("last invoice number of %d = %d, %v; want %d", year-1, last, err, n+7)
	}
	invs, err := e.Invoices.List(ctx, admin, "", all)
	if err != nil || invs.Total != n+7 {
		t.Fatalf("admins' list of invoices: %d, %v; want %d", invs.Total, err, n+7)
	}
	for i, inv := range invs.Items { // the highest number first
		if want := int64(n + 7 - i); inv.Year != year-1 || inv.Seq != want {
			t.Fatalf("invoice %d of the list is %d-%d, want %d-%d", i, inv.Year, inv.Seq, year-1, want)
		}
	}
	live, err := e.Invoices.Issue(ctx, invoice.Request{Ref: "live", SellerID: worker.UserID, BuyerID: buyer.UserID,
		Lines: []invoice.Line{{Description: "Live", Coins: 1}}, Date: e.Clock.Now()})
	if err != nil || live.Year != year || live.Seq != 1 {
		t.Errorf("Issue() after the seed = %d-%d, %v; want %d-1", live.Year, live.Seq, err, year)
	}
	seeded := users.Items[0]
	p := auth.Principal{UserID: seeded.ID, Role: auth.RoleWorker}
	mine, err := e.Contracts.Mine(ctx, p, "", all)
	if err != nil || mine.Total != 2 || mine.Items[0].Status != contracts.StatusEnded || mine.Items[0].Holding != 0 {
		t.Errorf("a seeded user's contracts = %+v, %v; want two ended, holding nothing", mine, err)
	}
	if detail, err := e.Contracts.Get(ctx, p, mine.Items[0].ID); err != nil || len(detail.Items) != 1 || detail.Items[0].Status != contracts.ItemReleased {
		t.Errorf("a seeded contract = %+v, %v; want one milestone, released", detail, err)
	}
	if mineInv, err := e.Invoices.List(ctx, p, "", all); err != nil || mineInv.Total != 2 {
		t.Errorf("a seeded user's invoices: %d, %v; want 2 (one sold, one bought)", mineInv.Total, err)
	}
	if convs, err := e.Chat.List(ctx, p, all); err != nil || convs.Total != 2 {
		t.Errorf("a seeded user's conversations: %d, %v; want 2", convs.Total, err)
	}
	if got, err := e.Chat.UnreadCount(ctx, p); err != nil || got != 0 {
		t.Errorf("a seeded user's unread messages = %d, %v; want 0", got, err)
	}
	if err := seedInertDocs(ctx, e.DB, 2, e.Clock.Now()); err == nil {
		t.Error("seedInertDocs(2) = nil, want an error: two users make one pair, not two")
	}
	if _, err := e.Users.Login(ctx, seeded.Email, "Passw0rd!"); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Errorf("Login() of a seeded user = %v, want %v", err, user.ErrInvalidCredentials)
	}
	if got, err := e.Notifications.UnreadCount(ctx, auth.Principal{UserID: seeded.ID, Role: auth.RoleWorker}); err != nil || got != 0 {
		t.Errorf("seeded user's unread notifications = %d, %v; want 0", got, err)
	}
	if top, err := e.Users.TopWorkers(ctx); err != nil || len(top) != 0 {
		t.Errorf("TopWorkers() = %+v, %v; want none: seeded workers rank nowhere", top, err)
	}
	for _, f := range []task.Filter{{}, {Available: true, Now: e.Clock.Now()}, {Available: true, Now: e.Clock.Now(), NotBy: e.User(t, auth.RoleWorker).UserID}} {
		live, err := e.Tasks.List(ctx, f, all)
		if err != nil || live.Total != 1 || live.Items[0].ID != tk.ID {
			t.Errorf("List(%+v) = %d tasks, %v; want only the live one", f, live.Total, err)
		}
	}
	for name, job := range map[string]func() (int, error){
		"auto-approval":         func() (int, error) { return e.Submissions.AutoApproveDue(ctx) },
		"overdue revisions":     func() (int, error) { return e.Submissions.RejectOverdue(ctx) },
		"task expiry":           func() (int, error) { return e.Tasks.ExpireDue(ctx) },
		"reservation expiry":    func() (int, error) { return e.Reservations.ExpireDue(ctx) },
		"operation recovery":    func() (int, error) { return e.Operations.Recover(ctx) },
		"notifications to mail": func() (int, error) { return e.Notifications.MailOptedIn(ctx) },
		"milestone release":     func() (int, error) { return e.Contracts.ReleaseDue(ctx) },
		"unread messages mail":  func() (int, error) { return e.Chat.MailUnread(ctx) },
		"message events":        func() (int, error) { return e.Chat.EmitPending(ctx) },
	} {
		if got, err := job(); err != nil || got != 0 {
			t.Errorf("%s found %d, %v; want nothing to do", name, got, err)
		}
	}
	for _, u := range users.Items {
		if !strings.HasSuffix(u.Email, "@seed.invalid") || u.Coins != seedBonus || u.HasPassword {
			t.Errorf("seeded user %+v: want a worker with %d coins and no password", u, seedBonus)
			break
		}
	}
}

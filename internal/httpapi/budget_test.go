package httpapi_test

import (
	"maps"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
)

// writeCommands are the commands that change the database; every other
// command counted is a read.
var writeCommands = map[string]bool{"insert": true, "update": true, "delete": true, "findAndModify": true}

func split(counts map[string]int) (reads, writes int) {
	for name, n := range counts {
		if writeCommands[name] {
			writes += n
		} else {
			reads += n
		}
	}
	return reads, writes
}

// TestWriteCommandBudgets counts the database commands of each operation
// that moves coins or slots, as MongoDB receives them (every read a
// command): each one holds the embedded database's write gate for all of
// its writes, so their number bounds the marketplace's write throughput.
func TestWriteCommandBudgets(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, asOnMongoDB: true})
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 500)
	a.grant(t, worker.User.ID, 500)
	task := a.postTask(t, buyer.Token, 5, 10)
	subs := []submissionBody{a.submit(t, worker.Token, task.ID)}
	for range 2 {
		w := a.register(t, "worker")
		subs = append(subs, a.submit(t, w.Token, task.ID))
	}
	hiring := a.postJob(t, buyer.Token, fixedJob(100))
	offer := a.propose(t, worker.Token, hiring.ID, bid(90))
	var c contractBody // made by the hire below, for the steps after it
	var dispute disputeBody
	var proposed milestoneBody
	admin := a.admin(t)
	hourlyWorker := a.register(t, "worker")
	hc := a.hourlyContracted(t, buyer, hourlyWorker)
	var week weekBody
	log := storagetest.Commands(t, a.db)

	tests := []struct {
		name           string
		call           func() int
		maxAll, maxW   int
		wantStatusCode int
	}{
		{"POST /tasks", func() int {
			return a.call(t, http.MethodPost, "/api/tasks", buyer.Token, taskRequest(a, 3, 10)).Code
		}, 12, 8, http.StatusCreated},
		// Eight, and a read of the buyer's blocks by id (blocked_by_buyer).
		{"POST /submissions", func() int {
			w := a.register(t, "worker")
			a.call(t, http.MethodGet, "/api/auth/me", w.Token, nil)
			log.Reset()
			return a.call(t, http.MethodPost, "/api/submissions", w.Token,
				map[string]string{"task_id": task.ID, "submission_details": "https://prnt.sc/proof"}).Code
		}, 9, 8, http.StatusCreated},
		// A review adds to the worker's and the buyer's track records: one
		// write each (reputation.Store.Add).
		{"PUT /submissions/{id}/approve", func() int {
			return a.call(t, http.MethodPut, "/api/submissions/"+subs[0].ID+"/approve", buyer.Token, nil).Code
		}, 12, 10, http.StatusOK},
		{"PUT /submissions/{id}/reject", func() int {
			return a.call(t, http.MethodPut, "/api/submissions/"+subs[1].ID+"/reject", buyer.Token,
				map[string]string{"reason": "The screenshot is of another page."}).Code
		}, 12, 8, http.StatusOK},
		{"POST /withdrawals", func() int {
			return a.call(t, http.MethodPost, "/api/withdrawals", worker.Token,
				map[string]any{"withdrawal_coin": 200, "payment_system": "bkash", "account_number": "01700000000"}).Code
		}, 12, 8, http.StatusCreated},
		// A key costs its claim and its answer: two writes. A new task
		// counts in its buyer's record (a write), and its answer shows the
		// record (a read).
		{"POST /tasks with an Idempotency-Key", func() int {
			return a.send(t, buyer.Token, "/api/tasks", "budget", taskRequest(a, 3, 10)).Code
		}, 13, 9, http.StatusCreated},
		{"POST /withdrawals with an Idempotency-Key", func() int {
			return a.send(t, worker.Token, "/api/withdrawals", "budget", withdrawalRequest(200)).Code
		}, 12, 8, http.StatusCreated},
		{"POST /tasks replayed", func() int {
			return a.send(t, buyer.Token, "/api/tasks", "budget", taskRequest(a, 3, 10)).Code
		}, 2, 1, http.StatusCreated},
		// A review (of the approval above): the submission read, the other
		// party's review revealed if written, this one written, and a
		// check that the other party did not write theirs meanwhile.
		{"POST /reviews, the first of a pair", func() int {
			return a.call(t, http.MethodPost, "/api/reviews", worker.Token, map[string]any{"submission_id": subs[0].ID, "rating": 5}).Code
		}, 6, 3, http.StatusCreated},
		// The second shows both: the first revealed, this one written
		// visible, counted in the rating and recorded counted (the first
		// is counted by a job, woken at once).
		{"POST /reviews, the second of a pair", func() int {
			return a.call(t, http.MethodPost, "/api/reviews", buyer.Token, map[string]any{"submission_id": subs[0].ID, "rating": 4}).Code
		}, 6, 4, http.StatusCreated},
		// Projects (issue 22). A hire: the job and the proposal read, the
		// operation (record, its commit: the proposal claimed, then the
		// job, two postings, the end, the clean-up), its settle (the items,
		// the contract, the others read, the notification) and the
		// answer's reads.
		{"POST /jobs/{id}/hire", func() int {
			rec := a.call(t, http.MethodPost, "/api/jobs/"+hiring.ID+"/hire", buyer.Token, hireBody(offer.ID, 40, 50))
			c = decode[contractBody](t, rec, http.StatusCreated)
			return rec.Code
		}, 15, 10, http.StatusCreated},
		// A milestone's funding: the contract and the item read, the
		// operation (record, commit, two postings, end, clean-up), the item
		// and the notification, and the item read for the answer. Its
		// approval costs the same and its invoice: the insert, and the
		// year's last number where this process has numbered none yet (as
		// here); a submission moves no coins (no postings, no clean-up);
		// the end also refunds the items.
		{"POST /contracts/{id}/milestones/{mid}/fund", func() int {
			return a.call(t, http.MethodPost, milestonePath(c, 1, "/fund"), buyer.Token, nil).Code
		}, 11, 8, http.StatusOK},
		{"POST /contracts/{id}/milestones/{mid}/submit", func() int {
			return a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token, map[string]any{"message": "Done."}).Code
		}, 8, 5, http.StatusOK},
		{"POST /contracts/{id}/milestones/{mid}/approve", func() int {
			return a.call(t, http.MethodPost, milestonePath(c, 0, "/approve"), buyer.Token, nil).Code
		}, 13, 9, http.StatusOK},
		// A milestone beyond the bid (as a submission costs): the contract and its items read, the
		// operation without postings (record, commit, end), its settle
		// (the item made, the worker told) and the item read for the
		// answer. The worker's decline: the contract and the item read,
		// the operation (record, commit, end), the item and the buyer's
		// notification, the item read.
		{"POST /contracts/{id}/milestones (beyond the bid)", func() int {
			rec := a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/milestones", buyer.Token, map[string]any{"title": "More", "coins": 5})
			proposed = decode[milestoneBody](t, rec, http.StatusCreated)
			return rec.Code
		}, 8, 5, http.StatusCreated},
		{"POST /contracts/{id}/milestones/{mid}/decline", func() int {
			return a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/milestones/"+proposed.ID+"/decline", worker.Token, nil).Code
		}, 8, 5, http.StatusOK},
		// A dispute (of the second milestone, submitted first): the
		// contract and the item read, the operation without postings
		// (record, commit, end), the item, the report and a notification
		// to each party.
		{"POST /contracts/{id}/disputes", func() int {
			a.call(t, http.MethodPost, milestonePath(c, 1, "/submit"), worker.Token, map[string]any{"message": "Done."})
			log.Reset()
			rec := a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/disputes", buyer.Token,
				map[string]any{"milestone_id": c.Milestones[1].ID, "reason": "It does not load on phones."})
			dispute = decode[disputeBody](t, rec, http.StatusCreated)
			return rec.Code
		}, 9, 7, http.StatusCreated},
		// Its decision: the report, the item and the contract read, the
		// operation (record, commit, three postings of a split, end,
		// clean-up), its settle (the item, the worker's part's invoice,
		// the admin log, a notification to each party), the item read,
		// then the report's own decision, log entry, notification and read.
		{"PUT /admin/reports/{id} split", func() int {
			a.call(t, http.MethodGet, "/api/auth/me", admin.Token, nil)
			log.Reset()
			return a.call(t, http.MethodPut, "/api/admin/reports/"+dispute.ID, admin.Token,
				map[string]any{"status": "resolved", "action": "split", "worker_coins": 20}).Code
		}, 20, 15, http.StatusOK},
		{"POST /contracts/{id}/end", func() int {
			return a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", worker.Token, map[string]any{}).Code
		}, 12, 9, http.StatusOK},
		// A timesheet costs what a submission does, its week read by id;
		// its approval what a milestone's does (its invoice included, the
		// year's last number known by now), with a third posting (the
		// refund of the hours not worked).
		{"POST /contracts/{id}/timesheets", func() int {
			a.call(t, http.MethodGet, "/api/auth/me", hourlyWorker.Token, nil)
			log.Reset()
			rec := a.call(t, http.MethodPost, "/api/contracts/"+hc.ID+"/timesheets", hourlyWorker.Token,
				map[string]any{"week_start": hc.Weeks[0].WeekStart.Format(time.DateOnly), "hours": 3})
			week = decode[weekBody](t, rec, http.StatusCreated)
			return rec.Code
		}, 8, 5, http.StatusCreated},
		{"PUT /timesheets/{id}/approve", func() int {
			return a.call(t, http.MethodPut, "/api/timesheets/"+week.ID+"/approve", buyer.Token, nil).Code
		}, 13, 10, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.call(t, http.MethodGet, "/api/auth/me", buyer.Token, nil) // warm the token checks
			a.call(t, http.MethodGet, "/api/auth/me", worker.Token, nil)
			log.Reset()
			if code := tt.call(); code != tt.wantStatusCode {
				t.Fatalf("status %d, want %d", code, tt.wantStatusCode)
			}
			got := log.Counts()
			reads, writes := split(got)
			t.Logf("%d commands, %d writes: %v", reads+writes, writes, got)
			if reads+writes > tt.maxAll || writes > tt.maxW {
				t.Errorf("%d commands of which %d writes (%v); budget %d, of which %d writes", reads+writes, writes, got, tt.maxAll, tt.maxW)
			}
		})
	}
}

// TestListQueryBudgets counts the database commands each list endpoint
// sends, as MongoDB receives them: one find and one count (an aggregate), so
// that an N+1 cannot creep in. The token check is warmed up first; it is
// cached.
func TestListQueryBudgets(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, asOnMongoDB: true})
	buyer, worker, admin := a.register(t, "buyer"), a.register(t, "worker"), a.admin(t)
	a.grant(t, buyer.User.ID, 500)
	for range 3 {
		tk := a.postTask(t, buyer.Token, 2, 10)
		a.submit(t, worker.Token, tk.ID)
	}
	a.standing(t, worker.User.ID, user.Standing{Rating: 4.5, Reviews: 3}) // on the top-rated board
	// A worker with a country and scores, and a task requiring both.
	qualified := a.register(t, "worker")
	q := a.qualificationOf(t, buyer.Token, false)
	a.call(t, http.MethodPatch, "/api/users/"+qualified.User.ID, qualified.Token, map[string]any{"country": "DE"})
	a.call(t, http.MethodPost, "/api/qualifications/"+q+"/grants", buyer.Token, map[string]any{"worker_id": qualified.User.ID, "value": 70})
	body := taskRequest(a, 2, 10)
	body["countries"], body["requirements"] = []string{"DE"}, []map[string]any{{"qualification_id": q, "comparator": "gte", "value": 60}}
	a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body)
	jb := a.postJob(t, buyer.Token, fixedJob(100))
	a.propose(t, worker.Token, jb.ID, bid(90))
	ct := a.contracted(t, buyer, worker)
	// A job requiring the same, which the qualified worker's eligible
	// list shows and the other's leaves out.
	body = fixedJob(100)
	body["countries"], body["requirements"] = []string{"DE"}, []map[string]any{{"qualification_id": q, "comparator": "gte", "value": 60}}
	a.postJob(t, buyer.Token, body)
	hc := a.hourlyContracted(t, buyer, a.register(t, "worker"))
	log := storagetest.Commands(t, a.db)
	oneFindOneCount := map[string]int{"find": 1, "aggregate": 1}
	// Tasks show their buyers' records, submissions to review their
	// workers': one more find for the page, whatever its size
	// (TestRecordsCostOneReadAPage).
	withRecords := map[string]int{"find": 2, "aggregate": 1}
	tests := []struct {
		path  string
		token string
		want  map[string]int
	}{
		{"/api/tasks", "", withRecords},
		{"/api/tasks/available?q=video&sort=pay", "", withRecords},
		// A worker's available tasks leave out theirs in the same query.
		{"/api/tasks/available", worker.Token, oneFindOneCount},
		// Category, tag and the effective-pay sort are fields of the same query.
		{"/api/tasks/available?category=survey&tag=quick&sort=effective_pay", worker.Token, oneFindOneCount},
		// Their country and scores too (copied onto their user, read
		// through the cache): the page, which is not empty here, and its
		// buyers' records.
		{"/api/tasks/available", qualified.Token, withRecords},
		// A worker's own submissions to a page of tasks: one more find.
		{"/api/tasks", worker.Token, map[string]int{"find": 3, "aggregate": 1}},
		{"/api/tasks/my", buyer.Token, withRecords},
		{"/api/submissions/my", worker.Token, oneFindOneCount},
		{"/api/submissions/approved", worker.Token, oneFindOneCount},
		{"/api/submissions/to-review", buyer.Token, withRecords},
		{"/api/notifications", buyer.Token, oneFindOneCount},
		{"/api/notifications/unread/count", buyer.Token, map[string]int{"aggregate": 1}},
		{"/api/tasks/" + "nope", "", map[string]int{"find": 1}},
		{"/api/admin/purchase-blocks", admin.Token, oneFindOneCount},
		// A profile is two reads, the user and their record, for anyone:
		// the views it counts are written in the background.
		{"/api/users/" + worker.User.ID, "", map[string]int{"find": 2}},
		{"/api/users/" + worker.User.ID, buyer.Token, map[string]int{"find": 2}},
		{"/api/users/" + worker.User.ID, worker.Token, map[string]int{"find": 2}},
		// Worker cards show their records: one find more for the page.
		{"/api/workers?skill=go&sort=approved", "", oneFindOneCount},
		{"/api/workers", "", withRecords},
		// Reviews about a user: whether their profile is public, then one
		// find and one count.
		{"/api/users/" + worker.User.ID + "/reviews?rating=5", "", map[string]int{"find": 2, "aggregate": 1}},
		{"/api/reviews/" + "nope", "", map[string]int{"find": 1}},
		// The top-rated: the users, their balances and their records.
		{"/api/users/top-workers?by=rating", "", map[string]int{"find": 3}},
		// The requesters' tools (issue 24).
		{"/api/api-keys", buyer.Token, oneFindOneCount},
		{"/api/webhooks", buyer.Token, oneFindOneCount},
		{"/api/batches", buyer.Token, oneFindOneCount},
		{"/api/qualifications?owner=me", buyer.Token, oneFindOneCount},
		{"/api/qualifications/my", worker.Token, oneFindOneCount},
		// Invoices (issue 22): a list is one find and one count, one is a
		// find, for JSON and the PDF alike.
		{"/api/invoices", buyer.Token, oneFindOneCount},
		{"/api/invoices?user_id=" + buyer.User.ID, admin.Token, oneFindOneCount},
		{"/api/invoices/" + "nope", buyer.Token, map[string]int{"find": 1}},
		// Projects (issue 22): every filter and sort a field of the one query.
		{"/api/jobs?q=page&skill=css&type=fixed&min_budget=1&max_budget=500&sort=budget", "", oneFindOneCount},
		{"/api/jobs/my", buyer.Token, oneFindOneCount},
		// The jobs a worker is eligible for: their level, rating, country
		// and scores (read through the cache) are fields of the same
		// query, as for their available tasks.
		{"/api/jobs?eligible=true", qualified.Token, oneFindOneCount},
		{"/api/jobs?eligible=true&q=page&type=fixed&sort=budget", worker.Token, oneFindOneCount},
		// A job alone: the job and the count of its proposals; a worker's
		// own proposal one find more.
		{"/api/jobs/" + jb.ID, "", map[string]int{"find": 1, "aggregate": 1}},
		{"/api/jobs/" + jb.ID, worker.Token, map[string]int{"find": 2, "aggregate": 1}},
		// Its proposals show their workers' cards: the job, then one find,
		// one count and the records.
		{"/api/jobs/" + jb.ID + "/proposals", buyer.Token, map[string]int{"find": 3, "aggregate": 1}},
		{"/api/proposals/my", worker.Token, oneFindOneCount},
		{"/api/contracts/my?status=active", worker.Token, oneFindOneCount},
		// A contract alone: the contract and its milestones.
		{"/api/contracts/" + ct.ID, buyer.Token, map[string]int{"find": 2}},
		// An hourly contract's weeks: the contract, then one find and one
		// count.
		{"/api/contracts/" + hc.ID + "/timesheets", buyer.Token, map[string]int{"find": 2, "aggregate": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			a.call(t, http.MethodGet, "/api/auth/me", tt.token, nil) // warm the token check
			log.Reset()
			rec := a.call(t, http.MethodGet, tt.path, tt.token, nil)
			if rec.Code >= 500 {
				t.Fatalf("status %d", rec.Code)
			}
			if got := log.Counts(); !maps.Equal(got, tt.want) {
				t.Errorf("commands = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTopWorkersQueryBudget counts the commands of the public top-workers
// board, as MongoDB receives them: the same few whether no buyer or a
// hundred buyers are richer than every worker (it used to page through the
// richest accounts of every role until it had found six workers).
func TestTopWorkersQueryBudget(t *testing.T) {
	t.Parallel() // slow (a hundred buyers): overlaps the other slow one once the quick tests are done
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, asOnMongoDB: true})
	for i := range 8 {
		a.grant(t, a.register(t, "worker").User.ID, money.Coins(100*(i+1)))
	}
	log := storagetest.Commands(t, a.db)
	count := func() map[string]int {
		t.Helper()
		log.Reset()
		if rec := a.get(t, "/api/users/top-workers"); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		return log.Counts()
	}
	none := count()
	for range 100 {
		a.grant(t, a.env.User(t, auth.RoleBuyer).UserID, 100_000)
	}
	if many := count(); !maps.Equal(many, none) {
		t.Errorf("commands with 100 rich buyers = %v, want as with none: %v", many, none)
	}
	if reads, _ := split(none); reads > 3 {
		t.Errorf("commands = %v, want at most three reads (the board, the workers' names, their records)", none)
	}
}

// TestRecordsCostOneReadAPage: the track records shown on a page of tasks
// (their buyers') and of submissions to review (their workers') are read
// in one command, so a page of many users costs what a page of one does.
func TestRecordsCostOneReadAPage(t *testing.T) {
	t.Parallel() // slow (sixty sign-ups and thirty tasks): overlaps the other slow one once the quick tests are done
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, asOnMongoDB: true})
	review := a.register(t, "buyer")
	a.grant(t, review.User.ID, 1000)
	reviewed := a.postTask(t, review.Token, 50, 10)
	log := storagetest.Commands(t, a.db)
	count := func(path, token string) map[string]int {
		t.Helper()
		a.call(t, http.MethodGet, "/api/auth/me", token, nil) // warm the token check
		log.Reset()
		if rec := a.call(t, http.MethodGet, path, token, nil); rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, rec.Code)
		}
		return log.Counts()
	}
	var workers []sessionBody
	grow := func(n int) {
		for range n {
			b, w := a.register(t, "buyer"), a.register(t, "worker")
			a.grant(t, b.User.ID, 100)
			a.postTask(t, b.Token, 1, 10)
			a.submit(t, w.Token, reviewed.ID)
			workers = append(workers, w)
		}
	}
	grow(1)
	fewTasks, fewSubs := count("/api/tasks?limit=100", ""), count("/api/submissions/to-review?limit=100", review.Token)
	grow(30)
	manyTasks, manySubs := count("/api/tasks?limit=100", ""), count("/api/submissions/to-review?limit=100", review.Token)
	t.Logf("a page of tasks of 2 buyers: %v, of 32: %v; of submissions of 1 worker: %v, of 31: %v", fewTasks, manyTasks, fewSubs, manySubs)
	if !maps.Equal(fewTasks, manyTasks) || !maps.Equal(fewSubs, manySubs) {
		t.Errorf("commands grow with the users on the page: tasks %v then %v, submissions %v then %v", fewTasks, manyTasks, fewSubs, manySubs)
	}
}

// TestMessageCommandBudgets counts the commands of sending a message and
// of the conversation list, as MongoDB receives them: a message is at most
// six (the recipient, the conversation, both users' blocks in one find, the
// friendship for a first message to a friend, the message and the
// conversation's update), whoever the recipient (which users have webhook
// endpoints is remembered for all at once); to a recipient whose endpoint
// takes message.received, two writes more (the event's delivery, and the
// mark taken off the message). The list is at
// most three (a find, a count and the other users' cards in one find).
func TestMessageCommandBudgets(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, asOnMongoDB: true})
	x, y, hooked := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "buyer")
	a.befriend(t, x, y)
	a.befriend(t, x, hooked)
	a.endpoint(t, hooked.Token, apptest.NewReceiver(t, a.clock.Now), "message.received")
	a.sent(t, hooked.Token, x.User.ID, "hello")
	for range 3 {
		z := a.register(t, "worker")
		a.befriend(t, x, z)
		a.sent(t, z.Token, x.User.ID, "hello")
	}
	log := storagetest.Commands(t, a.db)
	tests := []struct {
		name   string
		call   func() int
		max    int
		status int
	}{
		{"POST /chats/{user_id}, a first message to a friend", func() int {
			return a.write(t, x.Token, y.User.ID, "first").Code
		}, 6, http.StatusCreated},
		{"POST /chats/{user_id}, an answer", func() int {
			return a.write(t, y.Token, x.User.ID, "answer").Code
		}, 6, http.StatusCreated},
		{"POST /chats/{user_id}, an answer to a user with a message.received endpoint", func() int {
			return a.write(t, x.Token, hooked.User.ID, "answer").Code
		}, 8, http.StatusCreated},
		{"GET /chats", func() int {
			return a.call(t, http.MethodGet, "/api/chats", x.Token, nil).Code
		}, 3, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.call(t, http.MethodGet, "/api/auth/me", x.Token, nil) // warm the token checks
			a.call(t, http.MethodGet, "/api/auth/me", y.Token, nil)
			log.Reset()
			if code := tt.call(); code != tt.status {
				t.Fatalf("status %d, want %d", code, tt.status)
			}
			got := log.Counts()
			reads, writes := split(got)
			t.Logf("%d commands, %d writes: %v", reads+writes, writes, got)
			if reads+writes > tt.max {
				t.Errorf("%d commands (%v); budget %d", reads+writes, got, tt.max)
			}
		})
	}
}

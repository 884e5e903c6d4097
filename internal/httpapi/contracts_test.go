package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

type milestoneBody struct {
	ID            string     `json:"id"`
	ContractID    string     `json:"contract_id"`
	Kind          string     `json:"kind"`
	Title         string     `json:"title"`
	Coins         int64      `json:"coins"`
	Status        string     `json:"status"`
	AutoReleaseAt *time.Time `json:"auto_release_at"`
	ReleasedBy    *string    `json:"released_by"`
	Changes       int        `json:"changes_requested"`
}

type contractBody struct {
	ID         string          `json:"id"`
	JobID      string          `json:"job_id"`
	Type       string          `json:"type"`
	Price      *int64          `json:"price_coins"`
	Raised     *int64          `json:"raised_coins"`
	Rate       *int64          `json:"hourly_rate_coins"`
	Status     string          `json:"status"`
	Escrow     int64           `json:"escrow_coins"`
	Paid       int64           `json:"paid_coins"`
	Refunded   int64           `json:"refunded_coins"`
	EndedBy    *string         `json:"ended_by"`
	Milestones []milestoneBody `json:"milestones"`
}

func hireBody(proposalID string, coins ...int64) map[string]any {
	ms := make([]map[string]any, len(coins))
	for i, c := range coins {
		ms[i] = map[string]any{"title": "Part " + string(rune('A'+i)), "coins": c}
	}
	return map[string]any{"proposal_id": proposalID, "milestones": ms}
}

// contracted posts a fixed job of the buyer's (budget 100), the worker's
// proposal at 90, and hires them with milestones of 40 and 50.
func (a *testAPI) contracted(t testing.TB, buyer, worker sessionBody) contractBody {
	t.Helper()
	a.grant(t, buyer.User.ID, 200)
	j := a.postJob(t, buyer.Token, fixedJob(100))
	p := a.propose(t, worker.Token, j.ID, bid(90))
	rec := a.call(t, http.MethodPost, "/api/jobs/"+j.ID+"/hire", buyer.Token, hireBody(p.ID, 40, 50))
	c := decode[contractBody](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != "/api/contracts/"+c.ID {
		t.Errorf("Location = %q", loc)
	}
	return c
}

func milestonePath(c contractBody, i int, action string) string {
	return "/api/contracts/" + c.ID + "/milestones/" + c.Milestones[i].ID + action
}

// TestContractMilestones: hire, submit, request changes, submit, approve,
// fund the next by the specification's path, end; each step as its party
// sees it, and the coins where they should be.
func TestContractMilestones(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	c := a.contracted(t, buyer, worker)
	if c.Status != "active" || c.Type != "fixed" || *c.Price != 90 || c.Escrow != 40 || len(c.Milestones) != 2 ||
		c.Milestones[0].Status != "funded" || c.Milestones[1].Status != "unfunded" {
		t.Fatalf("contract = %+v", c)
	}
	if got := decode[jobBody](t, a.get(t, "/api/jobs/"+c.JobID), http.StatusOK); got.Status != "hired" || got.ContractID == nil || *got.ContractID != c.ID {
		t.Errorf("job after the hire = %+v", got)
	}

	sub := decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token,
		map[string]any{"message": "The design.", "attachments": []string{"https://example.com/a.png"}}), http.StatusOK)
	if sub.Status != "submitted" || sub.AutoReleaseAt == nil {
		t.Errorf("submitted = %+v", sub)
	}
	back := decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/request-changes"), buyer.Token,
		map[string]any{"reason": "A larger logo, please."}), http.StatusOK)
	if back.Status != "funded" || back.Changes != 1 {
		t.Errorf("sent back = %+v", back)
	}
	decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token, map[string]any{"message": "Larger."}), http.StatusOK)
	paid := decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/approve"), buyer.Token, nil), http.StatusOK)
	if paid.Status != "released" || paid.ReleasedBy == nil || *paid.ReleasedBy != "buyer" {
		t.Errorf("approved = %+v", paid)
	}
	funded := decode[milestoneBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/payment", buyer.Token,
		map[string]any{"milestone_id": c.Milestones[1].ID}), http.StatusOK)
	if funded.Status != "funded" {
		t.Errorf("funded = %+v", funded)
	}
	got := decode[contractBody](t, a.call(t, http.MethodGet, "/api/contracts/"+c.ID, worker.Token, nil), http.StatusOK)
	if got.Escrow != 50 || got.Paid != 40 {
		t.Errorf("contract as the worker reads it = %+v", got)
	}
	mine := decode[pageOf[contractBody]](t, a.call(t, http.MethodGet, "/api/contracts/my?status=active", worker.Token, nil), http.StatusOK)
	if mine.Total != 1 || mine.Items[0].ID != c.ID || mine.Items[0].Milestones != nil {
		t.Errorf("the worker's active contracts = %+v", mine)
	}
	ended := decode[contractBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", worker.Token,
		map[string]any{"reason": "All done."}), http.StatusOK)
	if ended.Status != "ended" || ended.Refunded != 50 || ended.EndedBy == nil || *ended.EndedBy != worker.User.ID {
		t.Errorf("ended = %+v", ended)
	}
	if n := decode[pageOf[contractBody]](t, a.call(t, http.MethodGet, "/api/contracts/my?status=active", buyer.Token, nil), http.StatusOK).Total; n != 0 {
		t.Errorf("active contracts after the end = %d", n)
	}
	me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", worker.Token, nil), http.StatusOK)
	if me.Coins != 40+10 { // the milestone, and the sign-up bonus
		t.Errorf("worker's coins = %d, want 50", me.Coins)
	}
}

// TestContractRefusals: every endpoint's wrong role, someone else's
// contract (404 as a missing one), invalid fields and conflicting states.
func TestContractRefusals(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	otherBuyer, otherWorker := a.register(t, "buyer"), a.register(t, "worker")
	c := a.contracted(t, buyer, worker)

	// A second job, for the refusals of hiring.
	j := a.postJob(t, buyer.Token, fixedJob(100))
	p := a.propose(t, worker.Token, j.ID, bid(90))
	poor := a.register(t, "buyer")
	pj := a.postJob(t, poor.Token, fixedJob(1000))
	pp := a.propose(t, worker.Token, pj.ID, bid(900))
	// A proposal withdrawn: not hired, and a hired one not withdrawn.
	wj := a.postJob(t, buyer.Token, fixedJob(100))
	wp := a.propose(t, otherWorker.Token, wj.ID, bid(90))
	decode[proposalBody](t, a.call(t, http.MethodDelete, "/api/proposals/"+wp.ID, otherWorker.Token, nil), http.StatusOK)
	// A milestone proposed beyond the bid, awaiting the worker.
	pm := decode[milestoneBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/milestones", buyer.Token,
		map[string]any{"title": "More", "coins": 1}), http.StatusCreated)
	pmPath := "/api/contracts/" + c.ID + "/milestones/" + pm.ID
	hj := a.postJob(t, buyer.Token, fixedJob(100))
	hp := a.propose(t, otherWorker.Token, hj.ID, bid(80))
	decode[contractBody](t, a.call(t, http.MethodPost, "/api/jobs/"+hj.ID+"/hire", buyer.Token, hireBody(hp.ID, 10)), http.StatusCreated)

	for _, tt := range []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"a worker hires", http.MethodPost, "/api/jobs/" + j.ID + "/hire", worker.Token, hireBody(p.ID, 10), http.StatusForbidden, "wrong_role"},
		{"another buyer hires", http.MethodPost, "/api/jobs/" + j.ID + "/hire", otherBuyer.Token, hireBody(p.ID, 10), http.StatusNotFound, "job_not_found"},
		{"a proposal of another job", http.MethodPost, "/api/jobs/" + j.ID + "/hire", buyer.Token, hireBody(pp.ID, 10), http.StatusNotFound, "proposal_not_found"},
		{"milestones over the bid", http.MethodPost, "/api/jobs/" + j.ID + "/hire", buyer.Token, hireBody(p.ID, 50, 41), http.StatusUnprocessableEntity, "invalid_fields"},
		{"no milestones", http.MethodPost, "/api/jobs/" + j.ID + "/hire", buyer.Token, hireBody(p.ID), http.StatusUnprocessableEntity, "invalid_fields"},
		{"a bad milestone", http.MethodPost, "/api/jobs/" + j.ID + "/hire", buyer.Token,
			map[string]any{"proposal_id": p.ID, "milestones": []map[string]any{{"title": "", "coins": 0, "due_date": "soon"}}}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"short of coins", http.MethodPost, "/api/jobs/" + pj.ID + "/hire", poor.Token, hireBody(pp.ID, 900), http.StatusConflict, "insufficient_coins"},
		{"a withdrawn proposal", http.MethodPost, "/api/jobs/" + wj.ID + "/hire", buyer.Token, hireBody(wp.ID, 10), http.StatusConflict, "proposal_not_pending"},
		{"withdraw a hired proposal", http.MethodDelete, "/api/proposals/" + hp.ID, otherWorker.Token, nil, http.StatusConflict, "proposal_not_pending"},
		{"a hired job", http.MethodPost, "/api/jobs/" + c.JobID + "/hire", buyer.Token, hireBody(p.ID, 10), http.StatusNotFound, "proposal_not_found"},
		{"a stranger reads", http.MethodGet, "/api/contracts/" + c.ID, otherWorker.Token, nil, http.StatusNotFound, "contract_not_found"},
		{"a missing contract", http.MethodGet, "/api/contracts/nope", buyer.Token, nil, http.StatusNotFound, "contract_not_found"},
		{"a stranger reads a milestone", http.MethodGet, milestonePath(c, 0, ""), otherBuyer.Token, nil, http.StatusNotFound, "contract_not_found"},
		{"the worker funds", http.MethodPost, milestonePath(c, 1, "/fund"), worker.Token, nil, http.StatusForbidden, "wrong_role"},
		{"another buyer funds", http.MethodPost, milestonePath(c, 1, "/fund"), otherBuyer.Token, nil, http.StatusNotFound, "contract_not_found"},
		{"fund a funded one", http.MethodPost, milestonePath(c, 0, "/fund"), buyer.Token, nil, http.StatusConflict, "milestone_funded"},
		{"fund a missing one", http.MethodPost, "/api/contracts/" + c.ID + "/payment", buyer.Token, map[string]any{"milestone_id": "nope"}, http.StatusNotFound, "milestone_not_found"},
		{"the buyer submits", http.MethodPost, milestonePath(c, 0, "/submit"), buyer.Token, map[string]any{"message": "x"}, http.StatusForbidden, "wrong_role"},
		{"another worker submits", http.MethodPost, milestonePath(c, 0, "/submit"), otherWorker.Token, map[string]any{"message": "x"}, http.StatusNotFound, "contract_not_found"},
		{"submit an unfunded one", http.MethodPost, milestonePath(c, 1, "/submit"), worker.Token, map[string]any{"message": "x"}, http.StatusConflict, "milestone_not_funded"},
		{"submit without a message", http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token, map[string]any{"attachments": []string{"ftp://x"}}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"approve one not submitted", http.MethodPost, milestonePath(c, 0, "/approve"), buyer.Token, nil, http.StatusConflict, "milestone_not_submitted"},
		{"the worker approves", http.MethodPost, milestonePath(c, 0, "/approve"), worker.Token, nil, http.StatusForbidden, "wrong_role"},
		{"changes to one not submitted", http.MethodPost, milestonePath(c, 0, "/request-changes"), buyer.Token, map[string]any{"reason": "Please redo it all."}, http.StatusConflict, "milestone_not_submitted"},
		{"a short reason", http.MethodPost, milestonePath(c, 0, "/request-changes"), buyer.Token, map[string]any{"reason": "no"}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"fund a proposed one", http.MethodPost, pmPath + "/fund", buyer.Token, nil, http.StatusConflict, "milestone_proposed"},
		{"the buyer accepts", http.MethodPost, pmPath + "/accept", buyer.Token, nil, http.StatusForbidden, "wrong_role"},
		{"another worker accepts", http.MethodPost, pmPath + "/accept", otherWorker.Token, nil, http.StatusNotFound, "contract_not_found"},
		{"another worker declines", http.MethodPost, pmPath + "/decline", otherWorker.Token, nil, http.StatusNotFound, "contract_not_found"},
		{"accept a missing one", http.MethodPost, "/api/contracts/" + c.ID + "/milestones/nope/accept", worker.Token, nil, http.StatusNotFound, "milestone_not_found"},
		{"accept one not proposed", http.MethodPost, milestonePath(c, 0, "/accept"), worker.Token, nil, http.StatusConflict, "milestone_not_proposed"},
		{"decline one not proposed", http.MethodPost, milestonePath(c, 1, "/decline"), worker.Token, nil, http.StatusConflict, "milestone_not_proposed"},
		{"add a bad one", http.MethodPost, "/api/contracts/" + c.ID + "/milestones", buyer.Token, map[string]any{"title": "", "coins": 0}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"the worker adds", http.MethodPost, "/api/contracts/" + c.ID + "/milestones", worker.Token, map[string]any{"title": "More", "coins": 1}, http.StatusForbidden, "wrong_role"},
		{"a stranger ends", http.MethodPost, "/api/contracts/" + c.ID + "/end", otherBuyer.Token, map[string]any{}, http.StatusNotFound, "contract_not_found"},
		{"a bad status filter", http.MethodGet, "/api/contracts/my?status=open", buyer.Token, nil, http.StatusUnprocessableEntity, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}

	// A milestone in review holds the end; an ended contract takes nothing.
	decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token, map[string]any{"message": "Done."}), http.StatusOK)
	wantProblem(t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", buyer.Token, map[string]any{}), http.StatusConflict, "milestone_in_review")
	decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/approve"), buyer.Token, nil), http.StatusOK)
	decode[contractBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", buyer.Token, map[string]any{}), http.StatusOK)
	wantProblem(t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", worker.Token, map[string]any{}), http.StatusConflict, "contract_ended")
	wantProblem(t, a.call(t, http.MethodPost, milestonePath(c, 1, "/fund"), buyer.Token, nil), http.StatusConflict, "contract_ended")
}

// TestProposedMilestone: a milestone beyond the bid is proposed; the
// worker accepts it (the agreed price grows by it) and the buyer funds
// it, or declines one, which then cannot be funded.
func TestProposedMilestone(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	c := a.contracted(t, buyer, worker) // bid 90: 40 and 50
	if c.Raised == nil || *c.Raised != 0 {
		t.Errorf("raised_coins = %v, want 0", c.Raised)
	}
	add := func(coins int64) milestoneBody {
		return decode[milestoneBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/milestones", buyer.Token,
			map[string]any{"title": "More", "coins": coins}), http.StatusCreated)
	}
	yes, no := add(30), add(20)
	if yes.Status != "proposed" || no.Status != "proposed" {
		t.Fatalf("added = %s, %s; want proposed", yes.Status, no.Status)
	}
	path := "/api/contracts/" + c.ID + "/milestones/"
	if got := decode[milestoneBody](t, a.call(t, http.MethodPost, path+yes.ID+"/accept", worker.Token, nil), http.StatusOK); got.Status != "unfunded" {
		t.Errorf("accepted = %s", got.Status)
	}
	if got := decode[milestoneBody](t, a.call(t, http.MethodPost, path+no.ID+"/decline", worker.Token, nil), http.StatusOK); got.Status != "declined" {
		t.Errorf("declined = %s", got.Status)
	}
	wantProblem(t, a.call(t, http.MethodPost, path+yes.ID+"/decline", worker.Token, nil), http.StatusConflict, "milestone_not_proposed")
	wantProblem(t, a.call(t, http.MethodPost, path+no.ID+"/fund", buyer.Token, nil), http.StatusConflict, "milestone_proposed")
	if got := decode[milestoneBody](t, a.call(t, http.MethodPost, path+yes.ID+"/fund", buyer.Token, nil), http.StatusOK); got.Status != "funded" {
		t.Errorf("funded = %s", got.Status)
	}
	got := decode[contractBody](t, a.call(t, http.MethodGet, "/api/contracts/"+c.ID, buyer.Token, nil), http.StatusOK)
	if got.Raised == nil || *got.Raised != 30 || got.Escrow != 70 {
		t.Errorf("contract = raised %v, escrow %d; want 30, 70", got.Raised, got.Escrow)
	}
	// Within what is left of the agreed price (120 - 40 - 50 - 30 = 0):
	// nothing; a milestone of 1 is proposed again.
	if m := add(1); m.Status != "proposed" {
		t.Errorf("a milestone beyond the raised price = %s", m.Status)
	}
}

// TestHourlyContract: hiring an hourly job funds its first week.
func TestHourlyContract(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 500)
	j := a.postJob(t, buyer.Token, hourlyJob(20, 10))
	p := a.propose(t, worker.Token, j.ID, map[string]any{"cover_letter": "Hi.", "hourly_rate_coins": 15, "estimated_days": 30})
	wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+j.ID+"/hire", buyer.Token, hireBody(p.ID, 10)), http.StatusUnprocessableEntity, "invalid_fields")
	c := decode[contractBody](t, a.call(t, http.MethodPost, "/api/jobs/"+j.ID+"/hire", buyer.Token, map[string]any{"proposal_id": p.ID}), http.StatusCreated)
	if c.Type != "hourly" || c.Rate == nil || *c.Rate != 15 || c.Price != nil || c.Escrow != 150 || len(c.Milestones) != 1 ||
		c.Milestones[0].Kind != "week" || c.Milestones[0].Status != "funded" {
		t.Errorf("hourly contract = %+v", c)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/milestones", buyer.Token, map[string]any{"title": "More", "coins": 1}),
		http.StatusConflict, "hourly_contract")
}

// escrowOf is what the contract's escrow holds, as its party reads it.
func (a *testAPI) escrowOf(t testing.TB, token, id string) int64 {
	t.Helper()
	return decode[contractBody](t, a.call(t, http.MethodGet, "/api/contracts/"+id, token, nil), http.StatusOK).Escrow
}

// TestProjectsOpenConversations: a job's buyer and a worker who proposed
// for it may write to each other first, either way, and so may a
// contract's parties after it ended; a worker who did not propose may not
// write to the buyer first.
func TestProjectsOpenConversations(t *testing.T) {
	a := newAPI(t)
	buyer, proposer, stranger := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	j := a.postJob(t, buyer.Token, fixedJob(100))
	a.propose(t, proposer.Token, j.ID, bid(90))
	text := map[string]string{"text": "About the job."}
	decode[map[string]any](t, a.call(t, http.MethodPost, "/api/chats/"+buyer.User.ID, proposer.Token, text), http.StatusCreated)
	decode[map[string]any](t, a.call(t, http.MethodPost, "/api/chats/"+proposer.User.ID, buyer.Token, text), http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodPost, "/api/chats/"+buyer.User.ID, stranger.Token, text), http.StatusForbidden, "cannot_message")

	// A contract's parties, once it ended (the proposal behind it is
	// what the other case finds while the job lasts).
	other, hired := a.register(t, "buyer"), a.register(t, "worker")
	c := a.contracted(t, other, hired)
	decode[contractBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", other.Token, map[string]any{}), http.StatusOK)
	decode[map[string]any](t, a.call(t, http.MethodPost, "/api/chats/"+other.User.ID, hired.Token, text), http.StatusCreated)
}

// TestContractReviews: once a contract ended, its buyer and worker review
// each other, double-blind as for submissions; before, 409 not_decided;
// anyone else, 404 as for a missing contract.
func TestContractReviews(t *testing.T) {
	a := newAPI(t)
	buyer, worker, stranger := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	c := a.contracted(t, buyer, worker)
	body := func(rating int) map[string]any {
		return map[string]any{"contract_id": c.ID, "rating": rating, "comment": "Good."}
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", buyer.Token, body(5)), http.StatusConflict, "not_decided")
	decode[contractBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", buyer.Token, map[string]any{}), http.StatusOK)
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", stranger.Token, body(1)), http.StatusNotFound, "contract_not_found")
	p := wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", buyer.Token,
		map[string]any{"contract_id": c.ID, "submission_id": "x", "rating": 5}), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "contract_id")

	first := decode[reviewBody](t, a.call(t, http.MethodPost, "/api/reviews", buyer.Token, body(5)), http.StatusCreated)
	if first.About.Type != "contract" || first.About.ID != c.ID || first.RevieweeID != worker.User.ID || first.Status != "pending_visibility" {
		t.Errorf("the buyer's review = %+v", first)
	}
	second := decode[reviewBody](t, a.call(t, http.MethodPost, "/api/reviews", worker.Token, body(4)), http.StatusCreated)
	if second.RevieweeID != buyer.User.ID || second.Status != "visible" {
		t.Errorf("the worker's review = %+v", second)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", buyer.Token, body(3)), http.StatusConflict, "already_reviewed")
	if got := a.reviewsAbout(t, worker.User.ID, ""); len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("reviews about the worker = %+v", got)
	}
}

// TestContractInvoices: an approved milestone has one invoice, from the
// worker to the buyer, listed under its contract (its parties and admins;
// 404 to anyone else) and its job (the parties' own, an admin's all, an
// empty page to anyone else).
func TestContractInvoices(t *testing.T) {
	a := newAPI(t)
	buyer, worker, other, admin := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker"), a.admin(t)
	c := a.contracted(t, buyer, worker)
	decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token, map[string]any{"message": "Done."}), http.StatusOK)
	decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/approve"), buyer.Token, nil), http.StatusOK)

	contractPath, jobPath := "/api/contracts/"+c.ID+"/invoices", "/api/jobs/"+c.JobID+"/invoice"
	tests := []struct {
		name, path, token string
		want              int // invoices listed
	}{
		{"the buyer, the contract's", contractPath, buyer.Token, 1},
		{"the worker, the contract's", contractPath, worker.Token, 1},
		{"an admin, the contract's", contractPath, admin.Token, 1},
		{"the buyer, the job's", jobPath, buyer.Token, 1},
		{"the worker, the job's", jobPath, worker.Token, 1},
		{"an admin, the job's", jobPath, admin.Token, 1},
		{"another user, the job's", jobPath, other.Token, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := decode[pageOf[invoiceBody]](t, a.call(t, http.MethodGet, tt.path, tt.token, nil), http.StatusOK)
			if len(l.Items) != tt.want || l.Total != int64(tt.want) {
				t.Fatalf("%d invoices of %d, want %d", len(l.Items), l.Total, tt.want)
			}
			if tt.want == 0 {
				return
			}
			inv := l.Items[0]
			if inv.Seller.ID != worker.User.ID || inv.Buyer.ID != buyer.User.ID || inv.Coins != 40 || inv.Rate != "payout" ||
				len(inv.Lines) != 1 || inv.Lines[0].Description != "Build a landing page: Part A" {
				t.Errorf("invoice = %+v", inv)
			}
		})
	}

	refusals := []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"another user, the contract's", contractPath, other.Token, http.StatusNotFound, "contract_not_found"},
		{"a missing contract", "/api/contracts/nope/invoices", buyer.Token, http.StatusNotFound, "contract_not_found"},
		{"a missing job", "/api/jobs/nope/invoice", buyer.Token, http.StatusNotFound, "job_not_found"},
		{"no token, the contract's", contractPath, "", http.StatusUnauthorized, "missing_token"},
		{"no token, the job's", jobPath, "", http.StatusUnauthorized, "missing_token"},
		{"a bad page", contractPath + "?page=0", buyer.Token, http.StatusUnprocessableEntity, "invalid_fields"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodGet, tt.path, tt.token, nil), tt.status, tt.code)
		})
	}
}

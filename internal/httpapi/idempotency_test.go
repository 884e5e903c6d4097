package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"microtask/internal/app/apptest"
	"microtask/internal/checkout"
	"microtask/internal/idempotency"
	"microtask/internal/storage"
)

// keyed is a POST that moves coins, as a client sends it with an
// Idempotency-Key.
type keyed struct {
	token, path string
	body, other any                // other: a different body
	moved       func() int64       // the coins the request moves, seen from its user's balance
	made        func() int64       // how many records it made (tasks, withdrawals, payments)
	want        int64              // moved after one run
	wantStatus  int                // the first answer's status
	wantMade    int64              // made after one run
	check       func(first []byte) // anything else about the first answer
}

func (a *testAPI) send(t testing.TB, token, path, key string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var buf []byte
	if body != nil {
		var err error
		if buf, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	return a.do(t, request{method: http.MethodPost, path: path, token: token, header: h, body: bytes.NewReader(buf)})
}

func (a *testAPI) total(t testing.TB, token, path string) int64 {
	t.Helper()
	return decode[pageOf[json.RawMessage]](t, a.call(t, http.MethodGet, path, token, nil), http.StatusOK).Total
}

// coinMovingPosts are the endpoints that honour Idempotency-Key, each set up
// for one user.
var coinMovingPosts = []struct {
	name  string
	setUp func(t *testing.T, a *testAPI) keyed
}{
	{"post a task", func(t *testing.T, a *testAPI) keyed {
		buyer := a.register(t, "buyer") // 50 coins
		other := taskRequest(a, 2, 10)
		other["task_title"] = "Another title"
		return keyed{
			token: buyer.Token, path: "/api/tasks", body: taskRequest(a, 2, 10), other: other,
			moved: func() int64 { return 50 - a.coins(t, buyer.User.ID) }, want: 20, wantStatus: http.StatusCreated,
			made: func() int64 { return a.total(t, buyer.Token, "/api/tasks/my") }, wantMade: 1,
		}
	}},
	{"add slots to a task", func(t *testing.T, a *testAPI) keyed {
		buyer := a.register(t, "buyer")         // 50 coins
		tk := a.postTask(t, buyer.Token, 1, 10) // 40 left
		return keyed{
			token: buyer.Token, path: "/api/tasks/" + tk.ID + "/slots", body: map[string]int{"count": 2}, other: map[string]int{"count": 3},
			moved: func() int64 { return 40 - a.coins(t, buyer.User.ID) }, want: 20, wantStatus: http.StatusOK,
			made: func() int64 {
				return int64(decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK).RequiredWorkers)
			}, wantMade: 3,
		}
	}},
	{"pay a bonus", func(t *testing.T, a *testAPI) keyed {
		buyer, worker := a.register(t, "buyer"), a.register(t, "worker") // 50 and 10 coins
		tk := a.postTask(t, buyer.Token, 1, 10)                          // 40 left
		sub := a.submit(t, worker.Token, tk.ID)
		decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil), http.StatusOK)
		return keyed{
			token: buyer.Token, path: "/api/submissions/" + sub.ID + "/bonus",
			body: map[string]any{"coins": 5, "reason": "Great work"}, other: map[string]any{"coins": 6},
			moved: func() int64 { return 40 - a.coins(t, buyer.User.ID) }, want: 5, wantStatus: http.StatusOK,
			made: func() int64 { return a.coins(t, worker.User.ID) - 20 }, wantMade: 5,
		}
	}},
	{"request a withdrawal", func(t *testing.T, a *testAPI) keyed {
		worker := a.register(t, "worker")
		a.grant(t, worker.User.ID, 400) // 410 coins
		return keyed{
			token: worker.Token, path: "/api/withdrawals", body: withdrawalRequest(200), other: withdrawalRequest(201),
			moved: func() int64 { return 410 - a.coins(t, worker.User.ID) }, want: 200, wantStatus: http.StatusCreated,
			made: func() int64 { return a.total(t, worker.Token, "/api/withdrawals/my") }, wantMade: 1,
		}
	}},
	{"a withdrawal refused for want of coins", func(t *testing.T, a *testAPI) keyed {
		worker := a.register(t, "worker") // 10 coins
		var granted int64
		return keyed{
			token: worker.Token, path: "/api/withdrawals", body: withdrawalRequest(200), other: withdrawalRequest(300),
			moved: func() int64 { return 10 + granted - a.coins(t, worker.User.ID) }, want: 0, wantStatus: http.StatusConflict,
			made: func() int64 { return a.total(t, worker.Token, "/api/withdrawals/my") }, wantMade: 0,
			// The refusal is the answer to this key, even once the
			// worker has the coins: a new request takes a new key.
			check: func([]byte) { a.grant(t, worker.User.ID, 400); granted = 400 },
		}
	}},
	{"start a purchase", func(t *testing.T, a *testAPI) keyed {
		buyer := a.register(t, "buyer")
		return keyed{
			token: buyer.Token, path: "/api/payments/create", body: map[string]int{"coins": 150}, other: map[string]int{"coins": 500},
			moved: func() int64 { return 0 }, want: 0, wantStatus: http.StatusCreated,
			made: func() int64 { return a.total(t, buyer.Token, "/api/payments/history") }, wantMade: 1,
		}
	}},
	{"hire", func(t *testing.T, a *testAPI) keyed {
		buyer, worker := a.register(t, "buyer"), a.register(t, "worker") // 50 coins
		j := a.postJob(t, buyer.Token, fixedJob(100))
		p := a.propose(t, worker.Token, j.ID, bid(90))
		return keyed{
			token: buyer.Token, path: "/api/jobs/" + j.ID + "/hire", body: hireBody(p.ID, 40, 50), other: hireBody(p.ID, 30, 60),
			moved: func() int64 { return 50 - a.coins(t, buyer.User.ID) }, want: 40, wantStatus: http.StatusCreated,
			made: func() int64 { return a.total(t, buyer.Token, "/api/contracts/my") }, wantMade: 1,
		}
	}},
	{"fund a milestone", func(t *testing.T, a *testAPI) keyed {
		buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
		c := a.contracted(t, buyer, worker) // 50 + 200 - 40 coins left
		return keyed{
			token: buyer.Token, path: milestonePath(c, 1, "/fund"), body: nil, other: map[string]int{"coins": 1},
			moved: func() int64 { return 210 - a.coins(t, buyer.User.ID) }, want: 50, wantStatus: http.StatusOK,
			made: func() int64 { return a.escrowOf(t, buyer.Token, c.ID) }, wantMade: 90,
		}
	}},
	{"approve a milestone", func(t *testing.T, a *testAPI) keyed {
		buyer, worker := a.register(t, "buyer"), a.register(t, "worker") // the worker: 10 coins
		c := a.contracted(t, buyer, worker)
		decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token, map[string]any{"message": "Done."}), http.StatusOK)
		return keyed{
			token: buyer.Token, path: milestonePath(c, 0, "/approve"), body: nil, other: map[string]int{"coins": 1},
			moved: func() int64 { return 210 - a.coins(t, buyer.User.ID) }, want: 0, wantStatus: http.StatusOK,
			made: func() int64 { return a.coins(t, worker.User.ID) - 10 }, wantMade: 40,
		}
	}},
	{"end a contract", func(t *testing.T, a *testAPI) keyed {
		buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
		c := a.contracted(t, buyer, worker)
		return keyed{
			token: buyer.Token, path: "/api/contracts/" + c.ID + "/end", body: map[string]string{"reason": "Done."},
			other: map[string]string{"reason": "Other."},
			moved: func() int64 { return 210 - a.coins(t, buyer.User.ID) }, want: -40, wantStatus: http.StatusOK,
			made: func() int64 { return a.escrowOf(t, buyer.Token, c.ID) }, wantMade: 0,
		}
	}},
	{"confirm a purchase", func(t *testing.T, a *testAPI) keyed {
		buyer := a.register(t, "buyer")
		co := decode[checkoutBody](t, a.buy(t, buyer.Token, 150, ""), http.StatusCreated)
		return keyed{
			token: buyer.Token, path: "/api/payments/" + co.PaymentID + "/confirm", body: nil, other: map[string]int{"coins": 1},
			moved: func() int64 { return 50 - a.coins(t, buyer.User.ID) }, want: -150, wantStatus: http.StatusOK,
			made: func() int64 { return a.total(t, buyer.Token, "/api/payments/history") }, wantMade: 1,
		}
	}},
}

func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	for _, tc := range coinMovingPosts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			k := tc.setUp(t, a)
			first := a.send(t, k.token, k.path, "key-1", k.body)
			if first.Code != k.wantStatus {
				t.Fatalf("first answer %d %s, want %d", first.Code, first.Body, k.wantStatus)
			}
			if first.Header().Get("Idempotent-Replayed") != "" {
				t.Error("the first answer says it is replayed")
			}
			if k.check != nil {
				k.check(first.Body.Bytes())
			}
			for range 3 {
				again := a.send(t, k.token, k.path, "key-1", k.body)
				if again.Code != first.Code || again.Body.String() != first.Body.String() ||
					again.Header().Get("Location") != first.Header().Get("Location") ||
					again.Header().Get("Content-Type") != first.Header().Get("Content-Type") {
					t.Fatalf("retry answered %d %v %s, first %d %v %s", again.Code, again.Header(), again.Body, first.Code, first.Header(), first.Body)
				}
				if again.Header().Get("Idempotent-Replayed") != "true" {
					t.Errorf("Idempotent-Replayed = %q", again.Header().Get("Idempotent-Replayed"))
				}
			}
			if got := k.moved(); got != k.want {
				t.Errorf("coins moved = %d, want %d once", got, k.want)
			}
			if got := k.made(); got != k.wantMade {
				t.Errorf("records made = %d, want %d", got, k.wantMade)
			}

			// The same key for something else is refused and changes nothing.
			wantProblem(t, a.send(t, k.token, k.path, "key-1", k.other), http.StatusConflict, "idempotency_key_reused")
			if got, made := k.moved(), k.made(); got != k.want || made != k.wantMade {
				t.Errorf("after a reused key: moved %d, made %d", got, made)
			}
			// Keys are checked before anything runs.
			wantProblem(t, a.send(t, k.token, k.path, strings.Repeat("k", 256), k.body), http.StatusUnprocessableEntity, "invalid_fields")
			wantProblem(t, a.send(t, k.token, k.path, "with space", k.body), http.StatusUnprocessableEntity, "invalid_fields")
			if got, made := k.moved(), k.made(); got != k.want || made != k.wantMade {
				t.Errorf("after bad keys: moved %d, made %d", got, made)
			}
		})
	}
}

func TestIdempotencyKeysBelongToTheirUser(t *testing.T) {
	a := newAPI(t)
	b1, b2 := a.register(t, "buyer"), a.register(t, "buyer")
	t1 := decode[taskBody](t, a.send(t, b1.Token, "/api/tasks", "same", taskRequest(a, 1, 10)), http.StatusCreated)
	t2 := decode[taskBody](t, a.send(t, b2.Token, "/api/tasks", "same", taskRequest(a, 1, 10)), http.StatusCreated)
	if t1.ID == t2.ID || a.coins(t, b1.User.ID) != 40 || a.coins(t, b2.User.ID) != 40 {
		t.Errorf("tasks %s and %s; coins %d and %d", t1.ID, t2.ID, a.coins(t, b1.User.ID), a.coins(t, b2.User.ID))
	}
	// Without a key every request is a new one.
	a.postTask(t, b1.Token, 1, 10)
	a.postTask(t, b1.Token, 1, 10)
	if got := a.total(t, b1.Token, "/api/tasks/my"); got != 3 {
		t.Errorf("tasks = %d, want 3", got)
	}
}

func TestSimultaneousRetriesWithOneKeyMoveCoinsOnce(t *testing.T) {
	for _, tc := range coinMovingPosts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			k := tc.setUp(t, a)
			var wg sync.WaitGroup
			codes := make([]int, 8)
			for i := range codes {
				wg.Go(func() {
					rec := a.send(t, k.token, k.path, "burst", k.body)
					codes[i] = rec.Code
					if rec.Code == http.StatusConflict && strings.Contains(rec.Body.String(), "idempotency_key_in_progress") {
						codes[i] = -1
					}
				})
			}
			wg.Wait()
			answered := 0
			for _, c := range codes {
				switch c {
				case k.wantStatus:
					answered++
				case -1: // told to retry in a moment
				default:
					t.Errorf("answers = %v", codes)
				}
			}
			if answered == 0 {
				t.Errorf("answers = %v, want at least one %d", codes, k.wantStatus)
			}
			if got, made := k.moved(), k.made(); got != k.want || made != k.wantMade {
				t.Errorf("moved %d, made %d; want %d, %d", got, made, k.want, k.wantMade)
			}
		})
	}
}

// lostAnswers is a key store whose process dies before it can keep an
// answer: the claim stays, running, until its lease runs out.
type lostAnswers struct{ *storage.IdempotencyStore }

func (lostAnswers) Finish(context.Context, string, string, idempotency.Response) error {
	return errors.New("process killed")
}

// A request that moved coins but whose process died before it kept its
// answer is, once the claim's lease has run out, run again: it must find
// what the first run made instead of moving the coins again.
func TestRetryAfterTheAnswerWasLostMovesCoinsOnce(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: 4, lostAnswers: true})
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, worker.User.ID, 400)

	for _, k := range []keyed{
		{token: buyer.Token, path: "/api/tasks", body: taskRequest(a, 2, 10), moved: func() int64 { return 50 - a.coins(t, buyer.User.ID) }, want: 20},
		{token: worker.Token, path: "/api/withdrawals", body: withdrawalRequest(200), moved: func() int64 { return 410 - a.coins(t, worker.User.ID) }, want: 200},
	} {
		first := a.send(t, k.token, k.path, "lost", k.body)
		if first.Code != http.StatusCreated {
			t.Fatalf("first answer %d %s", first.Code, first.Body)
		}
		busy := a.send(t, k.token, k.path, "lost", k.body)
		wantProblem(t, busy, http.StatusConflict, "idempotency_key_in_progress")
		if busy.Header().Get("Retry-After") != "1" {
			t.Errorf("Retry-After = %q, want 1", busy.Header().Get("Retry-After"))
		}
		a.clock.Advance(idempotency.Lease)
		again := a.send(t, k.token, k.path, "lost", k.body)
		if again.Code != http.StatusCreated || again.Header().Get("Location") != first.Header().Get("Location") ||
			id(t, again) != id(t, first) {
			t.Errorf("%s run again answered %d %s, first %s", k.path, again.Code, again.Body, first.Body)
		}
		if got := k.moved(); got != k.want {
			t.Errorf("%s: coins moved = %d, want %d once", k.path, got, k.want)
		}
	}
	if got := a.total(t, buyer.Token, "/api/tasks/my") + a.total(t, worker.Token, "/api/withdrawals/my"); got != 2 {
		t.Errorf("records = %d, want one task and one withdrawal", got)
	}
}

func id(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s: %v", rec.Body, err)
	}
	return v.ID
}

// A server error is not an answer worth keeping: the retry runs again.
func TestServerErrorsAreNotReplayed(t *testing.T) {
	gw := &apptest.Gateway{Dummy: checkout.Dummy{SuccessURL: "http://localhost/paid"}}
	a := buildAPI(t, harness{bcryptCost: 4, gateway: gw})
	buyer := a.register(t, "buyer")
	gw.Down.Store(true)
	rec := a.buy(t, buyer.Token, 150, "retry-me")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("with the gateway down: %d %s", rec.Code, rec.Body)
	}
	gw.Down.Store(false)
	co := decode[checkoutBody](t, a.buy(t, buyer.Token, 150, "retry-me"), http.StatusCreated)
	if co.Status != "pending" || co.CheckoutURL == "" {
		t.Errorf("checkout after the outage = %+v", co)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The projects mix drives jobs through their life as their users do:
// buyers post fixed-price jobs, workers browse and propose, a buyer hires
// one proposer (Idempotency-Key) with two milestones of one coin, funds the
// second, the worker submits each funded milestone and the buyer approves
// it; meanwhile both parties read their contracts and invoices (a third of
// the invoices as PDF) and message each other.
//
// Each step depends on the answer to an earlier one (a hire needs the
// proposal's id, a submission the contract's milestones), and vegeta's
// results do not say which request of its targeter they answer, so this
// mix runs its own closed loop: each client sends its next request when the
// last one is answered, as vegeta does with rate 0, and records a
// vegeta.Result, which the report reads as the other mixes'.

// projectParts are the projects mix's parts per hundred. A step whose
// pool is empty (nothing to approve yet) falls back to the step before it
// in a project's life (see projects.pick).
var projectParts = []part{
	{"jobs", 16}, {"job", 8}, {"post", 5}, {"propose", 12}, {"hire", 5}, {"fund", 4}, {"submit", 8}, {"approve", 8},
	{"contract", 8}, {"contracts", 4}, {"invoices", 6}, {"invoice", 6}, {"chat", 10},
}

// fallback is the step tried when a step has nothing to act on.
var fallback = map[string]string{
	"approve": "submit", "submit": "fund", "fund": "hire", "hire": "propose", "propose": "post",
	"contract": "jobs", "contracts": "jobs", "chat": "jobs", "invoice": "invoices", "job": "jobs",
}

// Proposals a job takes before it is hired, and at most.
const (
	proposalsToHire = 2
	proposalsMax    = 5
)

type job struct {
	id        string
	buyer     account
	proposers map[string]bool // worker ids
	proposals []proposal
	inFlight  int // proposals sent and not answered
}

type proposal struct {
	id     string
	worker account
}

type contract struct {
	id            string
	buyer, worker account
}

type milestone struct {
	contract *contract
	id       string
}

// projects is the state of the run: what exists, and what each step may
// act on next. Every pool is taken from under mu before its request, so
// that two clients never act on the same item.
type projects struct {
	base    string
	http    *http.Client
	mu      sync.Mutex
	rnd     *rand.Rand
	buyers  []account
	workers []account

	jobs      []*job // every job posted, for GET /api/jobs/{id}
	open      []*job // jobs taking proposals
	contracts []*contract
	toFund    []milestone
	toSubmit  []milestone
	toApprove []milestone
	invoices  map[string][]string // user id -> invoice ids seen in their list
	seq       int
}

// step is one request of the mix and what its answer changes.
type step struct {
	name    string // the endpoint, as reported
	method  string
	path    string
	token   string
	body    any
	accept  string
	idemKey bool
	// done is called with the answer (nil on a transport error), under mu.
	done func(code int, body []byte)
}

func attackProjects(base string, fx *fixture, c config) []*vegeta.Result {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = c.concurrency
	p := &projects{base: base, http: &http.Client{Timeout: 30 * time.Second, Transport: tr},
		rnd: rand.New(rand.NewPCG(5, 6)), buyers: fx.buyers, workers: fx.workers, invoices: map[string][]string{}}
	var (
		mu  sync.Mutex
		out []*vegeta.Result
		wg  sync.WaitGroup
	)
	end := time.Now().Add(c.duration)
	for range c.concurrency {
		wg.Go(func() {
			for time.Now().Before(end) {
				r := p.do(p.next())
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// do sends s and records its answer.
func (p *projects) do(s step) *vegeta.Result {
	var rd io.Reader
	var sent []byte
	if s.body != nil {
		sent, _ = json.Marshal(s.body)
		rd = bytes.NewReader(sent)
	}
	r := &vegeta.Result{Attack: s.name, Method: s.method, URL: p.base + s.path, BytesOut: uint64(len(sent))}
	req, err := http.NewRequest(s.method, r.URL, rd)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if s.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if s.accept != "" {
		req.Header.Set("Accept", s.accept)
	}
	if s.idemKey {
		p.mu.Lock()
		p.seq++
		req.Header.Set("Idempotency-Key", fmt.Sprintf("loadgen-%d-%x", p.seq, p.rnd.Uint64()))
		p.mu.Unlock()
	}
	r.Timestamp = time.Now()
	resp, err := p.http.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		r.Code = uint16(resp.StatusCode)
	}
	r.Latency = time.Since(r.Timestamp)
	r.BytesIn = uint64(len(body))
	if err != nil {
		r.Error = err.Error()
	}
	if r.Code >= 400 {
		r.Body = body // the report prints the errors' problems
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.done != nil {
		if err != nil {
			s.done(0, nil)
		} else {
			s.done(resp.StatusCode, body)
		}
	}
	return r
}

// next picks the next step by the mix's parts.
func (p *projects) next() step {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.rnd.IntN(100)
	action := projectParts[0].name
	for _, m := range projectParts {
		if n < m.weight {
			action = m.name
			break
		}
		n -= m.weight
	}
	for {
		if s, ok := p.pick(action); ok {
			return s
		}
		action = fallback[action]
	}
}

// pick builds a step of the action, or reports that it has nothing to act
// on. The caller holds mu.
func (p *projects) pick(action string) (step, bool) {
	switch action {
	case "post":
		b := p.buyers[p.rnd.IntN(len(p.buyers))]
		return step{name: "POST /api/jobs", method: http.MethodPost, path: "/api/jobs", token: b.Token,
			body: map[string]any{"title": "Build a landing page", "description": "One responsive page from our design, with a contact form.",
				"category": "development", "skills": []string{"HTML", "CSS"}, "type": "fixed", "budget_coins": 5},
			done: func(code int, body []byte) {
				var j struct{ ID string }
				if code == http.StatusCreated && json.Unmarshal(body, &j) == nil {
					jb := &job{id: j.ID, buyer: b, proposers: map[string]bool{}}
					p.jobs = append(p.jobs, jb)
					p.open = append(p.open, jb)
				}
			}}, true
	case "propose":
		if len(p.open) == 0 {
			return step{}, false
		}
		// A few draws for a job that takes one more proposal and a
		// worker who has not proposed to it yet.
		var (
			j  *job
			w  account
			ok bool
		)
		for range 10 {
			j, w = p.open[p.rnd.IntN(len(p.open))], p.workers[p.rnd.IntN(len(p.workers))]
			if ok = len(j.proposals)+j.inFlight < proposalsMax && !j.proposers[w.ID]; ok {
				break
			}
		}
		if !ok {
			return step{}, false
		}
		j.proposers[w.ID] = true
		j.inFlight++
		return step{name: "POST /api/jobs/{id}/proposals", method: http.MethodPost, path: "/api/jobs/" + j.id + "/proposals", token: w.Token,
			body: map[string]any{"cover_letter": "I have built forty landing pages; see my portfolio.", "bid_coins": 2, "estimated_days": 3},
			done: func(code int, body []byte) {
				j.inFlight--
				var pr struct{ ID string }
				if code == http.StatusCreated && json.Unmarshal(body, &pr) == nil {
					j.proposals = append(j.proposals, proposal{pr.ID, w})
				}
			}}, true
	case "hire":
		// The oldest open job with enough proposals and none in flight:
		// a proposal racing the hire would rightly get 409 job_not_open.
		i := -1
		for k, j := range p.open {
			if len(j.proposals) >= proposalsToHire && j.inFlight == 0 {
				i = k
				break
			}
		}
		if i < 0 {
			return step{}, false
		}
		j := p.open[i]
		p.open = append(p.open[:i], p.open[i+1:]...)
		pr := j.proposals[p.rnd.IntN(len(j.proposals))]
		return step{name: "POST /api/jobs/{id}/hire", method: http.MethodPost, path: "/api/jobs/" + j.id + "/hire", token: j.buyer.Token, idemKey: true,
			body: map[string]any{"proposal_id": pr.id, "milestones": []map[string]any{{"title": "Design", "coins": 1}, {"title": "Build", "coins": 1}}},
			done: func(code int, body []byte) {
				var ct struct {
					ID         string
					Milestones []struct{ ID, Status string }
				}
				if code != http.StatusCreated || json.Unmarshal(body, &ct) != nil {
					return
				}
				c := &contract{id: ct.ID, buyer: j.buyer, worker: pr.worker}
				p.contracts = append(p.contracts, c)
				for _, m := range ct.Milestones {
					switch m.Status {
					case "funded":
						p.toSubmit = append(p.toSubmit, milestone{c, m.ID})
					case "unfunded":
						p.toFund = append(p.toFund, milestone{c, m.ID})
					}
				}
			}}, true
	case "fund", "submit", "approve":
		pool := map[string]*[]milestone{"fund": &p.toFund, "submit": &p.toSubmit, "approve": &p.toApprove}[action]
		if len(*pool) == 0 {
			return step{}, false
		}
		m := (*pool)[0]
		*pool = (*pool)[1:]
		s := step{name: "POST /api/contracts/{id}/milestones/{mid}/" + action, method: http.MethodPost,
			path: "/api/contracts/" + m.contract.id + "/milestones/" + m.id + "/" + action, token: m.contract.buyer.Token}
		switch action {
		case "fund":
			s.idemKey = true
			s.done = func(code int, _ []byte) {
				if code == http.StatusOK {
					p.toSubmit = append(p.toSubmit, m)
				}
			}
		case "submit":
			s.token = m.contract.worker.Token
			s.body = map[string]any{"message": "Done: see the link.", "attachments": []string{"https://example.com/design.png"}}
			s.done = func(code int, _ []byte) {
				if code == http.StatusOK {
					p.toApprove = append(p.toApprove, m)
				}
			}
		case "approve":
			s.idemKey = true
		}
		return s, true
	case "jobs":
		q := []string{"", "&sort=budget", "&q=landing", "&category=development", "&type=fixed"}[p.rnd.IntN(5)]
		w := p.workers[p.rnd.IntN(len(p.workers))]
		return step{name: "GET /api/jobs", method: http.MethodGet, path: fmt.Sprintf("/api/jobs?page=%d%s", 1+p.rnd.IntN(3), q), token: w.Token}, true
	case "job":
		if len(p.jobs) == 0 {
			return step{}, false
		}
		w := p.workers[p.rnd.IntN(len(p.workers))]
		return step{name: "GET /api/jobs/{id}", method: http.MethodGet, path: "/api/jobs/" + p.jobs[p.rnd.IntN(len(p.jobs))].id, token: w.Token}, true
	case "contract", "contracts", "chat":
		if len(p.contracts) == 0 {
			return step{}, false
		}
		c := p.contracts[p.rnd.IntN(len(p.contracts))]
		me, other := c.buyer, c.worker
		if p.rnd.IntN(2) == 0 {
			me, other = other, me
		}
		switch action {
		case "contract":
			return step{name: "GET /api/contracts/{id}", method: http.MethodGet, path: "/api/contracts/" + c.id, token: me.Token}, true
		case "contracts":
			return step{name: "GET /api/contracts/my", method: http.MethodGet, path: "/api/contracts/my?page=1", token: me.Token}, true
		}
		return step{name: "POST /api/chats/{user_id}", method: http.MethodPost, path: "/api/chats/" + other.ID, token: me.Token,
			body: map[string]any{"text": "How is it going? The first milestone looks good."}}, true
	case "invoices":
		// A buyer (their purchases' invoices, then their contracts') or a
		// worker who was hired.
		me := p.buyers[p.rnd.IntN(len(p.buyers))]
		if len(p.contracts) > 0 && p.rnd.IntN(2) == 0 {
			me = p.contracts[p.rnd.IntN(len(p.contracts))].worker
		}
		return step{name: "GET /api/invoices", method: http.MethodGet, path: "/api/invoices?page=1", token: me.Token,
			done: func(code int, body []byte) {
				var pg struct{ Items []struct{ ID string } }
				if code != http.StatusOK || json.Unmarshal(body, &pg) != nil {
					return
				}
				ids := make([]string, 0, len(pg.Items))
				for _, it := range pg.Items {
					ids = append(ids, it.ID)
				}
				p.invoices[me.ID] = ids
			}}, true
	case "invoice":
		var me account
		for range 5 {
			if a := p.anyone(); len(p.invoices[a.ID]) > 0 {
				me = a
				break
			}
		}
		if me.ID == "" {
			return step{}, false
		}
		ids := p.invoices[me.ID]
		s := step{name: "GET /api/invoices/{id}", method: http.MethodGet, path: "/api/invoices/" + ids[p.rnd.IntN(len(ids))], token: me.Token}
		if p.rnd.IntN(3) == 0 {
			s.name, s.accept = "GET /api/invoices/{id} (PDF)", "application/pdf"
		}
		return s, true
	}
	panic("loadgen: no step " + action)
}

// anyone is a buyer or a worker. The caller holds mu.
func (p *projects) anyone() account {
	if p.rnd.IntN(2) == 0 {
		return p.workers[p.rnd.IntN(len(p.workers))]
	}
	return p.buyers[p.rnd.IntN(len(p.buyers))]
}

// projectEndpoint names a result of the projects mix: its step's.
func projectEndpoint(r *vegeta.Result) string {
	if r.Attack != "" {
		return r.Attack
	}
	return r.Method + " " + strings.TrimPrefix(r.URL, "http://")
}

// Command loadgen measures Microtask under a mixed marketplace workload.
//
// By default it starts bin/microtask on a fresh embedded database, seeds
// buyers, workers, tasks and pending submissions through the API, then keeps
// a fixed number of clients busy for a fixed time with a mix of browsing the
// available tasks, viewing a task, submitting work, reviewing it, polling the
// unread count and reading the signed-in user. It prints requests per second
// and p50/p99 latency per endpoint and the error count, stops the server and
// runs its ledger audit. It exits 1 on any error or an unbalanced ledger.
// -mix picks the workload; -mix projects drives jobs, proposals, hires,
// milestones, contracts, invoices and messages instead (projects.go).
//
//	go run ./cmd/loadgen -duration 30s -concurrency 16
//
// The load is generated with vegeta's library: rate 0 with as many workers
// as clients is a closed loop, each client sending its next request when the
// last one is answered.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

type config struct {
	server        string
	url           string
	duration      time.Duration
	concurrency   int
	buyers        int
	workers       int
	tasksPerBuyer int
	preSubmitted  int
	readP99Budget time.Duration
	writeP99      time.Duration
	minRate       float64
	debugAddr     string
	seedDocs      int
	mix           string
}

func main() {
	var c config
	flag.StringVar(&c.server, "server", "bin/microtask", "the microtask binary to start on a fresh embedded database")
	flag.StringVar(&c.url, "url", "", "attack this running server instead (no start, no audit), e.g. http://127.0.0.1:5000")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "how long to run the mixed workload")
	flag.IntVar(&c.concurrency, "concurrency", 16, "clients sending requests at once")
	flag.IntVar(&c.buyers, "buyers", 12, "buyers to seed (each buys 2000 coins through the dummy gateway)")
	flag.IntVar(&c.workers, "workers", 200, "workers to seed")
	flag.IntVar(&c.tasksPerBuyer, "tasks", 8, "tasks per buyer (200 slots of 1 coin each)")
	flag.IntVar(&c.preSubmitted, "submissions", 200, "pending submissions to seed for the first reviews")
	flag.DurationVar(&c.readP99Budget, "read-p99", 100*time.Millisecond, "p99 budget of each read endpoint")
	flag.DurationVar(&c.writeP99, "write-p99", 250*time.Millisecond, "p99 budget of each write endpoint")
	flag.Float64Var(&c.minRate, "min-rps", 500, "requests per second the run must reach")
	flag.StringVar(&c.debugAddr, "debug-addr", "", "start the server with DEBUG_ADDR (pprof) at this address")
	flag.IntVar(&c.seedDocs, "seed-docs", 0, "before starting the server, seed this many inert documents into each main collection through the stores (0 or at least 3; projects and conversations too)")
	flag.StringVar(&c.mix, "mix", "browse", "the workload: browse (mostly reads), mixed (a quarter writes), writes (submissions and approvals only) or projects (jobs, proposals, hires, milestones, contracts, invoices, messages; -tasks and -submissions unused)")
	flag.Parse()
	if _, ok := mixes[c.mix]; !ok {
		fmt.Fprintf(os.Stderr, "loadgen: -mix %q: want browse, mixed, writes or projects\n", c.mix)
		os.Exit(2)
	}
	if c.seedDocs > 0 && c.seedDocs < 3 {
		fmt.Fprintf(os.Stderr, "loadgen: -seed-docs %d: want 0 or at least 3 (the seeded users pair up in a ring)\n", c.seedDocs)
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	base := c.url
	var srv *server
	if base == "" {
		var err error
		if srv, err = startServer(c.server, c.debugAddr, c.seedDocs); err != nil {
			return err
		}
		defer srv.kill()
		base = srv.base
	}
	api := &client{base: base, http: &http.Client{Timeout: 30 * time.Second}}

	if c.mix == "projects" {
		// Its buyers post jobs during the run.
		c.tasksPerBuyer, c.preSubmitted = 0, 0
	}
	start := time.Now()
	fx, err := seed(api, c)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seeded %d buyers, %d workers, %d tasks, %d pending submissions in %v\n\n",
		len(fx.buyers), len(fx.workers), len(fx.tasks), len(fx.toReview), time.Since(start).Round(time.Millisecond))

	var failed bool
	if c.mix == "projects" {
		failed = report(attackProjects(base, fx, c), c, projectEndpoint)
	} else {
		failed = report(attack(base, fx, c), c, endpoint)
	}
	if srv != nil {
		fmt.Printf("server memory after the run: %s\n", srv.memory())
	}

	if srv != nil {
		out, err := srv.stopAndAudit()
		fmt.Printf("\n%s", out)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	if failed {
		return errors.New("errors or budget missed")
	}
	return nil
}

// server is a microtask process on a fresh embedded database.
type server struct {
	bin  string
	cmd  *exec.Cmd
	env  []string
	base string
	dir  string
	logs bytes.Buffer
}

func startServer(bin, debugAddr string, seedDocs int) (*server, error) {
	dir, err := os.MkdirTemp("", "microtask-loadgen-")
	if err != nil {
		return nil, err
	}
	if seedDocs > 0 {
		start := time.Now()
		if err := seedInert(dir, seedDocs); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("seed %d documents per collection: %w", seedDocs, err)
		}
		fmt.Printf("seeded %d inert documents into each main collection in %v\n", seedDocs, time.Since(start).Round(time.Millisecond))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{bin: bin, dir: dir, base: "http://" + addr}
	s.env = append(os.Environ(), "DATA_DIR="+dir, "HTTP_ADDR="+addr, "LOG_LEVEL=warn",
		"AUTH_RATE_LIMIT_PER_MIN=0", "MESSAGE_RATE_LIMIT_PER_MIN=0", "BCRYPT_COST=4", "MONGODB_URI=", "JWT_SECRET=", "DEBUG_ADDR="+debugAddr)
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (run make build first): %w", bin, err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(s.base + "/api/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("server ready in %v, memory %s\n", time.Since(started).Round(10*time.Millisecond), s.memory())
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("server not ready after 60s:\n%s", s.logs.String())
		}
	}
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	_ = os.RemoveAll(s.dir)
}

// stopAndAudit stops the server gracefully (the embedded database allows one
// process) and runs `microtask audit` on its data.
func (s *server) stopAndAudit() (string, error) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		return s.logs.String(), fmt.Errorf("server exited: %w", err)
	}
	audit := exec.Command(s.bin, "audit")
	audit.Env = s.env
	out, err := audit.Output()
	return string(out), err
}

// client makes the seeding calls.
type client struct {
	base string
	http *http.Client
}

func (c *client) call(method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type account struct {
	ID    string
	Token string
}

// slotsPerTask is the open slots of each seeded task: enough that the run
// does not fill them.
const slotsPerTask = 200

type fixture struct {
	buyers, workers []account
	tasks           []string
	taskOwner       map[string]string // task id -> buyer token
	slotsLeft       map[string]int    // task id -> slots not yet taken by this run's submissions
	submitted       map[pair]bool     // worker/task pairs used
	toReview        []review          // pending submissions and their buyer's token
}

type pair struct{ worker, task string }

type review struct{ submission, buyerToken string }

func seed(api *client, c config) (*fixture, error) {
	fx := &fixture{taskOwner: map[string]string{}, slotsLeft: map[string]int{}, submitted: map[pair]bool{}}
	register := func(role string, i int) (account, error) {
		var s struct {
			Token string
			User  struct{ ID string }
		}
		err := api.call(http.MethodPost, "/api/auth/register", "", map[string]string{
			"name": fmt.Sprintf("%s %d", role, i), "email": fmt.Sprintf("%s%d@load.example", role, i),
			"password": "Passw0rd!", "role": role,
		}, &s)
		return account{ID: s.User.ID, Token: s.Token}, err
	}
	var err error
	if fx.buyers, err = parallel(c.buyers, func(i int) (account, error) { return register("buyer", i) }); err != nil {
		return nil, err
	}
	if fx.workers, err = parallel(c.workers, func(i int) (account, error) { return register("worker", i) }); err != nil {
		return nil, err
	}
	// Coins for the tasks' escrow, through the dummy gateway.
	_, err = parallel(len(fx.buyers)*2, func(i int) (struct{}, error) {
		b := fx.buyers[i/2]
		var p struct {
			PaymentID string `json:"payment_id"`
		}
		if err := api.call(http.MethodPost, "/api/payments/create", b.Token, map[string]int{"coins": 1000}, &p); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, api.call(http.MethodPost, "/api/payments/"+p.PaymentID+"/confirm", b.Token, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	due := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for _, b := range fx.buyers {
		for i := range c.tasksPerBuyer {
			var t struct{ ID string }
			err := api.call(http.MethodPost, "/api/tasks", b.Token, map[string]any{
				"task_title": fmt.Sprintf("Task %d: follow a page and like its newest post", i), "task_detail": "Follow, like, and send a screenshot.",
				"submission_info": "Screenshot URL", "required_workers": slotsPerTask, "payable_amount": 1, "completion_date": due,
			}, &t)
			if err != nil {
				return nil, err
			}
			fx.tasks = append(fx.tasks, t.ID)
			fx.taskOwner[t.ID] = b.Token
			fx.slotsLeft[t.ID] = slotsPerTask
		}
	}
	// Pending submissions for the first reviews; the run's own submissions
	// join the queue as they are answered.
	rnd := rand.New(rand.NewPCG(3, 4))
	var seeded []pair
	for len(seeded) < c.preSubmitted {
		p := pair{fx.workers[rnd.IntN(len(fx.workers))].Token, fx.tasks[rnd.IntN(len(fx.tasks))]}
		if !fx.submitted[p] {
			fx.submitted[p] = true
			fx.slotsLeft[p.task]--
			seeded = append(seeded, p)
		}
	}
	var mu sync.Mutex
	_, err = parallel(len(seeded), func(i int) (struct{}, error) {
		p := seeded[i]
		var s struct{ ID string }
		if err := api.call(http.MethodPost, "/api/submissions", p.worker, map[string]string{
			"task_id": p.task, "submission_details": "https://prnt.sc/seed"}, &s); err != nil {
			return struct{}{}, err
		}
		mu.Lock()
		fx.toReview = append(fx.toReview, review{s.ID, fx.taskOwner[p.task]})
		mu.Unlock()
		return struct{}{}, nil
	})
	return fx, err
}

// parallel runs f for 0..n-1 on 8 goroutines and collects the results.
func parallel[T any](n int, f func(int) (T, error)) ([]T, error) {
	out := make([]T, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

// workload picks each request of the run. vegeta calls it from every
// client's goroutine.
type workload struct {
	base string
	mix  mix
	mu   sync.Mutex
	fx   *fixture
	rnd  *rand.Rand
}

// A mix is the parts per hundred of each kind of request, and how often a
// review rejects rather than approves (one in rejectOneIn; 0: never).
type mix struct {
	parts       []part
	rejectOneIn int
}

type part struct {
	name   string
	weight int
}

// mixes are the workloads -mix names.
var mixes = map[string]mix{
	// Mostly reads, as on a marketplace; a third of the reviews reject.
	"browse": {[]part{{"browse", 30}, {"view", 20}, {"unread", 20}, {"me", 15}, {"submit", 8}, {"review", 7}}, 3},
	// The mix of issue 26's measurements: a quarter writes, every review
	// an approval.
	"mixed": {[]part{{"browse", 30}, {"view", 20}, {"submit", 15}, {"review", 10}, {"unread", 15}, {"me", 10}}, 0},
	// Writes only: submissions and approvals, half each.
	"writes": {[]part{{"submit", 50}, {"review", 50}}, 0},
	// Jobs, proposals, hires, milestones, contracts, invoices and
	// messages (projects.go).
	"projects": {projectParts, 0},
}

func (w *workload) next(t *vegeta.Target) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.rnd.IntN(100)
	action := w.mix.parts[0].name
	for _, m := range w.mix.parts {
		if n < m.weight {
			action = m.name
			break
		}
		n -= m.weight
	}
	anyone := func() string {
		if w.rnd.IntN(2) == 0 {
			return w.fx.workers[w.rnd.IntN(len(w.fx.workers))].Token
		}
		return w.fx.buyers[w.rnd.IntN(len(w.fx.buyers))].Token
	}
	t.Header = http.Header{"Content-Type": {"application/json"}}
	t.Body = nil
	var (
		p         pair
		canSubmit bool
	)
	if action == "submit" {
		p, canSubmit = w.popSubmit()
	}
	switch {
	case canSubmit:
		w.fx.slotsLeft[p.task]--
		t.Method, t.URL = http.MethodPost, w.base+"/api/submissions"
		t.Body, _ = json.Marshal(map[string]string{"task_id": p.task, "submission_details": "https://prnt.sc/run"})
		t.Header.Set("Authorization", "Bearer "+p.worker)
	case action == "review" && len(w.fx.toReview) > 0:
		r := w.fx.toReview[0]
		w.fx.toReview = w.fx.toReview[1:]
		verb := "approve"
		if w.mix.rejectOneIn > 0 && w.rnd.IntN(w.mix.rejectOneIn) == 0 {
			verb = "reject"
		}
		t.Method, t.URL = http.MethodPut, w.base+"/api/submissions/"+r.submission+"/"+verb
		if verb == "reject" {
			t.Body, _ = json.Marshal(map[string]string{"reason": "The proof does not show the task done."})
		}
		t.Header.Set("Authorization", "Bearer "+r.buyerToken)
	case action == "view":
		t.Method, t.URL = http.MethodGet, w.base+"/api/tasks/"+w.fx.tasks[w.rnd.IntN(len(w.fx.tasks))]
	case action == "unread":
		t.Method, t.URL = http.MethodGet, w.base+"/api/notifications/unread/count"
		t.Header.Set("Authorization", "Bearer "+anyone())
	case action == "me":
		t.Method, t.URL = http.MethodGet, w.base+"/api/auth/me"
		t.Header.Set("Authorization", "Bearer "+anyone())
	default: // browse, and submit or review once their pools are used up
		q := []string{"", "&sort=pay", "&q=follow", "&sort=deadline"}[w.rnd.IntN(4)]
		t.Method, t.URL = http.MethodGet, fmt.Sprintf("%s/api/tasks/available?page=%d%s", w.base, 1+w.rnd.IntN(3), q)
	}
	return nil
}

// popSubmit draws a worker-task pair not used yet whose task still has a
// slot: a full task's 409 is right, but not what this run measures. The
// caller holds w.mu.
func (w *workload) popSubmit() (pair, bool) {
	for range 50 {
		p := pair{w.fx.workers[w.rnd.IntN(len(w.fx.workers))].Token, w.fx.tasks[w.rnd.IntN(len(w.fx.tasks))]}
		if !w.fx.submitted[p] && w.fx.slotsLeft[p.task] > 0 {
			w.fx.submitted[p] = true
			return p, true
		}
	}
	return pair{}, false
}

// answered feeds the run's own submissions to the review queue, so that
// reviews go on for as long as submissions do.
func (w *workload) answered(r *vegeta.Result) {
	if r.Method != http.MethodPost || r.Code != http.StatusCreated || !strings.HasSuffix(r.URL, "/api/submissions") {
		return
	}
	var s struct {
		ID     string `json:"id"`
		TaskID string `json:"task_id"`
	}
	if json.Unmarshal(r.Body, &s) != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fx.toReview = append(w.fx.toReview, review{s.ID, w.fx.taskOwner[s.TaskID]})
}

func attack(base string, fx *fixture, c config) []*vegeta.Result {
	w := &workload{base: base, mix: mixes[c.mix], fx: fx, rnd: rand.New(rand.NewPCG(1, 2))}
	n := uint64(c.concurrency)
	atk := vegeta.NewAttacker(vegeta.Workers(n), vegeta.MaxWorkers(n), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
	var out []*vegeta.Result
	for r := range atk.Attack(w.next, vegeta.Rate{Freq: 0}, c.duration, "mixed") {
		w.answered(r)
		out = append(out, r)
	}
	return out
}

// endpoint names a result by the route it hit.
func endpoint(r *vegeta.Result) string {
	path := r.URL
	if i := strings.Index(path, "/api/"); i >= 0 {
		path = path[i:]
	}
	path, _, _ = strings.Cut(path, "?")
	switch {
	case path == "/api/tasks/available":
		return "GET /api/tasks/available"
	case strings.HasPrefix(path, "/api/tasks/"):
		return "GET /api/tasks/{id}"
	case strings.HasSuffix(path, "/approve"):
		return "PUT /api/submissions/{id}/approve"
	case strings.HasSuffix(path, "/reject"):
		return "PUT /api/submissions/{id}/reject"
	}
	return r.Method + " " + path
}

func isRead(name string) bool { return strings.HasPrefix(name, "GET ") }

// report prints the figures per endpoint and reports whether anything
// failed: an error, an endpoint over its p99 budget, or a run under its
// rate.
func report(results []*vegeta.Result, c config, endpoint func(*vegeta.Result) string) bool {
	by := map[string]*vegeta.Metrics{}
	all := &vegeta.Metrics{}
	errorsSeen := map[string]int{}
	for _, r := range results {
		name := endpoint(r)
		if by[name] == nil {
			by[name] = &vegeta.Metrics{}
		}
		by[name].Add(r)
		all.Add(r)
		if r.Error != "" || r.Code >= 400 {
			msg := r.Error
			if msg == "" {
				msg = fmt.Sprintf("%d %s", r.Code, bytes.TrimSpace(r.Body))
			}
			errorsSeen[name+": "+msg]++
		}
	}
	all.Close()
	names := make([]string, 0, len(by))
	for n, m := range by {
		m.Close()
		names = append(names, n)
	}
	slices.Sort(names)

	fmt.Printf("%d clients for %v: %d requests, %.0f req/s, p50 %v, p99 %v\n\n", c.concurrency, c.duration,
		all.Requests, all.Throughput, all.Latencies.P50.Round(time.Microsecond*100), all.Latencies.P99.Round(time.Microsecond*100))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\treq/s\tp50\tp99\tmax\terrors\t")
	failed := false
	for _, n := range names {
		m := by[n]
		errs := int(m.Requests) - int(float64(m.Requests)*m.Success+0.5)
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%v\t%v\t%v\t%d\t\n", n, m.Requests, float64(m.Requests)/c.duration.Seconds(),
			m.Latencies.P50.Round(100*time.Microsecond), m.Latencies.P99.Round(100*time.Microsecond),
			m.Latencies.Max.Round(100*time.Microsecond), errs)
		if errs > 0 {
			failed = true
		}
		budget := c.writeP99
		if isRead(n) {
			budget = c.readP99Budget
		}
		if m.Latencies.P99 > budget {
			failed = true
			defer fmt.Printf("over budget: %s p99 %v > %v\n", n, m.Latencies.P99.Round(time.Millisecond), budget)
		}
	}
	tw.Flush()
	fmt.Println()
	if all.Throughput < c.minRate {
		failed = true
		fmt.Printf("under budget: %.0f req/s < %.0f\n", all.Throughput, c.minRate)
	}
	for msg, n := range errorsSeen {
		fmt.Printf("error x%d: %s\n", n, msg)
	}
	if len(errorsSeen) == 0 {
		fmt.Println("errors: none")
	}
	return failed
}

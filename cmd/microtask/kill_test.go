package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveChildEnv makes this test binary run `microtask serve` instead of the
// tests, so that a test can kill it with SIGKILL.
const serveChildEnv = "MICROTASK_TEST_SERVE_CHILD"

func init() {
	if os.Getenv(serveChildEnv) != "1" {
		return
	}
	err := run(context.Background(), []string{"serve"}, os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "microtask:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is a server process of this test binary.
type child struct {
	cmd  *exec.Cmd
	base string
}

func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveChildEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return &child{cmd: cmd, base: "http://" + a}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the server did not start within 30s")
		return nil
	}
}

// TestKillNineLosesNoAnsweredWrite: a server killed with SIGKILL while
// workers submit and a buyer approves loses none of the writes it answered,
// and after a restart recovery finishes what it interrupted, with the
// ledger balanced and every coin where it belongs.
func TestKillNineLosesNoAnsweredWrite(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"DATA_DIR": dataDir, "HTTP_ADDR": "127.0.0.1:0", "BCRYPT_COST": "4",
		"JWT_SECRET": strings.Repeat("k", 40), "PAYMENT_GATEWAY": "dummy",
		"AUTH_RATE_LIMIT_PER_MIN": "0", "LEDGER_RECOVERY_INTERVAL": "200ms",
		"ADMIN_EMAIL": "ada@example.com", "ADMIN_PASSWORD": "Adm1nPassword"}
	srv := startChild(t, env)
	c := &apiClient{t: t, base: srv.base}
	buyer := c.session("/api/auth/register", `{"name":"Bea Buyer","email":"bea@example.com","password":"Passw0rd!","role":"buyer"}`)
	var pay struct {
		ID string `json:"payment_id"`
	}
	c.do(http.MethodPost, "/api/payments/create", buyer.Token, `{"coins":1000}`, http.StatusCreated, &pay)
	c.do(http.MethodPost, "/api/payments/"+pay.ID+"/confirm", buyer.Token, "", http.StatusOK, nil)
	due := time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	var task struct{ ID string }
	c.do(http.MethodPost, "/api/tasks", buyer.Token, `{"task_title":"Watch a video","task_detail":"Watch it to the end.",`+
		`"submission_info":"A screenshot","task_image_url":"https://i.ibb.co/x/v.png","required_workers":200,"payable_amount":3,`+
		`"completion_date":"`+due+`"}`, http.StatusCreated, &task)
	workers := make([]session, 40)
	for i := range workers {
		workers[i] = c.session("/api/auth/register",
			fmt.Sprintf(`{"name":"Worker %d","email":"w%d@example.com","password":"Passw0rd!","role":"worker"}`, i, i))
	}

	// Workers submit and the buyer approves each submission answered, until
	// the kill; what the server answered is noted.
	var (
		mu        sync.Mutex
		submitted = map[string]string{} // submission -> worker token, answered 201
		approved  = map[string]bool{}   // answered 200
		wg        sync.WaitGroup
		killed    = make(chan struct{})
	)
	client := &http.Client{Timeout: 5 * time.Second}
	send := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		var v struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v.ID
	}
	toReview := make(chan string, len(workers))
	for _, w := range workers {
		wg.Go(func() {
			code, id := send(http.MethodPost, "/api/submissions", w.Token, `{"task_id":"`+task.ID+`","submission_details":"https://prnt.sc/proof"}`)
			if code == http.StatusCreated {
				mu.Lock()
				submitted[id] = w.Token
				mu.Unlock()
				toReview <- id
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-killed:
				return
			case id := <-toReview:
				if code, _ := send(http.MethodPut, "/api/submissions/"+id+"/approve", buyer.Token, ""); code == http.StatusOK {
					mu.Lock()
					approved[id] = true
					mu.Unlock()
				}
			}
		}
	})
	// Kill once some approvals are answered and more are under way.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(approved)
		mu.Unlock()
		if n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d approvals answered in 20s", n)
		}
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(killed)
	_ = srv.cmd.Wait()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed after %d submissions and %d approvals were answered", len(submitted), len(approved))

	srv = startChild(t, env)
	defer func() {
		_ = srv.cmd.Process.Signal(syscall.SIGTERM)
		_ = srv.cmd.Wait()
	}()
	c.base = srv.base
	admin := c.session("/api/auth/login", `{"email":"ada@example.com","password":"Adm1nPassword"}`)
	// Recovery finishes what the kill interrupted.
	var audit struct {
		Balanced bool  `json:"balanced"`
		InFlight int   `json:"movements_in_flight"`
		Sum      int64 `json:"sum"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.do(http.MethodGet, "/api/admin/audit", admin.Token, "", http.StatusOK, &audit)
		if audit.InFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d operations still in flight 20s after the restart", audit.InFlight)
		}
	}
	if !audit.Balanced || audit.Sum != 0 {
		t.Errorf("audit after the restart: balanced %v, sum %d; want balanced, 0", audit.Balanced, audit.Sum)
	}
	for id, token := range submitted {
		var sub struct{ Status string }
		c.do(http.MethodGet, "/api/submissions/"+id, token, "", http.StatusOK, &sub)
		if approved[id] && sub.Status != "approved" {
			t.Errorf("submission %s was answered approved, and is %s after the restart", id, sub.Status)
		}
	}
	for i, w := range workers {
		var me struct{ Coins int64 }
		c.do(http.MethodGet, "/api/auth/me", w.Token, "", http.StatusOK, &me)
		paid := int64(0)
		for id, token := range submitted {
			if token == w.Token && approved[id] {
				paid = 3
			}
		}
		if me.Coins < 10+paid {
			t.Errorf("worker %d has %d coins, want at least the sign-up bonus and what was answered paid (%d)", i, me.Coins, 10+paid)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "db", "microtask.db")); err != nil {
		t.Error(err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"microtask/internal/docdb"
	"microtask/internal/platform/logging"
)

// TestDataDirectoryOfFerretDBConverts: versions before the embedded store
// kept the embedded database with FerretDB in DATA_DIR/db. A marketplace
// written that way (here by a server on a FerretDB of that directory, which
// stores the same documents) opens with the embedded store, converted on
// first start, and serves the same answers; FerretDB's file is kept aside.
func TestDataDirectoryOfFerretDBConverts(t *testing.T) {
	dataDir := t.TempDir()
	dbDir := filepath.Join(dataDir, "db")
	emb, err := docdb.StartEmbedded(dbDir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": dataDir, "HTTP_ADDR": "127.0.0.1:0", "BCRYPT_COST": "4",
		"JWT_SECRET": strings.Repeat("s", 40), "PAYMENT_GATEWAY": "dummy",
		"ADMIN_EMAIL": "ada@example.com", "ADMIN_PASSWORD": "Adm1nPassword", "MONGODB_URI": emb.URI()}
	base, _, stop := startServer(t, env)
	c := &apiClient{t: t, base: base}
	admin := c.session("/api/auth/login", `{"email":"ada@example.com","password":"Adm1nPassword"}`)
	buyer := c.session("/api/auth/register", `{"name":"Bea Buyer","email":"bea@example.com","password":"Passw0rd!","role":"buyer"}`)
	worker := c.session("/api/auth/register", `{"name":"Wes Worker","email":"wes@example.com","password":"Passw0rd!","role":"worker"}`)
	due := time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	var task struct{ ID string }
	c.do(http.MethodPost, "/api/tasks", buyer.Token, `{"task_title":"Watch a video","task_detail":"Watch it to the end.",`+
		`"submission_info":"A screenshot","task_image_url":"https://i.ibb.co/x/v.png","required_workers":3,"payable_amount":5,`+
		`"completion_date":"`+due+`"}`, http.StatusCreated, &task)
	var sub struct{ ID string }
	c.do(http.MethodPost, "/api/submissions", worker.Token, `{"task_id":"`+task.ID+`","submission_details":"https://prnt.sc/proof"}`,
		http.StatusCreated, &sub)
	c.do(http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, "", http.StatusOK, nil)

	reads := []struct{ path, token string }{
		{"/api/auth/me", buyer.Token}, {"/api/auth/me", worker.Token},
		{"/api/tasks", ""}, {"/api/tasks/" + task.ID, ""}, {"/api/tasks/my", buyer.Token},
		{"/api/submissions/my", worker.Token}, {"/api/notifications", worker.Token},
		{"/api/dashboard/stats", buyer.Token}, {"/api/dashboard/stats", worker.Token},
		{"/api/admin/users", admin.Token}, {"/api/admin/audit", admin.Token},
	}
	before := map[string]string{}
	for _, r := range reads {
		before[r.path+r.token] = c.get(r.path, r.token)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	emb.Stop()

	delete(env, "MONGODB_URI")
	base, _, stop = startServer(t, env)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	c.base = base
	for _, r := range reads {
		if got := c.get(r.path, r.token); got != before[r.path+r.token] {
			t.Errorf("GET %s after the conversion:\n%s\nwant, as before:\n%s", r.path, got, before[r.path+r.token])
		}
	}
	if _, err := os.Stat(filepath.Join(dbDir, "microtask.sqlite.ferretdb-v1")); err != nil {
		t.Errorf("FerretDB's file was not kept aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dbDir, "microtask.sqlite")); err == nil {
		t.Errorf("FerretDB's file is still in place: the next start would convert again")
	}
}

type apiClient struct {
	t    *testing.T
	base string
}

type session struct{ Token string }

func (c *apiClient) session(path, body string) session {
	var s session
	status := http.StatusCreated
	if strings.HasSuffix(path, "/login") {
		status = http.StatusOK
	}
	c.do(http.MethodPost, path, "", body, status, &s)
	return s
}

// do sends a request and decodes its answer into out (nil: ignored),
// failing the test on another status than want.
func (c *apiClient) do(method, path, token, body string, want int, out any) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// get returns the answer of a GET, indented for reading.
func (c *apiClient) get(path, token string) string {
	c.t.Helper()
	var v any
	c.do(http.MethodGet, path, token, "", http.StatusOK, &v)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return b.String()
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/httpapi"
)

type apiKeyBody struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Prefix     string   `json:"prefix"`
	Scopes     []string `json:"scopes"`
	CreatedAt  string   `json:"created_at"`
	LastUsedAt *string  `json:"last_used_at"`
	Key        string   `json:"key"`
}

// newKey makes an API key for the session's user with these scopes and
// returns it with the key itself.
func (a *testAPI) newKey(t testing.TB, token string, scopes ...string) apiKeyBody {
	t.Helper()
	rec := a.call(t, http.MethodPost, "/api/api-keys", token, map[string]any{"name": "pipeline", "scopes": scopes})
	return decode[apiKeyBody](t, rec, http.StatusCreated)
}

// rawDocuments is every document of a collection, as text.
func (a *testAPI) rawDocuments(t testing.TB, collection string) string {
	t.Helper()
	var b strings.Builder
	err := docdb.Each(context.Background(), a.db.Collection(collection), bson.D{}, docdb.Query{}, func(d bson.M) error {
		fmt.Fprintln(&b, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestAPIKeyIsAnsweredOnceAndStoredAsAHash(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	k := a.newKey(t, buyer.Token, "tasks:read", "batches")
	if !strings.HasPrefix(k.Key, "mt_live_") || len(k.Key) != len("mt_live_")+32 || !strings.HasPrefix(k.Key, k.Prefix) {
		t.Errorf("key %q with prefix %q, want mt_live_ and 32 characters, starting with the prefix", k.Key, k.Prefix)
	}
	if got := strings.Join(k.Scopes, ","); got != "tasks:read,batches" {
		t.Errorf("scopes = %s, want tasks:read,batches", got)
	}
	list := decode[pageOf[apiKeyBody]](t, a.call(t, http.MethodGet, "/api/api-keys", buyer.Token, nil), http.StatusOK)
	if list.Total != 1 || list.Items[0].ID != k.ID || list.Items[0].Key != "" {
		t.Errorf("list = %+v, want the one key without the key itself", list)
	}
	one := decode[apiKeyBody](t, a.call(t, http.MethodGet, "/api/api-keys/"+k.ID, buyer.Token, nil), http.StatusOK)
	if one.Key != "" || one.LastUsedAt != nil {
		t.Errorf("one key = %+v, want no key and never used", one)
	}
	if raw := a.rawDocuments(t, "api_keys"); strings.Contains(raw, k.Key) || strings.Contains(raw, k.Key[len(k.Prefix):]) {
		t.Errorf("the database holds the key itself: %s", raw)
	}
	a.call(t, http.MethodGet, "/api/auth/me", k.Key, nil)
	one = decode[apiKeyBody](t, a.call(t, http.MethodGet, "/api/api-keys/"+k.ID, buyer.Token, nil), http.StatusOK)
	if one.LastUsedAt == nil {
		t.Error("last_used_at is null after a use")
	}
}

func TestAPIKeyActsAsItsOwnerWithinItsScopes(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	read := a.newKey(t, buyer.Token, "tasks:read").Key
	write := a.newKey(t, buyer.Token, "tasks:write", "submissions:review").Key
	task := a.postTask(t, buyer.Token, 3, 10)
	sub := a.submit(t, worker.Token, task.ID)
	workerKey := a.newKey(t, worker.Token, "submissions:read").Key

	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   any
		status int
		code   string
	}{
		{"whose key", http.MethodGet, "/api/auth/me", read, nil, http.StatusOK, ""},
		{"read own tasks", http.MethodGet, "/api/tasks/my", read, nil, http.StatusOK, ""},
		{"read public tasks", http.MethodGet, "/api/tasks", read, nil, http.StatusOK, ""},
		{"write without the scope", http.MethodPost, "/api/tasks", read, taskRequest(a, 1, 5), http.StatusForbidden, "insufficient_scope"},
		{"write with it", http.MethodPost, "/api/tasks", write, taskRequest(a, 1, 5), http.StatusCreated, ""},
		{"read without the scope", http.MethodGet, "/api/tasks/my", write, nil, http.StatusForbidden, "insufficient_scope"},
		{"review without submissions:read", http.MethodGet, "/api/submissions/to-review", write, nil, http.StatusForbidden, "insufficient_scope"},
		{"approve", http.MethodPut, "/api/submissions/" + sub.ID + "/approve", write, nil, http.StatusOK, ""},
		{"still the owner's role", http.MethodGet, "/api/submissions/to-review", workerKey, nil, http.StatusForbidden, "wrong_role"},
		{"a worker's own", http.MethodGet, "/api/submissions/my", workerKey, nil, http.StatusOK, ""},
		{"no scope submits", http.MethodPost, "/api/submissions", workerKey,
			map[string]string{"task_id": task.ID, "submission_details": "https://prnt.sc/x"}, http.StatusForbidden, "insufficient_scope"},
		// A key never changes the account.
		{"no password", http.MethodPut, "/api/auth/password", write,
			map[string]string{"current_password": "Passw0rd!", "new_password": "An0ther-passw0rd"}, http.StatusForbidden, "insufficient_scope"},
		{"no profile", http.MethodPatch, "/api/users/" + buyer.User.ID, write, map[string]string{"name": "Mallory"}, http.StatusForbidden, "insufficient_scope"},
		{"no keys", http.MethodPost, "/api/api-keys", write, map[string]any{"name": "more", "scopes": []string{"batches"}}, http.StatusForbidden, "insufficient_scope"},
		{"no key list", http.MethodGet, "/api/api-keys", write, nil, http.StatusForbidden, "insufficient_scope"},
		{"no sign-out", http.MethodPost, "/api/auth/logout", write, nil, http.StatusForbidden, "insufficient_scope"},
		{"no purchase", http.MethodPost, "/api/payments/create", write, map[string]int{"coins": 10}, http.StatusForbidden, "insufficient_scope"},
		{"no stream ticket", http.MethodPost, "/api/notifications/stream-ticket", write, nil, http.StatusForbidden, "insufficient_scope"},
		{"unknown key", http.MethodGet, "/api/auth/me", "mt_live_" + strings.Repeat("x", 32), nil, http.StatusUnauthorized, "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.call(t, tt.method, tt.path, tt.key, tt.body)
			if tt.code != "" {
				wantProblem(t, rec, tt.status, tt.code)
			} else if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
		})
	}
	if me := a.me(t, buyer.Token); me.Name != buyer.User.Name {
		t.Errorf("name = %q: a key changed the account", me.Name)
	}
}

func TestSuspendingOrDeletingTheOwnerStopsTheirKeysAtOnce(t *testing.T) {
	a := newAPI(t)
	admin, buyer := a.admin(t), a.register(t, "buyer")
	key := a.newKey(t, buyer.Token, "tasks:read").Key
	if rec := a.call(t, http.MethodGet, "/api/tasks/my", key, nil); rec.Code != http.StatusOK {
		t.Fatalf("status %d before", rec.Code)
	}
	a.call(t, http.MethodPut, "/api/admin/users/"+buyer.User.ID, admin.Token, map[string]string{"status": "suspended"})
	wantProblem(t, a.call(t, http.MethodGet, "/api/tasks/my", key, nil), http.StatusForbidden, "account_suspended")
	a.call(t, http.MethodPut, "/api/admin/users/"+buyer.User.ID, admin.Token, map[string]string{"status": "active"})
	if rec := a.call(t, http.MethodGet, "/api/tasks/my", key, nil); rec.Code != http.StatusOK {
		t.Fatalf("status %d once reinstated", rec.Code)
	}
	if rec := a.call(t, http.MethodDelete, "/api/admin/users/"+buyer.User.ID, admin.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/tasks/my", key, nil), http.StatusUnauthorized, "invalid_api_key")
}

func TestAPIKeyManagement(t *testing.T) {
	a := newAPI(t)
	buyer, other, admin := a.register(t, "buyer"), a.register(t, "buyer"), a.admin(t)
	k := a.newKey(t, buyer.Token, "tasks:read")

	wantProblem(t, a.call(t, http.MethodPost, "/api/api-keys", admin.Token, map[string]any{"name": "x", "scopes": []string{"batches"}}),
		http.StatusForbidden, "wrong_role")
	p := wantProblem(t, a.call(t, http.MethodPost, "/api/api-keys", buyer.Token, map[string]any{"name": " ", "scopes": []string{"tasks:read", "root"}}),
		http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "name")
	wantFieldError(t, p, "scopes")
	p = wantProblem(t, a.call(t, http.MethodPost, "/api/api-keys", buyer.Token, map[string]any{"name": "x", "scopes": []string{"batches", "batches"}}),
		http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "scopes")
	wantProblem(t, a.call(t, http.MethodGet, "/api/api-keys/"+k.ID, other.Token, nil), http.StatusNotFound, "api_key_not_found")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/api-keys/"+k.ID, other.Token, nil), http.StatusNotFound, "api_key_not_found")
	wantProblem(t, a.call(t, http.MethodGet, "/api/api-keys", "", nil), http.StatusUnauthorized, "missing_token")

	if rec := a.call(t, http.MethodDelete, "/api/api-keys/"+k.ID, buyer.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", k.Key, nil), http.StatusUnauthorized, "invalid_api_key")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/api-keys/"+k.ID, buyer.Token, nil), http.StatusNotFound, "api_key_not_found")

	for i := range 20 {
		a.call(t, http.MethodPost, "/api/api-keys", other.Token, map[string]any{"name": fmt.Sprint("k", i), "scopes": []string{"batches"}})
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/api-keys", other.Token, map[string]any{"name": "21st", "scopes": []string{"batches"}}),
		http.StatusConflict, "too_many_api_keys")
}

func TestAPIKeysAreRateLimitedPerKey(t *testing.T) {
	a := newAPI(t, func(o *httpapi.Options) { o.APIKeyRateLimit = 3 })
	buyer := a.register(t, "buyer")
	one, two := a.newKey(t, buyer.Token, "tasks:read").Key, a.newKey(t, buyer.Token, "tasks:read").Key
	for range 3 {
		if rec := a.call(t, http.MethodGet, "/api/tasks/my", one, nil); rec.Code != http.StatusOK {
			t.Fatalf("status %d within the limit", rec.Code)
		}
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/tasks/my", one, nil), http.StatusTooManyRequests, "rate_limited")
	if rec := a.call(t, http.MethodGet, "/api/tasks/my", two, nil); rec.Code != http.StatusOK {
		t.Errorf("another key: status %d, want its own limit", rec.Code)
	}
	if rec := a.call(t, http.MethodGet, "/api/tasks/my", buyer.Token, nil); rec.Code != http.StatusOK {
		t.Errorf("the session: status %d, want no key limit", rec.Code)
	}
}

// keyRoutes are the routes an API key may call, given the scope: every
// other route that takes a token refuses keys.
var keyRoutes = map[string]bool{
	"GET /api/auth/me": true,
	"GET /api/tasks":   true, "GET /api/tasks/available": true, "GET /api/tasks/{id}": true, "GET /api/tasks/my": true,
	"POST /api/tasks": true, "PUT /api/tasks/{id}": true, "PATCH /api/tasks/{id}": true, "DELETE /api/tasks/{id}": true,
	"POST /api/tasks/{id}/slots": true, "PUT /api/tasks/{id}/completion-date": true, "POST /api/tasks/{id}/close": true,
	"POST /api/tasks/{id}/pause": true, "POST /api/tasks/{id}/resume": true,
	"GET /api/tasks/{id}/submissions": true, "GET /api/submissions/my": true, "GET /api/submissions/approved": true,
	"GET /api/submissions/to-review": true, "GET /api/submissions/{id}": true,
	"POST /api/submissions/reviews": true, "PUT /api/submissions/{id}/approve": true, "PUT /api/submissions/{id}/reject": true,
	"PUT /api/submissions/{id}/request-revision": true, "POST /api/submissions/{id}/bonus": true,
}

// TestKeysReachOnlyWhatAScopeOpens walks the router: with a key holding
// every scope, each route that wants a token answers 403
// insufficient_scope unless a scope opens it, whatever the owner's role.
func TestKeysReachOnlyWhatAScopeOpens(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	all := []string{"tasks:read", "tasks:write", "submissions:read", "submissions:review", "batches", "qualifications", "webhooks"}
	keys := []string{a.newKey(t, buyer.Token, all...).Key, a.newKey(t, worker.Token, all...).Key}
	routes, err := a.srv.Routes()
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, r := range routes {
		method, pattern, _ := strings.Cut(r, " ")
		route := method + " " + chiPattern(pattern)
		scoped := keyRoutes[route] || strings.HasPrefix(chiPattern(pattern), "/api/batches") ||
			strings.HasPrefix(chiPattern(pattern), "/api/qualifications") || strings.HasPrefix(chiPattern(pattern), "/api/webhook")
		path := strings.NewReplacer("{id}", "x", "{name}", "x", "{file}", "x", "{worker_id}", "x").Replace(chiPattern(pattern))
		if method == http.MethodHead || a.call(t, method, path, "", `{}`).Code != http.StatusUnauthorized {
			continue // takes no token
		}
		for _, key := range keys {
			rec := a.call(t, method, path, key, `{}`)
			var p problemBody
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			// Refused, before anything happens: for the key (insufficient
			// scope), or for its owner's role (an admin's route, another
			// role's), or (the notification stream, which reads tokens
			// alone) as no token at all.
			switch {
			case scoped && p.Code == "insufficient_scope":
				t.Errorf("%s refuses a key with every scope", route)
			case !scoped && p.Code != "insufficient_scope" && p.Code != "wrong_role" && p.Code != "invalid_token":
				t.Errorf("%s answered a key %d %s, want it refused", route, rec.Code, p.Code)
			case !scoped && p.Code == "insufficient_scope":
				refused++
			}
		}
	}
	t.Logf("%d refusals for the key, not the role", refused)
	if refused < 40 {
		t.Errorf("only %d refusals: the walk missed routes", refused)
	}
}

package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"microtask/internal/block"
	"microtask/internal/storage"
)

type blockBody struct {
	Worker struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"worker"`
	CreatedAt string `json:"created_at"`
}

func TestBlocks(t *testing.T) {
	a := newAPI(t)
	buyer, other := a.register(t, "buyer"), a.register(t, "buyer")
	blocked, free := a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	a.grant(t, other.User.ID, 1000)
	before := a.postTask(t, buyer.Token, 3, 10)
	done := a.submit(t, blocked.Token, before.ID) // submitted before the block
	open := a.postTask(t, buyer.Token, 3, 10)
	elsewhere := a.postTask(t, other.Token, 3, 10)

	path := "/api/users/" + blocked.User.ID + "/blocks"
	first := decode[blockBody](t, a.call(t, http.MethodPost, path, buyer.Token, nil), http.StatusOK)
	if first.Worker.ID != blocked.User.ID || first.Worker.Name != "Test worker" {
		t.Errorf("block = %+v", first)
	}
	again := decode[blockBody](t, a.call(t, http.MethodPost, path, buyer.Token, nil), http.StatusOK)
	if again != first {
		t.Errorf("blocking again = %+v, want the same block %+v", again, first)
	}
	later := a.postTask(t, buyer.Token, 3, 10) // a task posted after the block

	available := func(token string) []string {
		t.Helper()
		var ids []string
		for _, tk := range decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/available?limit=100", token, nil), http.StatusOK).Items {
			ids = append(ids, tk.ID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }

	t.Run("enforced", func(t *testing.T) {
		for _, tk := range []taskBody{open, later} {
			wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", blocked.Token,
				map[string]string{"task_id": tk.ID, "submission_details": "https://prnt.sc/proof"}), http.StatusForbidden, "blocked_by_buyer")
			wantProblem(t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", blocked.Token, nil), http.StatusForbidden, "blocked_by_buyer")
		}
		a.submit(t, blocked.Token, elsewhere.ID) // another buyer's task
		a.submit(t, free.Token, open.ID)         // another worker
		if got, want := available(blocked.Token), []string{}; len(got) != len(want) {
			t.Errorf("the blocked worker's available tasks = %v, want none (one submitted to, the rest blocked)", got)
		}
		if got, want := available(free.Token), sorted(before.ID, later.ID, elsewhere.ID); !slices.Equal(got, want) {
			t.Errorf("another worker's available tasks = %v, want %v", got, want)
		}
		// Work from before the block is still reviewed.
		approved := decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+done.ID+"/approve", buyer.Token, nil), http.StatusOK)
		if approved.Status != "approved" {
			t.Errorf("approval = %s", approved.Status)
		}
	})

	t.Run("list", func(t *testing.T) {
		a.call(t, http.MethodPost, "/api/users/"+free.User.ID+"/blocks", buyer.Token, nil)
		got := decode[pageOf[blockBody]](t, a.call(t, http.MethodGet, "/api/users/blocks?limit=1", buyer.Token, nil), http.StatusOK)
		if got.Total != 2 || len(got.Items) != 1 || got.Items[0].Worker.ID != free.User.ID {
			t.Errorf("first page of blocks = %+v, want the latest of 2", got)
		}
		got = decode[pageOf[blockBody]](t, a.call(t, http.MethodGet, "/api/users/blocks?limit=1&page=2", buyer.Token, nil), http.StatusOK)
		if len(got.Items) != 1 || got.Items[0].Worker.ID != blocked.User.ID {
			t.Errorf("second page of blocks = %+v", got)
		}
		if got := decode[pageOf[blockBody]](t, a.call(t, http.MethodGet, "/api/users/blocks", other.Token, nil), http.StatusOK); got.Total != 0 || got.Items == nil {
			t.Errorf("another buyer's blocks = %+v, want an empty page", got)
		}
	})

	t.Run("unblock", func(t *testing.T) {
		if rec := a.call(t, http.MethodDelete, path, buyer.Token, nil); rec.Code != http.StatusNoContent {
			t.Fatalf("unblock = %d %s", rec.Code, rec.Body)
		}
		wantProblem(t, a.call(t, http.MethodDelete, path, buyer.Token, nil), http.StatusNotFound, "block_not_found")
		if got, want := available(blocked.Token), sorted(open.ID, later.ID); !slices.Equal(got, want) {
			t.Errorf("available after the unblock = %v, want %v", got, want)
		}
		a.submit(t, blocked.Token, later.ID)
	})

	t.Run("unhappy paths", func(t *testing.T) {
		adm := a.admin(t)
		ghost := "/api/users/nobody/blocks"
		tests := []struct {
			name, method, path, token string
			status                    int
			code                      string
		}{
			{"signed out", http.MethodGet, "/api/users/blocks", "", http.StatusUnauthorized, "missing_token"},
			{"no such user", http.MethodPost, ghost, buyer.Token, http.StatusNotFound, "user_not_found"},
			{"oneself", http.MethodPost, "/api/users/" + buyer.User.ID + "/blocks", buyer.Token, http.StatusConflict, "self_block"},
			{"an admin", http.MethodPost, "/api/users/" + adm.User.ID + "/blocks", blocked.Token, http.StatusConflict, "cannot_block_admin"},
			{"another buyer's block", http.MethodDelete, "/api/users/" + free.User.ID + "/blocks", other.Token, http.StatusNotFound, "block_not_found"},
			{"a page too long", http.MethodGet, "/api/users/blocks?limit=101", buyer.Token, http.StatusUnprocessableEntity, "invalid_fields"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantProblem(t, a.call(t, tt.method, tt.path, tt.token, nil), tt.status, tt.code)
			})
		}
	})

	t.Run("too many", func(t *testing.T) {
		full := block.List{BuyerID: other.User.ID}
		for i := range block.MaxPerBuyer {
			full.Blocks = append(full.Blocks, block.Block{WorkerID: fmt.Sprintf("w%d", i), WorkerName: "w", At: time.Now().UTC()})
		}
		if _, err := storage.NewBlockStore(a.db).Save(context.Background(), full); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, a.call(t, http.MethodPost, path, other.Token, nil), http.StatusConflict, "too_many_blocks")
	})
}

package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"microtask/internal/friend"
	"microtask/internal/storage"
)

type cardBody struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PhotoURL string `json:"photo_url"`
	Role     string `json:"role"`
}

type friendRequestBody struct {
	ID         string   `json:"id"`
	User       cardBody `json:"user"`
	Direction  string   `json:"direction"`
	Status     string   `json:"status"`
	AcceptedAt *string  `json:"accepted_at"`
}

type friendBody struct {
	cardBody
	Since string `json:"since"`
}

func (a *testAPI) ask(t testing.TB, from sessionBody, to string) *httptest.ResponseRecorder {
	t.Helper()
	return a.call(t, http.MethodPost, "/api/users/friend-request", from.Token, map[string]string{"user_id": to})
}

func TestFriendships(t *testing.T) {
	a := newAPI(t)
	x, y, z := a.register(t, "worker"), a.register(t, "buyer"), a.register(t, "worker")

	// x asks y: pending, both see it, y is told.
	rec := a.ask(t, x, y.User.ID)
	req := decode[friendRequestBody](t, rec, http.StatusCreated)
	if rec.Header().Get("Location") != "/api/users/friend-request/"+req.ID || req.Status != "pending" || req.Direction != "outgoing" ||
		req.User.ID != y.User.ID || req.User.Role != "buyer" {
		t.Errorf("request = %+v, Location %q", req, rec.Header().Get("Location"))
	}
	if ns := a.notificationsOf(t, y.Token); len(ns) != 1 || ns[0].Type != "friend_request" {
		t.Errorf("y's notifications = %+v", ns)
	}
	wantProblem(t, a.ask(t, x, y.User.ID), http.StatusConflict, "request_pending")
	seen := decode[friendRequestBody](t, a.call(t, http.MethodGet, "/api/users/friend-request/"+req.ID, y.Token, nil), http.StatusOK)
	if seen.Direction != "incoming" || seen.User.ID != x.User.ID {
		t.Errorf("y sees %+v", seen)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/users/friend-request/"+req.ID, z.Token, nil), http.StatusNotFound, "friend_request_not_found")
	list := func(token, direction string) []friendRequestBody {
		t.Helper()
		return decode[pageOf[friendRequestBody]](t, a.call(t, http.MethodGet, "/api/users/friend-requests?direction="+direction, token, nil), http.StatusOK).Items
	}
	if in, out := list(y.Token, "incoming"), list(x.Token, "outgoing"); len(in) != 1 || len(out) != 1 || in[0].ID != req.ID || out[0].ID != req.ID {
		t.Errorf("incoming %+v, outgoing %+v", in, out)
	}
	if got := list(y.Token, "outgoing"); len(got) != 0 {
		t.Errorf("y's outgoing = %+v", got)
	}

	// Only its recipient accepts; the sender cannot.
	wantProblem(t, a.call(t, http.MethodPut, "/api/users/friend-request/"+req.ID+"/accept", x.Token, nil), http.StatusNotFound, "friend_request_not_found")
	acc := decode[friendRequestBody](t, a.call(t, http.MethodPut, "/api/users/friend-request/"+req.ID+"/accept", y.Token, nil), http.StatusOK)
	if acc.Status != "accepted" || acc.AcceptedAt == nil {
		t.Errorf("accepted = %+v", acc)
	}
	if ns := a.notificationsOf(t, x.Token); len(ns) != 1 || ns[0].Type != "friend_accepted" {
		t.Errorf("x's notifications = %+v", ns)
	}
	wantProblem(t, a.ask(t, y, x.User.ID), http.StatusConflict, "already_friends")
	wantProblem(t, a.call(t, http.MethodPut, "/api/users/friend-request/"+req.ID+"/decline", y.Token, nil), http.StatusNotFound, "friend_request_not_found")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/users/friend-request/"+req.ID, x.Token, nil), http.StatusNotFound, "friend_request_not_found")
	friends := decode[pageOf[friendBody]](t, a.call(t, http.MethodGet, "/api/users/friends", x.Token, nil), http.StatusOK)
	if friends.Total != 1 || friends.Items[0].ID != y.User.ID || friends.Items[0].Name != "Test buyer" || friends.Items[0].Since == "" {
		t.Errorf("x's friends = %+v", friends)
	}

	// Unfriend: gone for both; again, not a friend.
	if rec := a.call(t, http.MethodDelete, "/api/users/friends/"+x.User.ID, y.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("unfriend = %d", rec.Code)
	}
	if n := decode[pageOf[friendBody]](t, a.call(t, http.MethodGet, "/api/users/friends", x.Token, nil), http.StatusOK).Total; n != 0 {
		t.Errorf("friends after unfriending = %d", n)
	}
	wantProblem(t, a.call(t, http.MethodDelete, "/api/users/friends/"+x.User.ID, y.Token, nil), http.StatusNotFound, "friend_not_found")

	// A request to someone who asked you accepts theirs.
	theirs := decode[friendRequestBody](t, a.ask(t, z, x.User.ID), http.StatusCreated)
	mine := decode[friendRequestBody](t, a.ask(t, x, z.User.ID), http.StatusOK)
	if mine.ID != theirs.ID || mine.Status != "accepted" || mine.Direction != "incoming" {
		t.Errorf("asking back = %+v, want z's request %s accepted", mine, theirs.ID)
	}

	// Declined and withdrawn requests go; the sender may ask again.
	d := decode[friendRequestBody](t, a.ask(t, y, z.User.ID), http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodPut, "/api/users/friend-request/"+d.ID+"/decline", y.Token, nil), http.StatusNotFound, "friend_request_not_found")
	if rec := a.call(t, http.MethodPut, "/api/users/friend-request/"+d.ID+"/decline", z.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("decline = %d", rec.Code)
	}
	w := decode[friendRequestBody](t, a.ask(t, y, z.User.ID), http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodDelete, "/api/users/friend-request/"+w.ID, z.Token, nil), http.StatusNotFound, "friend_request_not_found")
	if rec := a.call(t, http.MethodDelete, "/api/users/friend-request/"+w.ID, y.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("withdraw = %d", rec.Code)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/users/friend-request/"+w.ID, y.Token, nil), http.StatusNotFound, "friend_request_not_found")

	for _, tt := range []struct {
		name   string
		rec    *httptest.ResponseRecorder
		status int
		code   string
	}{
		{"oneself", a.ask(t, x, x.User.ID), http.StatusConflict, "self_friend_request"},
		{"no such user", a.ask(t, x, "nobody"), http.StatusNotFound, "user_not_found"},
		{"no user_id", a.call(t, http.MethodPost, "/api/users/friend-request", x.Token, map[string]string{}), http.StatusUnprocessableEntity, "invalid_fields"},
		{"signed out", a.call(t, http.MethodGet, "/api/users/friends", "", nil), http.StatusUnauthorized, "missing_token"},
		{"a bad direction", a.call(t, http.MethodGet, "/api/users/friend-requests?direction=up", x.Token, nil), http.StatusUnprocessableEntity, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.rec, tt.status, tt.code) })
	}
}

func TestFriendLimits(t *testing.T) {
	a := newAPI(t)
	x, y := a.register(t, "worker"), a.register(t, "worker")
	store := storage.NewFriendStore(a.db)
	ctx := context.Background()
	// x has sent as many requests as allowed.
	for i := range friend.MaxOutgoing {
		if err := store.Insert(ctx, friend.Request{ID: fmt.Sprintf("out%d", i), From: x.User.ID, To: fmt.Sprintf("u%d", i),
			Status: friend.StatusPending, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	wantProblem(t, a.ask(t, x, y.User.ID), http.StatusConflict, "too_many_friend_requests")
	// y has as many friends as allowed: y cannot ask, and nobody's request
	// to y can be accepted.
	for i := range friend.MaxFriends {
		r := friend.Request{ID: fmt.Sprintf("f%d", i), From: y.User.ID, To: fmt.Sprintf("v%d", i), Status: friend.StatusPending, CreatedAt: time.Now()}
		if err := store.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Accept(ctx, r.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	z := a.register(t, "worker")
	wantProblem(t, a.ask(t, y, z.User.ID), http.StatusConflict, "too_many_friends")
	req := decode[friendRequestBody](t, a.ask(t, z, y.User.ID), http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodPut, "/api/users/friend-request/"+req.ID+"/accept", y.Token, nil), http.StatusConflict, "too_many_friends")
}

package apikey_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"microtask/internal/apikey"
	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var firstPage = page.Request{Number: 1, Limit: 100}

func TestCreateChecksEveryField(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	tests := []struct {
		name string
		p    auth.Principal
		in   apikey.NewKey
		want error // nil: an Invalid error naming fields
		bad  []string
	}{
		{"admin", e.User(t, auth.RoleAdmin), apikey.NewKey{Name: "x", Scopes: []auth.Scope{auth.ScopeBatches}}, auth.ErrWrongRole, nil},
		{"a key makes no key", auth.Principal{UserID: buyer.UserID, Role: auth.RoleBuyer, KeyID: "k"},
			apikey.NewKey{Name: "x", Scopes: []auth.Scope{auth.ScopeBatches}}, auth.ErrInsufficientScope, nil},
		{"no name, no scope", buyer, apikey.NewKey{Name: "  "}, nil, []string{"name", "scopes"}},
		{"long name, unknown scope", buyer, apikey.NewKey{Name: strings.Repeat("n", 101), Scopes: []auth.Scope{"admin"}}, nil, []string{"name", "scopes"}},
		{"a scope twice", buyer, apikey.NewKey{Name: "x", Scopes: []auth.Scope{auth.ScopeBatches, auth.ScopeBatches}}, nil, []string{"scopes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.APIKeys.Create(ctx, tt.p, tt.in)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("Create() = %v, want %v", err, tt.want)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.Invalid {
				t.Fatalf("Create() = %v, want invalid fields", err)
			}
			var got []string
			for _, f := range ae.Fields {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.bad, ",") {
				t.Errorf("bad fields = %v, want %v", got, tt.bad)
			}
		})
	}
	for range apikey.MaxPerUser {
		if _, _, err := e.APIKeys.Create(ctx, buyer, apikey.NewKey{Name: "k", Scopes: []auth.Scope{auth.ScopeTasksRead}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.APIKeys.Create(ctx, buyer, apikey.NewKey{Name: "k", Scopes: []auth.Scope{auth.ScopeTasksRead}}); !errors.Is(err, apikey.ErrTooMany) {
		t.Errorf("one key too many: %v, want too_many_api_keys", err)
	}
}

func TestAKeyActsAsItsOwnerAsTheyAreNow(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, admin := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleAdmin)
	k, secret, err := e.APIKeys.Create(ctx, buyer, apikey.NewKey{Name: "k", Scopes: []auth.Scope{auth.ScopeTasksRead, auth.ScopeWebhooks}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.APIKeys.Authenticate(ctx, secret)
	if err != nil || p.UserID != buyer.UserID || p.Role != auth.RoleBuyer || p.KeyID != k.ID ||
		!p.Allows(auth.ScopeWebhooks) || p.Allows(auth.ScopeTasksWrite) {
		t.Fatalf("Authenticate() = %+v, %v", p, err)
	}
	if _, err := e.APIKeys.Authenticate(ctx, secret+"x"); !errors.Is(err, apikey.ErrInvalidKey) {
		t.Errorf("another key: %v, want invalid_api_key", err)
	}
	if err := e.Users.SetStatus(ctx, admin, buyer.UserID, user.StatusSuspended, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.APIKeys.Authenticate(ctx, secret); !errors.Is(err, user.ErrSuspended) {
		t.Errorf("owner suspended: %v, want account_suspended", err)
	}
	if err := e.Users.SetStatus(ctx, admin, buyer.UserID, user.StatusActive, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.APIKeys.Authenticate(ctx, secret); err != nil {
		t.Errorf("owner reinstated: %v", err)
	}
	if err := e.APIKeys.Delete(ctx, buyer, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.APIKeys.Authenticate(ctx, secret); !errors.Is(err, apikey.ErrInvalidKey) {
		t.Errorf("deleted: %v, want invalid_api_key at once", err)
	}
}

// TestUseIsRecordedAtMostEveryMinute: last_used_at is written on the first
// use and then at most once a minute, not on every request.
func TestUseIsRecordedAtMostEveryMinute(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	_, secret, err := e.APIKeys.Create(ctx, buyer, apikey.NewKey{Name: "k", Scopes: []auth.Scope{auth.ScopeTasksRead}})
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		ks, err := e.APIKeys.List(ctx, buyer, firstPage)
		if err != nil || len(ks.Items) != 1 {
			t.Fatalf("keys = %+v, %v", ks, err)
		}
		return ks.Items[0].LastUsedAt
	}
	if !lastUsed().IsZero() {
		t.Error("a new key has been used")
	}
	first := e.Clock.Now()
	for range 3 {
		if _, err := e.APIKeys.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(10 * time.Second)
	}
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("last used %v, want the first use %v", got, first)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.APIKeys.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(e.Clock.Now()) {
		t.Errorf("last used %v, want %v", got, e.Clock.Now())
	}
}

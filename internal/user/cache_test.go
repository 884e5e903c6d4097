package user

import (
	"testing"
	"time"
)

func TestAuthCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newAuthCache(time.Minute, func() time.Time { return now })
	active := User{ID: "u1", Status: StatusActive, TokenVersion: 1}

	// A read that began before a change landed is not remembered after the
	// change dropped the entry: the user read then is out of date.
	_, ok, gen := c.get("u1")
	if ok {
		t.Fatal("hit on an empty cache")
	}
	c.drop("u1") // the change commits meanwhile
	c.put(active, gen)
	if _, ok, _ := c.get("u1"); ok {
		t.Fatal("a user read before a change outlived the change's drop")
	}

	// A read after the change is remembered, until the TTL runs out.
	_, _, gen = c.get("u1")
	c.put(active, gen)
	if u, ok, _ := c.get("u1"); !ok || u.ID != active.ID || u.Status != active.Status {
		t.Fatalf("get = %+v, %v; want the user just put", u, ok)
	}
	now = now.Add(time.Minute + time.Second)
	if _, ok, _ := c.get("u1"); ok {
		t.Fatal("hit after the TTL")
	}
}

package notification

import "testing"

func TestUnreadMemo(t *testing.T) {
	m := newUnreadMemo()
	if _, ok, _ := m.get("u"); ok {
		t.Fatal("empty memo remembers something")
	}
	_, _, gen := m.get("u")
	m.put("u", gen, 3)
	if n, ok, _ := m.get("u"); !ok || n != 3 {
		t.Fatalf("get() = %d, %v; want 3", n, ok)
	}

	// A count that began before a change is not kept after it.
	m.changed("u")
	_, _, gen = m.get("u")
	m.changed("u") // a notification arrives while the count runs
	m.put("u", gen, 3)
	if _, ok, _ := m.get("u"); ok {
		t.Error("a count from before a change was remembered")
	}

	// Other users are unaffected.
	_, _, g2 := m.get("v")
	m.put("v", g2, 7)
	m.changed("u")
	if n, ok, _ := m.get("v"); !ok || n != 7 {
		t.Errorf("v's count = %d, %v after u changed", n, ok)
	}
}

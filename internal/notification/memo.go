package notification

import "sync"

// unreadMemo remembers users' unread counts between their changes. On the
// embedded database counting a user's unread notifications reads every
// notification of every user (about 100 ms at 3,000 of them), and clients
// poll the count. Every change to a user's notifications goes through this
// process there, and drops the user's entry, so a remembered count is never
// stale. Several instances on MongoDB could not see each other's changes, and
// MongoDB counts from an index anyway, so the memo is used only in
// single-instance mode.
//
// A count read while a change is under way must not be remembered after the
// change has dropped the entry: each user has a generation that every change
// bumps, and a count is only kept if the generation it started with is
// still current.
type unreadMemo struct {
	mu     sync.Mutex
	counts map[string]int64
	gens   map[string]uint64
}

func newUnreadMemo() *unreadMemo {
	return &unreadMemo{counts: map[string]int64{}, gens: map[string]uint64{}}
}

// get returns the remembered count, or the generation to pass to put.
func (m *unreadMemo) get(userID string) (n int64, ok bool, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok = m.counts[userID]
	return n, ok, m.gens[userID]
}

// put remembers n if no change happened since get returned gen.
func (m *unreadMemo) put(userID string, gen uint64, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gens[userID] != gen {
		return
	}
	if len(m.counts) >= 100_000 { // bounded: start over rather than grow forever
		clear(m.counts)
	}
	m.counts[userID] = n
}

// changed forgets the user's count; call it after every change.
func (m *unreadMemo) changed(userID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counts, userID)
	m.gens[userID]++
}

// Package crashtest holds one test: every operation that moves coins or
// spans documents (posting, submitting, reviewing, deleting and expiring
// tasks, buying coins, taking them back after a refund or a dispute,
// withdrawing) is interrupted after each step of its ledger operation in
// turn, the services are rebuilt as after a restart, and recovery must
// finish it exactly as an uninterrupted run would, with the ledger audit
// balanced. It has no code of its own.
package crashtest

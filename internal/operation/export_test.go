package operation

import "time"

// LeaseTTL returns the engine's lease length.
func LeaseTTL(e *Engine) time.Duration { return e.leaseTTL }

// SetRecoverBatch sets how many operations Recover reads at a time.
func SetRecoverBatch(e *Engine, n int) { e.batch = n }

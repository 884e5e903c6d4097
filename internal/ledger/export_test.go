package ledger

import "time"

// SetFailpoint makes the service call f after every step of the transfer
// protocol; an error from f stops the run there, as a crash would.
func SetFailpoint(s *Service, f func(step string) error) { s.failpoint = f }

// LeaseTTL returns the service's lease length.
func LeaseTTL(s *Service) time.Duration { return s.leaseTTL }

// SetRecoverBatch sets how many transfers Recover reads at a time.
func SetRecoverBatch(s *Service, n int) { s.batch = n }

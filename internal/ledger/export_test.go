package ledger

import "time"

// LeaseTTL returns the service's lease length.
func LeaseTTL(s *Service) time.Duration { return s.leaseTTL }

// SetRecoverBatch sets how many transfers Recover reads at a time.
func SetRecoverBatch(s *Service, n int) { s.batch = n }

package withdrawal

import (
	"strings"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/money"
)

// Bounds of a withdrawal request, besides the configured minimum and
// payment systems. The service checks them; the API's request validation
// (httpapi's createWithdrawalRequest tags) repeats them for the contract,
// and a test there requires the two to refuse the same values with the same
// field errors. Lengths are in characters.
const (
	MaxSystemLen  = 40
	MinAccountLen = 4
	MaxAccountLen = 40
)

// MaxCoins is the most one withdrawal takes.
const MaxCoins money.Coins = 100_000_000

// check trims the request's text and checks every field: an Invalid error
// lists every bad one.
func (s *Service) check(r *Request) error {
	r.System, r.AccountNumber = strings.TrimSpace(r.System), strings.TrimSpace(r.AccountNumber)
	var errs apperr.Fields
	switch {
	case r.Coins == 0:
		errs.Add("withdrawal_coin", "is required")
	case r.Coins < 1:
		errs.Add("withdrawal_coin", "must be at least 1")
	case r.Coins > MaxCoins:
		errs.Add("withdrawal_coin", "must be at most %d", MaxCoins)
	case r.Coins < s.pricing.MinWithdrawal:
		errs.Add("withdrawal_coin", "must be at least %d", s.pricing.MinWithdrawal)
	}
	switch {
	case r.System == "":
		errs.Add("payment_system", "is required")
	case utf8.RuneCountInString(r.System) > MaxSystemLen:
		errs.MaxText("payment_system", r.System, MaxSystemLen)
	case !s.knows(r.System):
		errs.Add("payment_system", "must be one of: %s", strings.Join(s.systems, ", "))
	}
	switch n := utf8.RuneCountInString(r.AccountNumber); {
	case n == 0:
		errs.Add("account_number", "is required")
	case n < MinAccountLen:
		errs.Add("account_number", "must be at least %d characters", MinAccountLen)
	case n > MaxAccountLen:
		errs.MaxText("account_number", r.AccountNumber, MaxAccountLen)
	case !printableASCII(r.AccountNumber):
		errs.Add("account_number", "is not valid (printascii)") // as the API has always said
	}
	return errs.Err()
}

// printableASCII reports whether v has only the characters from space to
// tilde.
func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

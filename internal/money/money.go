// Package money holds the only two money types: coins and US cents, both whole
// numbers. Nothing near money is ever a float.
package money

import "fmt"

// Coins is an amount of platform coins.
type Coins int64

// Cents is an amount of US dollars in cents.
type Cents int64

// CoinsPerDollarOut is what a worker's withdrawal pays: 20 coins = $1.
const CoinsPerDollarOut = 20

// MinWithdrawal is the smallest withdrawal a worker may ask for.
const MinWithdrawal Coins = 200

// PayoutCents is the dollar value, in cents, of withdrawing c coins. 20 coins
// are one dollar, so one coin is exactly 5 cents.
func PayoutCents(c Coins) Cents { return Cents(c) * 100 / CoinsPerDollarOut }

func (c Coins) String() string { return fmt.Sprintf("%d coins", int64(c)) }

// String formats cents as dollars, e.g. "$12.05" or "-$0.50".
func (c Cents) String() string {
	sign, v := "", int64(c)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s$%d.%02d", sign, v/100, v%100)
}

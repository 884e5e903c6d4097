// Package money holds the only two money types: coins and US cents, both whole
// numbers. Nothing near money is ever a float.
package money

import "fmt"

// Coins is an amount of platform coins.
type Coins int64

// Cents is an amount of US dollars in cents.
type Cents int64

// Package is a number of coins for a price.
type Package struct {
	Coins Coins
	Price Cents
}

// Pricing is what coins are worth on the marketplace, the one place its
// prices live: what a new account is given, what buyers pay for coins and
// what workers' coins pay out. It comes from the configuration.
type Pricing struct {
	WorkerBonus    Coins     // given to a new worker's account
	BuyerBonus     Coins     // given to a new buyer's account
	Packages       []Package // the coins buyers can buy, by size
	CoinsPerDollar int64     // what a withdrawal pays: this many coins are one dollar
	MinWithdrawal  Coins     // the smallest withdrawal a worker may ask for
}

// DefaultPricing is the specification's: 10 coins for a new worker and 50
// for a buyer; 10 coins for $1, 150 for $10, 500 for $20 and 1000 for $35;
// 20 coins paid out for $1, from 200 coins.
func DefaultPricing() Pricing {
	return Pricing{
		WorkerBonus: 10, BuyerBonus: 50,
		Packages:       []Package{{10, 100}, {150, 1000}, {500, 2000}, {1000, 3500}},
		CoinsPerDollar: 20, MinWithdrawal: 200,
	}
}

// PayoutCents is the dollar value, in cents, of withdrawing c coins, cut
// down to the cent (at 20 coins a dollar one coin is exactly 5 cents).
func (p Pricing) PayoutCents(c Coins) Cents { return Cents(int64(c) * 100 / p.CoinsPerDollar) }

// Package returns the package of this many coins.
func (p Pricing) Package(coins Coins) (Package, bool) {
	for _, pkg := range p.Packages {
		if pkg.Coins == coins {
			return pkg, true
		}
	}
	return Package{}, false
}

// Losses names the packages whose coins pay out more than they sell for:
// a buyer could buy them, pay them to a worker of their own and withdraw a
// profit. The specification's 500- and 1000-coin packages do.
func (p Pricing) Losses() []string {
	var out []string
	for _, pkg := range p.Packages {
		if paid := p.PayoutCents(pkg.Coins); paid > pkg.Price {
			out = append(out, fmt.Sprintf("%d coins sell for %s and pay out %s", pkg.Coins, pkg.Price, paid))
		}
	}
	return out
}

func (c Coins) String() string { return fmt.Sprintf("%d coins", int64(c)) }

// String formats cents as dollars, e.g. "$12.05" or "-$0.50".
func (c Cents) String() string {
	sign, v := "", int64(c)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s$%d.%02d", sign, v/100, v%100)
}

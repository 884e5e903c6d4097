package money

import "testing"

func TestPayoutCents(t *testing.T) {
	tests := []struct {
		coins Coins
		want  Cents
	}{
		{200, 1000}, // the minimum withdrawal is $10
		{20, 100},
		{1, 5},
		{410, 2050},
		{0, 0},
	}
	for _, tt := range tests {
		if got := DefaultPricing().PayoutCents(tt.coins); got != tt.want {
			t.Errorf("PayoutCents(%d) = %d, want %d", tt.coins, got, tt.want)
		}
	}
}

func TestPayoutCentsAtOtherRates(t *testing.T) {
	thirty := Pricing{CoinsPerDollar: 30}
	for coins, want := range map[Coins]Cents{30: 100, 1: 3, 200: 666, 0: 0} { // cut down to the cent
		if got := thirty.PayoutCents(coins); got != want {
			t.Errorf("PayoutCents(%d) at 30 a dollar = %d, want %d", coins, got, want)
		}
	}
}

// TestDefaultPricing pins the specification's prices: a change to them
// changes what buyers are charged and workers paid.
func TestDefaultPricing(t *testing.T) {
	p := DefaultPricing()
	want := []Package{{10, 100}, {150, 1000}, {500, 2000}, {1000, 3500}}
	if len(p.Packages) != len(want) || p.WorkerBonus != 10 || p.BuyerBonus != 50 || p.CoinsPerDollar != 20 || p.MinWithdrawal != 200 {
		t.Fatalf("DefaultPricing() = %+v", p)
	}
	for i, pkg := range want {
		if p.Packages[i] != pkg {
			t.Errorf("Packages[%d] = %+v, want %+v", i, p.Packages[i], pkg)
		}
	}
	if pkg, ok := p.Package(150); !ok || pkg.Price != 1000 {
		t.Errorf("Package(150) = %+v, %v", pkg, ok)
	}
	if _, ok := p.Package(151); ok {
		t.Error("Package(151) found")
	}
}

// TestLosses: at 20 coins a dollar, 500 coins bought for $20 pay out $25 and
// 1000 bought for $35 pay out $50.
func TestLosses(t *testing.T) {
	got := DefaultPricing().Losses()
	want := []string{"500 coins sell for $20.00 and pay out $25.00", "1000 coins sell for $35.00 and pay out $50.00"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Losses() = %q, want %q", got, want)
	}
	p := DefaultPricing()
	p.CoinsPerDollar = 40
	if got := p.Losses(); len(got) != 0 {
		t.Errorf("Losses() at 40 a dollar = %q, want none", got)
	}
}

func TestCentsString(t *testing.T) {
	tests := []struct {
		c    Cents
		want string
	}{
		{0, "$0.00"}, {5, "$0.05"}, {1050, "$10.50"}, {-50, "-$0.50"}, {3500, "$35.00"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Cents(%d).String() = %q, want %q", tt.c, got, tt.want)
		}
	}
}

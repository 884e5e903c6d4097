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
		if got := PayoutCents(tt.coins); got != tt.want {
			t.Errorf("PayoutCents(%d) = %d, want %d", tt.coins, got, tt.want)
		}
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

// Package invoice records the invoice of every payment: a purchase of coins
// from the platform, and (with projects) a released milestone or an approved
// timesheet between a buyer and a worker. An invoice names its seller and
// its buyer, lists what was paid for, totals the coins with their dollar
// value, and carries a number, INV-<year>-<six digits>, that counts the
// year's invoices without a gap.
//
// # Issuing, once per payment
//
// The operation that moves the coins issues its invoice from its Settle
// step, which recovery may run again after a crash: Issue is idempotent by
// the operation's id (Request.Ref). The invoice's _id derives from the ref,
// so a second insert for the same ref is refused by the _id index however
// the two calls interleave, and the second call returns the first invoice.
//
// # Numbering without gaps, without transactions
//
// The number is (year, sequence), unique by an index, and the invoice is
// inserted whole with it: one single-document write, which either records
// the invoice with its number or records nothing. Nothing is reserved
// first, so nothing can be left reserved: a crash before the insert took no
// number, a crash after it left the invoice complete. The issuer tries the
// number after the highest of the year it knows to exist (the last it
// inserted, or the highest read through the index); when the index refuses
// the number, another invoice (of another call or another instance) took it
// first, and the issuer reads the year's highest number again and tries the
// one after. A number is thus only ever inserted when the one before it
// exists, so each year's numbers are 1..n: unique by the index, gapless by
// construction, also on MongoDB with many instances (single-document
// atomicity and unique indexes are all it needs).
//
// A year's numbers follow the order in which invoices were inserted, which
// may differ by moments from the order of their dates (an invoice finished
// by recovery after a crash takes the next number when it is finished).
//
// # Dollar values
//
// Coins sold by the platform are valued at the price the buyer paid for
// them (the package's price in money.Pricing, as the payment recorded it).
// Coins paid from one user to another are valued at the platform's payout
// rate (money.Pricing.CoinsPerDollar, WITHDRAWAL_COINS_PER_DOLLAR): the one
// rate at which the platform turns coins into dollars, and so what the
// seller's coins are worth to them. Packages sell coins at different rates
// (10 to 28.6 coins a dollar by default), so they give no single value to a
// payment between users. The rate is recorded on the invoice when it is
// issued, as an invoice never changes.
package invoice

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
	"microtask/internal/page"
)

// The platform as a party: the seller of purchased coins.
const (
	Platform     = "platform"  // its id where a user's would be
	PlatformName = "Microtask" // its name on invoices
)

// Bounds of a request.
const (
	MaxLines       = 50
	MaxDescription = 200 // characters of a line's description
	MaxSubjects    = 5
)

// Party is the seller or the buyer of an invoice, with the name they had
// when it was issued.
type Party struct {
	ID   string // a user's id, or Platform
	Name string
}

// Line is one thing paid for.
type Line struct {
	Description string
	Coins       money.Coins
}

// Rate says how an invoice's coins are valued in dollars.
type Rate string

// The rates.
const (
	// RatePurchase is the price the buyer paid for the coins: a purchase
	// from the platform.
	RatePurchase Rate = "purchase"
	// RatePayout is the platform's payout rate, CoinsPerDollar coins to
	// the dollar: a payment between users.
	RatePayout Rate = "payout"
)

// Invoice is the record of one payment.
type Invoice struct {
	ID     string
	Ref    string // the id of the operation that moved the coins
	Year   int
	Seq    int64 // the invoice's place in its year, from 1
	Seller Party
	Buyer  Party
	Lines  []Line
	Coins  money.Coins // the lines' sum
	Value  money.Cents // the coins' dollar value at Rate
	Rate   Rate
	// CoinsPerDollar is the payout rate of RatePayout; zero otherwise.
	CoinsPerDollar int64
	Date           time.Time // when the payment was made
	// Subjects are what the payment was for (a contract, a job), by which
	// their invoices are listed; none for a purchase.
	Subjects []Subject
}

// Subject is a record an invoice is about, e.g. {Type: "contract", ID: ...}.
type Subject struct {
	Type string // "contract", "job": the capability's name for its records
	ID   string
}

// The types of subjects projects will name: a contract's invoices are
// listed by GET /api/contracts/{id}/invoices, a job's by
// GET /api/jobs/{id}/invoice (ListBySubject).
const (
	SubjectContract = "contract"
	SubjectJob      = "job"
)

// String is the subject as stores keep it: "<type>:<id>".
func (s Subject) String() string { return s.Type + ":" + s.ID }

// Describe makes s a line's description: cut, with an ellipsis, to
// MaxDescription characters (titles that make it are each allowed that
// many).
func Describe(s string) string {
	r := []rune(s)
	if len(r) <= MaxDescription {
		return s
	}
	return string(r[:MaxDescription-1]) + "…"
}

// Number is the invoice's number, e.g. INV-2026-000123.
func (inv Invoice) Number() string { return FormatNumber(inv.Year, inv.Seq) }

// FormatNumber is the number of the seq-th invoice of year.
func FormatNumber(year int, seq int64) string { return fmt.Sprintf("INV-%04d-%06d", year, seq) }

// Party reports whether userID is the seller or the buyer.
func (inv Invoice) Party(userID string) bool {
	return userID != "" && (inv.Seller.ID == userID || inv.Buyer.ID == userID)
}

// Request asks for the invoice of one payment.
type Request struct {
	// Ref is the id of the operation that moved the coins: one invoice per
	// ref, however often it is asked for.
	Ref               string
	SellerID, BuyerID string // user ids; SellerID may be Platform
	// SellerName and BuyerName, when the caller knows them (a contract
	// keeps its parties' names), spare reading them.
	SellerName, BuyerName string
	Lines                 []Line
	Date                  time.Time // when the payment was made; its year numbers the invoice
	// Paid is what the buyer paid, in cents, for coins the platform sold
	// (a purchase): the invoice's value. Zero for a payment in coins,
	// valued at the payout rate.
	Paid money.Cents
	// Subjects are what the payment was for, e.g. a contract and its job:
	// ListBySubject finds the invoice by each.
	Subjects []Subject
}

// check returns what is wrong with r: requests come from code, so a bad one
// is a bug of the caller, reported with every problem at once.
func (r Request) check() error {
	var errs []error
	if r.Ref == "" {
		errs = append(errs, errors.New("no ref"))
	}
	if r.SellerID == "" || r.BuyerID == "" || r.SellerID == r.BuyerID {
		errs = append(errs, fmt.Errorf("seller %q and buyer %q must be two parties", r.SellerID, r.BuyerID))
	}
	if r.BuyerID == Platform {
		errs = append(errs, errors.New("the platform buys nothing"))
	}
	if r.Date.IsZero() {
		errs = append(errs, errors.New("no date"))
	}
	if len(r.Lines) == 0 || len(r.Lines) > MaxLines {
		errs = append(errs, fmt.Errorf("%d lines, want 1 to %d", len(r.Lines), MaxLines))
	}
	for i, l := range r.Lines {
		if n := len([]rune(l.Description)); n == 0 || n > MaxDescription {
			errs = append(errs, fmt.Errorf("line %d: description of %d characters, want 1 to %d", i+1, n, MaxDescription))
		}
		if l.Coins <= 0 {
			errs = append(errs, fmt.Errorf("line %d: %d coins, want more than 0", i+1, l.Coins))
		}
	}
	if len(r.Subjects) > MaxSubjects {
		errs = append(errs, fmt.Errorf("%d subjects, want at most %d", len(r.Subjects), MaxSubjects))
	}
	for i, sub := range r.Subjects {
		if sub.Type == "" || sub.ID == "" || strings.Contains(sub.Type, ":") {
			errs = append(errs, fmt.Errorf("subject %d: %q is not a type and an id", i+1, sub.String()))
		}
	}
	if r.Paid < 0 || (r.Paid > 0 && r.SellerID != Platform) {
		errs = append(errs, fmt.Errorf("paid %s: only for coins the platform sells", r.Paid))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrBadRequest, errors.Join(errs...))
	}
	return nil
}

// Errors.
var (
	ErrNotFound = apperr.New(apperr.NotFound, "invoice_not_found", "no such invoice")
	// ErrBadRequest is a request Issue refuses: a bug of its caller.
	ErrBadRequest = errors.New("invalid invoice request")
	// ErrTaken is Store.Insert's answer when the invoice's id or number is
	// taken.
	ErrTaken = errors.New("invoice id or number taken")
)

// Store keeps invoices. storage.InvoiceStore implements it. Every method is
// one command.
type Store interface {
	// Insert adds an invoice with its number. ErrTaken if an invoice has
	// its ID, or its year and sequence number.
	Insert(ctx context.Context, inv Invoice) error
	// ByID returns an invoice. ErrNotFound if none.
	ByID(ctx context.Context, id string) (Invoice, error)
	// Last returns the highest sequence number of year's invoices, 0 if
	// it has none.
	Last(ctx context.Context, year int) (int64, error)
	// List returns a page of the invoices userID is a party to (every
	// invoice if userID is empty), the highest number first, and their
	// count.
	List(ctx context.Context, userID string, p page.Request) ([]Invoice, int64, error)
	// BySubject returns a page of the invoices about subject, the highest
	// number first, and their count.
	// Only those userID is a party to, unless userID is empty.
	BySubject(ctx context.Context, subject Subject, userID string, p page.Request) ([]Invoice, int64, error)
	// ByIDs returns the invoices of these ids that exist, in no order.
	ByIDs(ctx context.Context, ids []string) ([]Invoice, error)
}

// Users names the parties; user.Service implements it.
type Users interface {
	// Name returns a user's name, deleted users' included.
	Name(ctx context.Context, id string) (string, error)
}

package invoice_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/invoice"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/platform/clocktest"
	"microtask/internal/platform/logging"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var firstPage = page.Request{Number: 1, Limit: page.MaxLimit}

// onBoth runs test on the embedded database, which answers reads from its
// copy in memory, and on one that sends every read to the server, as
// MongoDB: the store's filters and sorts must mean the same on both.
func onBoth(t *testing.T, test func(t *testing.T, e *apptest.Env)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		test(t, apptest.New(t))
	})
	t.Run("server reads", func(t *testing.T) {
		t.Parallel()
		e := apptest.Build(t, storagetest.NewServerReadsDB(t), clocktest.New(apptest.Start))
		t.Cleanup(func() { e.WantAudit(t) })
		test(t, e)
	})
}

// payment is a request for a payment of coins from buyer to seller.
func payment(ref string, seller, buyer auth.Principal, coins money.Coins, at time.Time) invoice.Request {
	return invoice.Request{Ref: ref, SellerID: seller.UserID, BuyerID: buyer.UserID, Date: at,
		Lines: []invoice.Line{{Description: "Milestone 1: the design", Coins: coins}}}
}

// purchase is a request for the invoice of coins the buyer bought.
func purchase(ref string, buyer auth.Principal, coins money.Coins, paid money.Cents, at time.Time) invoice.Request {
	return invoice.Request{Ref: ref, SellerID: invoice.Platform, BuyerID: buyer.UserID, Date: at, Paid: paid,
		Lines: []invoice.Line{{Description: fmt.Sprintf("%d coins", coins), Coins: coins}}}
}

func issue(t *testing.T, s *invoice.Service, r invoice.Request) invoice.Invoice {
	t.Helper()
	inv, err := s.Issue(t.Context(), r)
	if err != nil {
		t.Fatalf("Issue(%s) error = %v", r.Ref, err)
	}
	return inv
}

// instance is another process's invoice service on the same database.
func instance(e *apptest.Env, st invoice.Store) *invoice.Service {
	return invoice.NewService(invoice.Deps{Store: st, Users: e.Users, Pricing: money.DefaultPricing(), Log: logging.Discard()})
}

// seqs are the numbers of the year's invoices, in order.
func seqs(t *testing.T, e *apptest.Env, year int) []int64 {
	t.Helper()
	all, err := e.Invoices.List(t.Context(), auth.Principal{UserID: "admin", Role: auth.RoleAdmin}, "", page.Request{Number: 1, Limit: page.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, inv := range all.Items {
		if inv.Year == year {
			out = append(out, inv.Seq)
		}
	}
	slices.Sort(out)
	return out
}

func oneTo(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func TestIssueRecordsTheInvoice(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)

	tests := []struct {
		name string
		req  invoice.Request
		want invoice.Invoice
	}{
		{
			name: "a purchase, valued at the price paid",
			req:  purchase("purchase:cs_1", buyer, 150, 1000, at),
			want: invoice.Invoice{Ref: "purchase:cs_1", Year: 2026, Seq: 1,
				Seller: invoice.Party{ID: invoice.Platform, Name: invoice.PlatformName},
				Buyer:  invoice.Party{ID: buyer.UserID, Name: "Name of " + buyer.UserID},
				Lines:  []invoice.Line{{Description: "150 coins", Coins: 150}}, Coins: 150, Value: 1000, Rate: invoice.RatePurchase, Date: at},
		},
		{
			name: "a payment between users, valued at the payout rate",
			req: invoice.Request{Ref: "milestone-release:m1", SellerID: worker.UserID, BuyerID: buyer.UserID, Date: at,
				Lines:    []invoice.Line{{Description: "Design", Coins: 300}, {Description: "Build", Coins: 110}},
				Subjects: []invoice.Subject{{Type: "contract", ID: "c1"}, {Type: "job", ID: "j1"}}},
			want: invoice.Invoice{Ref: "milestone-release:m1", Year: 2026, Seq: 2,
				Seller: invoice.Party{ID: worker.UserID, Name: "Name of " + worker.UserID},
				Buyer:  invoice.Party{ID: buyer.UserID, Name: "Name of " + buyer.UserID},
				Lines:  []invoice.Line{{Description: "Design", Coins: 300}, {Description: "Build", Coins: 110}},
				Coins:  410, Value: 2050, Rate: invoice.RatePayout, CoinsPerDollar: 20, Date: at,
				Subjects: []invoice.Subject{{Type: "contract", ID: "c1"}, {Type: "job", ID: "j1"}}},
		},
	}
	for _, tt := range tests {
		got := issue(t, e.Invoices, tt.req)
		tt.want.ID = invoice.IDOf(tt.req.Ref)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Issue() mismatch (-want +got):\n%s", tt.name, diff)
		}
		stored, err := e.Invoices.Get(t.Context(), buyer, got.ID)
		if diff := cmp.Diff(tt.want, stored); err != nil || diff != "" {
			t.Errorf("%s: Get() = %v, mismatch (-want +got):\n%s", tt.name, err, diff)
		}
	}
	if got := issue(t, e.Invoices, purchase("purchase:cs_2", buyer, 10, 100, at)).Number(); got != "INV-2026-000003" {
		t.Errorf("Number() = %s, want INV-2026-000003", got)
	}
}

// TestIssueAgainReturnsTheFirst: a second Issue of the same ref, even with
// other contents, returns the first invoice and numbers nothing.
func TestIssueAgainReturnsTheFirst(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	first := issue(t, e.Invoices, purchase("purchase:cs_1", buyer, 150, 1000, apptest.Start))
	again := issue(t, e.Invoices, purchase("purchase:cs_1", buyer, 500, 2000, apptest.Start.Add(time.Hour)))
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("second Issue() mismatch (-first +second):\n%s", diff)
	}
	// Another process, which knows nothing of the first, agrees.
	other := issue(t, instance(e, storage.NewInvoiceStore(e.DB)), purchase("purchase:cs_1", buyer, 150, 1000, apptest.Start))
	if diff := cmp.Diff(first, other); diff != "" {
		t.Errorf("Issue() by another instance mismatch (-first +other):\n%s", diff)
	}
	if got := seqs(t, e, 2026); !slices.Equal(got, []int64{1}) {
		t.Errorf("numbers = %v, want [1]", got)
	}
}

// TestConcurrentIssuesNumberWithoutGaps: many invoices issued at once by
// several instances (each its own numbering, as separate processes on one
// database), some of them for the same payment, are numbered 1..n, once
// per payment.
func TestConcurrentIssuesNumberWithoutGaps(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, e *apptest.Env) {
		buyer := e.User(t, auth.RoleBuyer)
		const instances, refs, callsPerRef = 3, 24, 2
		services := []*invoice.Service{e.Invoices}
		for range instances - 1 {
			services = append(services, instance(e, storage.NewInvoiceStore(e.DB)))
		}
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got = map[string][]invoice.Invoice{}
		)
		for i := range refs {
			for c := range callsPerRef {
				wg.Go(func() {
					ref := fmt.Sprintf("purchase:cs_%d", i)
					inv, err := services[(i+c)%instances].Issue(context.Background(), purchase(ref, buyer, 10, 100, apptest.Start))
					if err != nil {
						t.Errorf("Issue(%s) error = %v", ref, err)
						return
					}
					mu.Lock()
					got[ref] = append(got[ref], inv)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		var numbers []int64
		for ref, invs := range got {
			if len(invs) != callsPerRef || invs[0].Seq != invs[1].Seq || invs[0].ID != invs[1].ID {
				t.Errorf("invoices of %s = %+v, want one, returned to each call", ref, invs)
			}
			numbers = append(numbers, invs[0].Seq)
		}
		slices.Sort(numbers)
		if !slices.Equal(numbers, oneTo(refs)) {
			t.Errorf("numbers returned = %v, want 1..%d", numbers, refs)
		}
		if stored := seqs(t, e, 2026); !slices.Equal(stored, oneTo(refs)) {
			t.Errorf("numbers stored = %v, want 1..%d", stored, refs)
		}
	})
}

// crashingStore is the real store, made to fail as a crash would: before
// an insert (the process died after reading the highest number), or after
// it (the insert happened, its answer was lost).
type crashingStore struct {
	invoice.Store
	before, after bool
}

var errCrash = errors.New("crash")

func (c *crashingStore) Insert(ctx context.Context, inv invoice.Invoice) error {
	if c.before {
		c.before = false
		return errCrash
	}
	if err := c.Store.Insert(ctx, inv); err != nil {
		return err
	}
	if c.after {
		c.after = false
		return errCrash
	}
	return nil
}

// TestCrashLeavesNoGap: a crash between reading the highest number and
// inserting takes no number, and one after the insert leaves the invoice
// whole; a restarted process (a new instance) numbers on without a gap and
// finds the interrupted invoice when its step runs again.
func TestCrashLeavesNoGap(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	issue(t, e.Invoices, purchase("purchase:cs_0", buyer, 10, 100, apptest.Start))

	for _, c := range []struct {
		name string
		st   *crashingStore
	}{
		{"before the insert", &crashingStore{Store: storage.NewInvoiceStore(e.DB), before: true}},
		{"after the insert", &crashingStore{Store: storage.NewInvoiceStore(e.DB), after: true}},
	} {
		ref := "purchase:" + c.name
		if _, err := instance(e, c.st).Issue(t.Context(), purchase(ref, buyer, 10, 100, apptest.Start)); !errors.Is(err, errCrash) {
			t.Fatalf("%s: Issue() error = %v, want the crash", c.name, err)
		}
		// Meanwhile another instance issues one.
		issue(t, e.Invoices, purchase(ref+" (meanwhile)", buyer, 10, 100, apptest.Start))
		// The restarted process runs the step again.
		again := issue(t, instance(e, storage.NewInvoiceStore(e.DB)), purchase(ref, buyer, 10, 100, apptest.Start))
		if again.Ref != ref {
			t.Errorf("%s: Issue() again = %+v, want the invoice of %s", c.name, again, ref)
		}
	}
	if got := seqs(t, e, 2026); !slices.Equal(got, oneTo(5)) {
		t.Errorf("numbers = %v, want 1..5", got)
	}
}

// TestNumbersCountEachYear: each year's numbers start at 1; the year is
// the payment's (in UTC).
func TestNumbersCountEachYear(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	newYear := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{newYear.Add(-time.Second), newYear, newYear.Add(time.Hour), newYear.Add(-time.Minute)} {
		issue(t, e.Invoices, purchase(fmt.Sprintf("purchase:%d", i), buyer, 10, 100, at))
	}
	if got := seqs(t, e, 2026); !slices.Equal(got, oneTo(2)) {
		t.Errorf("numbers of 2026 = %v, want [1 2]", got)
	}
	if got := seqs(t, e, 2027); !slices.Equal(got, oneTo(2)) {
		t.Errorf("numbers of 2027 = %v, want [1 2]", got)
	}
}

func TestIssueRefusesBadRequests(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	good := payment("ref", worker, buyer, 10, apptest.Start)
	tests := []struct {
		name   string
		change func(r *invoice.Request)
	}{
		{"no ref", func(r *invoice.Request) { r.Ref = "" }},
		{"one party twice", func(r *invoice.Request) { r.SellerID = r.BuyerID }},
		{"no seller", func(r *invoice.Request) { r.SellerID = "" }},
		{"the platform buying", func(r *invoice.Request) { r.BuyerID = invoice.Platform }},
		{"no date", func(r *invoice.Request) { r.Date = time.Time{} }},
		{"no lines", func(r *invoice.Request) { r.Lines = nil }},
		{"too many lines", func(r *invoice.Request) {
			r.Lines = slices.Repeat([]invoice.Line{{Description: "x", Coins: 1}}, invoice.MaxLines+1)
		}},
		{"a line of no coins", func(r *invoice.Request) { r.Lines = []invoice.Line{{Description: "x"}} }},
		{"a line without a description", func(r *invoice.Request) { r.Lines = []invoice.Line{{Coins: 1}} }},
		{"paid between users", func(r *invoice.Request) { r.Paid = 100 }},
		{"a subject without an id", func(r *invoice.Request) { r.Subjects = []invoice.Subject{{Type: "contract"}} }},
	}
	for _, tt := range tests {
		r := good
		r.Ref = "ref:" + tt.name
		tt.change(&r)
		if _, err := e.Invoices.Issue(t.Context(), r); !errors.Is(err, invoice.ErrBadRequest) {
			t.Errorf("%s: Issue() error = %v, want %v", tt.name, err, invoice.ErrBadRequest)
		}
	}
	if got := seqs(t, e, 2026); len(got) != 0 {
		t.Errorf("numbers = %v, want none", got)
	}
}

// TestWhoSeesAnInvoice: its parties and admins; anyone else gets the 404 of
// a missing invoice. Lists show a user's invoices on both sides.
func TestWhoSeesAnInvoice(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, e *apptest.Env) {
		buyer, worker, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker), e.User(t, auth.RoleBuyer)
		admin := e.User(t, auth.RoleAdmin)
		bought := issue(t, e.Invoices, purchase("purchase:1", buyer, 150, 1000, apptest.Start))
		paid := issue(t, e.Invoices, payment("pay:1", worker, buyer, 40, apptest.Start))
		issue(t, e.Invoices, purchase("purchase:2", other, 150, 1000, apptest.Start))

		for _, tt := range []struct {
			who  auth.Principal
			id   string
			want error
		}{
			{buyer, bought.ID, nil}, {buyer, paid.ID, nil}, {worker, paid.ID, nil}, {admin, paid.ID, nil},
			{worker, bought.ID, invoice.ErrNotFound}, {other, paid.ID, invoice.ErrNotFound}, {buyer, "missing", invoice.ErrNotFound},
		} {
			if _, err := e.Invoices.Get(t.Context(), tt.who, tt.id); !errors.Is(err, tt.want) {
				t.Errorf("Get(%s, %s) error = %v, want %v", tt.who.UserID, tt.id, err, tt.want)
			}
		}

		numbers := func(l page.Of[invoice.Invoice]) []int64 {
			var out []int64
			for _, inv := range l.Items {
				out = append(out, inv.Seq)
			}
			return out
		}
		for _, tt := range []struct {
			who    auth.Principal
			userID string
			want   []int64
		}{
			{buyer, "", []int64{2, 1}}, {buyer, buyer.UserID, []int64{2, 1}}, {worker, "", []int64{2}}, {other, "", []int64{3}},
			{admin, "", []int64{3, 2, 1}}, {admin, worker.UserID, []int64{2}}, {admin, admin.UserID, nil},
		} {
			l, err := e.Invoices.List(t.Context(), tt.who, tt.userID, firstPage)
			if err != nil || !slices.Equal(numbers(l), tt.want) || l.Total != int64(len(tt.want)) {
				t.Errorf("List(%s, %q) = %v of %d, %v; want %v", tt.who.UserID, tt.userID, numbers(l), l.Total, err, tt.want)
			}
		}
		_, err := e.Invoices.List(t.Context(), buyer, worker.UserID, firstPage)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.Forbidden {
			t.Errorf("List(buyer, another user) error = %v, want Forbidden", err)
		}
	})
}

func TestListBySubjectAndByRefs(t *testing.T) {
	t.Parallel()
	onBoth(t, func(t *testing.T, e *apptest.Env) {
		buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
		admin, stranger := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleBuyer)
		for i, contract := range []string{"c1", "c2", "c1"} {
			r := payment(fmt.Sprintf("pay:%d", i), worker, buyer, 40, apptest.Start)
			r.Subjects = []invoice.Subject{{Type: "contract", ID: contract}, {Type: "job", ID: "j-" + contract}}
			issue(t, e.Invoices, r)
		}
		for _, tt := range []struct {
			who     auth.Principal
			subject invoice.Subject
			want    []string
		}{
			{worker, invoice.Subject{Type: "contract", ID: "c1"}, []string{"pay:2", "pay:0"}},
			{buyer, invoice.Subject{Type: "job", ID: "j-c2"}, []string{"pay:1"}},
			{admin, invoice.Subject{Type: "contract", ID: "c1"}, []string{"pay:2", "pay:0"}},
			{stranger, invoice.Subject{Type: "contract", ID: "c1"}, nil}, // not a party
			{buyer, invoice.Subject{Type: "job", ID: "c1"}, nil},
		} {
			l, err := e.Invoices.ListBySubject(t.Context(), tt.who, tt.subject, firstPage)
			var got []string
			for _, inv := range l.Items {
				got = append(got, inv.Ref)
			}
			if err != nil || !slices.Equal(got, tt.want) || l.Total != int64(len(tt.want)) {
				t.Errorf("ListBySubject(%s) = %v of %d, %v; want %v", tt.subject, got, l.Total, err, tt.want)
			}
		}
		byRef, err := e.Invoices.ByRefs(t.Context(), []string{"pay:1", "pay:9"})
		if err != nil || len(byRef) != 1 || byRef["pay:1"].Ref != "pay:1" {
			t.Errorf("ByRefs() = %v, %v; want pay:1 only", byRef, err)
		}
	})
}

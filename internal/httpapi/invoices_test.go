package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ledongthuc/pdf"

	"microtask/internal/invoice"
	"microtask/internal/money"
)

type invoicePartyBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type invoiceBody struct {
	ID     string           `json:"id"`
	Number string           `json:"number"`
	Date   string           `json:"date"`
	Seller invoicePartyBody `json:"seller"`
	Buyer  invoicePartyBody `json:"buyer"`
	Lines  []struct {
		Description string `json:"description"`
		Coins       int64  `json:"coins"`
	} `json:"lines"`
	Coins          int64  `json:"coins"`
	ValueCents     int64  `json:"value_cents"`
	Currency       string `json:"currency"`
	Rate           string `json:"rate"`
	CoinsPerDollar *int64 `json:"coins_per_dollar"`
	Subjects       []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"subjects"`
}

// bought has the buyer buy a package with the dummy gateway and returns
// the invoice of the purchase.
func (a *testAPI) bought(t testing.TB, s sessionBody, coins int64) invoiceBody {
	t.Helper()
	co := decode[checkoutBody](t, a.buy(t, s.Token, coins, ""), http.StatusCreated)
	decode[paymentBody](t, a.call(t, http.MethodPost, "/api/payments/"+co.PaymentID+"/confirm", s.Token, nil), http.StatusOK)
	mine := decode[pageOf[invoiceBody]](t, a.call(t, http.MethodGet, "/api/invoices?limit=1", s.Token, nil), http.StatusOK)
	if len(mine.Items) == 0 {
		t.Fatal("no invoice after a purchase")
	}
	return mine.Items[0]
}

// paid issues the invoice of a payment between users, as contracts will.
func (a *testAPI) paid(t testing.TB, ref string, seller, buyer sessionBody, coins int64) invoiceBody {
	t.Helper()
	inv, err := a.env.Invoices.Issue(context.Background(), invoice.Request{
		Ref: ref, SellerID: seller.User.ID, BuyerID: buyer.User.ID, Date: a.clock.Now(),
		Lines:    []invoice.Line{{Description: "Milestone 1: the wireframes", Coins: money.Coins(coins)}},
		Subjects: []invoice.Subject{{Type: "contract", ID: "c-" + ref}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return decode[invoiceBody](t, a.call(t, http.MethodGet, "/api/invoices/"+inv.ID, buyer.Token, nil), http.StatusOK)
}

func (a *testAPI) getInvoice(t testing.TB, id, token, accept string) *httptest.ResponseRecorder {
	t.Helper()
	h := http.Header{}
	if accept != "" {
		h.Set("Accept", accept)
	}
	return a.do(t, request{method: http.MethodGet, path: "/api/invoices/" + id, token: token, header: h})
}

func TestInvoiceOfAPurchase(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	inv := a.bought(t, buyer, 150)
	year := a.clock.Now().Year()
	if inv.Number != invoice.FormatNumber(year, 1) || inv.Seller != (invoicePartyBody{ID: "platform", Name: "Microtask"}) ||
		inv.Buyer != (invoicePartyBody{ID: buyer.User.ID, Name: buyer.User.Name}) || len(inv.Lines) != 1 || inv.Lines[0].Coins != 150 ||
		inv.Coins != 150 || inv.ValueCents != 1000 || inv.Currency != "usd" || inv.Rate != "purchase" || inv.CoinsPerDollar != nil ||
		len(inv.Subjects) != 0 {
		t.Errorf("invoice = %+v, want the platform's sale of 150 coins for $10.00", inv)
	}
	if again := a.bought(t, buyer, 10); again.Number != invoice.FormatNumber(year, 2) || again.ValueCents != 100 {
		t.Errorf("second invoice = %+v, want number 2 for $1.00", again)
	}
}

func TestInvoiceList(t *testing.T) {
	a := newAPI(t)
	buyer, worker, other, admin := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "buyer"), a.admin(t)
	bought := a.bought(t, buyer, 150)
	paid := a.paid(t, "p1", worker, buyer, 40)
	theirs := a.bought(t, other, 10)

	numbers := func(rec *httptest.ResponseRecorder) []string {
		t.Helper()
		l := decode[pageOf[invoiceBody]](t, rec, http.StatusOK)
		var out []string
		for _, inv := range l.Items {
			out = append(out, inv.Number)
		}
		return out
	}
	tests := []struct {
		name  string
		path  string
		token string
		want  []string
	}{
		{"a buyer's, both sides", "/api/invoices", buyer.Token, []string{paid.Number, bought.Number}},
		{"a buyer naming themselves", "/api/invoices?user_id=" + buyer.User.ID, buyer.Token, []string{paid.Number, bought.Number}},
		{"a worker's, as seller", "/api/invoices", worker.Token, []string{paid.Number}},
		{"another buyer's", "/api/invoices", other.Token, []string{theirs.Number}},
		{"an admin's: every one", "/api/invoices", admin.Token, []string{theirs.Number, paid.Number, bought.Number}},
		{"an admin's of one user", "/api/invoices?user_id=" + worker.User.ID, admin.Token, []string{paid.Number}},
		{"paged", "/api/invoices?page=2&limit=1", buyer.Token, []string{bought.Number}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := numbers(a.call(t, http.MethodGet, tt.path, tt.token, nil)); !slices.Equal(got, tt.want) {
				t.Errorf("numbers = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		wantProblem(t, a.call(t, http.MethodGet, "/api/invoices", "", nil), http.StatusUnauthorized, "missing_token")
		wantProblem(t, a.call(t, http.MethodGet, "/api/invoices?user_id="+buyer.User.ID, worker.Token, nil), http.StatusForbidden, "wrong_role")
		p := wantProblem(t, a.call(t, http.MethodGet, "/api/invoices?page=0&limit=101&user_id="+strings.Repeat("x", 65), buyer.Token, nil),
			http.StatusUnprocessableEntity, "invalid_fields")
		for _, f := range []string{"page", "limit", "user_id"} {
			wantFieldError(t, p, f)
		}
	})
}

func TestInvoiceGet(t *testing.T) {
	a := newAPI(t)
	buyer, worker, other, admin := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "buyer"), a.admin(t)
	paid := a.paid(t, "p1", worker, buyer, 40)
	if paid.Seller.ID != worker.User.ID || paid.Buyer.ID != buyer.User.ID || paid.Rate != "payout" || paid.CoinsPerDollar == nil ||
		*paid.CoinsPerDollar != 20 || paid.ValueCents != 200 || len(paid.Subjects) != 1 || paid.Subjects[0].Type != "contract" {
		t.Errorf("invoice = %+v, want the worker's, paid 40 coins = $2.00 at 20 coins to the dollar", paid)
	}
	for _, tok := range []string{buyer.Token, worker.Token, admin.Token} {
		rec := a.getInvoice(t, paid.ID, tok, "")
		if got := decode[invoiceBody](t, rec, http.StatusOK); got.Number != paid.Number || !varies(rec) {
			t.Errorf("GET = %+v (Vary %q), want %s varying by Accept", got, rec.Header().Values("Vary"), paid.Number)
		}
	}
	// Someone else's invoice is as missing as a missing one.
	missing := wantProblem(t, a.getInvoice(t, "nope", buyer.Token, ""), http.StatusNotFound, "invoice_not_found")
	if p := wantProblem(t, a.getInvoice(t, paid.ID, other.Token, ""), http.StatusNotFound, "invoice_not_found"); p.Detail != missing.Detail {
		t.Errorf("detail %q for another's invoice, %q for a missing one", p.Detail, missing.Detail)
	}
	wantProblem(t, a.getInvoice(t, paid.ID, other.Token, "application/pdf"), http.StatusNotFound, "invoice_not_found")
	wantProblem(t, a.getInvoice(t, paid.ID, "", ""), http.StatusUnauthorized, "missing_token")
}

// varies reports whether the response says it depends on Accept.
func varies(rec *httptest.ResponseRecorder) bool {
	return slices.Contains(rec.Header().Values("Vary"), "Accept")
}

// pdfText is the text a PDF reader extracts from doc.
func pdfText(t testing.TB, doc []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatalf("read PDF: %v", err)
	}
	plain, err := r.GetPlainText()
	if err != nil {
		t.Fatalf("extract text: %v", err)
	}
	text, err := io.ReadAll(plain)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// TestInvoicePDF reads the PDF document's text back: its number, its
// parties, its lines and its totals are there.
func TestInvoicePDF(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	bought := a.bought(t, buyer, 500)
	paid := a.paid(t, "p1", worker, buyer, 410)
	tests := []struct {
		inv  invoiceBody
		want []string
	}{
		{bought, []string{"Invoice " + bought.Number, "Seller", "Microtask", "Buyer", buyer.User.Name + " (user " + buyer.User.ID + ")",
			"500 coins", "Total", "500", "$20.00", "valued at the price paid"}},
		{paid, []string{"Invoice " + paid.Number, worker.User.Name + " (user " + worker.User.ID + ")",
			buyer.User.Name + " (user " + buyer.User.ID + ")", "Milestone 1: the wireframes", "410", "$20.50", "20 coins to the dollar"}},
	}
	for _, tt := range tests {
		t.Run(tt.inv.Number, func(t *testing.T) {
			rec := a.getInvoice(t, tt.inv.ID, buyer.Token, "application/pdf")
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/pdf" || !varies(rec) ||
				rec.Header().Get("Content-Disposition") != `inline; filename="`+tt.inv.Number+`.pdf"` {
				t.Fatalf("GET as PDF = %d %v", rec.Code, rec.Header())
			}
			text := pdfText(t, rec.Body.Bytes())
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the PDF's text lacks %q; it is:\n%s", w, text)
				}
			}
		})
	}
}

// TestInvoiceContentNegotiation: what each Accept gets.
func TestInvoiceContentNegotiation(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	inv := a.bought(t, buyer, 10)
	const asJSON, asPDF, refused = "application/json; charset=utf-8", "application/pdf", "application/problem+json"
	tests := []struct {
		accept string
		want   string
	}{
		{"", asJSON},
		{"*/*", asJSON},
		{"application/json", asJSON},
		{"application/*", asJSON},
		{"application/pdf", asPDF},
		{"application/pdf, */*", asPDF},
		{"*/*, application/pdf", asPDF},
		{"application/json, application/pdf", asJSON},
		{"application/json;q=0.5, application/pdf", asPDF},
		{"application/pdf;q=0.5, application/json", asJSON},
		{"application/pdf;q=0.5, */*;q=0.1", asPDF},
		{"text/html, application/pdf;q=0.9", asPDF},
		{"application/*, application/json;q=0", asPDF},
		{"not a media type", asJSON},
		{"text/html", refused},
		{"application/pdf;q=0, application/json;q=0, text/*", refused},
		{"image/png, text/csv", refused},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			rec := a.getInvoice(t, inv.ID, buyer.Token, tt.accept)
			if got := rec.Header().Get("Content-Type"); got != tt.want {
				t.Errorf("Accept %q: Content-Type = %q (%d), want %q", tt.accept, got, rec.Code, tt.want)
			}
			if tt.want == refused {
				wantProblem(t, rec, http.StatusNotAcceptable, "not_acceptable")
			}
		})
	}
}

// TestPurchasesInvoicedAtOnce: purchases confirmed at the same moment get
// invoices numbered 1..n, one each.
func TestPurchasesInvoicedAtOnce(t *testing.T) {
	a := newAPI(t)
	const n = 8
	buyers := make([]sessionBody, n)
	payments := make([]string, n)
	for i := range buyers {
		buyers[i] = a.register(t, "buyer")
		payments[i] = decode[checkoutBody](t, a.buy(t, buyers[i].Token, 10, ""), http.StatusCreated).PaymentID
	}
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Go(func() {
			if rec := a.call(t, http.MethodPost, "/api/payments/"+payments[i]+"/confirm", buyers[i].Token, nil); rec.Code != http.StatusOK {
				t.Errorf("confirm = %d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	var got []string
	for _, b := range buyers {
		mine := decode[pageOf[invoiceBody]](t, a.call(t, http.MethodGet, "/api/invoices", b.Token, nil), http.StatusOK)
		if mine.Total != 1 {
			t.Fatalf("buyer %s has %d invoices, want 1", b.User.ID, mine.Total)
		}
		got = append(got, mine.Items[0].Number)
	}
	slices.Sort(got)
	var want []string
	for i := range n {
		want = append(want, invoice.FormatNumber(a.clock.Now().Year(), int64(i+1)))
	}
	if !slices.Equal(got, want) {
		t.Errorf("numbers = %v, want %v", got, want)
	}
}

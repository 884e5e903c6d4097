package invoicepdf_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"microtask/internal/invoice"
	"microtask/internal/invoicepdf"
)

// Text is the text of a PDF document, as a reader extracts it: what a
// person (or an accountant's software) finds in the file.
func Text(t testing.TB, doc []byte) string {
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

func TestTheDocumentShowsTheInvoice(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	tests := []struct {
		name string
		inv  invoice.Invoice
		want []string
	}{
		{
			name: "a purchase",
			inv: invoice.Invoice{Year: 2026, Seq: 123, Seller: invoice.Party{ID: invoice.Platform, Name: invoice.PlatformName},
				Buyer: invoice.Party{ID: "b1", Name: "Zoë Buyer"}, Lines: []invoice.Line{{Description: "150 coins", Coins: 150}},
				Coins: 150, Value: 1000, Rate: invoice.RatePurchase, Date: at},
			want: []string{"Invoice INV-2026-000123", "4 May 2026", "Seller", "Microtask", "Buyer", "Zoë Buyer (user b1)",
				"150 coins", "Total", "150", "$10.00", "valued at the price paid"},
		},
		{
			name: "a payment between users",
			inv: invoice.Invoice{Year: 2027, Seq: 1, Seller: invoice.Party{ID: "w1", Name: "Wanda Worker"},
				Buyer: invoice.Party{ID: "b1", Name: "Bob Buyer"},
				Lines: []invoice.Line{{Description: "Milestone: the design", Coins: 300}, {Description: "Week of 5 January: 4 hours", Coins: 110}},
				Coins: 410, Value: 2050, Rate: invoice.RatePayout, CoinsPerDollar: 20, Date: at},
			want: []string{"INV-2027-000001", "Wanda Worker (user w1)", "Bob Buyer (user b1)", "Milestone: the design", "300",
				"Week of 5 January: 4 hours", "110", "410", "$20.50", "20 coins to the dollar"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := invoicepdf.Write(&buf, tt.inv); err != nil {
				t.Fatalf("Write() error = %v", err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
				t.Fatalf("Write() wrote %q..., not a PDF", buf.Bytes()[:min(buf.Len(), 16)])
			}
			text := Text(t, buf.Bytes())
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the PDF's text lacks %q; it is:\n%s", w, text)
				}
			}
			var again bytes.Buffer
			if err := invoicepdf.Write(&again, tt.inv); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Errorf("a second Write() gave other bytes (%v): want the same document for the same invoice", err)
			}
		})
	}
}

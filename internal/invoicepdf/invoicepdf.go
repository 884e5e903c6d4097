// Package invoicepdf renders an invoice as a PDF document, with fpdf
// (codeberg.org/go-pdf/fpdf): one A4 page per fifty lines at most, in
// Helvetica, one of the fonts every PDF reader has, so nothing is embedded
// and a document weighs a few kilobytes. Helvetica covers Windows-1252:
// a character outside it (a name in Cyrillic, say) is shown as "?"; the
// JSON of the same invoice carries every name whole.
package invoicepdf

import (
	"fmt"
	"io"
	"strconv"

	"codeberg.org/go-pdf/fpdf"

	"microtask/internal/invoice"
	"microtask/internal/money"
)

// ContentType is the media type of what Write writes.
const ContentType = "application/pdf"

// Page layout, in millimetres.
const (
	margin     = 20.0
	width      = 210.0 - 2*margin // A4's width between the margins
	coinsWidth = 40.0
	line       = 7.0
)

// Write writes inv as a PDF document to w. The document depends on the
// invoice alone (its dates are the invoice's), so the same invoice is the
// same bytes every time.
func Write(w io.Writer, inv invoice.Invoice) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to Windows-1252
	// The same bytes every time: fpdf orders its catalogs by map otherwise.
	pdf.SetCatalogSort(true)
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, margin)
	pdf.SetTitle("Invoice "+inv.Number(), true)
	pdf.SetAuthor(invoice.PlatformName, true)
	pdf.SetCreator(invoice.PlatformName, true)
	pdf.SetCreationDate(inv.Date)
	pdf.SetModificationDate(inv.Date)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-margin + 5)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, fmt.Sprintf("%s - %s - page %d", invoice.PlatformName, inv.Number(), pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(width, 10, "Invoice "+inv.Number(), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	pdf.CellFormat(width, 6, "Date: "+inv.Date.UTC().Format("2 January 2006"), "", 1, "L", false, 0, "")
	pdf.Ln(4)

	party := func(role string, p invoice.Party) {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(25, 6, role, "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		label := p.Name
		if p.ID != invoice.Platform {
			label += " (user " + p.ID + ")"
		}
		pdf.CellFormat(width-25, 6, tr(label), "", 1, "L", false, 0, "")
	}
	party("Seller", inv.Seller)
	party("Buyer", inv.Buyer)
	pdf.Ln(6)

	pdf.SetFont("Helvetica", "B", 10)
	pdf.SetFillColor(235, 235, 235)
	pdf.CellFormat(width-coinsWidth, line, "Description", "B", 0, "L", true, 0, "")
	pdf.CellFormat(coinsWidth, line, "Coins", "B", 1, "R", true, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range inv.Lines {
		pdf.CellFormat(width-coinsWidth, line, tr(l.Description), "B", 0, "L", false, 0, "")
		pdf.CellFormat(coinsWidth, line, strconv.FormatInt(int64(l.Coins), 10), "B", 1, "R", false, 0, "")
	}
	pdf.SetFont("Helvetica", "B", 10)
	pdf.CellFormat(width-coinsWidth, line, "Total", "", 0, "R", false, 0, "")
	pdf.CellFormat(coinsWidth, line, strconv.FormatInt(int64(inv.Coins), 10), "", 1, "R", false, 0, "")
	pdf.CellFormat(width-coinsWidth, line, "Value in US dollars", "", 0, "R", false, 0, "")
	pdf.CellFormat(coinsWidth, line, inv.Value.String(), "", 1, "R", false, 0, "")
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(width, 5, valuation(inv), "", "L", false)

	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("render invoice %s: %w", inv.Number(), err)
	}
	return nil
}

// valuation says how the coins were valued in dollars.
func valuation(inv invoice.Invoice) string {
	if inv.Rate == invoice.RatePayout {
		return fmt.Sprintf("Coins paid between users, valued at the platform's payout rate on the day: %d coins to the dollar.",
			inv.CoinsPerDollar)
	}
	return fmt.Sprintf("Coins sold by %s, valued at the price paid: %s for %s.", invoice.PlatformName, inv.Value, money.Coins(inv.Coins))
}

package httpapi

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/invoice"
	"microtask/internal/invoicepdf"
	"microtask/internal/page"
)

type invoicePartyResponse struct {
	ID   string `json:"id"` // a user's id, or "platform"
	Name string `json:"name"`
}

type invoiceLineResponse struct {
	Description string `json:"description"`
	Coins       int64  `json:"coins"`
}

type invoiceSubjectResponse struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type invoiceResponse struct {
	ID             string                   `json:"id"`
	Number         string                   `json:"number"`
	Date           time.Time                `json:"date"`
	Seller         invoicePartyResponse     `json:"seller"`
	Buyer          invoicePartyResponse     `json:"buyer"`
	Lines          []invoiceLineResponse    `json:"lines"`
	Coins          int64                    `json:"coins"`
	ValueCents     int64                    `json:"value_cents"`
	Currency       string                   `json:"currency"`
	Rate           string                   `json:"rate"`
	CoinsPerDollar *int64                   `json:"coins_per_dollar"`
	Subjects       []invoiceSubjectResponse `json:"subjects"`
}

func toInvoiceResponse(inv invoice.Invoice) invoiceResponse {
	res := invoiceResponse{ID: inv.ID, Number: inv.Number(), Date: inv.Date.UTC(),
		Seller: invoicePartyResponse(inv.Seller), Buyer: invoicePartyResponse(inv.Buyer),
		Lines: make([]invoiceLineResponse, len(inv.Lines)), Coins: int64(inv.Coins), ValueCents: int64(inv.Value),
		Currency: "usd", Rate: string(inv.Rate), Subjects: make([]invoiceSubjectResponse, len(inv.Subjects))}
	for i, l := range inv.Lines {
		res.Lines[i] = invoiceLineResponse{Description: l.Description, Coins: int64(l.Coins)}
	}
	for i, s := range inv.Subjects {
		res.Subjects[i] = invoiceSubjectResponse(s)
	}
	if inv.Rate == invoice.RatePayout {
		res.CoinsPerDollar = &inv.CoinsPerDollar
	}
	return res
}

// handleInvoiceList handles GET /api/invoices: the caller's invoices, as
// seller or buyer; an admin's ?user_id= names whose, and without it an
// admin sees every invoice.
func (s *Server) handleInvoiceList(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	userID := q.text("user_id", 64)
	return writePage(w, q, func(p page.Request) (page.Of[invoice.Invoice], error) {
		return s.invoices.List(r.Context(), principal(r), userID, p)
	}, toInvoiceResponse)
}

// handleContractInvoices handles GET /api/contracts/{id}/invoices: the
// invoices of a contract's payments, to its parties and admins (anyone
// else: 404, as for the contract).
func (s *Server) handleContractInvoices(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[invoice.Invoice], error) {
		c, err := s.contracts.Contract(r.Context(), principal(r), param(r, "id"))
		if err != nil {
			return page.Of[invoice.Invoice]{}, err
		}
		return s.invoices.ListBySubject(r.Context(), principal(r), invoice.Subject{Type: invoice.SubjectContract, ID: c.ID}, p)
	}, toInvoiceResponse)
}

// handleJobInvoices handles GET /api/jobs/{id}/invoice (the
// specification's path): the invoices of the payments of a job's
// contracts that the user is a party to (an admin: all of them). Jobs are
// public, so anyone else gets an empty page rather than a 404.
func (s *Server) handleJobInvoices(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[invoice.Invoice], error) {
		j, err := s.jobs.Get(r.Context(), param(r, "id"))
		if err != nil {
			return page.Of[invoice.Invoice]{}, err
		}
		return s.invoices.ListBySubject(r.Context(), principal(r), invoice.Subject{Type: invoice.SubjectJob, ID: j.ID}, p)
	}, toInvoiceResponse)
}

// handleInvoiceGet handles GET /api/invoices/{id}: JSON, or the PDF
// document when the client's Accept prefers it (see negotiate).
func (s *Server) handleInvoiceGet(w http.ResponseWriter, r *http.Request) error {
	asPDF, err := negotiate(r.Header.Values("Accept"))
	if err != nil {
		return err
	}
	inv, err := s.invoices.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	w.Header().Add("Vary", "Accept")
	if !asPDF {
		return writeJSON(w, http.StatusOK, toInvoiceResponse(inv))
	}
	var doc bytes.Buffer // whole before the status goes out, so that a failure is still a problem
	if err := invoicepdf.Write(&doc, inv); err != nil {
		return err
	}
	w.Header().Set("Content-Type", invoicepdf.ContentType)
	w.Header().Set("Content-Disposition", `inline; filename="`+inv.Number()+`.pdf"`)
	w.Header().Set("Content-Length", strconv.Itoa(doc.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = doc.WriteTo(w) // a failed write means the client left
	return nil
}

var errNotAcceptable = apperr.New(apperr.NotAcceptable, "not_acceptable",
	"an invoice is sent as application/json or application/pdf; the Accept header allows neither")

// negotiate reads the Accept header of a request for an invoice: true for
// the PDF document, false for JSON, errNotAcceptable for neither. The
// highest q-value wins; at the same q, an exact media type over a wildcard
// (so "application/pdf, */*" is the PDF), and JSON at a tie. No Accept, or
// one that cannot be parsed, is JSON, as everywhere else in the API.
// Hand-written: the standard library parses each media range
// (mime.ParseMediaType), and no maintained module the project may use
// does the rest.
func negotiate(accept []string) (pdf bool, err error) {
	// match is the most specific range a type falls in: its q-value
	// (RFC 9110, 12.5.1) and how specific it is (2 exact, 1 application/*,
	// 0 */*); q stays 0 for a type no range names.
	type match struct {
		seen     bool
		q        float64
		specific int
	}
	var asJSON, asPDF match
	parsed := false
	for _, field := range accept {
		for rng := range strings.SplitSeq(field, ",") {
			mt, params, perr := mime.ParseMediaType(strings.TrimSpace(rng))
			if perr != nil {
				continue
			}
			parsed = true
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, perr = strconv.ParseFloat(v, 64); perr != nil || q < 0 || q > 1 {
					continue
				}
			}
			for _, o := range []struct {
				m   *match
				typ string
			}{{&asJSON, "application/json"}, {&asPDF, invoicepdf.ContentType}} {
				specific := -1
				switch mt {
				case o.typ:
					specific = 2
				case "application/*":
					specific = 1
				case "*/*":
					specific = 0
				}
				if specific >= 0 && (!o.m.seen || specific > o.m.specific) {
					*o.m = match{seen: true, q: q, specific: specific}
				}
			}
		}
	}
	switch {
	case !parsed:
		return false, nil
	case asJSON.q == 0 && asPDF.q == 0:
		return false, errNotAcceptable
	case asPDF.q != asJSON.q:
		return asPDF.q > asJSON.q, nil
	}
	return asPDF.specific > asJSON.specific, nil
}

package storage

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/invoice"
	"microtask/internal/money"
	"microtask/internal/page"
)

// InvoiceStore keeps the invoices collection: one document per invoice,
// written once and never changed. Its unique index on (year, seq) is what
// numbers invoices without a gap (see package invoice). It implements
// invoice.Store.
type InvoiceStore struct {
	invoices docdb.Collection
}

// NewInvoiceStore returns the invoice store on d.
func NewInvoiceStore(d *docdb.DB) *InvoiceStore {
	return &InvoiceStore{invoices: d.Collection("invoices")}
}

var _ invoice.Store = (*InvoiceStore)(nil)

type invoiceDoc struct {
	ID         string `bson:"_id"`
	Ref        string `bson:"ref"`
	Year       int    `bson:"year"` // unique with seq
	Seq        int64  `bson:"seq"`
	SellerID   string `bson:"seller_id"`
	SellerName string `bson:"seller_name"`
	BuyerID    string `bson:"buyer_id"`
	BuyerName  string `bson:"buyer_name"`
	// Parties are the seller's and the buyer's ids, one array so that one
	// indexed equality finds a user's invoices on either side.
	Parties        []string         `bson:"parties"`
	Lines          []invoiceLineDoc `bson:"lines"`
	Coins          int64            `bson:"coins"`
	Value          int64            `bson:"value_cents"`
	Rate           string           `bson:"rate"`
	CoinsPerDollar int64            `bson:"coins_per_dollar,omitempty"`
	Subjects       []string         `bson:"subjects"` // "<type>:<id>"
	Date           time.Time        `bson:"date"`
}

// invoiceLineDoc is a line: stored and shown, never filtered on.
type invoiceLineDoc struct {
	Description string `bson:"description"`
	Coins       int64  `bson:"coins"`
}

// byNumber sorts invoices the highest number first.
var byNumber = bson.D{{Key: "year", Value: -1}, {Key: "seq", Value: -1}}

func invoiceToDoc(inv invoice.Invoice) invoiceDoc {
	d := invoiceDoc{ID: inv.ID, Ref: inv.Ref, Year: inv.Year, Seq: inv.Seq, SellerID: inv.Seller.ID, SellerName: inv.Seller.Name,
		BuyerID: inv.Buyer.ID, BuyerName: inv.Buyer.Name, Parties: []string{inv.Seller.ID, inv.Buyer.ID},
		Lines: make([]invoiceLineDoc, len(inv.Lines)), Coins: int64(inv.Coins), Value: int64(inv.Value), Rate: string(inv.Rate),
		CoinsPerDollar: inv.CoinsPerDollar, Subjects: make([]string, len(inv.Subjects)), Date: inv.Date}
	for i, l := range inv.Lines {
		d.Lines[i] = invoiceLineDoc{Description: l.Description, Coins: int64(l.Coins)}
	}
	for i, s := range inv.Subjects {
		d.Subjects[i] = s.String()
	}
	return d
}

func invoiceFromDoc(d invoiceDoc) invoice.Invoice {
	inv := invoice.Invoice{ID: d.ID, Ref: d.Ref, Year: d.Year, Seq: d.Seq,
		Seller: invoice.Party{ID: d.SellerID, Name: d.SellerName}, Buyer: invoice.Party{ID: d.BuyerID, Name: d.BuyerName},
		Lines: make([]invoice.Line, len(d.Lines)), Coins: money.Coins(d.Coins), Value: money.Cents(d.Value),
		Rate: invoice.Rate(d.Rate), CoinsPerDollar: d.CoinsPerDollar, Date: d.Date}
	for i, l := range d.Lines {
		inv.Lines[i] = invoice.Line{Description: l.Description, Coins: money.Coins(l.Coins)}
	}
	for _, s := range d.Subjects {
		typ, id, _ := strings.Cut(s, ":")
		inv.Subjects = append(inv.Subjects, invoice.Subject{Type: typ, ID: id})
	}
	return inv
}

// Insert implements invoice.Store: one insert, refused by the _id index
// or the unique (year, seq) index.
func (s *InvoiceStore) Insert(ctx context.Context, inv invoice.Invoice) error {
	err := s.invoices.InsertOne(ctx, invoiceToDoc(inv))
	if docdb.IsDuplicate(err) {
		return invoice.ErrTaken
	}
	return err
}

// InsertMany adds invoices in one command, each numbered as it is given:
// for the load generator's seed, whose caller keeps each year's numbers
// 1..n without a gap (it seeds a past year's, after its Last). A duplicate
// ID or number stops it with invoice.ErrTaken; those before it stay.
func (s *InvoiceStore) InsertMany(ctx context.Context, invs []invoice.Invoice) error {
	docs := make([]any, len(invs))
	for i, inv := range invs {
		docs[i] = invoiceToDoc(inv)
	}
	err := s.invoices.InsertMany(ctx, docs, true)
	if docdb.IsDuplicate(err) {
		return invoice.ErrTaken
	}
	return err
}

// ByID implements invoice.Store.
func (s *InvoiceStore) ByID(ctx context.Context, id string) (invoice.Invoice, error) {
	var d invoiceDoc
	err := s.invoices.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return invoice.Invoice{}, invoice.ErrNotFound
	}
	if err != nil {
		return invoice.Invoice{}, err
	}
	return invoiceFromDoc(d), nil
}

// ByIDs implements invoice.Store: one find.
func (s *InvoiceStore) ByIDs(ctx context.Context, ids []string) ([]invoice.Invoice, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return docdb.FindAll(ctx, s.invoices, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, docdb.Query{}, invoiceFromDoc)
}

// Last implements invoice.Store: the first entry of the (year, seq) index
// read backwards.
func (s *InvoiceStore) Last(ctx context.Context, year int) (int64, error) {
	var last int64
	err := docdb.Each(ctx, s.invoices, bson.D{{Key: "year", Value: year}},
		docdb.Query{Sort: bson.D{{Key: "seq", Value: -1}}, Limit: 1, Fields: []string{"seq"}},
		func(d struct {
			Seq int64 `bson:"seq"`
		}) error {
			last = d.Seq
			return nil
		})
	return last, err
}

// List implements invoice.Store: one find and one count.
func (s *InvoiceStore) List(ctx context.Context, userID string, p page.Request) ([]invoice.Invoice, int64, error) {
	q := bson.D{}
	if userID != "" {
		q = bson.D{{Key: "parties", Value: userID}}
	}
	return docdb.FindPage(ctx, s.invoices, q, byNumber, p, invoiceFromDoc)
}

// BySubject implements invoice.Store: one find and one count.
func (s *InvoiceStore) BySubject(ctx context.Context, subject invoice.Subject, userID string, p page.Request) ([]invoice.Invoice, int64, error) {
	q := bson.D{{Key: "subjects", Value: subject.String()}}
	if userID != "" {
		q = append(q, bson.E{Key: "parties", Value: userID})
	}
	return docdb.FindPage(ctx, s.invoices, q, byNumber, p, invoiceFromDoc)
}

package storage

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/chat"
	"microtask/internal/contract"
	"microtask/internal/invoice"
	"microtask/internal/job"
	"microtask/internal/page"
)

// TestSeedInserts: the bulk inserts of the load generator's seed store
// every record as it is given, decided and ended ones included, so that the
// stores read back what was inserted; a duplicate is refused as the single
// inserts refuse it.
func TestSeedInserts(t *testing.T) {
	db := newTestDB(t)
	ctx := t.Context()
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	buyer, worker := job.Party{ID: "b1", Name: "Buyer"}, job.Party{ID: "w1", Name: "Worker"}

	jobs := NewJobStore(db)
	js := []job.Job{
		{ID: "j1", Title: "Closed", Description: "D", Category: job.CategoryDataEntry, Skills: []string{"Go"}, Type: job.TypeFixed,
			Budget: 40, Buyer: buyer, Status: job.StatusClosed, CreatedAt: at, ClosedAt: at.Add(time.Hour)},
		{ID: "j2", Title: "Hired", Description: "D", Category: job.CategoryDataEntry, Skills: []string{}, Type: job.TypeFixed,
			Budget: 40, Buyer: buyer, Status: job.StatusHired, ContractID: "c1", CreatedAt: at, ClosedAt: at.Add(time.Hour)},
	}
	ps := []job.Proposal{
		{ID: "p1", JobID: "j1", JobTitle: "Closed", JobType: job.TypeFixed, BuyerID: buyer.ID, Worker: worker, Bid: 40,
			CoverLetter: "C", EstimatedDays: 3, Status: job.ProposalDeclined, DeclineReason: "Closed.", CreatedAt: at, DecidedAt: at.Add(time.Hour)},
		{ID: "p2", JobID: "j2", JobTitle: "Hired", JobType: job.TypeFixed, BuyerID: buyer.ID, Worker: worker, Bid: 40,
			CoverLetter: "C", EstimatedDays: 3, Status: job.ProposalHired, CreatedAt: at, DecidedAt: at.Add(time.Hour)},
	}
	if err := jobs.InsertMany(ctx, js); err != nil {
		t.Fatalf("InsertMany(jobs) error = %v", err)
	}
	if err := jobs.InsertProposals(ctx, ps); err != nil {
		t.Fatalf("InsertProposals() error = %v", err)
	}
	for _, want := range js {
		got, err := jobs.ByID(ctx, want.ID)
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("job %s: %v; diff (-got +want):\n%s", want.ID, err, cmp.Diff(got, want))
		}
	}
	for _, want := range ps {
		got, err := jobs.Proposal(ctx, want.ID)
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("proposal %s: %v; diff (-got +want):\n%s", want.ID, err, cmp.Diff(got, want))
		}
	}
	dup := ps[0]
	dup.ID = "p3" // the same job and worker
	if err := jobs.InsertProposals(ctx, []job.Proposal{dup}); !errors.Is(err, job.ErrAlreadyProposed) {
		t.Errorf("InsertProposals(a second of the worker's) error = %v, want %v", err, job.ErrAlreadyProposed)
	}
	if err := jobs.InsertMany(ctx, js[:1]); err == nil {
		t.Error("InsertMany(a job again) = nil, want an error")
	}

	contracts := NewContractStore(db)
	c := contract.Contract{ID: "c1", JobID: "j2", JobTitle: "Hired", ProposalID: "p2", Type: job.TypeFixed,
		Buyer: contract.Party(buyer), Worker: contract.Party(worker), Price: 40, Status: contract.StatusEnded,
		Escrow: contract.Escrow{Status: contract.StatusEnded, Held: []string{}, Submitted: []string{}, Disputed: []string{}, Proposed: []string{}, Paid: 40},
		Ops:    []string{}, CreatedAt: at, EndedAt: at.Add(48 * time.Hour), EndedBy: buyer.ID, EndReason: "Done."}
	if err := contracts.InsertContracts(ctx, []contract.Contract{c}); err != nil {
		t.Fatalf("InsertContracts() error = %v", err)
	}
	if got, err := contracts.Contract(ctx, c.ID); err != nil || !cmp.Equal(got, c) {
		t.Errorf("contract: %v; diff (-got +want):\n%s", err, cmp.Diff(got, c))
	}
	if err := contracts.InsertContracts(ctx, []contract.Contract{c}); err == nil {
		t.Error("InsertContracts(the contract again) = nil, want an error")
	}

	invoices := NewInvoiceStore(db)
	inv := invoice.Invoice{ID: "i1", Ref: "r1", Year: 2025, Seq: 1, Seller: invoice.Party(worker), Buyer: invoice.Party(buyer),
		Lines: []invoice.Line{{Description: "Hired: all", Coins: 40}}, Coins: 40, Value: 200, Rate: invoice.RatePayout,
		CoinsPerDollar: 20, Date: at, Subjects: []invoice.Subject{{Type: invoice.SubjectContract, ID: "c1"}}}
	if err := invoices.InsertMany(ctx, []invoice.Invoice{inv}); err != nil {
		t.Fatalf("InsertMany(invoices) error = %v", err)
	}
	if got, err := invoices.ByID(ctx, inv.ID); err != nil || !cmp.Equal(got, inv) {
		t.Errorf("invoice: %v; diff (-got +want):\n%s", err, cmp.Diff(got, inv))
	}
	if last, err := invoices.Last(ctx, 2025); err != nil || last != 1 {
		t.Errorf("Last(2025) = %d, %v; want 1", last, err)
	}
	taken := inv
	taken.ID = "i2" // the same number
	if err := invoices.InsertMany(ctx, []invoice.Invoice{taken}); !errors.Is(err, invoice.ErrTaken) {
		t.Errorf("InsertMany(a number taken) error = %v, want %v", err, invoice.ErrTaken)
	}

	chats := NewChatStore(db)
	conv := chat.Conversation{ID: chat.PairID(buyer.ID, worker.ID), LastID: "m2", LastFrom: worker.ID, LastText: "Two",
		LastAt: at.Add(time.Minute), CreatedAt: at, Sides: [2]chat.Side{
			{UserID: buyer.ID, ReadUpTo: "m1", Unread: 1, Wrote: true, NotifyAt: at.Add(time.Hour)},
			{UserID: worker.ID, ReadUpTo: "m2", Wrote: true, MailedAt: at}}}
	msgs := []chat.Message{
		{ID: "m1", ConversationID: conv.ID, From: buyer.ID, To: worker.ID, Text: "One", CreatedAt: at},
		{ID: "m2", ConversationID: conv.ID, From: worker.ID, To: buyer.ID, Text: "Two", CreatedAt: at.Add(time.Minute)},
	}
	if err := chats.InsertConversations(ctx, []chat.Conversation{conv}); err != nil {
		t.Fatalf("InsertConversations() error = %v", err)
	}
	if err := chats.InsertMessages(ctx, msgs); err != nil {
		t.Fatalf("InsertMessages() error = %v", err)
	}
	if got, err := chats.Conversation(ctx, conv.ID); err != nil || !cmp.Equal(got, conv) {
		t.Errorf("conversation: %v; diff (-got +want):\n%s", err, cmp.Diff(got, conv))
	}
	if got, err := chats.Messages(ctx, conv.ID, "", 10); err != nil || len(got) != len(msgs) {
		t.Errorf("Messages() = %+v, %v; want the %d inserted", got, err, len(msgs))
	}
	if _, total, err := chats.List(ctx, buyer.ID, page.Request{Number: 1, Limit: 10}); err != nil || total != 1 {
		t.Errorf("List(buyer) total = %d, %v; want 1", total, err)
	}
	if got, err := chats.Unread(ctx, buyer.ID); err != nil || got != 1 {
		t.Errorf("Unread(buyer) = %d, %v; want 1", got, err)
	}
	if err := chats.InsertMessages(ctx, msgs[:1]); err == nil {
		t.Error("InsertMessages(a message again) = nil, want an error")
	}
}

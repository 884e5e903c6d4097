package migrations

import (
	"io/fs"
	"slices"
	"testing"
)

// TestNumbersOnlyGrow: the migrations up to 0023 are those databases have
// applied (0017 was never used), so a new one takes a number above the
// highest rather than one in a gap, which databases already past it would
// run out of order.
func TestNumbersOnlyGrow(t *testing.T) {
	applied := []string{
		"0001_ledger.json", "0002_users.json", "0003_marketplace.json", "0004_money.json", "0005_trust.json",
		"0006_one_operation_record.json", "0007_idempotency_keys.json", "0008_withdrawal_risk.json",
		"0009_admin_actions.json", "0010_payment_intents.json", "0011_purchase_blocks.json", "0012_evidence_views.json",
		"0013_ledger_boards.json", "0014_uploads.json", "0015_accounts.json", "0016_mail_notifications.json",
		"0018_task_submitters.json", "0019_task_labels.json", "0020_user_records.json", "0021_reservations.json",
		"0022_revisions.json", "0023_auto_approval_notices.json",
	}
	files, err := fs.Glob(FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	if len(files) < len(applied) || !slices.Equal(files[:len(applied)], applied) {
		t.Errorf("migrations = %v, want %v first and new ones after 0023", files, applied)
	}
}

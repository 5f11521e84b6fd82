package canopy

import (
	"regexp"
	"time"
)

// CreditType names a kind of credit (rule 8, docs/rules.md): upload and message by
// default, more by configuration.
type CreditType string

// The built-in credit types and what each usage costs.
const (
	CreditUpload  CreditType = "upload"  // one per record collected
	CreditMessage CreditType = "message" // one per SMS sent
)

// DefaultCreditTypes are the credit types of an installation that names
// none.
var DefaultCreditTypes = []CreditType{CreditUpload, CreditMessage}

var creditTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ValidCreditTypeName reports whether s can name a credit type: lower-case
// letters, digits and dashes, starting with a letter, at most 32.
func ValidCreditTypeName(s string) bool { return creditTypeRE.MatchString(s) }

// PrefixLedgerEntry begins ledger entry ids.
const PrefixLedgerEntry = "txn"

// MaxCreditAmount bounds one grant, transfer or debit, so that sums of
// many stay far inside int64.
const MaxCreditAmount = 1_000_000_000

// The books on the other side of entries that do not move credits between
// two accounts: grants come from issuance, usage goes to consumption.
const (
	BookIssuance    = "issuance"
	BookConsumption = "consumption"
)

// EntryKind says why a ledger entry was written.
type EntryKind string

// The entry kinds.
const (
	EntryGrant    EntryKind = "grant"    // issuance → account
	EntryTransfer EntryKind = "transfer" // ancestor → descendant
	EntryUsage    EntryKind = "usage"    // payer → consumption
	EntryRefund   EntryKind = "refund"   // consumption → payer, for usage that did not happen
)

// Valid reports whether k is a known entry kind.
func (k EntryKind) Valid() bool {
	return k == EntryGrant || k == EntryTransfer || k == EntryUsage || k == EntryRefund
}

// LedgerEntry is one append-only, double-entry change of credits: Amount
// leaves Debit and arrives at Credit. Each side is an account id or a book.
type LedgerEntry struct {
	ID     string     `json:"id"`
	At     time.Time  `json:"at"`
	Kind   EntryKind  `json:"kind"`
	Type   CreditType `json:"type"`
	Amount int64      `json:"amount"`
	Debit  string     `json:"debitAccount"`
	Credit string     `json:"creditAccount"`
	Reason string     `json:"reason"`
	// For usage and refunds: the account whose usage it was, where it
	// stood in the tree then, and what the usage was ("record:rec_…").
	UsageAccountID string `json:"usageAccountId,omitempty"`
	UsagePath      Path   `json:"-"`
	UsageRef       string `json:"usageRef,omitempty"`
	// IdempotencyKey makes a retried debit a replay: unique per usage
	// account.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	RequestID      string `json:"requestId,omitempty"`
}

// PayerStep is one account on the way from a user of credits up to its
// payer, with its link's billing mode.
type PayerStep struct {
	AccountID string
	Billing   Billing // of the link to its parent; self for a top-level customer and the root
}

// Payer applies rule 8 (docs/rules.md) to the path of the account whose usage it
// is, from that account up to the root: follow links with billing parent
// until an account that pays for itself. It returns the index in steps of
// the payer. Top-level customers always pay for themselves, whatever
// their link says.
func Payer(steps []PayerStep) int {
	for i, s := range steps {
		topLevel := i+2 >= len(steps) // the root's child, or the root
		if s.Billing != BillingParent || topLevel {
			return i
		}
	}
	return len(steps) - 1
}

// DefaultLowBalanceThresholds are the balances at which a payer hears that
// its credits run low.
var DefaultLowBalanceThresholds = []int64{2000, 1000, 500, 0}

// CrossedThreshold returns the lowest threshold a balance fell to or below
// when it went from before to after, and whether it crossed any: one
// notice per crossing, however many thresholds one debit passes.
func CrossedThreshold(thresholds []int64, before, after int64) (int64, bool) {
	var lowest int64
	crossed := false
	for _, t := range thresholds {
		if before > t && after <= t && (!crossed || t < lowest) {
			lowest, crossed = t, true
		}
	}
	return lowest, crossed
}

// DayOf returns the UTC day of t, as usage rollups count it: "2026-11-23".
func DayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// MonthOf returns the calendar month (UTC) of t, as caps and usage count
// it: "2026-11".
func MonthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// Shortfall says why a debit was refused: whose balance could not cover
// it, or whose monthly cap it would pass.
type Shortfall struct {
	Type      CreditType `json:"type"`
	Needed    int64      `json:"needed"`
	PayerID   string     `json:"payerId,omitempty"`
	Balance   *int64     `json:"balance,omitempty"`
	LimitedID string     `json:"limitedAccountId,omitempty"`
	Monthly   *int64     `json:"monthly,omitempty"`
	Used      *int64     `json:"used,omitempty"`
}

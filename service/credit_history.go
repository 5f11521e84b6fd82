package service

import (
	"context"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Balance history steps.
const (
	StepDay   = "day"
	StepMonth = "month"
)

// Largest balance histories: a year of days, two years of months.
const (
	MaxHistoryDays   = 366
	MaxHistoryMonths = 24
)

// BalanceHistory is an account's balances at the end of each of its last
// periods (UTC days or calendar months), oldest first; the last point is
// now.
type BalanceHistory struct {
	AccountID string         `json:"accountId"`
	Step      string         `json:"step"`
	Points    []BalancePoint `json:"points"`
}

// BalancePoint is the balances at the end of one period (At, exclusive);
// Label names the period ("2026-11-23", "2026-11").
type BalancePoint struct {
	Label    string       `json:"label"`
	At       time.Time    `json:"at"`
	Balances []TypeAmount `json:"balances"`
}

// GetBalanceHistory works an account's balances back from today's over
// its last periods: the grants and transfers in and out, and the usage it
// paid for (rule 8 (docs/rules.md)) from its daily rollup as payer, so
// that a year draws from a few hundred rows whatever the number of debits
// and of accounts below it.
func (s *Service) GetBalanceHistory(ctx context.Context, c Caller, accountID, step string, periods int) (*BalanceHistory, error) {
	now := s.now().UTC()
	var starts []time.Time // the start of each period, oldest first
	switch step {
	case StepDay:
		if periods < 1 || periods > MaxHistoryDays {
			return nil, canopy.BadParam("periods", "out-of-range", "must be from 1 to %d days", MaxHistoryDays)
		}
		today := now.Truncate(24 * time.Hour)
		for i := periods - 1; i >= 0; i-- {
			starts = append(starts, today.AddDate(0, 0, -i))
		}
	case StepMonth:
		if periods < 1 || periods > MaxHistoryMonths {
			return nil, canopy.BadParam("periods", "out-of-range", "must be from 1 to %d months", MaxHistoryMonths)
		}
		month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		for i := periods - 1; i >= 0; i-- {
			starts = append(starts, month.AddDate(0, -i, 0))
		}
	default:
		return nil, canopy.BadParam("step", "invalid-enum", "must be day or month")
	}
	out := &BalanceHistory{AccountID: accountID, Step: step}
	err := s.read(ctx, func(tx store.Tx) error {
		a, err := visibleIn(ctx, tx, c, accountID)
		if err != nil {
			return err
		}
		out.AccountID = a.ID
		since := starts[0]
		own, err := tx.Balances(ctx, a.ID)
		if err != nil {
			return err
		}
		// delta[period][type] is the period's change of the balance, by
		// the period's label.
		label := canopy.DayOf
		if step == StepMonth {
			label = canopy.MonthOf
		}
		delta := map[string]map[canopy.CreditType]int64{}
		add := func(period string, t canopy.CreditType, n int64) {
			if delta[period] == nil {
				delta[period] = map[canopy.CreditType]int64{}
			}
			delta[period][t] += n
		}
		moves, err := tx.CreditMoves(ctx, a.ID, since)
		if err != nil {
			return err
		}
		for _, e := range moves {
			if e.Credit == a.ID {
				add(label(e.At), e.Type, e.Amount)
			}
			if e.Debit == a.ID {
				add(label(e.At), e.Type, -e.Amount)
			}
		}
		// What it paid for, by the ledger's payer: exact whatever links
		// and billing changed since.
		paid, err := tx.PaidUsage(ctx, a.ID, since, step == StepMonth)
		if err != nil {
			return err
		}
		for _, d := range paid {
			add(d.Day, d.Type, -d.Amount)
		}
		// Walk back from now: a period's closing balance is the next
		// one's less what changed in between.
		balance := map[canopy.CreditType]int64{}
		for _, t := range s.cfg.CreditTypes {
			balance[t] = amountOf(own, t)
		}
		out.Points = make([]BalancePoint, len(starts))
		end := now
		for i := len(starts) - 1; i >= 0; i-- {
			p := BalancePoint{At: end, Label: label(starts[i])}
			for _, t := range s.cfg.CreditTypes {
				p.Balances = append(p.Balances, TypeAmount{t, balance[t]})
			}
			out.Points[i] = p
			for t, n := range delta[p.Label] {
				balance[t] -= n
			}
			end = starts[i]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

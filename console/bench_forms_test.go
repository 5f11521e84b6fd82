package console

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
)

// BenchmarkFormCreditPages renders the forms, data, sharing, credits,
// audit and outbox pages for the admin of an umbrella with 200 children
// that each used credits every day for a year, and reports the 50th and
// 99th percentile (target: p99 < 20 ms). The data set: 200 children (73,000
// daily usage rollups and as many ledger entries), a form of 8 questions
// with 1,000 records (the records page shows 50), 200 forms of the
// children in the list, a few hundred audit events and emails.
//
//	go test -run '^$' -bench FormCreditPages ./console/
func BenchmarkFormCreditPages(b *testing.B) {
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			s, pages := benchFormsSite(b, engine)
			renderPages(b, s, pages)
		})
	}
}

func benchFormsSite(b *testing.B, engine string) (*site, []benchPage) {
	b.Helper()
	ctx := context.Background()
	s := newSite(b, siteOptions{engine: engine})
	u := s.umbrella.ID
	s.Fund(b, u)
	var children []*canopy.Account
	for range 200 {
		children = append(children, s.Child(b, u))
	}
	// A year of daily usage by every child, straight into the ledger and
	// its rollups, as 73,000 debits would have left them.
	ids := canopy.NewIDs(s.Clock.Now, nil)
	today := s.Clock.Now().UTC().Truncate(24 * time.Hour)
	var entries []*canopy.LedgerEntry
	flush := func() {
		if err := s.Store.Write(ctx, func(tx store.Tx) error {
			if err := tx.InsertLedgerEntries(ctx, entries); err != nil {
				return err
			}
			return tx.AddUsageDays(ctx, store.UsageDaysOf(entries))
		}); err != nil {
			b.Fatal(err)
		}
		entries = entries[:0]
	}
	for d := range 365 {
		at := today.AddDate(0, 0, -d).Add(9 * time.Hour)
		for i, c := range children {
			ct := canopy.CreditUpload
			if i%3 == 0 {
				ct = canopy.CreditMessage
			}
			entries = append(entries, &canopy.LedgerEntry{ID: ids.New(canopy.PrefixLedgerEntry), At: at, Kind: canopy.EntryUsage, Type: ct,
				Amount: int64(1 + (i+d)%7), Debit: u, Credit: canopy.BookConsumption, UsageAccountID: c.ID, UsagePath: c.Path, UsageRef: "usage"})
		}
		if len(entries) >= 5000 {
			flush()
		}
	}
	flush()

	// A form of eight questions with 1,000 records, and the children's
	// forms for the list.
	f, err := s.Svc.CreateForm(ctx, s.As(b, u), service.FormInput{Name: "Clinic survey", Questions: append(surveyQuestions[:len(surveyQuestions):len(surveyQuestions)],
		canopy.Question{ID: "notes", Label: "Notes", Type: canopy.QuestionText})})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		var in service.RecordInput
		a := fmt.Sprintf(`{"name": "Patient %d", "age": %d, "sex": "%s", "symptoms": ["fever", "cough"], "seen": "2026-11-%02d",
			"where": {"lat": 51.5, "lng": -0.12}, "photo": "https://photos.example/%d.jpg", "notes": "Came in with a cough, sent home with advice."}`,
			i, 20+i%60, []string{"F", "M"}[i%2], 1+i%28, i)
		if err := json.Unmarshal([]byte(a), &in.Answers); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Svc.CreateRecord(ctx, s.As(b, u), f.ID, in); err != nil {
			b.Fatal(err)
		}
	}
	s.BulkForms(b, children, testfactory.BulkFormSpec{PerAccount: 1})
	for i := range 100 {
		if _, err := s.Svc.CreateContact(ctx, s.As(b, children[i].ID), service.ContactInput{Email: fmt.Sprintf("c%d@example.com", i)}); err != nil {
			b.Fatal(err)
		}
	}
	analyze(b, s)
	month := today.AddDate(0, -11, 0)
	year := fmt.Sprintf("?from=%s&to=%s", time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), today.Format(time.DateOnly))
	return s, []benchPage{
		{"forms", app(u, "forms"), false},
		{"form", app(u, "forms", f.ID), false},
		{"records-50", app(u, "forms", f.ID, "records"), false},
		{"records-filtered", app(u, "forms", f.ID, "records") + "?filter.sex=F&filter.symptoms=cough", false},
		{"record", app(u, "forms", f.ID, "records", "new"), false},
		{"sharing", app(u, "forms", f.ID, "sharing"), false},
		{"sharing-web", app(u, "forms", f.ID, "sharing", "web"), false},
		{"sharing-structured-sms", app(u, "forms", f.ID, "sharing", "structured"), false},
		{"credits", app(u, "credits"), false},
		{"credits-usage-200x12-months", app(u, "credits") + year + "&step=month", false},
		{"credits-child", app(u, "credits", children[0].ID), false},
		{"ledger", app(u, "credits", "ledger"), false},
		{"audit", app(u, "audit"), false},
		{"outbox", app(u, "outbox"), false},
	}
}

// analyze refreshes the planner's statistics after the bulk inserts. On
// PostgreSQL it does what autovacuum would soon do to every table: marks
// the pages visible, so that index-only scans need not visit them, and
// counts the rows (without statistics it guessed a handful of audit
// events and records, and sorted thousands for a page of 50). SQLite
// keeps none unless told, and Canopy does not tell it: only the credit
// tables, which the reports' plans were written against, are analyzed.
func analyze(b *testing.B, s *site) {
	db, ok := s.Store.(interface {
		WritePool() *sql.DB
		Engine() string
	})
	if !ok {
		return
	}
	ctx := context.Background()
	if db.Engine() != "postgres" {
		for _, t := range []string{"credit_ledger", "credit_usage_days", "credit_usage_months"} {
			if _, err := db.WritePool().ExecContext(ctx, "ANALYZE "+t); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	rows, err := db.WritePool().QueryContext(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
	if err != nil {
		b.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			b.Fatal(err)
		}
		tables = append(tables, t)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for _, t := range tables {
		if _, err := db.WritePool().ExecContext(ctx, "VACUUM ANALYZE "+t); err != nil {
			b.Fatal(err)
		}
	}
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// Columns that PostgreSQL stores in types stricter than SQLite's: JSON
// (jsonb refuses invalid JSON, \u0000 and lone surrogates) and 32-bit
// integers. A test checks these lists against a migrated PostgreSQL
// schema, so a new column of either kind cannot be forgotten here.
var (
	JSONColumns = []string{
		"accounts.metadata", "audit_events.details", "external_references.metadata",
		"forms.questions", "outbox.data",
	}
	Int32Columns = []string{
		"account_workflows.position", "accounts.depth", "email_counts.sent", "forms.version", "idempotency_keys.status_code",
		"login_attempts.failures", "outbox.attempts", "records.version", "sms_outbox.attempts", "tree_lock.id",
		"form_links.max_submissions", "form_links.submissions", "sms_conversations.question",
		"webhook_deliveries.attempts", "webhook_deliveries.last_status",
	}
)

// Finding is one value PostgreSQL would refuse.
type Finding struct {
	Table, Column string
	Row           string // the row's primary key, or its rowid
	Problem       string
}

// Scanned counts what Portability read.
type Scanned struct {
	Tables, Values int
}

// Portability reads every text, JSON and 32-bit integer value of the
// database and reports each one PostgreSQL would refuse: text that is not
// valid UTF-8 or holds NUL (canopy.TextProblem), JSON it cannot parse or
// holding \u0000 or a lone surrogate, integers beyond 32 bits. Canopy
// refuses all of these at its edge, but a database written by an older
// version may hold them; they are what stops a move to PostgreSQL.
func Portability(ctx context.Context, db *sqlstore.DB, found func(Finding)) (Scanned, error) {
	pool := db.WritePool()
	jsonCol, int32Col := set(JSONColumns), set(Int32Columns)
	tables, err := names(ctx, pool, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		return Scanned{}, err
	}
	var sc Scanned
	for _, table := range tables {
		cols, key, err := columns(ctx, pool, table)
		if err != nil {
			return sc, err
		}
		sc.Tables++
		for _, c := range cols {
			q := c.name
			isJSON, isInt := jsonCol[table+"."+c.name], int32Col[table+"."+c.name]
			if !isJSON && !isInt && !strings.Contains(strings.ToUpper(c.typ), "TEXT") {
				continue
			}
			rows, err := pool.QueryContext(ctx, `SELECT CAST(`+key+` AS TEXT), `+quote(q)+`, typeof(`+quote(q)+`) FROM `+quote(table))
			if err != nil {
				return sc, fmt.Errorf("read %s.%s: %w", table, c.name, err)
			}
			for rows.Next() {
				var (
					row  string
					v    []byte
					kind string
				)
				if err := rows.Scan(&row, &v, &kind); err != nil {
					rows.Close()
					return sc, fmt.Errorf("read %s.%s: %w", table, c.name, err)
				}
				sc.Values++
				if p := problem(v, kind, isJSON, isInt); p != "" {
					found(Finding{Table: table, Column: c.name, Row: row, Problem: p})
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return sc, err
			}
		}
	}
	return sc, nil
}

func problem(v []byte, kind string, isJSON, isInt bool) string {
	switch {
	case kind == "null":
		return ""
	case isInt:
		var n int64
		if _, err := fmt.Sscan(string(v), &n); err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Sprintf("%s is not a 32-bit integer", v)
		}
		return ""
	case kind == "blob" && !isJSON:
		return "" // bytes are bytes (BYTEA) on both engines
	}
	if p := canopy.TextProblem(string(v)); p != "" {
		return p
	}
	if isJSON {
		if !json.Valid(v) {
			return "is not valid JSON"
		}
		if fe := canopy.JSONTextProblem(v, ""); fe != nil {
			return fe.Field + " " + fe.Message
		}
	}
	return ""
}

type column struct{ name, typ string }

// columns lists a table's columns and the expression of its key: the
// primary key's columns, or rowid.
func columns(ctx context.Context, pool *sql.DB, table string) ([]column, string, error) {
	rows, err := pool.QueryContext(ctx, `SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, "", fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	var (
		cols []column
		pk   []string
	)
	for rows.Next() {
		var c column
		var pkPos int
		if err := rows.Scan(&c.name, &c.typ, &pkPos); err != nil {
			return nil, "", err
		}
		cols = append(cols, c)
		if pkPos > 0 {
			pk = append(pk, quote(c.name))
		}
	}
	key := "rowid"
	if len(pk) > 0 {
		key = strings.Join(pk, " || '/' || ")
	}
	return cols, key, rows.Err()
}

func names(ctx context.Context, pool *sql.DB, q string) ([]string, error) {
	rows, err := pool.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

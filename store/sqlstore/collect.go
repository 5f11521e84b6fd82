package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Form codes.

func (t *tx) GetFormCode(ctx context.Context, formID string) (string, error) {
	var code string
	err := t.queryRow(ctx, `SELECT code FROM form_codes WHERE form_id = ?`, formID).Scan(&code)
	return code, t.db.mapErr(err)
}

func (t *tx) InsertFormCode(ctx context.Context, formID, code string, at time.Time) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO form_codes (form_id, code, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, formID, code, at, at)
	if err != nil {
		return false, fmt.Errorf("insert form code: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) SetFormCode(ctx context.Context, formID, code string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO form_codes (form_id, code, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (form_id) DO UPDATE SET code = excluded.code, updated_at = excluded.updated_at`, formID, code, at, at)
	if err != nil {
		return fmt.Errorf("set form code: %w", err)
	}
	return nil
}

// SMS collectors. A collector's state is read with it: opted out when its
// number is on the list, else what became of its one-time message.

const collectorCols = `c.form_id, c.number, c.mode, c.account_id, c.message, c.message_id, c.noticed_at, c.created_at, c.updated_at,
	CASE WHEN o.number IS NOT NULL THEN 'optedOut' WHEN m.status = 'pending' THEN 'pending'
		WHEN m.status = 'failed' THEN 'failed' ELSE 'active' END`

const collectorsFrom = ` FROM sms_collectors c LEFT JOIN sms_opt_outs o ON o.number = c.number
	LEFT JOIN sms_outbox m ON m.id = c.message_id `

func scanCollector(r rowScanner) (*canopy.SMSCollector, error) {
	var (
		c                     canopy.SMSCollector
		msgID                 sql.NullString
		noticed, created, upd dbTime
	)
	if err := r.Scan(&c.FormID, &c.Number, &c.Mode, &c.AccountID, &c.Message, &msgID, &noticed, &created, &upd, &c.State); err != nil {
		return nil, err
	}
	c.MessageID, c.NoticedAt, c.CreatedAt, c.UpdatedAt = msgID.String, noticed.ptr(), created.T, upd.T
	return &c, nil
}

func (t *tx) PutSMSCollector(ctx context.Context, c *canopy.SMSCollector) error {
	_, err := t.exec(ctx, `INSERT INTO sms_collectors (form_id, number, mode, account_id, message, message_id, noticed_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)
		ON CONFLICT (form_id, number) DO UPDATE SET mode = excluded.mode, account_id = excluded.account_id, message = excluded.message,
			message_id = excluded.message_id, noticed_at = NULL, updated_at = excluded.updated_at`,
		c.FormID, c.Number, string(c.Mode), c.AccountID, c.Message, nullable(c.MessageID), c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put sms collector: %w", err)
	}
	return nil
}

func (t *tx) GetSMSCollector(ctx context.Context, formID, number string) (*canopy.SMSCollector, error) {
	c, err := scanCollector(t.queryRow(ctx, `SELECT `+collectorCols+collectorsFrom+`WHERE c.form_id = ? AND c.number = ?`, formID, number))
	return c, t.db.mapErr(err)
}

func (t *tx) CollectorByCode(ctx context.Context, code, number string) (*canopy.SMSCollector, error) {
	c, err := scanCollector(t.queryRow(ctx, `SELECT `+collectorCols+collectorsFrom+`
		JOIN form_codes fc ON fc.form_id = c.form_id WHERE fc.code = ? AND c.number = ?`, code, number))
	return c, t.db.mapErr(err)
}

func (t *tx) CollectorsByCode(ctx context.Context, pairs []store.CodeNumber) ([]store.CodeCollector, error) {
	var out []store.CodeCollector
	for len(pairs) > 0 {
		// The pairs are a list of rows the query starts from, each one probe
		// of the code's index and one of the collector's key. An OR of
		// (code, number) equalities let SQLite, which keeps no statistics,
		// take a form's collectors as few and test every one of them against
		// every pair: 17 ms for 64 pairs on a form of 1,000 numbers against
		// 0.5 ms this way. The list is padded with its last pair to a power
		// of two, so a few statement texts serve every count and stay
		// prepared.
		n := min(len(pairs), 64)
		w := widthBucket(n)
		args := make([]any, 0, 2*w)
		for i := range w {
			p := pairs[min(i, n-1)]
			args = append(args, p.Code, p.Number)
		}
		found, err := scanAll(ctx, t, func(r rowScanner) (store.CodeCollector, error) {
			var cc store.CodeCollector
			var code string
			c, err := scanCollector(prefixScanner{r, &code})
			cc.Code, cc.Collector = code, c
			return cc, err
		}, `WITH pairs (code, number) AS (VALUES `+rows(w, 2)+`)
			SELECT DISTINCT fc.code, `+collectorCols+` FROM pairs p JOIN form_codes fc ON fc.code = p.code
			JOIN sms_collectors c ON c.form_id = fc.form_id AND c.number = p.number
			LEFT JOIN sms_opt_outs o ON o.number = c.number LEFT JOIN sms_outbox m ON m.id = c.message_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("collectors by code: %w", err)
		}
		out = append(out, found...)
		pairs = pairs[n:]
	}
	return out, nil
}

// prefixScanner scans a row's first column into first, the rest with the
// scanner it is given to.
type prefixScanner struct {
	r     rowScanner
	first any
}

func (p prefixScanner) Scan(dest ...any) error { return p.r.Scan(append([]any{p.first}, dest...)...) }

func (t *tx) ListSMSCollectors(ctx context.Context, formID string, mode canopy.SMSMode, p store.Page) ([]*canopy.SMSCollector, error) {
	return scanAll(ctx, t, scanCollector, `SELECT `+collectorCols+collectorsFrom+`
		WHERE c.form_id = ? AND (? = '' OR c.mode = ?) AND c.number > ? ORDER BY c.number LIMIT ?`,
		formID, string(mode), string(mode), p.After, p.Limit)
}

func (t *tx) CountSMSCollectors(ctx context.Context, formID string) (map[canopy.SMSMode]int, error) {
	rows, err := t.query(ctx, `SELECT mode, COUNT(*) FROM sms_collectors WHERE form_id = ? GROUP BY mode`, formID)
	if err != nil {
		return nil, fmt.Errorf("count sms collectors: %w", err)
	}
	defer rows.Close()
	out := map[canopy.SMSMode]int{}
	for rows.Next() {
		var (
			mode canopy.SMSMode
			n    int
		)
		if err := rows.Scan(&mode, &n); err != nil {
			return nil, err
		}
		out[mode] = n
	}
	return out, rows.Err()
}

func (t *tx) DeleteSMSCollector(ctx context.Context, formID, number string) error {
	// Its conversation goes with it (ON DELETE CASCADE).
	res, err := t.exec(ctx, `DELETE FROM sms_collectors WHERE form_id = ? AND number = ?`, formID, number)
	if err != nil {
		return fmt.Errorf("delete sms collector: %w", err)
	}
	return expectOne(res)
}

func (t *tx) CollectorsOf(ctx context.Context, number string) ([]*canopy.SMSCollector, error) {
	return scanAll(ctx, t, scanCollector, `SELECT `+collectorCols+collectorsFrom+`
		WHERE c.number = ? ORDER BY c.updated_at DESC, c.form_id`, number)
}

func (t *tx) AccountCollectorNumbers(ctx context.Context, accountID string, limit int) ([]string, error) {
	return scanAll(ctx, t, scanString, `SELECT DISTINCT number FROM sms_collectors WHERE account_id = ? ORDER BY number LIMIT ?`,
		accountID, limit)
}

func scanString(r rowScanner) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

func (t *tx) SetCollectorNoticed(ctx context.Context, formID, number string, at *time.Time) error {
	res, err := t.exec(ctx, `UPDATE sms_collectors SET noticed_at = ? WHERE form_id = ? AND number = ?`, timePtrArg(at), formID, number)
	if err != nil {
		return fmt.Errorf("set collector noticed: %w", err)
	}
	return expectOne(res)
}

// Conversations.

const conversationCols = `form_id, number, question, answers, started_at, updated_at`

func scanConversation(r rowScanner) (*canopy.SMSConversation, error) {
	var (
		c            canopy.SMSConversation
		answers      string
		started, upd dbTime
	)
	if err := r.Scan(&c.FormID, &c.Number, &c.Question, &answers, &started, &upd); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(answers), &c.Answers); err != nil {
		return nil, fmt.Errorf("conversation answers: %w", err)
	}
	c.StartedAt, c.UpdatedAt = started.T, upd.T
	return &c, nil
}

func (t *tx) GetSMSConversation(ctx context.Context, formID, number string) (*canopy.SMSConversation, error) {
	c, err := scanConversation(t.queryRow(ctx, `SELECT `+conversationCols+` FROM sms_conversations WHERE form_id = ? AND number = ?`,
		formID, number))
	return c, t.db.mapErr(err)
}

func (t *tx) LatestSMSConversation(ctx context.Context, number string, since time.Time) (*canopy.SMSConversation, error) {
	c, err := scanConversation(t.queryRow(ctx, `SELECT `+conversationCols+` FROM sms_conversations
		WHERE number = ? AND updated_at >= ? ORDER BY updated_at DESC, form_id LIMIT 1`, number, since))
	return c, t.db.mapErr(err)
}

func (t *tx) PutSMSConversation(ctx context.Context, c *canopy.SMSConversation) error {
	answers := c.Answers
	if answers == nil {
		answers = map[string]json.RawMessage{}
	}
	raw, err := json.Marshal(answers)
	if err != nil {
		return fmt.Errorf("conversation answers: %w", err)
	}
	_, err = t.exec(ctx, `INSERT INTO sms_conversations (`+conversationCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (form_id, number) DO UPDATE SET question = excluded.question, answers = excluded.answers,
			started_at = excluded.started_at, updated_at = excluded.updated_at`,
		c.FormID, c.Number, c.Question, string(raw), c.StartedAt, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put sms conversation: %w", err)
	}
	return nil
}

func (t *tx) DeleteSMSConversations(ctx context.Context, number, formID string) error {
	_, err := t.exec(ctx, `DELETE FROM sms_conversations WHERE number = ? AND (? = '' OR form_id = ?)`, number, formID, formID)
	if err != nil {
		return fmt.Errorf("delete sms conversations: %w", err)
	}
	return nil
}

func (t *tx) DeleteIdleSMSConversations(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM sms_conversations WHERE updated_at < ?`, before)
	if err != nil {
		return 0, fmt.Errorf("delete idle sms conversations: %w", err)
	}
	return res.RowsAffected()
}

// The opt-out list.

func (t *tx) PutSMSOptOut(ctx context.Context, number string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO sms_opt_outs (number, created_at) VALUES (?, ?) ON CONFLICT (number) DO NOTHING`, number, at)
	if err != nil {
		return fmt.Errorf("put sms opt-out: %w", err)
	}
	return nil
}

func (t *tx) DeleteSMSOptOut(ctx context.Context, number string) error {
	if _, err := t.exec(ctx, `DELETE FROM sms_opt_outs WHERE number = ?`, number); err != nil {
		return fmt.Errorf("delete sms opt-out: %w", err)
	}
	return nil
}

func (t *tx) OptedOut(ctx context.Context, numbers []string) ([]string, error) {
	if len(numbers) == 0 {
		return nil, nil
	}
	args := make([]any, len(numbers))
	for i, n := range numbers {
		args[i] = n
	}
	return scanAll(ctx, t, scanString, `SELECT number FROM sms_opt_outs WHERE number IN (`+placeholders(len(numbers))+`) ORDER BY number`, args...)
}

// Provider message ids.

func (t *tx) ClaimInboundSMS(ctx context.Context, sid, from string, at time.Time) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO sms_inbound (message_sid, from_number, received_at) VALUES (?, ?, ?)
		ON CONFLICT (message_sid) DO NOTHING`, sid, from, at)
	if err != nil {
		return false, fmt.Errorf("claim inbound sms: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) ClaimInboundSMSs(ctx context.Context, claims []store.InboundClaim, at time.Time) ([]string, error) {
	var claimed []string
	for done := 0; done < len(claims); {
		k := t.rowsPerStatement(len(claims)-done, 64)
		args := make([]any, 0, 3*k)
		for _, c := range claims[done : done+k] {
			args = append(args, c.SID, c.From, at)
		}
		got, err := scanAll(ctx, t, scanString, `INSERT INTO sms_inbound (message_sid, from_number, received_at) VALUES `+rows(k, 3)+`
			ON CONFLICT (message_sid) DO NOTHING RETURNING message_sid`, args...)
		if err != nil {
			return nil, fmt.Errorf("claim inbound sms: %w", err)
		}
		claimed = append(claimed, got...)
		done += k
	}
	return claimed, nil
}

func (t *tx) DeleteInboundSMSBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM sms_inbound WHERE received_at < ?`, before)
	if err != nil {
		return 0, fmt.Errorf("delete inbound sms: %w", err)
	}
	return res.RowsAffected()
}

// Web links.

const formLinkCols = `id, form_id, account_id, token, expires_at, max_submissions, submissions, revoked_at, created_at`

func scanFormLink(r rowScanner) (*canopy.FormLink, error) {
	var (
		l                         canopy.FormLink
		max                       sql.NullInt64
		expires, revoked, created dbTime
	)
	if err := r.Scan(&l.ID, &l.FormID, &l.AccountID, &l.Token, &expires, &max, &l.Submissions, &revoked, &created); err != nil {
		return nil, err
	}
	if max.Valid {
		n := int(max.Int64)
		l.MaxSubmissions = &n
	}
	l.ExpiresAt, l.RevokedAt, l.CreatedAt = expires.ptr(), revoked.ptr(), created.T
	return &l, nil
}

func (t *tx) InsertFormLink(ctx context.Context, l *canopy.FormLink) error {
	var max any
	if l.MaxSubmissions != nil {
		max = *l.MaxSubmissions
	}
	_, err := t.exec(ctx, `INSERT INTO form_links (`+formLinkCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.FormID, l.AccountID, l.Token, timePtrArg(l.ExpiresAt), max, l.Submissions, timePtrArg(l.RevokedAt), l.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert form link: %w", err)
	}
	return nil
}

func (t *tx) GetFormLink(ctx context.Context, id string) (*canopy.FormLink, error) {
	l, err := scanFormLink(t.queryRow(ctx, `SELECT `+formLinkCols+` FROM form_links WHERE id = ?`, id))
	return l, t.db.mapErr(err)
}

func (t *tx) GetFormLinkByToken(ctx context.Context, token string) (*canopy.FormLink, error) {
	l, err := scanFormLink(t.queryRow(ctx, `SELECT `+formLinkCols+` FROM form_links WHERE token = ?`, token))
	return l, t.db.mapErr(err)
}

func (t *tx) ListFormLinks(ctx context.Context, formID string, p store.Page) ([]*canopy.FormLink, error) {
	return scanAll(ctx, t, scanFormLink, `SELECT `+formLinkCols+` FROM form_links WHERE form_id = ? AND id > ? ORDER BY id LIMIT ?`,
		formID, p.After, p.Limit)
}

func (t *tx) RevokeFormLink(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE form_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, at, id)
	if err != nil {
		return fmt.Errorf("revoke form link: %w", err)
	}
	return expectOne(res)
}

func (t *tx) CountFormLinkSubmission(ctx context.Context, id string) (bool, error) {
	res, err := t.exec(ctx, `UPDATE form_links SET submissions = submissions + 1
		WHERE id = ? AND (max_submissions IS NULL OR submissions < max_submissions)`, id)
	if err != nil {
		return false, fmt.Errorf("count form link submission: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Rows written in bulk by a batch of incoming texts.

func (t *tx) InsertRecords(ctx context.Context, rs []*canopy.Record) error {
	return insertRows(ctx, t, `INSERT INTO records (`+recordCols+`) VALUES `, columns(recordCols), len(rs), func(i int) ([]any, error) {
		return recordArgs(rs[i])
	})
}

func (t *tx) InsertAuditEvents(ctx context.Context, es []*canopy.AuditEvent) error {
	return insertRows(ctx, t, `INSERT INTO audit_events (`+auditCols+`) VALUES `, columns(auditCols), len(es), func(i int) ([]any, error) {
		return auditArgs(es[i]), nil
	})
}

// columns counts the columns of a column list.
func columns(cols string) int { return strings.Count(cols, ",") + 1 }

// insertRows inserts n rows of width values each (row(i) gives row i's)
// with head ("INSERT INTO t (…) VALUES "), up to 64 rows a statement, in
// groups of a power of two where the engine wants few statement texts
// (see Dialect.ExactRowCounts).
func insertRows(ctx context.Context, t *tx, head string, width, n int, row func(i int) ([]any, error)) error {
	for done := 0; done < n; {
		k := t.rowsPerStatement(n-done, 64)
		args := make([]any, 0, k*width)
		for i := done; i < done+k; i++ {
			vals, err := row(i)
			if err != nil {
				return err
			}
			args = append(args, vals...)
		}
		if _, err := t.exec(ctx, head+rows(k, width), args...); err != nil {
			return fmt.Errorf("insert %d rows: %w", k, err)
		}
		done += k
	}
	return nil
}

package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// hivInfo is the form of the seed's example text HIVINFO#Ada#F#34.
var hivInfo = service.FormInput{Name: "HIV info", Questions: []canopy.Question{
	{ID: "name", Label: "Name", Type: canopy.QuestionText, Required: true},
	{ID: "sex", Label: "Sex", Type: canopy.QuestionChoice, Options: []string{"Female", "Male"}, Required: true},
	{ID: "age", Label: "Age", Type: canopy.QuestionNumber, Required: true},
	{ID: "visit", Label: "Visit date", Type: canopy.QuestionDate},
}}

// fieldWorld is root → umbrella (pro) → sub (pro, billing: parent) and
// its sibling; sub owns an HIV info form; the umbrella holds the credits.
type fieldWorld struct {
	b                      *testfactory.Bundle
	umbrella, sub, sibling *canopy.Account
	form                   *service.FormView
	n                      int
}

func newFieldWorld(t *testing.T, db *sqlstore.DB) *fieldWorld {
	t.Helper()
	b := testfactory.New(t, db)
	w := &fieldWorld{b: b}
	child := func(parent string, plan canopy.Plan) *canopy.Account {
		in := b.ChildInput()
		in.Account.Plan = plan
		res, err := b.Svc.CreateChild(context.Background(), b.As(t, parent), in)
		require.NoError(t, err)
		return res.Account
	}
	w.umbrella = child(b.Root.ID, canopy.PlanPro)
	b.Activate(t, w.umbrella.ID) // its admins proved their address: low-balance notices reach them
	w.sub = child(w.umbrella.ID, canopy.PlanPro)
	w.sibling = child(w.umbrella.ID, canopy.PlanPro)
	grant(t, b, w.umbrella.ID, canopy.CreditUpload, 1000)
	grant(t, b, w.umbrella.ID, canopy.CreditMessage, 1000)
	f, err := b.Svc.CreateForm(context.Background(), b.As(t, w.sub.ID), hivInfo)
	require.NoError(t, err)
	w.form = f
	return w
}

func (w *fieldWorld) as(t *testing.T, a *canopy.Account) service.Caller { return w.b.As(t, a.ID) }

// collectors authorises numbers on the form, as the sub-account.
func (w *fieldWorld) collectors(t *testing.T, mode canopy.SMSMode, numbers ...string) *service.CollectorsAdded {
	t.Helper()
	res, err := w.b.Svc.AddCollectors(context.Background(), w.as(t, w.sub), w.form.ID, service.CollectorsInput{Numbers: numbers, Mode: mode})
	require.NoError(t, err)
	return res
}

// text takes in a text from a number with a fresh provider message id.
func (w *fieldWorld) text(t *testing.T, from, body string) *service.InboundResult {
	t.Helper()
	w.n++
	return w.textSID(t, fmt.Sprintf("SM%032d", w.n), from, body)
}

func (w *fieldWorld) textSID(t *testing.T, sid, from, body string) *service.InboundResult {
	t.Helper()
	res, err := w.b.Svc.ReceiveSMS(context.Background(), canopy.InboundSMS{SID: sid, From: from, To: "+15005550006", Body: body}, "req")
	require.NoError(t, err)
	return res
}

func (w *fieldWorld) records(t *testing.T) []*canopy.Record {
	t.Helper()
	page, err := w.b.Svc.ListRecords(context.Background(), w.as(t, w.sub), w.form.ID, service.RecordQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	return page.Data
}

func replyBodies(res *service.InboundResult) []string {
	out := []string{}
	for _, r := range res.Replies {
		out = append(out, r.Body)
	}
	return out
}

var defaultCode = regexp.MustCompile(`^U[0-9]{5}$`)

// TestFormCodes: a form gets a random default code (U and five digits)
// when it first collects by SMS; its owner may change it, case-insensitive
// and unique in the installation (409 when taken), and the old code stops
// working at once.
func TestFormCodes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newFieldWorld(t, db)
		settings, err := w.b.Svc.GetSMSSettings(ctx, w.as(t, w.sub), w.form.ID)
		require.NoError(t, err)
		require.Nil(t, settings.Code, "no code before the form collects by SMS")
		added := w.collectors(t, canopy.SMSStructured, "+15551230000")
		require.Regexp(t, defaultCode, added.Code)
		settings, err = w.b.Svc.GetSMSSettings(ctx, w.as(t, w.sub), w.form.ID)
		require.NoError(t, err)
		require.Equal(t, added.Code, *settings.Code)
		require.Equal(t, added.Code+"#Name#Sex#Age#Visit date", *settings.Structured)
		require.Equal(t, 1, settings.Collectors.Structured)
		require.Equal(t, []string{"#", "+", "*"}, settings.Separators)

		other, err := w.b.Svc.CreateForm(ctx, w.as(t, w.sibling), survey)
		require.NoError(t, err)
		_, err = w.b.Svc.UpdateSMSSettings(ctx, w.as(t, w.sibling), other.ID, service.SMSSettingsPatch{Code: ptr("hivinfo")})
		require.NoError(t, err)
		for _, tc := range []struct {
			name string
			as   *canopy.Account
			code string
			kind canopy.Kind
			errc string
		}{
			{"taken, in another case", w.sub, "HivInfo", canopy.KindConflict, service.CodeFormCodeTaken},
			{"too short", w.sub, "AB", canopy.KindInvalid, canopy.CodeValidation},
			{"not letters and digits", w.sub, "HIV-INFO", canopy.KindInvalid, canopy.CodeValidation},
			{"a keyword", w.sub, "stop", canopy.KindInvalid, canopy.CodeValidation},
			{"a dataManager is not the owner", w.umbrella, "UMBRELLA1", canopy.KindForbidden, canopy.CodeForbidden},
			{"a sibling cannot see the form", w.sibling, "SIBLING1", canopy.KindNotFound, canopy.CodeNotFound},
		} {
			_, err := w.b.Svc.UpdateSMSSettings(ctx, w.as(t, tc.as), w.form.ID, service.SMSSettingsPatch{Code: &tc.code})
			require.Equal(t, tc.kind, canopy.ErrorKind(err), "%s: %v", tc.name, err)
			require.Equal(t, tc.errc, canopy.ErrorCode(err), tc.name)
		}
		settings, err = w.b.Svc.UpdateSMSSettings(ctx, w.as(t, w.sub), w.form.ID, service.SMSSettingsPatch{Code: ptr(" clinic7 ")})
		require.NoError(t, err)
		require.Equal(t, "CLINIC7", *settings.Code)

		res := w.text(t, "+15551230000", added.Code+"#Ada#F#34")
		require.Equal(t, service.InboundIgnored, res.Outcome, "the old code stopped working")
		res = w.text(t, "+15551230000", "clinic7#Ada#F#34")
		require.Equal(t, service.InboundRecord, res.Outcome)
		requireVerified(t, w.b)
	})
}

// TestCollectorsAreAuthorisedAndPaidByTheirAccount: numbers are added per
// mode by an account that edits the form's data — the owner, or an
// ancestor through its link — each gets a one-time message, and the
// account's payer pays one message credit each, in the same transaction
// (402 authorises nothing). Bad numbers are named; a basic account alone
// may authorise one number.
func TestCollectorsAreAuthorisedAndPaidByTheirAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newFieldWorld(t, db)
		before := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditMessage)
		added := w.collectors(t, canopy.SMSStructured, "+15551230001", "+15551230002")
		require.Equal(t, w.umbrella.ID, added.PayerID, "the sub-account's payer")
		require.EqualValues(t, 2, added.Credits)
		require.Len(t, added.Messages, 2)
		require.Equal(t, "HIV info: to send data, text "+added.Code+"#Name#Sex#Age#Visit date, the answers in this order. "+
			"Sex: one of 1 Female, 2 Male. Reply HELP for help, STOP to stop.", added.Messages[0].Body)
		require.EqualValues(t, before-2, balanceOf(t, w.b, w.umbrella.ID, canopy.CreditMessage))
		for _, c := range added.Collectors {
			require.Equal(t, canopy.CollectorPending, c.State)
			require.Equal(t, w.sub.ID, c.AccountID)
		}

		// The umbrella, a dataManager through its link, sets up its own.
		res, err := w.b.Svc.AddCollectors(ctx, w.as(t, w.umbrella), w.form.ID, service.CollectorsInput{
			Numbers: []string{"+15551230003"}, Mode: canopy.SMSInteractive, Message: "Umbrella survey"})
		require.NoError(t, err)
		require.Equal(t, "Umbrella survey. Reply to each question; reply STOP to stop. Q1/4 Name", res.Messages[0].Body)
		require.Equal(t, w.umbrella.ID, res.Collectors[0].AccountID)

		list, err := w.b.Svc.ListCollectors(ctx, w.as(t, w.sub), w.form.ID, service.CollectorQuery{}, service.PageRequest{Limit: 2})
		require.NoError(t, err)
		require.Len(t, list.Data, 2)
		require.NotNil(t, list.NextCursor)
		rest, err := w.b.Svc.ListCollectors(ctx, w.as(t, w.sub), w.form.ID, service.CollectorQuery{}, service.PageRequest{Cursor: *list.NextCursor})
		require.NoError(t, err)
		require.Equal(t, "+15551230003", rest.Data[0].Number)
		inter, err := w.b.Svc.ListCollectors(ctx, w.as(t, w.sub), w.form.ID, service.CollectorQuery{Mode: canopy.SMSInteractive}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, inter.Data, 1)

		// Roles, numbers, plans and credits.
		_, err = w.b.Svc.PutShare(ctx, w.as(t, w.sub), w.form.ID, w.umbrella.ID, canopy.RoleViewer)
		require.NoError(t, err)
		one := service.CollectorsInput{Numbers: []string{"+15551230009"}, Mode: canopy.SMSStructured}
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, w.umbrella), w.form.ID, one)
		require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err), "a viewer may not: %v", err)
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, w.sibling), w.form.ID, one)
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err))
		for _, tc := range []struct {
			name   string
			in     service.CollectorsInput
			fields []string
		}{
			{"bad numbers", service.CollectorsInput{Numbers: []string{"+15551234567", "555-1234", "+0123456789", "+15551234567"}, Mode: canopy.SMSStructured},
				[]string{"numbers[1]", "numbers[2]", "numbers[3]"}},
			{"no mode", service.CollectorsInput{Numbers: []string{"+15551234567"}}, []string{"mode"}},
			{"unknown mode", service.CollectorsInput{Numbers: []string{"+15551234567"}, Mode: "carrier-pigeon"}, []string{"mode"}},
			{"no numbers", service.CollectorsInput{Mode: canopy.SMSStructured}, []string{"numbers"}},
			{"too many", service.CollectorsInput{Numbers: numbers(101), Mode: canopy.SMSStructured}, []string{"numbers"}},
			{"long message", service.CollectorsInput{Numbers: []string{"+15551234567"}, Mode: canopy.SMSStructured,
				Message: strings.Repeat("x", service.MaxCollectorMessage+1)}, []string{"message"}},
		} {
			_, err := w.b.Svc.AddCollectors(ctx, w.as(t, w.sub), w.form.ID, tc.in)
			require.Equal(t, tc.fields, fieldsOf(t, err), tc.name)
		}
		blank, err := w.b.Svc.CreateForm(ctx, w.as(t, w.sub), service.FormInput{Name: "Blank"})
		require.NoError(t, err)
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, w.sub), blank.ID, service.CollectorsInput{Numbers: []string{"+15551234567"}, Mode: canopy.SMSInteractive})
		require.Equal(t, []string{"mode"}, fieldsOf(t, err), "no question to ask")

		// 402: the umbrella's last message credits are not enough for three.
		left := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditMessage)
		_, err = w.b.Svc.Transfer(ctx, w.as(t, w.umbrella), w.sibling.ID, service.GrantInput{Type: canopy.CreditMessage, Amount: left - 2})
		require.NoError(t, err)
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, w.sub), w.form.ID, service.CollectorsInput{
			Numbers: []string{"+15551239001", "+15551239002", "+15551239003"}, Mode: canopy.SMSStructured})
		require.Equal(t, canopy.CodeInsufficientCredits, canopy.ErrorCode(err))
		all, err := w.b.Svc.ListCollectors(ctx, w.as(t, w.sub), w.form.ID, service.CollectorQuery{}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, all.Data, 3, "a refused request authorises nothing")

		// A basic account alone may try one number.
		basic := w.b.Child(t, w.b.Root.ID)
		w.b.Fund(t, basic.ID)
		f, err := w.b.Svc.CreateForm(ctx, w.as(t, basic), hivInfo)
		require.NoError(t, err)
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, basic), f.ID, service.CollectorsInput{Numbers: []string{"+15557770001", "+15557770002"}, Mode: canopy.SMSStructured})
		require.Equal(t, canopy.CodePlanNotAllowed, canopy.ErrorCode(err))
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, basic), f.ID, service.CollectorsInput{Numbers: []string{"+15557770001"}, Mode: canopy.SMSStructured})
		require.NoError(t, err)
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, basic), f.ID, service.CollectorsInput{Numbers: []string{"+15557770001"}, Mode: canopy.SMSInteractive})
		require.NoError(t, err, "the same number again, in the other mode")
		_, err = w.b.Svc.AddCollectors(ctx, w.as(t, basic), f.ID, service.CollectorsInput{Numbers: []string{"+15557770002"}, Mode: canopy.SMSStructured})
		require.Equal(t, canopy.CodePlanNotAllowed, canopy.ErrorCode(err))

		// Removing one: its texts are ignored from then on.
		require.NoError(t, w.b.Svc.DeleteCollector(ctx, w.as(t, w.sub), w.form.ID, "+15551230002"))
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(w.b.Svc.DeleteCollector(ctx, w.as(t, w.sub), w.form.ID, "+15551230002")))
		require.Equal(t, canopy.KindBadRequest, canopy.ErrorKind(w.b.Svc.DeleteCollector(ctx, w.as(t, w.sub), w.form.ID, "5551230002")))
		require.Equal(t, service.InboundIgnored, w.text(t, "+15551230002", added.Code+"#Ada#F#34").Outcome)
		requireVerified(t, w.b)
	})
}

// TestStructuredSMS: a text CODE#answer#… from an authorised structured
// collector makes one record, checked as the API checks answers, and a
// short confirmation; a wrong text gets a reply naming its first wrong
// answer and what it expects, and makes no record. Other numbers are
// ignored, and a provider's retry of a text does nothing twice. Every
// reply costs a message credit and every record an upload credit.
func TestStructuredSMS(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newFieldWorld(t, db)
		const collector = "+15551230000"
		code := w.collectors(t, canopy.SMSStructured, collector).Code
		uploads, messages := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload), balanceOf(t, w.b, w.umbrella.ID, canopy.CreditMessage)
		for _, tc := range []struct {
			name, body string
			outcome    service.InboundOutcome
			answers    string // of the record made
			reply      string
		}{
			{"the seed's example", code + "#Ada#F#34", service.InboundRecord,
				`{"age":34,"name":"Ada","sex":"Female"}`, code + ": thank you, your answers were saved."},
			{"choices by number, a date, lower-case code, spaces", " " + strings.ToLower(code) + " # Bo # 2 # 41 # 2026-11-20 ", service.InboundRecord,
				`{"age":41,"name":"Bo","sex":"Male","visit":"2026-11-20"}`, ""},
			{"+ where the keypad has no #", code + "+Cy+female+7.5", service.InboundRecord, `{"age":7.5,"name":"Cy","sex":"Female"}`, ""},
			{"* too, and a skipped optional answer", code + "*Di*m*60*-", service.InboundRecord, `{"age":60,"name":"Di","sex":"Male"}`, ""},
			{"a number that is not", code + "#Ed#F#old", service.InboundInvalid, "",
				code + ": answer 3 (Age) must be a number. Nothing was saved; text " + code + "#Name#Sex#Age#Visit date"},
			{"a choice that is none", code + "#Ed#X#30", service.InboundInvalid, "",
				code + ": answer 2 (Sex) must be one of 1 Female, 2 Male. Nothing was saved; text " + code + "#Name#Sex#Age#Visit date"},
			{"a date that is not", code + "#Ed#F#30#yesterday", service.InboundInvalid, "",
				code + ": answer 4 (Visit date) must be a date such as 2026-11-23. Nothing was saved; text " + code + "#Name#Sex#Age#Visit date"},
			{"a missing answer", code + "#Ed#F", service.InboundInvalid, "",
				code + ": answer 3 (Age) is missing. Nothing was saved; text " + code + "#Name#Sex#Age#Visit date"},
			{"the code alone", code, service.InboundInvalid, "",
				code + ": answer 1 (Name) is missing. Nothing was saved; text " + code + "#Name#Sex#Age#Visit date"},
			{"too many answers", code + "#Ed#F#30#2026-11-20#extra", service.InboundInvalid, "",
				code + ": 5 answers, but the form has 4 questions. Nothing was saved; text " + code + "#Name#Sex#Age#Visit date"},
		} {
			before := len(w.records(t))
			res := w.text(t, collector, tc.body)
			require.Equal(t, tc.outcome, res.Outcome, tc.name)
			require.Len(t, res.Replies, 1, tc.name)
			if tc.reply != "" {
				require.Equal(t, tc.reply, res.Replies[0].Body, tc.name)
			}
			recs := w.records(t)
			if tc.answers == "" {
				require.Len(t, recs, before, "%s: no record", tc.name)
				continue
			}
			require.Len(t, recs, before+1, tc.name)
			got, err := json.Marshal(recs[len(recs)-1].Answers)
			require.NoError(t, err)
			require.JSONEq(t, tc.answers, string(got), tc.name)
			require.Equal(t, res.RecordID, recs[len(recs)-1].ID)
			require.Equal(t, "sms:"+collector, recs[len(recs)-1].CreatedBy)
			require.Equal(t, w.sub.ID, recs[len(recs)-1].AccountID, "collected by the account that authorised the number")
		}
		require.EqualValues(t, uploads-4, balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload), "one upload per record")
		require.EqualValues(t, messages-10, balanceOf(t, w.b, w.umbrella.ID, canopy.CreditMessage), "one message per reply")

		// A number that is not authorised, and one that is for another mode.
		ignored := w.text(t, "+15559990000", code+"#Ada#F#34")
		require.Equal(t, service.InboundIgnored, ignored.Outcome)
		require.Empty(t, ignored.Replies)
		require.Equal(t, service.InboundIgnored, w.text(t, collector, "hello").Outcome, "no code, no conversation")

		// The provider retries a text: it is taken in once.
		n := len(w.records(t))
		first := w.textSID(t, "SMretry", collector, code+"#Fay#F#22")
		require.Equal(t, service.InboundRecord, first.Outcome)
		again := w.textSID(t, "SMretry", collector, code+"#Fay#F#22")
		require.Equal(t, service.InboundDuplicate, again.Outcome)
		require.Empty(t, again.Replies)
		require.Len(t, w.records(t), n+1)
		requireVerified(t, w.b)
	})
}

// TestInteractiveSMS: adding an interactive collector asks question 1;
// each reply answers the question asked last, a wrong one is asked again
// with a hint, and after the last the record is saved and a thank-you
// sent. Texting the code starts a new conversation; one idle for longer
// than the limit ends unsaved.
func TestInteractiveSMS(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newFieldWorld(t, db)
		const collector = "+15551230000"
		added := w.collectors(t, canopy.SMSInteractive, collector)
		require.True(t, strings.HasSuffix(added.Messages[0].Body, "Q1/4 Name"), added.Messages[0].Body)

		steps := []struct {
			text    string
			outcome service.InboundOutcome
			reply   string
		}{
			{"Ada", service.InboundAnswered, "Q2/4 Sex Reply one of 1 Female, 2 Male."},
			{"maybe", service.InboundInvalid, "Please answer with one of 1 Female, 2 Male. Q2/4 Sex Reply one of 1 Female, 2 Male."},
			{"1", service.InboundAnswered, "Q3/4 Age (a number)"},
			{"thirty", service.InboundInvalid, "Please answer with a number. Q3/4 Age (a number)"},
			{"", service.InboundInvalid, "This question needs an answer. Q3/4 Age (a number)"},
			{"34", service.InboundAnswered, "Q4/4 Visit date (a date such as 2026-11-23) Reply - to skip."},
			{"-", service.InboundRecord, "Thank you: your answers to HIV info were saved."},
		}
		for _, s := range steps {
			res := w.text(t, collector, s.text)
			require.Equal(t, s.outcome, res.Outcome, s.text)
			require.Equal(t, []string{s.reply}, replyBodies(res), s.text)
		}
		recs := w.records(t)
		require.Len(t, recs, 1)
		got, err := json.Marshal(recs[0].Answers)
		require.NoError(t, err)
		require.JSONEq(t, `{"name":"Ada","sex":"Female","age":34}`, string(got))
		require.Equal(t, service.InboundIgnored, w.text(t, collector, "more").Outcome, "the conversation ended")

		// Texting the code starts again; an idle conversation ends unsaved.
		res := w.text(t, collector, added.Code)
		require.Equal(t, service.InboundStarted, res.Outcome)
		require.Equal(t, []string{"Q1/4 Name"}, replyBodies(res))
		require.Equal(t, service.InboundAnswered, w.text(t, collector, "Bo").Outcome)
		w.b.Clock.Advance(23 * time.Hour)
		require.Equal(t, service.InboundAnswered, w.text(t, collector, "m").Outcome, "23 h idle: still going")
		w.b.Clock.Advance(24*time.Hour + time.Second)
		require.Equal(t, service.InboundIgnored, w.text(t, collector, "40").Outcome, "over 24 h idle: ended")
		n, err := w.b.Svc.ExpireSMSConversations(context.Background())
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "and cleared away")
		require.Len(t, w.records(t), 1)
		requireVerified(t, w.b)
	})
}

// TestOptOutAndHelp: STOP (or a synonym) stops every message to the
// number from the whole installation — queued ones fail and are refunded,
// new ones are not queued — until START; HELP answers with the brand of
// the account the number collects for and how to stop. Unknown numbers
// get nothing.
func TestOptOutAndHelp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newFieldWorld(t, db)
		_, err := w.b.Svc.PutConfiguration(ctx, w.as(t, w.sub), w.sub.ID, service.BrandNamespace, []byte(`{"brandName": "Acme Health"}`))
		require.NoError(t, err)
		const collector = "+15551230000"
		added := w.collectors(t, canopy.SMSStructured, collector)
		messages := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditMessage)

		help := w.text(t, collector, "help")
		require.Equal(t, service.InboundHelp, help.Outcome)
		require.Equal(t, []string{"Acme Health: this number collects form data by text. Reply STOP to stop all messages, START to resume."}, replyBodies(help))
		require.Empty(t, w.text(t, "+15559990000", "HELP").Replies, "a number that collects for nobody")

		res := w.text(t, collector, "Unsubscribe.")
		require.Equal(t, service.InboundOptedOut, res.Outcome)
		require.Empty(t, res.Replies)
		msgs, err := w.b.Svc.ClaimSMS(ctx, 100)
		require.NoError(t, err)
		require.Empty(t, msgs, "the queued one-time message and help are never handed out")
		for _, id := range []string{added.Messages[0].ID, help.Replies[0].ID} {
			m := w.b.SMSMessage(t, id)
			require.Equal(t, canopy.OutboxFailed, m.Status)
			require.NotEmpty(t, m.RefundEntryID)
		}
		require.EqualValues(t, messages+1, balanceOf(t, w.b, w.umbrella.ID, canopy.CreditMessage), "both refunded (help was charged after the balance was read)")

		// Data still comes in, unconfirmed; nothing is queued or charged.
		res = w.text(t, collector, added.Code+"#Ada#F#34")
		require.Equal(t, service.InboundRecord, res.Outcome)
		require.Empty(t, res.Replies)
		require.Empty(t, w.text(t, collector, "HELP").Replies)
		again, err := w.b.Svc.AddCollectors(ctx, w.as(t, w.sub), w.form.ID, service.CollectorsInput{Numbers: []string{collector}, Mode: canopy.SMSStructured})
		require.NoError(t, err)
		require.Empty(t, again.Messages)
		require.Zero(t, again.Credits)
		require.Equal(t, canopy.CollectorOptedOut, again.Collectors[0].State)

		res = w.text(t, collector, "START")
		require.Equal(t, service.InboundOptedIn, res.Outcome)
		require.Equal(t, []string{"Acme Health: you will get messages again. Reply HELP for help, STOP to stop."}, replyBodies(res))
		msgs, err = w.b.Svc.ClaimSMS(ctx, 100)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, res.Replies[0].ID, msgs[0].ID)
		requireVerified(t, w.b)
	})
}

// TestNoCreditNoRecord: when the payer cannot cover a record, nothing is
// written and the collector is told once that data cannot be accepted now;
// once credits are back, records come in and it may be told again. The
// payer's admins got their low-balance notice when the balance ran out.
func TestNoCreditNoRecord(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newFieldWorld(t, db)
		const collector = "+15551230000"
		code := w.collectors(t, canopy.SMSStructured, collector).Code
		left := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload)
		_, err := w.b.Svc.Transfer(ctx, w.as(t, w.umbrella), w.sibling.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: left})
		require.NoError(t, err)

		res := w.text(t, collector, code+"#Ada#F#34")
		require.Equal(t, service.InboundNoCredit, res.Outcome)
		require.Equal(t, []string{"HIV info: data cannot be accepted now; please try again later."}, replyBodies(res))
		res = w.text(t, collector, code+"#Bo#M#40")
		require.Equal(t, service.InboundNoCredit, res.Outcome)
		require.Empty(t, res.Replies, "told once")
		require.Empty(t, w.records(t))
		col, err := w.b.Svc.ListCollectors(ctx, w.as(t, w.sub), w.form.ID, service.CollectorQuery{}, service.PageRequest{})
		require.NoError(t, err)
		require.NotNil(t, col.Data[0].NoticedAt)

		grant(t, w.b, w.umbrella.ID, canopy.CreditUpload, 1)
		require.Equal(t, service.InboundRecord, w.text(t, collector, code+"#Cy#F#7").Outcome)
		res = w.text(t, collector, code+"#Di#M#60")
		require.Equal(t, service.InboundNoCredit, res.Outcome)
		require.Len(t, res.Replies, 1, "a record was accepted in between: told again")
		require.Len(t, w.records(t), 1)

		// An interactive conversation whose record cannot be paid ends unsaved.
		w.collectors(t, canopy.SMSInteractive, "+15551230001")
		for _, a := range []string{"Eve", "F", "30"} {
			w.text(t, "+15551230001", a)
		}
		res = w.text(t, "+15551230001", "-")
		require.Equal(t, service.InboundNoCredit, res.Outcome)
		require.Equal(t, service.InboundIgnored, w.text(t, "+15551230001", "again").Outcome, "the conversation ended")
		require.Len(t, w.records(t), 1)

		notices := 0
		emails, err := w.b.Svc.Operator().ListOutbox(ctx, "", "", 1000)
		require.NoError(t, err)
		for _, m := range emails {
			if m.Template == canopy.TemplateLowBalance && m.AccountID == w.umbrella.ID {
				notices++
			}
		}
		require.Positive(t, notices, "the payer's admins heard that uploads ran out")
		requireVerified(t, w.b)
	})
}

// TestCollectionFollowsTheAccountsRole: texts belong to the account that
// authorised the number; when it loses the role that edits the form's
// data, or is suspended, its collectors' texts are ignored.
func TestCollectionFollowsTheAccountsRole(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newFieldWorld(t, db)
		res, err := w.b.Svc.AddCollectors(ctx, w.as(t, w.umbrella), w.form.ID, service.CollectorsInput{Numbers: []string{"+15551230000"}, Mode: canopy.SMSStructured})
		require.NoError(t, err)
		code := res.Code
		require.Equal(t, service.InboundRecord, w.text(t, "+15551230000", code+"#Ada#F#34").Outcome)
		_, err = w.b.Svc.PutShare(ctx, w.as(t, w.sub), w.form.ID, w.umbrella.ID, canopy.RoleViewer)
		require.NoError(t, err)
		require.Equal(t, service.InboundIgnored, w.text(t, "+15551230000", code+"#Bo#M#40").Outcome, "a viewer collects nothing")
		require.NoError(t, w.b.Svc.DeleteShare(ctx, w.as(t, w.sub), w.form.ID, w.umbrella.ID))
		require.Equal(t, service.InboundRecord, w.text(t, "+15551230000", code+"#Bo#M#40").Outcome)
		_, err = w.b.Svc.SetStatus(ctx, w.as(t, w.b.Root), w.umbrella.ID, canopy.StatusSuspended)
		require.NoError(t, err)
		require.Equal(t, service.InboundIgnored, w.text(t, "+15551230000", code+"#Cy#F#7").Outcome, "suspended")
		require.Len(t, w.records(t), 2)
		requireVerified(t, w.b)
	})
}

func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1555%07d", i)
	}
	return out
}

// TestConcurrentTextsAreTakenInOnce: texts that arrive together share
// transactions, yet each is decided as a serial run would decide it. 64
// senders text a form whose payer can cover 520 records, and replay some
// provider ids: exactly 520 records are made, every other valid text is
// refused for want of credit, no id is taken in twice, each reply and
// record is charged once, the payer's admins hear once of each threshold
// crossed (500 and 0), and the ledger balances.
func TestConcurrentTextsAreTakenInOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newFieldWorld(t, db)
		numbers := make([]string, 50)
		for i := range numbers {
			numbers[i] = fmt.Sprintf("+1555123%04d", i)
		}
		code := w.collectors(t, canopy.SMSStructured, numbers...).Code
		uploads := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload)
		_, err := w.b.Svc.Transfer(ctx, w.as(t, w.umbrella), w.sibling.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: uploads - 520})
		require.NoError(t, err)
		notices := func() int {
			msgs, err := w.b.Svc.Operator().ListOutbox(ctx, "", "", 10_000)
			require.NoError(t, err)
			n := 0
			for _, m := range msgs {
				var data struct{ Type canopy.CreditType }
				_ = json.Unmarshal(m.Data, &data)
				if m.Template == canopy.TemplateLowBalance && m.AccountID == w.umbrella.ID && data.Type == canopy.CreditUpload {
					n++
				}
			}
			return n
		}
		before := notices()

		const texts = 700
		var (
			mu       sync.Mutex
			outcomes = map[service.InboundOutcome]int{}
			replies  int
			wg       sync.WaitGroup
			next     atomic.Int64
		)
		for range 64 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= texts+30 {
						return
					}
					sid := fmt.Sprintf("SMc%04d", i)
					if i >= texts {
						sid = fmt.Sprintf("SMc%04d", (i-texts)*7) // a provider's retry
					}
					res, err := w.b.Svc.ReceiveSMS(ctx, canopy.InboundSMS{SID: sid, From: numbers[i%len(numbers)], Body: code + "#Ada#F#34"}, "req")
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					outcomes[res.Outcome]++
					replies += len(res.Replies)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Equal(t, 520, outcomes[service.InboundRecord], "%v", outcomes)
		require.Equal(t, texts-520, outcomes[service.InboundNoCredit], "%v", outcomes)
		require.Equal(t, 30, outcomes[service.InboundDuplicate], "%v", outcomes)
		recs, err := w.b.Svc.ListRecords(ctx, w.as(t, w.sub), w.form.ID, service.RecordQuery{}, service.PageRequest{Limit: service.MaxPageLimit})
		require.NoError(t, err)
		n := len(recs.Data)
		for recs.NextCursor != nil {
			recs, err = w.b.Svc.ListRecords(ctx, w.as(t, w.sub), w.form.ID, service.RecordQuery{}, service.PageRequest{Limit: service.MaxPageLimit, Cursor: *recs.NextCursor})
			require.NoError(t, err)
			n += len(recs.Data)
		}
		require.Equal(t, 520, n)
		require.Zero(t, balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload))
		require.Equal(t, 520+replies+1, usageEntries(t, w.b, w.umbrella.ID), "one entry per record and per reply, and one for the one-time messages")
		require.Equal(t, 2, notices()-before, "one notice per threshold crossed: 500 and 0")
		requireVerified(t, w.b)
	})
}

// usageEntries counts the usage entries debited to an account.
func usageEntries(t *testing.T, b *testfactory.Bundle, accountID string) int {
	t.Helper()
	n := 0
	page := service.PageRequest{Limit: service.MaxPageLimit}
	for {
		p, err := b.Svc.ListLedger(context.Background(), b.As(t, b.Root.ID), accountID, service.LedgerQuery{Kind: canopy.EntryUsage}, page)
		require.NoError(t, err)
		n += len(p.Data)
		if p.NextCursor == nil {
			return n
		}
		page.Cursor = *p.NextCursor
	}
}

// TestBatchMeetsABalanceThatMoved: a batch of texts reads its payer's
// balance without locking it, so that other processes' writes wait only
// for its end; when another write takes that balance below what the batch
// took meanwhile, the batch runs again with the balance locked, and its
// texts are decided on what is really left. (PostgreSQL: on SQLite no
// other write can run while a batch holds the one writing connection.)
func TestBatchMeetsABalanceThatMoved(t *testing.T) {
	ctx := context.Background()
	w := newFieldWorld(t, testdb.Postgres(t))
	const number = "+15551230000"
	code := w.collectors(t, canopy.SMSStructured, number).Code
	left := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload)
	sibling := w.as(t, w.sibling)
	var runs []bool
	w.b.Svc.BeforeInboundFlush(func(locked bool) {
		runs = append(runs, locked)
		if !locked {
			// Another writer, on a goroutine of its own as another
			// process would be, spends the whole balance while the batch
			// is open.
			done := make(chan error, 1)
			go func() {
				_, err := w.b.Svc.RecordUsage(ctx, sibling, service.UsageInput{Type: canopy.CreditUpload, Quantity: left, Reference: "drain"})
				done <- err
			}()
			require.NoError(t, <-done)
		}
	})
	res := w.text(t, number, code+"#Ada#F#34")
	require.Equal(t, []bool{false, true}, runs, "optimistic, then locked")
	require.Equal(t, service.InboundNoCredit, res.Outcome, "decided on what is really left")
	require.Empty(t, w.records(t))
	require.Zero(t, balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload))
	requireVerified(t, w.b)
}

// TestInboundTextsAreBounded: what a provider posts is text within bounds
// — its message id, the numbers (64 bytes: E.164 and a channel prefix) and
// the text (1,600 characters) — or 422 naming the field, and nothing is
// taken in.
func TestInboundTextsAreBounded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		b := testfactory.New(t, db)
		ok := canopy.InboundSMS{SID: "SM1", From: "+15551230000", To: "+15005550006", Body: "HELP"}
		for _, tc := range []struct {
			field string
			with  func(*canopy.InboundSMS)
		}{
			{"MessageSid", func(in *canopy.InboundSMS) { in.SID = strings.Repeat("S", 65) }},
			{"From", func(in *canopy.InboundSMS) { in.From = "+1" + strings.Repeat("5", 63) }},
			{"From", func(in *canopy.InboundSMS) { in.From = "" }},
			{"To", func(in *canopy.InboundSMS) { in.To = "+1" + strings.Repeat("5", 63) }},
			{"To", func(in *canopy.InboundSMS) { in.To = "+1\x00" }},
			{"Body", func(in *canopy.InboundSMS) { in.Body = strings.Repeat("x", canopy.MaxSMSBody+1) }},
		} {
			in := ok
			tc.with(&in)
			_, err := b.Svc.ReceiveSMS(context.Background(), in, "req")
			require.Equal(t, canopy.CodeValidation, canopy.ErrorCode(err), tc.field)
			var e *canopy.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.field, e.Fields[0].Field)
		}
		res, err := b.Svc.ReceiveSMS(context.Background(), ok, "req")
		require.NoError(t, err)
		require.NotEqual(t, service.InboundDuplicate, res.Outcome, "no refused text claimed its id")
	})
}

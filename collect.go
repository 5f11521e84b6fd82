package canopy

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Collecting data from the field: a form collects records by structured
// SMS, by interactive SMS and through public web links, besides the API.
// This file holds the rules of that which need no I/O: form codes, the
// keywords every SMS number answers to, and turning texts into answers.

// PrefixFormLink starts the id of a form's public web link.
const PrefixFormLink = "lnk"

// LinkTokenPrefix starts the token of a web link (the last segment of
// /f/{token}), so a pasted link is recognisable.
const LinkTokenPrefix = "cnf_"

// Form codes name a form in texts: 3 to 16 letters and digits, unique in
// the installation, compared without regard to case.
const (
	MinFormCodeLen = 3
	MaxFormCodeLen = 16
)

var formCodeRE = regexp.MustCompile(`^[A-Za-z0-9]{3,16}$`)

// NormalizeFormCode returns the form in which codes are stored and
// compared: trimmed and upper-case.
func NormalizeFormCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// ValidateFormCode checks a code a person chose. The keywords every number
// answers to are not codes: a text "HELP" must never reach a form.
func ValidateFormCode(v *Validator, field, code string) {
	switch {
	case !formCodeRE.MatchString(code):
		v.Add(field, "invalid", "must be %d to %d letters and digits, such as HIVINFO", MinFormCodeLen, MaxFormCodeLen)
	case SMSKeywordOf(code) != KeywordNone:
		v.Add(field, "reserved", "%q is a keyword every SMS number answers to; choose another code", code)
	}
}

// SMSKeyword is a word that, texted alone, means the same to every number
// of the installation whatever form it collects for.
type SMSKeyword int

// The keywords.
const (
	KeywordNone  SMSKeyword = iota
	KeywordStop             // stop every message to this number
	KeywordStart            // messages may resume
	KeywordHelp             // who is texting, and how to stop
)

var smsKeywords = map[string]SMSKeyword{
	"STOP": KeywordStop, "STOPALL": KeywordStop, "UNSUBSCRIBE": KeywordStop, "CANCEL": KeywordStop, "END": KeywordStop, "QUIT": KeywordStop,
	"START": KeywordStart, "UNSTOP": KeywordStart,
	"HELP": KeywordHelp,
}

// SMSKeywordOf returns the keyword a whole text is, ignoring case and
// surrounding space (and a final full stop, as phones add one).
func SMSKeywordOf(body string) SMSKeyword {
	w := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(body)), ".")
	return smsKeywords[w]
}

// CollectorState says whether an authorised number can take part.
type CollectorState string

// The collector states.
const (
	// CollectorPending: the one-time message waits to be sent.
	CollectorPending CollectorState = "pending"
	// CollectorActive: the one-time message went out.
	CollectorActive CollectorState = "active"
	// CollectorFailed: the one-time message could not be delivered (its
	// credit was refunded); the number stays authorised.
	CollectorFailed CollectorState = "failed"
	// CollectorOptedOut: the number texted STOP; nothing is sent to it
	// until it texts START.
	CollectorOptedOut CollectorState = "optedOut"
)

// SMSCollector is a phone number authorised to send a form's data by SMS
// in one mode. The account that added it set the collection up: its payer
// pays for every text sent and every record made (rule 8, docs/rules.md).
type SMSCollector struct {
	FormID    string  `json:"formId"`
	Number    string  `json:"number"`
	Mode      SMSMode `json:"mode"`
	AccountID string  `json:"accountId"`
	// Message is the introduction of the one-time message, as the account
	// wrote it (empty: the form's name).
	Message string `json:"message"`
	// MessageID is the one-time message in the SMS outbox (empty when none
	// was sent: the number had opted out).
	MessageID string         `json:"messageId,omitempty"`
	State     CollectorState `json:"state"`
	// NoticedAt is when the number was told that data cannot be accepted
	// now (the payer's credits ran out); it is told once, until a record
	// is accepted again.
	NoticedAt *time.Time `json:"noticedAt,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// SMSConversation is an interactive collector's progress through a form:
// the question it was asked last and the answers so far. It lives in the
// database, so any process continues it.
type SMSConversation struct {
	Number    string                     `json:"number"`
	FormID    string                     `json:"formId"`
	Question  int                        `json:"question"` // index of the question asked last
	Answers   map[string]json.RawMessage `json:"answers"`
	StartedAt time.Time                  `json:"startedAt"`
	UpdatedAt time.Time                  `json:"updatedAt"`
}

// InboundSMS is one text a provider delivered to the installation.
type InboundSMS struct {
	SID        string // the provider's message id (Twilio's MessageSid)
	From, To   string
	Body       string
	ReceivedAt time.Time
}

// MaxSMSBody bounds a text taken in (a long concatenated SMS is about
// 1,600 characters).
const MaxSMSBody = 1600

// FormLink is a public, revocable web link to a form: whoever has its URL
// may fill the form in; each submission is a record, paid by the payer of
// the account that made the link.
type FormLink struct {
	ID        string `json:"id"`
	FormID    string `json:"formId"`
	AccountID string `json:"accountId"`
	Token     string `json:"token"`
	// ExpiresAt and MaxSubmissions, when set, close the link.
	ExpiresAt      *time.Time `json:"expiresAt"`
	MaxSubmissions *int       `json:"maxSubmissions"`
	Submissions    int        `json:"submissions"`
	RevokedAt      *time.Time `json:"revokedAt"`
	CreatedAt      time.Time  `json:"createdAt"`
}

// LinkState says whether a link takes submissions.
type LinkState string

// The link states.
const (
	LinkOpen    LinkState = "open"
	LinkRevoked LinkState = "revoked"
	LinkExpired LinkState = "expired"
	LinkFull    LinkState = "full" // its submission cap is reached
	// LinkUnavailable: the account that made the link can no longer
	// collect with its form (it lost the role, or is suspended).
	LinkUnavailable LinkState = "unavailable"
)

// StateAt returns the link's state at now.
func (l *FormLink) StateAt(now time.Time) LinkState {
	switch {
	case l.RevokedAt != nil:
		return LinkRevoked
	case l.ExpiresAt != nil && !now.Before(*l.ExpiresAt):
		return LinkExpired
	case l.MaxSubmissions != nil && l.Submissions >= *l.MaxSubmissions:
		return LinkFull
	}
	return LinkOpen
}

// Limits on web links.
const MaxLinkSubmissions = 1_000_000

// Separators that may divide the answers of a structured text: '#', and
// '+' or '*' for keypads without one.
const StructuredSeparators = "#+*"

// SplitStructured reads a structured text "CODE#answer#answer…". The
// separator is the first of '#', '+' and '*' after the code, and only it
// divides the rest, so answers may hold the other two. A text that is a
// code alone has no answers; one that starts with no code-like word is
// not structured.
func SplitStructured(body string) (code string, answers []string, ok bool) {
	body = strings.TrimSpace(body)
	i := strings.IndexAny(body, StructuredSeparators)
	head := body
	if i >= 0 {
		head = body[:i]
	}
	head = strings.TrimSpace(head)
	if !formCodeRE.MatchString(head) {
		return "", nil, false
	}
	if i < 0 {
		return NormalizeFormCode(head), nil, true
	}
	parts := strings.Split(body[i+1:], body[i:i+1])
	for j := range parts {
		parts[j] = strings.TrimSpace(parts[j])
	}
	return NormalizeFormCode(head), parts, true
}

// numberRE is a decimal number as people type it: a sign, digits, a point
// or a comma, an exponent.
var numberRE = regexp.MustCompile(`^[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)([eE][+-]?[0-9]+)?$`)

// SkipAnswer is what a collector texts to leave an optional question
// unanswered.
const SkipAnswer = "-"

// TextAnswer turns a typed answer (a text, or a web form's field) into the
// JSON answer the API would take for q, so that the API's validation
// decides: a choice by its text (any case), its number or a prefix only one
// option has; several choices separated by commas; a number; a location as
// "lat,lng". What cannot be read is passed on as a string, for
// ValidateAnswers to refuse with its usual message. An empty text or
// SkipAnswer is no answer (nil).
func TextAnswer(q Question, text string) json.RawMessage {
	text = strings.TrimSpace(text)
	if text == "" || text == SkipAnswer {
		return nil
	}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	switch q.Type {
	case QuestionNumber:
		if numberRE.MatchString(text) {
			if f, err := strconv.ParseFloat(strings.Replace(text, ",", ".", 1), 64); err == nil && !math.IsInf(f, 0) {
				format := byte('f')
				if math.Abs(f) >= 1e21 {
					format = 'g'
				}
				return json.RawMessage(strconv.FormatFloat(f, format, -1, 64))
			}
		}
	case QuestionChoice:
		if o, ok := pickOption(q.Options, text); ok {
			return str(o)
		}
	case QuestionMultiChoice:
		var picked []string
		for _, part := range strings.Split(text, ",") {
			o, ok := pickOption(q.Options, strings.TrimSpace(part))
			if !ok {
				return str(text)
			}
			picked = append(picked, o)
		}
		b, _ := json.Marshal(picked)
		return b
	case QuestionLocation:
		lat, lng, ok := strings.Cut(text, ",")
		la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
		ln, err2 := strconv.ParseFloat(strings.TrimSpace(lng), 64)
		if ok && err1 == nil && err2 == nil {
			b, _ := json.Marshal(map[string]float64{"lat": la, "lng": ln})
			return b
		}
	}
	return str(text)
}

// pickOption finds the option a text means: the same text (any case), its
// number counted from 1, or the start of exactly one option's text.
func pickOption(options []string, text string) (string, bool) {
	for _, o := range options {
		if strings.EqualFold(o, text) {
			return o, true
		}
	}
	if n, err := strconv.Atoi(text); err == nil && n >= 1 && n <= len(options) {
		return options[n-1], true
	}
	var found string
	for _, o := range options {
		if len(o) >= len(text) && strings.EqualFold(o[:len(text)], text) {
			if found != "" {
				return "", false
			}
			found = o
		}
	}
	return found, found != ""
}

// AnswerHint says what a question expects, in words short enough for a
// text message.
func AnswerHint(q Question) string {
	switch q.Type {
	case QuestionNumber:
		return "a number"
	case QuestionChoice:
		return "one of " + numberedOptions(q.Options)
	case QuestionMultiChoice:
		return "one or more of " + numberedOptions(q.Options) + ", separated by commas"
	case QuestionDate:
		return "a date such as 2026-11-23"
	case QuestionLocation:
		return "latitude,longitude such as -1.2921,36.8219"
	case QuestionPhoto:
		return "a link to a photo"
	}
	return "some text"
}

func numberedOptions(options []string) string {
	parts := make([]string, len(options))
	for i, o := range options {
		parts[i] = fmt.Sprintf("%d %s", i+1, o)
	}
	return strings.Join(parts, ", ")
}

// AnswerProblem is the first wrong answer of a set, in question order.
type AnswerProblem struct {
	Index    int // of the question, from 0
	Question Question
	Missing  bool // a required question has no answer
}

// FirstAnswerProblem checks answers with ValidateAnswers, the API's own
// check, and returns the first question (in the form's order) it refuses,
// or nil when the answers make a valid record.
func FirstAnswerProblem(questions []Question, answers map[string]json.RawMessage) *AnswerProblem {
	var v Validator
	ValidateAnswers(&v, questions, answers)
	if len(v.fields) == 0 {
		return nil
	}
	bad := map[string]string{}
	for _, f := range v.fields {
		bad[strings.TrimPrefix(f.Field, "answers.")] = f.Code
	}
	for i, q := range questions {
		if code, ok := bad[q.ID]; ok {
			return &AnswerProblem{Index: i, Question: q, Missing: code == "required"}
		}
	}
	return nil // only unknown question ids, which texts never make
}

package canopy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The id prefixes of forms and records.
const (
	PrefixForm   = "frm"
	PrefixRecord = "rec"
)

// QuestionType is what kind of answer a question takes.
type QuestionType string

// The question types.
const (
	QuestionText        QuestionType = "text"
	QuestionNumber      QuestionType = "number"
	QuestionChoice      QuestionType = "choice"
	QuestionMultiChoice QuestionType = "multiChoice"
	QuestionDate        QuestionType = "date"
	QuestionLocation    QuestionType = "location"
	QuestionPhoto       QuestionType = "photo"
)

func (t QuestionType) valid() bool {
	switch t {
	case QuestionText, QuestionNumber, QuestionChoice, QuestionMultiChoice, QuestionDate, QuestionLocation, QuestionPhoto:
		return true
	}
	return false
}

func (t QuestionType) hasOptions() bool { return t == QuestionChoice || t == QuestionMultiChoice }

// Question is one question of a form's definition.
type Question struct {
	ID       string       `json:"id"`
	Label    string       `json:"label"`
	Type     QuestionType `json:"type"`
	Required bool         `json:"required"`
	Options  []string     `json:"options,omitempty"`
}

// Form is the resource the sub-account rules apply to: an owned definition
// (questions) and the data (records) collected through it.
type Form struct {
	ID          string     `json:"id"`
	OwnerID     string     `json:"ownerId"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Questions   []Question `json:"questions"`
	Example     bool       `json:"example"`
	CopiedFrom  string     `json:"copiedFrom,omitempty"`
	Version     int        `json:"version"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`

	// OwnerPath is the owner's place in the tree, for access decisions.
	OwnerPath Path `json:"-"`
}

// Limits on a form's definition.
const (
	MaxQuestions = 200
	MaxOptions   = 100
	MaxLabelLen  = 500
	MaxOptionLen = 200
	// MaxNumberAnswerLen bounds the characters of a number answer.
	MaxNumberAnswerLen = 100
	MaxTextAnswerLen   = 10_000
)

var questionIDPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ValidateForm checks a form's name, description and questions.
func ValidateForm(v *Validator, name, description string, questions []Question) {
	ValidateName(v, "name", name)
	ValidateText(v, "description", description, 5000)
	if len(questions) > MaxQuestions {
		v.Add("questions", "too-many", "must have at most %d questions", MaxQuestions)
		return
	}
	seen := map[string]bool{}
	for i, q := range questions {
		f := fmt.Sprintf("questions[%d]", i)
		switch {
		case !questionIDPattern.MatchString(q.ID):
			v.Add(f+".id", "invalid", "must be 1-64 letters, digits, '_' or '-', starting with a letter")
		case seen[q.ID]:
			v.Add(f+".id", "duplicate", "question id %q is used twice", q.ID)
		}
		seen[q.ID] = true
		if ValidText(v, f+".label", q.Label) && (q.Label == "" || utf8.RuneCountInString(q.Label) > MaxLabelLen) {
			v.Add(f+".label", "invalid", "must be 1-%d characters", MaxLabelLen)
		}
		if !q.Type.valid() {
			v.Add(f+".type", "invalid-enum", "must be one of text, number, choice, multiChoice, date, location, photo")
			continue
		}
		if q.Type.hasOptions() {
			if len(q.Options) == 0 || len(q.Options) > MaxOptions {
				v.Add(f+".options", "required", "a %s question needs 1-%d options", q.Type, MaxOptions)
			}
			opts := map[string]bool{}
			for j, o := range q.Options {
				of := fmt.Sprintf("%s.options[%d]", f, j)
				switch {
				case !ValidText(v, of, o):
				case o == "" || opts[o]:
					v.Add(of, "invalid", "options must be distinct and not empty")
				case utf8.RuneCountInString(o) > MaxOptionLen:
					v.Add(of, "too-long", "must be at most %d characters", MaxOptionLen)
				}
				opts[o] = true
			}
		} else if len(q.Options) > 0 {
			v.Add(f+".options", "not-allowed", "only choice and multiChoice questions have options")
		}
	}
}

// Record is one set of answers collected through a form.
type Record struct {
	ID        string                     `json:"id"`
	FormID    string                     `json:"formId"`
	AccountID string                     `json:"accountId"`
	Answers   map[string]json.RawMessage `json:"answers"`
	Version   int                        `json:"version"`
	CreatedBy string                     `json:"createdBy,omitempty"`
	CreatedAt time.Time                  `json:"createdAt"`
	UpdatedAt time.Time                  `json:"updatedAt"`
}

// ValidateAnswers checks answers against a form's questions: no unknown
// question ids, every required question answered, each answer of its
// question's type. A null answer counts as no answer.
func ValidateAnswers(v *Validator, questions []Question, answers map[string]json.RawMessage) {
	byID := make(map[string]Question, len(questions))
	for _, q := range questions {
		byID[q.ID] = q
	}
	for _, id := range slices.Sorted(maps.Keys(answers)) {
		if _, ok := byID[id]; !ok {
			v.Add("answers."+id, "unknown-question", "the form has no question %q", id)
		}
	}
	for _, q := range questions {
		raw, given := answers[q.ID]
		if !given || string(raw) == "null" {
			if q.Required {
				v.Add("answers."+q.ID, "required", "question %q must be answered", q.ID)
			}
			continue
		}
		if msg := checkAnswer(q, raw); msg != "" {
			v.Add("answers."+q.ID, "invalid-answer", "%s", msg)
		}
	}
}

func checkAnswer(q Question, raw json.RawMessage) string {
	switch q.Type {
	case QuestionText, QuestionPhoto:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "must be a string"
		}
		if p := TextProblem(s); p != "" {
			return p
		}
		if utf8.RuneCountInString(s) > MaxTextAnswerLen {
			return fmt.Sprintf("must be at most %d characters", MaxTextAnswerLen)
		}
		if q.Type == QuestionPhoto && s == "" {
			return "must be a photo reference (a URL or an upload id)"
		}
	case QuestionNumber:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil || raw[0] == '"' {
			return "must be a number"
		}
		// Finite doubles, what every JSON client reads back as it wrote:
		// 1e400 is JSON, but no float64 (nor JavaScript number) holds it.
		if len(n) > MaxNumberAnswerLen {
			return fmt.Sprintf("must be a number of at most %d characters", MaxNumberAnswerLen)
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return "must be a number within ±1.7976931348623157e308"
		}
	case QuestionChoice:
		var s string
		if json.Unmarshal(raw, &s) != nil || !contains(q.Options, s) {
			return fmt.Sprintf("must be one of %q", q.Options)
		}
	case QuestionMultiChoice:
		var ss []string
		if json.Unmarshal(raw, &ss) != nil {
			return "must be an array of options"
		}
		seen := map[string]bool{}
		for _, s := range ss {
			if !contains(q.Options, s) || seen[s] {
				return fmt.Sprintf("must be distinct options among %q", q.Options)
			}
			seen[s] = true
		}
	case QuestionDate:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "must be a date such as 2026-11-23"
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return "must be a date such as 2026-11-23"
		}
	case QuestionLocation:
		var loc struct {
			Lat      *float64 `json:"lat"`
			Lng      *float64 `json:"lng"`
			Accuracy *float64 `json:"accuracy"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if dec.Decode(&loc) != nil || loc.Lat == nil || loc.Lng == nil ||
			*loc.Lat < -90 || *loc.Lat > 90 || *loc.Lng < -180 || *loc.Lng > 180 || (loc.Accuracy != nil && *loc.Accuracy < 0) {
			return `must be {"lat": -90..90, "lng": -180..180, "accuracy"?: metres}`
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Share is an owner's explicit grant of a role on one form to one account.
type Share struct {
	FormID    string    `json:"formId"`
	AccountID string    `json:"accountId"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

package canopy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
)

// fields returns the fields a validation error names.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *canopy.Error
	require.ErrorAs(t, err, &e)
	out := []string{}
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestValidateFormNamesEveryBadField(t *testing.T) {
	q := func(id string, typ canopy.QuestionType, opts ...string) canopy.Question {
		return canopy.Question{ID: id, Label: "Label " + id, Type: typ, Options: opts}
	}
	many := make([]canopy.Question, canopy.MaxQuestions+1)
	for i := range many {
		many[i] = q("q"+strings.Repeat("x", i%50)+string(rune('a'+i%26)), canopy.QuestionText)
	}
	tests := []struct {
		name      string
		formName  string
		questions []canopy.Question
		want      []string
	}{
		{"Valid", "Survey", []canopy.Question{q("a", canopy.QuestionText), q("b", canopy.QuestionChoice, "x", "y"),
			q("c", canopy.QuestionMultiChoice, "x"), q("d", canopy.QuestionNumber), q("e", canopy.QuestionDate),
			q("f", canopy.QuestionLocation), q("g", canopy.QuestionPhoto)}, nil},
		{"NoQuestionsIsADraft", "Draft", nil, nil},
		{"NameRequired", "", nil, []string{"name"}},
		{"BadID", "F", []canopy.Question{q("1st", canopy.QuestionText)}, []string{"questions[0].id"}},
		{"DuplicateID", "F", []canopy.Question{q("a", canopy.QuestionText), q("a", canopy.QuestionNumber)}, []string{"questions[1].id"}},
		{"NoLabel", "F", []canopy.Question{{ID: "a", Type: canopy.QuestionText}}, []string{"questions[0].label"}},
		{"UnknownType", "F", []canopy.Question{q("a", "signature")}, []string{"questions[0].type"}},
		{"ChoiceWithoutOptions", "F", []canopy.Question{q("a", canopy.QuestionChoice)}, []string{"questions[0].options"}},
		{"RepeatedOption", "F", []canopy.Question{q("a", canopy.QuestionMultiChoice, "x", "x")}, []string{"questions[0].options[1]"}},
		{"EmptyOption", "F", []canopy.Question{q("a", canopy.QuestionChoice, "")}, []string{"questions[0].options[0]"}},
		{"OptionsOnText", "F", []canopy.Question{q("a", canopy.QuestionText, "x")}, []string{"questions[0].options"}},
		{"TooMany", "F", many, []string{"questions"}},
		{"Several", "", []canopy.Question{q("a", "x"), q("b", canopy.QuestionChoice)}, []string{"name", "questions[0].type", "questions[1].options"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v canopy.Validator
			canopy.ValidateForm(&v, tt.formName, "", tt.questions)
			require.Equal(t, tt.want, fields(t, v.Err()))
		})
	}
}

func TestValidateAnswersChecksEveryQuestionType(t *testing.T) {
	questions := []canopy.Question{
		{ID: "name", Label: "Name", Type: canopy.QuestionText, Required: true},
		{ID: "age", Label: "Age", Type: canopy.QuestionNumber},
		{ID: "colour", Label: "Colour", Type: canopy.QuestionChoice, Options: []string{"red", "green"}},
		{ID: "pets", Label: "Pets", Type: canopy.QuestionMultiChoice, Options: []string{"cat", "dog"}},
		{ID: "born", Label: "Born", Type: canopy.QuestionDate},
		{ID: "where", Label: "Where", Type: canopy.QuestionLocation},
		{ID: "photo", Label: "Photo", Type: canopy.QuestionPhoto},
	}
	ok := `"name": "Zoë"`
	tests := []struct {
		name    string
		answers string
		want    []string
	}{
		{"AllValid", `{"name": "Zoë", "age": 41.5, "colour": "red", "pets": ["cat", "dog"], "born": "1985-02-28",
			"where": {"lat": -33.9, "lng": 18.4, "accuracy": 12}, "photo": "upl_123"}`, nil},
		{"OnlyRequired", `{` + ok + `}`, nil},
		{"NullIsNoAnswer", `{` + ok + `, "age": null}`, nil},
		{"MissingRequired", `{"age": 3}`, []string{"answers.name"}},
		{"NullRequired", `{"name": null}`, []string{"answers.name"}},
		{"UnknownQuestions", `{` + ok + `, "zzz": 1, "aaa": 2}`, []string{"answers.aaa", "answers.zzz"}},
		{"TextIsAString", `{"name": 7}`, []string{"answers.name"}},
		{"NumberIsNotAString", `{` + ok + `, "age": "41"}`, []string{"answers.age"}},
		{"ChoiceAmongOptions", `{` + ok + `, "colour": "blue"}`, []string{"answers.colour"}},
		{"MultiChoiceIsAnArray", `{` + ok + `, "pets": "cat"}`, []string{"answers.pets"}},
		{"MultiChoiceDistinct", `{` + ok + `, "pets": ["cat", "cat"]}`, []string{"answers.pets"}},
		{"MultiChoiceAmongOptions", `{` + ok + `, "pets": ["cow"]}`, []string{"answers.pets"}},
		{"DateIsADate", `{` + ok + `, "born": "1985-02-30"}`, []string{"answers.born"}},
		{"LocationInRange", `{` + ok + `, "where": {"lat": 91, "lng": 0}}`, []string{"answers.where"}},
		{"LocationNeedsBoth", `{` + ok + `, "where": {"lat": 1}}`, []string{"answers.where"}},
		{"LocationNoExtras", `{` + ok + `, "where": {"lat": 1, "lng": 2, "alt": 3}}`, []string{"answers.where"}},
		{"PhotoNotEmpty", `{` + ok + `, "photo": ""}`, []string{"answers.photo"}},
		{"TextLimit", `{"name": "` + strings.Repeat("é", canopy.MaxTextAnswerLen+1) + `"}`, []string{"answers.name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var answers map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(tt.answers), &answers))
			var v canopy.Validator
			canopy.ValidateAnswers(&v, questions, answers)
			require.Equal(t, tt.want, fields(t, v.Err()))
		})
	}
}

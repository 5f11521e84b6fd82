package service

import (
	"fmt"
	"strings"

	"github.com/canopyhq/canopy"
)

// The texts collectors get. They are short (a text is 160 characters a
// segment) and say what to send next.

// structuredTemplate is what a structured collector texts: the code, then
// one placeholder per question, in order.
func structuredTemplate(f *canopy.Form, code string) string {
	var b strings.Builder
	b.WriteString(code)
	for _, q := range f.Questions {
		b.WriteString("#")
		b.WriteString(q.Label)
	}
	return b.String()
}

// oneTimeMessage is what a number gets when it is authorised: how to text
// the form (structured), or its first question (interactive).
func oneTimeMessage(f *canopy.Form, code string, mode canopy.SMSMode, intro, number string) string {
	if intro == "" {
		intro = f.Name
	}
	if mode == canopy.SMSInteractive {
		return fmt.Sprintf("%s. Reply to each question; reply STOP to stop. %s", intro, questionText(f, 0))
	}
	to := ""
	if number != "" {
		to = " to " + number
	}
	var choices strings.Builder
	for _, q := range f.Questions {
		if len(q.Options) > 0 {
			fmt.Fprintf(&choices, " %s: %s.", q.Label, canopy.AnswerHint(q))
		}
	}
	return fmt.Sprintf("%s: to send data, text %s%s, the answers in this order.%s Reply HELP for help, STOP to stop.",
		intro, structuredTemplate(f, code), to, choices.String())
}

// questionText asks question i of f: its number, its label and what it
// takes.
func questionText(f *canopy.Form, i int) string {
	q := f.Questions[i]
	s := fmt.Sprintf("Q%d/%d %s", i+1, len(f.Questions), q.Label)
	switch q.Type {
	case canopy.QuestionText:
	case canopy.QuestionChoice, canopy.QuestionMultiChoice:
		s += " Reply " + canopy.AnswerHint(q) + "."
	default:
		s += " (" + canopy.AnswerHint(q) + ")"
	}
	if !q.Required {
		s += " Reply " + canopy.SkipAnswer + " to skip."
	}
	return s
}

// askAgain repeats question i after a wrong answer, with what it expects.
func askAgain(f *canopy.Form, p *canopy.AnswerProblem) string {
	if p.Missing {
		return "This question needs an answer. " + questionText(f, p.Index)
	}
	return fmt.Sprintf("Please answer with %s. %s", canopy.AnswerHint(p.Question), questionText(f, p.Index))
}

// structuredError names the first wrong answer of a structured text.
func structuredError(f *canopy.Form, code string, p *canopy.AnswerProblem) string {
	what := "must be " + canopy.AnswerHint(p.Question)
	if p.Missing {
		what = "is missing"
	}
	return fmt.Sprintf("%s: answer %d (%s) %s. Nothing was saved; text %s", code, p.Index+1, p.Question.Label, what, structuredTemplate(f, code))
}

// tooManyAnswers answers a structured text with more answers than the
// form has questions.
func tooManyAnswers(f *canopy.Form, code string, n int) string {
	return fmt.Sprintf("%s: %d answers, but the form has %d questions. Nothing was saved; text %s", code, n, len(f.Questions),
		structuredTemplate(f, code))
}

func structuredSaved(code string) string {
	return code + ": thank you, your answers were saved."
}

func interactiveSaved(f *canopy.Form) string {
	return "Thank you: your answers to " + f.Name + " were saved."
}

// noCreditText tells a collector, once, that data cannot be accepted now.
func noCreditText(f *canopy.Form) string {
	return f.Name + ": data cannot be accepted now; please try again later."
}

func helpText(brand string) string {
	return brand + ": this number collects form data by text. Reply STOP to stop all messages, START to resume."
}

func startText(brand string) string {
	return brand + ": you will get messages again. Reply HELP for help, STOP to stop."
}

package mail_test

import (
	"bytes"
	"context"
	netmail "net/mail"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/smtptest"
	"github.com/canopyhq/canopy/mail"
)

func TestFileSenderWritesParseableEMLFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "outbox", "nested") // created on demand
	sender, err := mail.NewFileSender(dir)
	require.NoError(t, err)
	require.Equal(t, "files in "+dir, sender.Describe())

	msgs := []*mail.Message{
		rendered(t, "msg_f1", "ada@dental.example", "Ada Lövelace", canopy.TemplateWelcome),
		rendered(t, "msg_f2", "bo@dental.example", "", canopy.TemplatePasswordReset),
	}
	require.Equal(t, []error{nil, nil}, sender.Send(context.Background(), msgs, nil))

	// The same messages over SMTP, to compare headers with.
	s := smtptest.Start(t)
	require.Equal(t, []error{nil, nil}, smtpSender(t, s, nil).Send(context.Background(), msgs, nil))
	viaSMTP := s.WaitFor(t, 2, 5*time.Second)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "one file per message, no temporary files left")
	for i, m := range msgs {
		data, err := os.ReadFile(filepath.Join(dir, m.ID+".eml"))
		require.NoError(t, err)
		r, err := smtptest.Parse(data)
		require.NoError(t, err)
		require.Equal(t, "<"+m.ID+"@acme.example>", r.MessageID)
		require.Equal(t, m.Subject, r.Subject)
		require.Equal(t, m.Text, normalizeCRLF(r.Text))
		require.Equal(t, m.HTML, normalizeCRLF(r.HTML))

		fileHeader, smtpHeader := headerOf(t, data), headerOf(t, viaSMTP[i].Data)
		for _, h := range []string{"From", "To", "Subject", "Message-Id", "Mime-Version", "Auto-Submitted"} {
			require.NotEmpty(t, fileHeader.Get(h), h)
			require.Equal(t, smtpHeader.Get(h), fileHeader.Get(h), h)
		}
		require.NotEmpty(t, fileHeader.Get("Date"))
	}
}

func TestFileSenderReplacesTheFileOfARetriedMessage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sender, err := mail.NewFileSender(dir)
	require.NoError(t, err)

	m := rendered(t, "msg_same", "ada@dental.example", "Ada", canopy.TemplateWelcome)
	require.Equal(t, []error{nil}, sender.Send(context.Background(), []*mail.Message{m}, nil))
	m2 := *m
	m2.Subject = "Second attempt"
	require.Equal(t, []error{nil}, sender.Send(context.Background(), []*mail.Message{&m2}, nil))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "msg_same.eml", entries[0].Name())
	data, err := os.ReadFile(filepath.Join(dir, "msg_same.eml"))
	require.NoError(t, err)
	r, err := smtptest.Parse(data)
	require.NoError(t, err)
	require.Equal(t, "Second attempt", r.Subject)
}

func TestFileSenderRejectsIDsThatAreNotFileNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sender, err := mail.NewFileSender(dir)
	require.NoError(t, err)
	errs := sender.Send(context.Background(), []*mail.Message{
		{ID: "../escape", From: from, To: "ada@dental.example", Text: "x"},
		{ID: "", From: from, To: "ada@dental.example", Text: "x"},
		{ID: "msg_ok", From: from, To: "ada@dental.example", Text: "text only"},
	}, nil)
	require.Error(t, errs[0])
	require.Error(t, errs[1])
	require.NoError(t, errs[2])
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)

	data, err := os.ReadFile(filepath.Join(dir, "msg_ok.eml"))
	require.NoError(t, err)
	r, err := smtptest.Parse(data)
	require.NoError(t, err)
	require.Equal(t, "text only", r.Text)
	require.Empty(t, r.HTML)
}

func headerOf(t *testing.T, data []byte) netmail.Header {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	return m.Header
}

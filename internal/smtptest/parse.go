package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
)

// Parse parses a raw RFC 5322 message (as received, or as written to a .eml
// file) into a Received: the Message-ID, the decoded subject, and the
// decoded text/plain and text/html bodies, found at any depth of multipart
// nesting. From and To are left empty: they belong to the envelope.
func Parse(data []byte) (Received, error) {
	r := Received{Data: data}
	err := parse(&r)
	return r, err
}

func parse(r *Received) error {
	msg, err := netmail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	r.MessageID = msg.Header.Get("Message-Id")
	dec := new(mime.WordDecoder)
	if r.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return fmt.Errorf("decode subject: %w", err)
	}
	return walk(r, textproto.MIMEHeader(msg.Header), msg.Body)
}

// walk decodes one MIME entity, descending into multiparts.
func walk(r *Received, h textproto.MIMEHeader, body io.Reader) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextPart decodes quoted-printable parts itself (and drops
			// their Content-Transfer-Encoding header); base64 is left to us.
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", mediaType, err)
			}
			if err := walk(r, p.Header, p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	switch mediaType {
	case "text/plain":
		if r.Text == "" {
			r.Text = string(b)
		}
	case "text/html":
		if r.HTML == "" {
			r.HTML = string(b)
		}
	}
	return nil
}

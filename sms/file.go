package sms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

type fileSender struct{ dir string }

// NewFileSender returns a Sender that writes each message to dir/<ID>.txt
// ("To: …", a blank line, the body), for development: the default when no
// provider is configured. It creates dir if needed; a retry replaces the
// file (write to a temporary file, then rename).
func NewFileSender(dir string) (Sender, error) {
	if dir == "" {
		return nil, fmt.Errorf("sms: file sender: empty directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sms: file sender: %w", err)
	}
	return &fileSender{dir: dir}, nil
}

// Describe says where messages go: "files in DIR".
func (f *fileSender) Describe() string { return "files in " + f.dir }

// Send writes the message's file; its path is the provider id.
func (f *fileSender) Send(ctx context.Context, m Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	path := filepath.Join(f.dir, m.ID+".txt")
	tmp, err := os.CreateTemp(f.dir, ".tmp-"+m.ID+"-*")
	if err != nil {
		return "", fmt.Errorf("sms: write %s: %w", m.ID, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := fmt.Fprintf(tmp, "To: %s\n\n%s\n", m.To, m.Body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("sms: write %s: %w", m.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("sms: write %s: %w", m.ID, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("sms: write %s: %w", m.ID, err)
	}
	return path, nil
}

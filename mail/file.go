package mail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// fileSender writes each message as a .eml file instead of sending it.
type fileSender struct {
	dir string
	now func() time.Time // the Date header; replaced in tests
}

// NewFileSender returns a Sender that writes each message as dir/<ID>.eml:
// the full RFC 5322 message, the same bytes SMTP would carry, ready to open
// in a mail client. It creates dir if needed. Writing the same ID twice
// replaces the file (write to a temporary file, then rename), so retries do
// not duplicate files and a reader never sees half a message.
func NewFileSender(dir string) (Sender, error) {
	if dir == "" {
		return nil, fmt.Errorf("mail: file sender: empty directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mail: file sender: %w", err)
	}
	return &fileSender{dir: dir, now: time.Now}, nil
}

// Describe says where mail goes: "files in DIR".
func (f *fileSender) Describe() string { return "files in " + f.dir }

// Send writes each message to its file, reporting each outcome as it is
// known. ctx is checked between messages.
func (f *fileSender) Send(ctx context.Context, msgs []*Message, report func(i int, err error)) []error {
	errs := make([]error, len(msgs))
	now := f.now()
	for i, m := range msgs {
		if errs[i] = ctx.Err(); errs[i] == nil {
			errs[i] = f.write(m, now)
		}
		if report != nil {
			report(i, errs[i])
		}
	}
	return errs
}

// write writes one message atomically: temporary file, fsync, rename.
func (f *fileSender) write(m *Message, now time.Time) error {
	g, err := build(m, now)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, ".tmp-"+m.ID+"-*")
	if err != nil {
		return fmt.Errorf("mail: write %s: %w", m.ID, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := g.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("mail: write %s: %w", m.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("mail: write %s: %w", m.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mail: write %s: %w", m.ID, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, m.ID+".eml")); err != nil {
		return fmt.Errorf("mail: write %s: %w", m.ID, err)
	}
	return nil
}

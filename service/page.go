package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Default and largest page sizes.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// PageRequest asks for one page of a list.
type PageRequest struct {
	Limit  int
	Cursor string
}

// Page is one page of a list. NextCursor is nil on the last page.
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

func (p PageRequest) limit() int {
	if p.Limit <= 0 {
		return DefaultPageLimit
	}
	return min(p.Limit, MaxPageLimit)
}

// Cursors are opaque to clients: a position in a list, signed with the
// installation's cursor key together with the list it belongs to and the
// caller it was given to (cursorKind). A cursor of another list, another
// caller or made up answers invalid-cursor like any bad one, so a cursor
// can neither be forged nor replayed to learn anything (rule 11,
// docs/rules.md).

// cursorKind names a listing for the cursors it hands out: the list, its
// parameters, and the caller — acting account and credential.
func cursorKind(c Caller, list string, params ...string) string {
	return strings.Join(append([]string{list, c.Acting.ID, c.Credential()}, params...), "\x00")
}

func (s *Service) cursorMAC(kind, position string) []byte {
	m := hmac.New(sha256.New, s.cursorKey())
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(position))
	return m.Sum(nil)[:16]
}

func (s *Service) encodeCursor(kind, position string) *string {
	c := base64.RawURLEncoding.EncodeToString([]byte(position)) + "." +
		base64.RawURLEncoding.EncodeToString(s.cursorMAC(kind, position))
	return &c
}

var errBadCursor = canopy.BadParam("cursor", canopy.CodeInvalidCursor,
	"is not a cursor this list returned; start again without it")

func (s *Service) decodeCursor(kind, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	enc, sig, ok := strings.Cut(cursor, ".")
	if !ok || len(cursor) > 2048 {
		return "", errBadCursor
	}
	pos, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(pos) == 0 {
		return "", errBadCursor
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.cursorMAC(kind, string(pos))) {
		return "", errBadCursor
	}
	return string(pos), nil
}

// decodeIDCursor decodes a cursor whose position is an id with prefix.
func (s *Service) decodeIDCursor(kind, prefix, cursor string) (string, error) {
	pos, err := s.decodeCursor(kind, cursor)
	if err != nil || pos == "" {
		return pos, err
	}
	if !canopy.ValidID(prefix, pos) {
		return "", errBadCursor
	}
	return pos, nil
}

// paginate trims a fetch of limit+1 rows to one page.
func paginate[T any](s *Service, rows []T, limit int, kind string, position func(T) string) Page[T] {
	p := Page[T]{Data: rows}
	if p.Data == nil {
		p.Data = []T{}
	}
	if len(rows) > limit {
		p.Data = rows[:limit]
		p.NextCursor = s.encodeCursor(kind, position(rows[limit-1]))
	}
	return p
}

// cursorSetting names the stored cursor key.
const cursorSetting = "cursor-key"

// LoadSecrets reads the installation's cursor key, making it on first
// start, so that every replica signs cursors alike. Until it runs the
// service signs with a key of its own process.
func (s *Service) LoadSecrets(ctx context.Context) error {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return err
	}
	var key string
	err := s.store.Write(ctx, func(tx store.Tx) error {
		if err := tx.InsertSetting(ctx, cursorSetting, hex.EncodeToString(fresh)); err != nil {
			return err
		}
		var err error
		key, err = tx.GetSetting(ctx, cursorSetting)
		return err
	})
	if err != nil {
		return fmt.Errorf("load cursor key: %w", err)
	}
	b, err := hex.DecodeString(key)
	if err != nil || len(b) < 16 {
		return fmt.Errorf("the stored cursor key is not a key")
	}
	s.secrets.Store(&b)
	return nil
}

func (s *Service) cursorKey() []byte { return *s.secrets.Load() }

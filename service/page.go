package service

import (
	"encoding/base64"
	"strings"

	"github.com/canopyhq/canopy"
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

// Cursors are opaque to clients: a list kind and a position, base64url
// encoded. The kind stops a cursor of one list from being replayed on
// another.
func encodeCursor(kind, position string) *string {
	s := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + position))
	return &s
}

var errBadCursor = canopy.BadParam("cursor", canopy.CodeInvalidCursor,
	"is not a cursor this list returned; start again without it")

func decodeCursor(kind, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", errBadCursor
	}
	pos, ok := strings.CutPrefix(string(b), kind+":")
	if !ok || pos == "" {
		return "", errBadCursor
	}
	return pos, nil
}

// decodeIDCursor decodes a cursor whose position is an id with prefix.
func decodeIDCursor(kind, prefix, cursor string) (string, error) {
	pos, err := decodeCursor(kind, cursor)
	if err != nil || pos == "" {
		return pos, err
	}
	if !canopy.ValidID(prefix, pos) {
		return "", errBadCursor
	}
	return pos, nil
}

// paginate trims a fetch of limit+1 rows to one page.
func paginate[T any](rows []T, limit int, kind string, position func(T) string) Page[T] {
	p := Page[T]{Data: rows}
	if p.Data == nil {
		p.Data = []T{}
	}
	if len(rows) > limit {
		p.Data = rows[:limit]
		p.NextCursor = encodeCursor(kind, position(rows[limit-1]))
	}
	return p
}

package canopy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"time"
)

// Configuration is one namespace of an account's configuration. Value holds
// the payload exactly as it was supplied: the bytes are never re-encoded,
// so key order, number literals and escapes survive.
type Configuration struct {
	AccountID string
	Namespace string
	Value     json.RawMessage
	// Inheritable namespaces flow down: the effective view of each
	// descendant shows them (under its own); nothing else of an account
	// reaches its descendants.
	Inheritable bool
	UpdatedAt   time.Time
}

// MaxConfigValueBytes bounds one namespace's payload.
const MaxConfigValueBytes = 256 << 10

// MaxConfigNamespaces bounds how many namespaces one account may hold.
const MaxConfigNamespaces = 100

var namespacePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ValidateNamespace checks a configuration namespace name.
func ValidateNamespace(v *Validator, field, ns string) {
	v.Check(namespacePattern.MatchString(ns), field, "invalid-namespace",
		"must be 1-64 characters of lowercase letters, digits, '_', '.' and '-', starting with a letter or digit")
}

// ValidateConfigValue checks one namespace's payload.
func ValidateConfigValue(v *Validator, field string, raw []byte) {
	switch {
	case len(bytes.TrimSpace(raw)) == 0:
		v.Add(field, "required", "must be a JSON value")
	case len(raw) > MaxConfigValueBytes:
		v.Add(field, "too-large", "must be at most %d bytes", MaxConfigValueBytes)
	case !json.Valid(raw):
		v.Add(field, "invalid-json", "must be valid JSON")
	default:
		if fe := JSONTextProblem(raw, field); fe != nil {
			v.Add(fe.Field, fe.Code, "%s", fe.Message)
		}
	}
}

// Configurations is an ordered set of namespaces with raw payloads. It
// keeps the order and bytes it was given and marshals back to a JSON
// object, so a response echoes exactly the namespaces supplied.
type Configurations []Configuration

// MarshalJSON writes the namespaces as one object in their order.
func (c Configurations) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, cfg := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		key, err := json.Marshal(cfg.Namespace)
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(cfg.Value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object, keeping key order and raw values and
// rejecting a namespace given twice (which a map would silently collapse).
func (c *Configurations) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		*c = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &json.UnmarshalTypeError{Value: "non-object", Type: typeOfConfigurations}
	}
	out := Configurations{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		ns := tok.(string)
		// Decoding into a RawMessage keeps the value's own bytes from the
		// input: nothing is re-encoded or normalised.
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if seen[ns] {
			return &DuplicateKeyError{Key: ns}
		}
		seen[ns] = true
		out = append(out, Configuration{Namespace: ns, Value: raw})
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*c = out
	return nil
}

// DuplicateKeyError reports a JSON object that names a key twice.
type DuplicateKeyError struct{ Key string }

func (e *DuplicateKeyError) Error() string { return "duplicate key " + e.Key }

var typeOfConfigurations = reflect.TypeFor[Configurations]()

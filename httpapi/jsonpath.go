package httpapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Field paths name a place in a request body the way validation errors do
// (account.name, users[1].email), so that a decoding error names the same
// field a validation error would.

// pathAt returns the path of the value the decoder was reading when it
// stopped at byte offset of raw: the innermost key or index open there.
func pathAt(raw []byte, offset int64) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack []pathStep
	for {
		tok, err := dec.Token()
		if err != nil {
			return joinPath(stack)
		}
		var scalar bool
		stack, scalar = step(stack, tok)
		if dec.InputOffset() >= offset {
			return joinPath(stack)
		}
		if scalar {
			stack = valueDone(stack)
		}
	}
}

// pathStep is one level of a walk: an object (with the key being read) or
// an array (with the index of the element being read).
type pathStep struct {
	object bool
	key    string
	index  int
	inKey  bool // the object's next token is a key
}

// step moves the walk over one token; scalar reports a value that ended
// with it (the caller marks it done once it has looked at the path).
func step(stack []pathStep, tok json.Token) ([]pathStep, bool) {
	n := len(stack)
	if n > 0 && stack[n-1].object && stack[n-1].inKey {
		if k, ok := tok.(string); ok {
			stack[n-1].key, stack[n-1].inKey = k, false
			return stack, false
		}
	}
	switch tok {
	case json.Delim('}'), json.Delim(']'):
		return valueDone(stack[:n-1]), false
	}
	if n > 0 && !stack[n-1].object {
		stack[n-1].index++
	}
	switch tok {
	case json.Delim('{'):
		return append(stack, pathStep{object: true, inKey: true}), false
	case json.Delim('['):
		return append(stack, pathStep{index: -1}), false
	}
	return stack, true
}

// valueDone records that a value ended in the innermost container.
func valueDone(stack []pathStep) []pathStep {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].inKey = true
	}
	return stack
}

func joinPath(stack []pathStep) string {
	var b strings.Builder
	for _, s := range stack {
		switch {
		case s.object && !s.inKey:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		case !s.object && s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		}
	}
	return b.String()
}

// unknownField returns the full path of the first key of raw that names
// no field of the type decoded into, matching names as encoding/json does
// (case-insensitively), or "" when every key is known.
func unknownField(raw []byte, t reflect.Type) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return unknownIn(v, t, "")
}

func unknownIn(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(reflect.TypeFor[json.Unmarshaler]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return "" // decodes itself
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			val := obj[k]
			f, ok := fields[strings.ToLower(k)]
			if !ok {
				return joinKey(path, k)
			}
			if p := unknownIn(val, f, joinKey(path, k)); p != "" {
				return p
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(obj)) {
				if p := unknownIn(obj[k], t.Elem(), joinKey(path, k)); p != "" {
					return p
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if arr, ok := v.([]any); ok {
			for i, val := range arr {
				if p := unknownIn(val, t.Elem(), path+"["+strconv.Itoa(i)+"]"); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// jsonFields maps the lower-cased JSON names of a struct's fields, the
// embedded structs' included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = f.Type
	}
	return out
}

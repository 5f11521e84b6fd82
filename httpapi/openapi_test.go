package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/canopyhq/canopy/internal/testdb"
)

// The OpenAPI document is the API's contract (docs/rules.md,
// "The API contract"). This file holds it to the handlers three ways: its paths
// are exactly the registered routes; every response the test harness sees
// has a status the document declares and a body that validates against the
// declared schema; and TestContractDrivesEveryRoute makes every route
// answer every status the document declares for it.

// contractURL is the base URI the document is registered under, so that
// "#/components/schemas/…" references resolve inside it.
const contractURL = "https://canopy.dev/openapi.json"

// rawBodyOperations answer with bodies no schema describes; they are
// status-checked and media-type-checked but their bodies are not validated.
var rawBodyOperations = map[string]string{
	"GET /v1/accounts/{id}/configurations/{namespace}": "the body is the stored payload, byte for byte",
	"GET /metrics": "the body is the Prometheus text format",
}

// contract is the compiled OpenAPI document.
type contract struct {
	doc map[string]any
	// ops maps "METHOD /path" to status ("200", "default") to media type
	// to the compiled schema (nil when the media type has none, or is not
	// JSON). An empty media map means the response declares no content.
	ops map[string]map[string]map[string]*jsonschema.Schema
	// compile compiles the schema at a JSON pointer into the document.
	compile func(ptr string) (*jsonschema.Schema, error)

	mu   sync.Mutex
	seen map[string]bool // "METHOD /path status", as answered to the harness
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadContract parses and compiles the served document once.
var loadContract = sync.OnceValues(func() (*contract, error) {
	raw, err := OpenAPI()
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("served document is not JSON: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("served document is not a JSON object")
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource(contractURL, doc); err != nil {
		return nil, err
	}
	var compileMu sync.Mutex
	c := &contract{
		doc:  doc,
		ops:  map[string]map[string]map[string]*jsonschema.Schema{},
		seen: map[string]bool{},
		compile: func(ptr string) (*jsonschema.Schema, error) {
			compileMu.Lock()
			defer compileMu.Unlock()
			return comp.Compile(contractURL + "#" + ptr)
		},
	}
	// Every component schema must compile, used or not.
	for name := range obj(obj(doc["components"])["schemas"]) {
		if _, err := c.compile(pointer("components", "schemas", name)); err != nil {
			return nil, fmt.Errorf("components.schemas.%s: %w", name, err)
		}
	}
	responses := obj(obj(doc["components"])["responses"])
	for path, item := range obj(doc["paths"]) {
		for method, op := range obj(item) {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			c.ops[key] = map[string]map[string]*jsonschema.Schema{}
			for status, r := range obj(obj(op)["responses"]) {
				base := []string{"paths", path, method, "responses", status}
				resp := obj(r)
				if ref, ok := resp["$ref"].(string); ok {
					name, ok := strings.CutPrefix(ref, "#/components/responses/")
					if !ok || responses[name] == nil {
						return nil, fmt.Errorf("%s %s: unresolvable response $ref %q", key, status, ref)
					}
					base, resp = []string{"components", "responses", name}, obj(responses[name])
				}
				media := map[string]*jsonschema.Schema{}
				for mt, m := range obj(resp["content"]) {
					media[mt] = nil
					if _, ok := obj(m)["schema"]; !ok || !(jsonMedia(mt) || mt == ndjson) {
						continue
					}
					sch, err := c.compile(pointer(append(base, "content", mt, "schema")...))
					if err != nil {
						return nil, fmt.Errorf("%s %s %s: %w", key, status, mt, err)
					}
					media[mt] = sch
				}
				c.ops[key][status] = media
			}
		}
	}
	return c, nil
})

// pointer builds a JSON pointer fragment from unescaped tokens.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
		b.WriteString("/" + url.PathEscape(tok))
	}
	return b.String()
}

// at follows keys through nested objects.
func at(v any, keys ...string) any {
	for _, k := range keys {
		v = obj(v)[k]
	}
	return v
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func jsonMedia(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

func contractOrFatal(t testing.TB) *contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return c
}

func init() {
	contractCheck = checkContract
}

// checkContract checks one response the harness saw against the document:
// the status is declared for the operation (or it has a default), the
// content type is one the response declares, and a JSON body validates
// against the declared schema. Write responses must lead with requestId.
func checkContract(t testing.TB, method, pattern string, status int, contentType string, body []byte) {
	t.Helper()
	c := contractOrFatal(t)
	key := method + " " + pattern
	op, ok := c.ops[key]
	if !ok {
		t.Errorf("contract: %s is served but not in openapi.yaml", key)
		return
	}
	c.mu.Lock()
	c.seen[key+" "+strconv.Itoa(status)] = true
	c.mu.Unlock()
	media, ok := op[strconv.Itoa(status)]
	if !ok {
		media, ok = op["default"]
	}
	if !ok {
		t.Errorf("contract: %s answered %d, which openapi.yaml does not declare (it declares %s)\n%s",
			key, status, strings.Join(slices.Sorted(mapKeys(op)), ", "), body)
		return
	}
	if len(body) == 0 {
		if len(media) > 0 {
			t.Errorf("contract: %s %d has an empty body; openapi.yaml declares content", key, status)
		}
		return
	}
	if len(media) == 0 {
		t.Errorf("contract: %s %d has a body; openapi.yaml declares none\n%s", key, status, body)
		return
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Errorf("contract: %s %d: bad Content-Type %q", key, status, contentType)
		return
	}
	sch, ok := media[mt]
	if !ok {
		t.Errorf("contract: %s %d answered %s; openapi.yaml declares %s\n%s",
			key, status, mt, strings.Join(slices.Sorted(mapKeys(media)), ", "), body)
		return
	}
	if _, raw := rawBodyOperations[key]; raw || sch == nil {
		return
	}
	if mt == ndjson { // the schema is each line's
		for i, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
			if err == nil {
				err = sch.Validate(inst)
			}
			if err != nil {
				t.Errorf("contract: %s %d: line %d does not match openapi.yaml: %v\n%s", key, status, i+1, err, line)
				return
			}
		}
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("contract: %s %d: body is not JSON: %v\n%s", key, status, err, body)
		return
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("contract: %s %d: body does not match openapi.yaml:\n%v\nbody: %s", key, status, err, body)
	}
	if mt == "application/problem+json" {
		checkProblem(t, key, status, inst)
	}
	if method != http.MethodGet && status < 300 && !bytes.HasPrefix(body, []byte(`{"requestId":"`)) {
		t.Errorf("contract: %s %d: a write's body must lead with requestId\n%s", key, status, body)
	}
}

// problemMembers are what a problem with a code must carry besides the
// members every problem has: the document says so in prose (a schema per
// code would give generated clients an anonymous type per response).
var problemMembers = map[string]string{
	"validation-failed":    "errors",
	"insufficient-credits": "shortfall",
	"child-limit-exceeded": "shortfall",
	"email-quota":          "quota",
	"form-quota":           "quota",
}

// checkProblem checks what the Problem schema leaves to the response: the
// body's status is the response's, and a code's own member is there.
func checkProblem(t testing.TB, key string, status int, inst any) {
	t.Helper()
	p := obj(inst)
	if got, _ := p["status"].(json.Number); got.String() != strconv.Itoa(status) {
		if f, ok := p["status"].(float64); !ok || int(f) != status {
			t.Errorf("contract: %s %d: the problem says status %v", key, status, p["status"])
		}
	}
	code, _ := p["code"].(string)
	if member, ok := problemMembers[code]; ok && p[member] == nil {
		t.Errorf("contract: %s %d: a %s problem without %s", key, status, code, member)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestOpenAPIPathsAreTheRoutes checks that the document describes exactly
// the registered routes, and that it marks exactly the public ones as
// needing no authentication.
func TestOpenAPIPathsAreTheRoutes(t *testing.T) {
	t.Parallel()
	c := contractOrFatal(t)
	routes := map[string]Route{}
	for _, r := range NewServer(nil, Options{}).Routes() {
		routes[r.Method+" "+r.Path] = r
	}
	var undocumented, unserved []string
	for key := range routes {
		if _, ok := c.ops[key]; !ok {
			undocumented = append(undocumented, key)
		}
	}
	for key := range c.ops {
		if _, ok := routes[key]; !ok {
			unserved = append(unserved, key)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unserved)
	if len(undocumented) > 0 {
		t.Errorf("routes registered in routes.go but missing from openapi.yaml:\n  %s", strings.Join(undocumented, "\n  "))
	}
	if len(unserved) > 0 {
		t.Errorf("operations in openapi.yaml that routes.go does not register:\n  %s", strings.Join(unserved, "\n  "))
	}

	operationIDs := map[string]string{}
	for key, r := range routes {
		method, path, _ := strings.Cut(key, " ")
		op := obj(obj(obj(c.doc["paths"])[path])[strings.ToLower(method)])
		if op == nil {
			continue
		}
		id, _ := op["operationId"].(string)
		if prev, dup := operationIDs[id]; id == "" || dup {
			t.Errorf("%s: operationId %q is missing or also used by %s", key, id, prev)
		}
		operationIDs[id] = key
		security, overridden := op["security"].([]any)
		if public := overridden && len(security) == 0; public != r.Public {
			t.Errorf("%s: public in routes.go = %v, but openapi.yaml says security %v", key, r.Public, op["security"])
		}
		if !r.Public {
			statuses := []string{"400", "401", "404", "500", "503"}
			if _, hasBody := op["requestBody"]; hasBody {
				statuses = append(statuses, "422")
			}
			for _, status := range statuses {
				if _, ok := c.ops[key][status]; !ok {
					t.Errorf("%s: every authenticated operation can answer %s; openapi.yaml does not declare it", key, status)
				}
			}
		}
		if _, ok := c.ops[key]["429"]; r.RateLimited && !ok {
			t.Errorf("%s: a rate-limited operation can answer 429 rate-limited; openapi.yaml does not declare it", key)
		}
		// The API takes Idempotency-Key on every POST, but the public POSTs
		// (/v1/auth/login, /set-password, /password-reset) are exempt: their
		// bodies are passwords and one-time tokens and their answers session
		// tokens, which must never be stored for a replay (see public in
		// auth.go), and they have no caller to scope a key to.
		if method == http.MethodPost && !r.Public && !hasParameter(c.doc, op, "Idempotency-Key") {
			t.Errorf("%s: every POST takes Idempotency-Key; openapi.yaml does not declare it", key)
		}
	}
}

func hasParameter(doc, op map[string]any, name string) bool {
	for _, p := range op["parameters"].([]any) {
		p := obj(p)
		if ref, ok := p["$ref"].(string); ok {
			p = obj(obj(obj(doc["components"])["parameters"])[strings.TrimPrefix(ref, "#/components/parameters/")])
		}
		if p["name"] == name {
			return true
		}
	}
	return false
}

// TestOpenAPIExamplesMatchSchemas checks every example in the document
// (of a media type or a parameter) against the schema beside it, so the
// examples users copy are valid requests and responses.
func TestOpenAPIExamplesMatchSchemas(t *testing.T) {
	t.Parallel()
	c := contractOrFatal(t)
	n := 0
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		switch v := v.(type) {
		case map[string]any:
			if ex, ok := v["example"]; ok {
				if _, ok := v["schema"]; ok {
					n++
					sch, err := c.compile(pointer(append(path, "schema")...))
					if err != nil {
						t.Errorf("%s: %v", pointer(path...), err)
					} else if err := sch.Validate(ex); err != nil {
						t.Errorf("the example at %s does not match its schema:\n%v", pointer(path...), err)
					}
				}
			}
			for k, child := range v {
				walk(child, append(slices.Clip(path), k))
			}
		case []any:
			for i, child := range v {
				walk(child, append(slices.Clip(path), strconv.Itoa(i)))
			}
		}
	}
	walk(c.doc, nil)
	if n == 0 {
		t.Fatal("found no examples to check")
	}
}

// TestOpenAPIServed checks GET /openapi.json: public, JSON, OpenAPI 3.1.0,
// and the same document the contract tests read.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, testdb.SQLite(t))
	res := a.do(t, req{Method: http.MethodGet, Path: "/openapi.json"})
	if res.Status != http.StatusOK {
		t.Fatalf("status %d\n%s", res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !json.Valid(res.Body) {
		t.Fatalf("body is not valid JSON")
	}
	doc := res.JSON(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	want, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Body, want) {
		t.Errorf("served document differs from OpenAPI()")
	}
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The document is read by tools nobody here wrote: code generators
// (oapi-codegen for sdk/, openapi-typescript), mock servers and
// validators (Stoplight Prism, Redocly). These tests hold it to what they
// accept without friction.

// TestOpenAPIValidatesAsOpenAPI31 validates the served document against
// the OpenAPI 3.1 schema the OpenAPI Initiative publishes
// (testdata/oas, https://spec.openapis.org/oas/3.1/schema/2022-10-07), and
// checks that its schemas are plain JSON Schema 2020-12: with the OpenAPI
// "base" dialect, Prism validates no bodies at all.
func TestOpenAPIValidatesAsOpenAPI31(t *testing.T) {
	t.Parallel()
	c := contractOrFatal(t)
	if got := c.doc["jsonSchemaDialect"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("jsonSchemaDialect = %v, want the JSON Schema 2020-12 dialect", got)
	}
	raw, err := os.ReadFile("testdata/oas/schema-3.1-2022-10-07.json")
	if err != nil {
		t.Fatal(err)
	}
	oas, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	comp.AssertFormat()
	const id = "https://spec.openapis.org/oas/3.1/schema/2022-10-07"
	if err := comp.AddResource(id, oas); err != nil {
		t.Fatal(err)
	}
	sch, err := comp.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(c.doc); err != nil {
		t.Errorf("openapi.yaml is not a valid OpenAPI 3.1 document:\n%v", err)
	}
}

// schemaSite is where a schema sits: whether it is a named component
// (components/schemas/X itself), and whether it only constrains — a
// condition (if, then, else, not) or a fragment that adds rules to a named
// schema's members — rather than declaring a shape of data.
type schemaSite struct {
	named, constraint bool
}

// visitSchemas calls fn for every schema in the document with its JSON
// pointer and site; it walks into subschemas.
func visitSchemas(doc map[string]any, fn func(ptr string, s map[string]any, at schemaSite)) {
	var walk func(v any, path []string, at schemaSite)
	walk = func(v any, path []string, at schemaSite) {
		s, ok := v.(map[string]any)
		if !ok {
			return
		}
		if !at.named && onlyConstrains(s) {
			at.constraint = true
		}
		fn(pointer(path...), s, at)
		inner := schemaSite{constraint: at.constraint}
		for _, k := range []string{"items", "additionalProperties", "unevaluatedProperties", "contains"} {
			walk(s[k], append(slices.Clip(path), k), inner)
		}
		for _, k := range []string{"not", "if", "then", "else"} {
			walk(s[k], append(slices.Clip(path), k), schemaSite{constraint: true})
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf", "prefixItems"} {
			for i, sub := range asList(s[k]) {
				walk(sub, append(slices.Clip(path), k, strconv.Itoa(i)), inner)
			}
		}
		for _, k := range []string{"properties", "patternProperties", "$defs"} {
			for name, sub := range obj(s[k]) {
				walk(sub, append(slices.Clip(path), k, name), inner)
			}
		}
	}
	for name, s := range obj(obj(doc["components"])["schemas"]) {
		walk(s, []string{"components", "schemas", name}, schemaSite{named: true})
	}
	// Every other place a schema sits: parameters, headers and media types,
	// under paths and components.
	var find func(v any, path []string)
	find = func(v any, path []string) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "schema" {
					walk(child, append(slices.Clip(path), k), schemaSite{})
					continue
				}
				if k == "schemas" && len(path) == 1 && path[0] == "components" {
					continue
				}
				if k == "example" || k == "examples" {
					continue
				}
				find(child, append(slices.Clip(path), k))
			}
		case []any:
			for i, child := range v {
				find(child, append(slices.Clip(path), strconv.Itoa(i)))
			}
		}
	}
	find(map[string]any{"paths": doc["paths"], "components": doc["components"]}, nil)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// onlyConstrains reports whether a schema declares no data of its own: no
// type, and members that only narrow what a named schema declares (a
// problem's status and code, say).
func onlyConstrains(s map[string]any) bool {
	if _, typed := s["type"]; typed {
		return false
	}
	props := obj(s["properties"])
	if len(props) == 0 {
		return false
	}
	for _, p := range props {
		p := obj(p)
		for _, shape := range []string{"type", "$ref", "allOf", "oneOf", "anyOf", "items", "properties"} {
			if _, ok := p[shape]; ok {
				return false
			}
		}
	}
	return true
}

// tagged returns a member that every branch of a union fixes (const or
// enum) — a discriminator waiting to be declared — or "".
func tagged(doc map[string]any, branches []any) string {
	schemas := obj(obj(doc["components"])["schemas"])
	var common map[string]bool
	for _, b := range branches {
		props := map[string]bool{}
		var collect func(s map[string]any)
		collect = func(s map[string]any) {
			if ref, ok := s["$ref"].(string); ok {
				collect(obj(schemas[strings.TrimPrefix(ref, "#/components/schemas/")]))
			}
			for name, p := range obj(s["properties"]) {
				if _, c := obj(p)["const"]; c {
					props[name] = true
				}
				if _, e := obj(p)["enum"]; e {
					props[name] = true
				}
			}
			for _, sub := range asList(s["allOf"]) {
				collect(obj(sub))
			}
		}
		collect(obj(b))
		if common == nil {
			common = props
			continue
		}
		for name := range common {
			if !props[name] {
				delete(common, name)
			}
		}
	}
	for name := range common {
		return name
	}
	return ""
}

// TestOpenAPISchemasSuitGenerators checks what generators and validators
// trip over:
//   - $ref beside other keywords (Prism flags every such response; use
//     allOf, or describe the property where it is used);
//   - object schemas that are not named components (they become anonymous
//     structs and unknown types);
//   - anyOf/oneOf branches that only list required members (openapi-typescript
//     gives up on them: the type becomes unknown);
//   - oneOf between objects without a discriminator;
//   - integers without a format (a credit amount is int64, never a float or
//     interface{}), and consts without a type.
func TestOpenAPISchemasSuitGenerators(t *testing.T) {
	t.Parallel()
	c := contractOrFatal(t)
	var problems []string
	add := func(ptr, msg string) { problems = append(problems, ptr+": "+msg) }
	// $ref with siblings, anywhere (schemas, parameters, responses).
	var refs func(v any, path []string)
	refs = func(v any, path []string) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$ref"]; ok && len(v) > 1 {
				keys := slices.Sorted(mapKeys(v))
				add(pointer(path...), "$ref beside "+strings.Join(slices.DeleteFunc(keys, func(k string) bool { return k == "$ref" }), ", "))
			}
			for k, child := range v {
				if k == "example" || k == "examples" {
					continue
				}
				refs(child, append(slices.Clip(path), k))
			}
		case []any:
			for i, child := range v {
				refs(child, append(slices.Clip(path), strconv.Itoa(i)))
			}
		}
	}
	refs(c.doc, nil)
	visitSchemas(c.doc, func(ptr string, s map[string]any, at schemaSite) {
		if _, has := s["properties"]; has && !at.named && !at.constraint {
			add(ptr, "an object schema that is not a named component")
		}
		if at.constraint {
			return
		}
		for _, k := range []string{"anyOf", "oneOf"} {
			branches := asList(s[k])
			objects := 0
			for i, b := range branches {
				b := obj(b)
				if _, ref := b["$ref"]; ref {
					if target := obj(obj(obj(c.doc["components"])["schemas"])[strings.TrimPrefix(b["$ref"].(string), "#/components/schemas/")]); target["type"] == "object" || target["allOf"] != nil {
						objects++
					}
					continue
				}
				if _, typed := b["type"]; !typed {
					add(ptr+"/"+k+"/"+strconv.Itoa(i), "a branch without a type or $ref")
				}
			}
			if k == "oneOf" && objects > 1 && s["discriminator"] == nil && tagged(c.doc, branches) != "" {
				add(ptr, "oneOf between objects told apart by "+tagged(c.doc, branches)+" without a discriminator")
			}
		}
		if _, fixed := s["const"]; fixed && s["type"] == nil {
			add(ptr, "a const without a type")
		}
		if s["type"] == "integer" && s["format"] != "int64" && s["format"] != "int32" {
			add(ptr, "an integer without format int64 or int32")
		}
	})
	slices.Sort(problems)
	if len(problems) > 0 {
		t.Errorf("%d places in openapi.yaml that tools choke on:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}

// TestOpenAPIWithRedocly lints the document with Redocly's CLI when it is
// installed (npm i -g @redocly/cli); it is not required, so it skips
// without it.
func TestOpenAPIWithRedocly(t *testing.T) {
	bin, err := exec.LookPath("redocly")
	if err != nil {
		t.Skip("redocly is not installed (npm i -g @redocly/cli); the other OpenAPI tests stand in for it")
	}
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "lint", "--format", "json", path).CombinedOutput()
	var report struct {
		Totals struct{ Errors int } `json:"totals"`
	}
	_ = json.Unmarshal(out, &report)
	if err != nil || report.Totals.Errors > 0 {
		t.Errorf("redocly lint: %v\n%s", err, out)
	}
}

// TestOutboxSchemaCoversEveryTemplate: each email template (the Template
// constants of package canopy) is a kind of OutboxMessage, so a generated
// client can read every message GET /v1/outbox lists.
func TestOutboxSchemaCoversEveryTemplate(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../outbox.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var templates []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "Template") {
					v, _ := strconv.Unquote(lit.Value)
					templates = append(templates, v)
				}
			}
		}
	}
	if len(templates) < 10 {
		t.Fatalf("found only %d templates in outbox.go", len(templates))
	}
	mapping := obj(at(contractOrFatal(t).doc, "components", "schemas", "OutboxMessage", "discriminator", "mapping"))
	slices.Sort(templates)
	documented := slices.Sorted(mapKeys(mapping))
	if !slices.Equal(templates, documented) {
		t.Errorf("OutboxMessage's kinds are %v; the templates are %v", documented, templates)
	}
}

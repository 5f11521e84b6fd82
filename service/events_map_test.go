package service

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/canopyhq/canopy"
)

// TestEveryAuditedActionHasAnEventMapping reads the service's source,
// finds every action passed to op.audit and systemAudit — following
// variables and parameters back to the constants they hold — and checks
// that auditEvents says what each one emits. A new audited change without
// an event (or a deliberate "") fails here, not in production.
func TestEveryAuditedActionHasAnEventMapping(t *testing.T) {
	src := parseDir(t, ".", func(name string) bool { return !strings.HasSuffix(name, "_test.go") })
	consts := stringConsts(parseDir(t, "..", func(name string) bool { return !strings.HasSuffix(name, "_test.go") }))
	r := &actionResolver{fset: src.fset, files: src.files, consts: consts}

	found := map[string]string{} // action → where
	for _, f := range src.files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				arg := map[string]int{"audit": 1, "systemAudit": 5}
				i, ok := arg[sel.Sel.Name]
				if !ok || len(call.Args) <= i {
					return true
				}
				values, err := r.resolve(call.Args[i], fn, 0)
				if err != nil {
					t.Errorf("%s: cannot tell which action this audits: %v", src.fset.Position(call.Pos()), err)
					return true
				}
				for _, v := range values {
					found[v] = src.fset.Position(call.Pos()).String()
				}
				return true
			})
		}
	}
	if len(found) < 40 {
		t.Fatalf("found only %d audited actions; the source walk is broken: %v", len(found), slices.Sorted(maps.Keys(found)))
	}
	for _, action := range slices.Sorted(maps.Keys(found)) {
		typ, ok := auditEvents[action]
		if !ok {
			t.Errorf("%s audits %q, which auditEvents does not map to an event type (or to \"\" for none)", found[action], action)
			continue
		}
		if _, known := slices.BinarySearch(canopy.EventTypes, typ); typ != "" && !known {
			t.Errorf("auditEvents maps %q to %q, which is not in canopy.EventTypes", action, typ)
		}
	}
	for action := range auditEvents {
		if _, ok := found[action]; !ok && action != "platform.bootstrapped" {
			t.Errorf("auditEvents maps %q, which nothing audits any more", action)
		}
	}
}

type parsed struct {
	fset  *token.FileSet
	files []*ast.File
}

func parseDir(t *testing.T, dir string, keep func(string) bool) parsed {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{fset: token.NewFileSet()}
	for _, name := range names {
		if !keep(filepath.Base(name)) {
			continue
		}
		f, err := parser.ParseFile(p.fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.files = append(p.files, f)
	}
	return p
}

// stringConsts collects the string constants of package canopy.
func stringConsts(p parsed) map[string]string {
	out := map[string]string{}
	for _, f := range p.files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}

// actionResolver finds the string values an expression can hold: literals,
// canopy constants, string(x) conversions, concatenations, variables
// assigned such values in their function, and parameters, through every
// call of their function.
type actionResolver struct {
	fset   *token.FileSet
	files  []*ast.File
	consts map[string]string
}

func (r *actionResolver) resolve(e ast.Expr, fn *ast.FuncDecl, depth int) ([]string, error) {
	if depth > 6 {
		return nil, fmt.Errorf("too deep")
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			v, err := strconv.Unquote(e.Value)
			return []string{v}, err
		}
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok && x.Name == "canopy" {
			if v, ok := r.consts[e.Sel.Name]; ok {
				return []string{v}, nil
			}
		}
	case *ast.CallExpr:
		if f, ok := e.Fun.(*ast.Ident); ok && f.Name == "string" && len(e.Args) == 1 {
			return r.resolve(e.Args[0], fn, depth+1)
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			xs, err := r.resolve(e.X, fn, depth+1)
			if err != nil {
				return nil, err
			}
			ys, err := r.resolve(e.Y, fn, depth+1)
			if err != nil {
				return nil, err
			}
			var out []string
			for _, x := range xs {
				for _, y := range ys {
					out = append(out, x+y)
				}
			}
			return out, nil
		}
	case *ast.Ident:
		return r.variable(e.Name, fn, depth)
	}
	return nil, fmt.Errorf("%s is not a value this test can follow", r.fset.Position(e.Pos()))
}

// variable resolves a local variable or parameter of fn.
func (r *actionResolver) variable(name string, fn *ast.FuncDecl, depth int) ([]string, error) {
	var out []string
	var failed error
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			return true
		}
		for i, lhs := range as.Lhs {
			if id, ok := lhs.(*ast.Ident); ok && id.Name == name {
				vs, err := r.resolve(as.Rhs[i], fn, depth+1)
				if err != nil {
					failed = err
				}
				out = append(out, vs...)
			}
		}
		return true
	})
	if failed != nil || len(out) > 0 {
		return out, failed
	}
	index := -1
	arity := 0
	for _, field := range fn.Type.Params.List {
		for _, id := range field.Names {
			if id.Name == name {
				index = arity
			}
			arity++
		}
	}
	if index < 0 {
		return nil, fmt.Errorf("%s: %s is neither assigned in %s nor its parameter", r.fset.Position(fn.Pos()), name, fn.Name.Name)
	}
	calls := 0
	for _, f := range r.files {
		for _, decl := range f.Decls {
			caller, ok := decl.(*ast.FuncDecl)
			if !ok || caller.Body == nil {
				continue
			}
			ast.Inspect(caller.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				// Calls with another arity are of another function of
				// that name (a method of another type).
				if !ok || !calls_(call, fn.Name.Name) || len(call.Args) != arity {
					return true
				}
				calls++
				vs, err := r.resolve(call.Args[index], caller, depth+1)
				if err != nil {
					failed = err
				}
				out = append(out, vs...)
				return true
			})
		}
	}
	if calls == 0 {
		return nil, fmt.Errorf("nothing calls %s", fn.Name.Name)
	}
	return out, failed
}

// calls_ reports whether call calls a function or method named name.
func calls_(call *ast.CallExpr, name string) bool {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name == name
	case *ast.SelectorExpr:
		return f.Sel.Name == name
	}
	return false
}

// TestEveryEventTypeIsMade: each type canopy.EventTypes lists (and the
// API document offers) is named by the service's source, as an audit
// action's event or an event of its own; a type nothing makes would be one
// an integration waits for in vain.
func TestEveryEventTypeIsMade(t *testing.T) {
	src := parseDir(t, ".", func(name string) bool { return !strings.HasSuffix(name, "_test.go") })
	consts := stringConsts(parseDir(t, "..", func(name string) bool { return !strings.HasSuffix(name, "_test.go") }))
	named := map[string]bool{}
	for _, f := range src.files {
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "canopy" && strings.HasPrefix(sel.Sel.Name, "Event") {
					named[consts[sel.Sel.Name]] = true
				}
			}
			return true
		})
	}
	for _, typ := range canopy.EventTypes {
		if !named[typ] {
			t.Errorf("event type %q is listed but nothing in the service makes it", typ)
		}
	}
}

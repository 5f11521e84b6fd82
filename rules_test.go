package canopy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRulesNameCodeThatExists keeps docs/rules.md honest: every function,
// method and test it names as enforcing or proving a rule exists in the
// repository, so the document cannot silently fall behind the code.
func TestRulesNameCodeThatExists(t *testing.T) {
	doc, err := os.ReadFile("docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{} // "Name", "Recv.Name"
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				declared[d.Name.Name] = true
				if d.Recv != nil && len(d.Recv.List) == 1 {
					typ := d.Recv.List[0].Type
					if star, ok := typ.(*ast.StarExpr); ok {
						typ = star.X
					}
					if idx, ok := typ.(*ast.IndexExpr); ok {
						typ = idx.X
					}
					if id, ok := typ.(*ast.Ident); ok {
						declared[id.Name+"."+d.Name.Name] = true
					}
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if !ok {
						continue
					}
					declared[ts.Name.Name] = true
					if it, ok := ts.Type.(*ast.InterfaceType); ok {
						for _, m := range it.Methods.List {
							for _, n := range m.Names {
								declared[ts.Name.Name+"."+n.Name] = true
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Code names in backquotes: Service.Act, canopy.ReachOf, op.charge,
	// TestIsolationMatrix, visibleIn.
	names := regexp.MustCompile("`([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)`").FindAllStringSubmatch(string(doc), -1)
	checked := 0
	for _, m := range names {
		name := m[1]
		parts := strings.Split(name, ".")
		switch {
		case len(parts) == 1 && !isCodeName(name):
			continue // a word such as `created` or `dataManager`
		case !packages[parts[0]] && strings.ToLower(name) == name:
			continue // a name on the wire, such as the event type `account.created`
		case packages[parts[0]] && len(parts) == 2:
			name = parts[1] // a package-level name: canopy.ReachOf
		case packages[parts[0]]:
			name = strings.Join(parts[1:], ".") // canopy.Role.Can, store.Tx.LockTree
		case len(parts) > 2:
			name = strings.Join(parts[len(parts)-2:], ".")
		}
		checked++
		if !declared[name] {
			t.Errorf("docs/rules.md names %s, which is declared nowhere in the repository", m[1])
		}
	}
	if checked < 50 {
		t.Fatalf("only %d code names found in docs/rules.md: is the pattern right?", checked)
	}
}

// packages are the repository's packages, as docs/rules.md prefixes names.
var packages = map[string]bool{
	"canopy": true, "store": true, "service": true, "httpapi": true, "console": true, "mail": true, "sms": true,
	"webhook": true,
}

// isCodeName tells the names of functions and tests (TestX, BenchmarkX,
// camelCase helpers with a capital inside) from plain words in backquotes.
func isCodeName(s string) bool {
	if strings.HasPrefix(s, "Test") || strings.HasPrefix(s, "Benchmark") {
		return true
	}
	return regexp.MustCompile(`^[a-z]+[A-Z][A-Za-z]*$`).MatchString(s) && !map[string]bool{
		"autoShareRole": true, "delegatedAdmin": true, "dataManager": true, "requestId": true,
	}[s]
}

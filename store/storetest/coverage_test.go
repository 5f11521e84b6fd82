package storetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/store"
)

// TestSuiteCallsEveryTxMethod fails when a store.Tx method is called
// nowhere in the suite: such a method's contract is checked on neither
// engine, so the two may disagree on it unseen. It reads the suite's
// sources (not its tests) and collects every method call `x.Name(`, where
// x is not an imported package; a Tx method whose name is not among them
// is reported.
func TestSuiteCallsEveryTxMethod(t *testing.T) {
	t.Parallel()
	called := suiteCalls(t)
	tx := reflect.TypeFor[store.Tx]()
	var missing []string
	for i := range tx.NumMethod() {
		if name := tx.Method(i).Name; !called[name] {
			missing = append(missing, name)
		}
	}
	require.Empty(t, missing, "store.Tx methods the suite never calls: add conformance tests for them to store/storetest")
}

// suiteCalls returns the names of the methods the suite's non-test sources
// call.
func suiteCalls(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	called := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		imports := map[string]bool{}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = true
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] {
				return true // a package's function, such as store.Conflict
			}
			called[sel.Sel.Name] = true
			return true
		})
	}
	require.NotEmpty(t, called)
	return called
}

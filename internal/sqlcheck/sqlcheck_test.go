package sqlcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// sqlMethods take SQL text (or a column or table name GORM splices in
// verbatim) as their first argument after any context.
var sqlMethods = map[string]bool{
	// GORM
	"Raw": true, "Exec": true, "Where": true, "Or": true, "Not": true,
	"Select": true, "Order": true, "Group": true, "Having": true,
	"Joins": true, "InnerJoins": true, "Table": true, "Distinct": true,
	"Pluck": true, "Update": true, "UpdateColumn": true,
	// database/sql and pgx
	"ExecContext": true, "Query": true, "QueryContext": true,
	"QueryRow": true, "QueryRowContext": true, "Prepare": true,
	"PrepareContext": true,
}

// allowed are the test helpers that run SQL they are handed, with why.
var allowed = map[string]string{
	"internal/testdb/testdb.go:MustExec":           "runs a test's own statement; tests are not scanned",
	"internal/testdb/testdb.go:CreateLegacyTables": "runs the project's own testdata/attesto_phoenix_schema.sql",
	"internal/migrate/mysql.go:createMySQL":        "runs a CREATE TABLE of the module's own embedded MySQL migration file",
	"repo/statements.go:query":                     "runs a statement GORM rendered at construction (render) from clause builders and constants",
	"repo/statements.go:exec":                      "runs a statement GORM rendered at construction (render) from clause builders and constants",
	"repo/statements.go:scanRow":                   "runs a statement GORM rendered at construction (render) from clause builders and constants",
}

func TestNoSQLBuiltFromVariables(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // by package directory
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		// The product's code: tests build statements from their own
		// constants, and no caller input reaches them.
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files[filepath.Dir(path)] = append(files[filepath.Dir(path)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	check := func(fn string, e ast.Expr, what string, consts map[string]bool) {
		calls++
		if constant(e, consts) {
			return
		}
		pos := fset.Position(e.Pos())
		rel, _ := filepath.Rel(root, pos.Filename)
		if _, ok := allowed[filepath.ToSlash(rel)+":"+fn]; ok {
			return
		}
		t.Errorf("%s:%d: %s in %s builds SQL from a non-constant %s", rel, pos.Line, what, fn, describe(e))
	}
	for _, pkg := range files {
		consts := packageConsts(pkg)
		for _, f := range pkg {
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok {
					continue
				}
				ast.Inspect(fn, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.CallExpr:
						if name, arg := sqlArg(n); arg != nil {
							check(fn.Name.Name, arg, name, consts)
						}
					case *ast.CompositeLit:
						// clause.Expr{SQL: ...} and clause.NamedExpr{SQL: ...}
						for _, el := range n.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "SQL") {
								check(fn.Name.Name, kv.Value, "SQL field", consts)
							}
						}
					}
					return true
				})
			}
		}
	}
	// The scan must have found the module's statements, or it proves nothing.
	if calls < 10 {
		t.Fatalf("found only %d SQL-taking calls; the scan is not reading the source", calls)
	}
}

// sqlArg returns the name of a call that takes SQL and its SQL argument:
// the first, or the second when the first is a context.
func sqlArg(call *ast.CallExpr) (string, ast.Expr) {
	var name string
	switch fun := call.Fun.(type) {
	case *ast.SelectorExpr:
		name = fun.Sel.Name
	case *ast.Ident:
		name = fun.Name
	}
	args := call.Args
	if _, ok := call.Fun.(*ast.SelectorExpr); !ok || !sqlMethods[name] || len(args) == 0 {
		return "", nil
	}
	if id, ok := args[0].(*ast.Ident); ok && strings.HasSuffix(strings.ToLower(id.Name), "ctx") {
		if len(args) < 2 {
			return "", nil
		}
		return name, args[1]
	}
	return name, args[0]
}

// constant reports whether e is text fixed at compile time, a value that
// is not text (a struct, map or clause GORM binds), or an identifier the
// driver quotes.
func constant(e ast.Expr, consts map[string]bool) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return consts[e.Name] || e.Name == "nil"
	case *ast.SelectorExpr:
		// A constant of another package: exported and named like one.
		_, isPkg := e.X.(*ast.Ident)
		return isPkg && unicode.IsUpper(rune(e.Sel.Name[0])) && !strings.HasPrefix(e.Sel.Name, "Get")
	case *ast.BinaryExpr:
		return e.Op == token.ADD && constant(e.X, consts) && constant(e.Y, consts)
	case *ast.ParenExpr:
		return constant(e.X, consts)
	case *ast.CompositeLit, *ast.UnaryExpr, *ast.FuncLit:
		// &Model{}, clause.Column{...}, map[string]any{...}: bound by GORM;
		// a function (sql.Conn's Raw) is no text at all.
		return true
	case *ast.CallExpr:
		sel, ok := e.Fun.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		// pgx.Identifier{...}.Sanitize() quotes an identifier as the
		// server requires; nothing else that computes text is allowed.
		if sel.Sel.Name != "Sanitize" {
			return false
		}
		lit, ok := sel.X.(*ast.CompositeLit)
		if !ok {
			return false
		}
		typ, ok := lit.Type.(*ast.SelectorExpr)
		return ok && typ.Sel.Name == "Identifier"
	default:
		return false
	}
}

// packageConsts collects the names of a package's constants.
func packageConsts(files []*ast.File) map[string]bool {
	consts := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if d, ok := n.(*ast.GenDecl); ok && d.Tok == token.CONST {
				for _, s := range d.Specs {
					for _, name := range s.(*ast.ValueSpec).Names {
						consts[name.Name] = true
					}
				}
			}
			return true
		})
	}
	return consts
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func describe(e ast.Expr) string {
	switch e.(type) {
	case *ast.Ident:
		return "variable"
	case *ast.CallExpr:
		return "function result"
	case *ast.BinaryExpr:
		return "concatenation"
	default:
		return "expression"
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

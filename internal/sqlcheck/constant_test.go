package sqlcheck

import (
	"go/parser"
	"testing"
)

// The rule itself: what counts as SQL text fixed at compile time.
func TestConstant(t *testing.T) {
	t.Parallel()
	consts := map[string]bool{"pgSQL": true, "sqliteSQL": true}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{`"SELECT 1"`, true},
		{`pgSQL`, true},
		{`pgSQL + " LIMIT 1"`, true},
		{`query`, false},
		{`pgSQL + query`, false},
		{`s.db.pick(pgSQL, sqliteSQL)`, false},
		{`clause.Eq{Column: clause.Column{Name: "url"}, Value: v}`, true},
		{`keyIs("url", p)`, false},
		{`fmt.Sprintf("SELECT %s", col)`, false},
		{`pgx.Identifier{name}.Sanitize()`, true},
		{`strings.ToUpper(pgSQL)`, false},
	} {
		e, err := parser.ParseExpr(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := constant(e, consts); got != tc.want {
			t.Errorf("constant(%s) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

package cimd_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Resolving documents links no database: cimd declares the Cache it
// needs instead of importing the stores, so neither GORM nor any driver
// is among its dependencies.
func TestNoDatabaseDependencies(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/attesto/gormstore/cimd").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "code.dny.dev/ssrf") {
		t.Fatalf("go list -deps gave %d packages without code.dny.dev/ssrf: not the list wanted", len(deps))
	}
	for _, dep := range deps {
		for _, banned := range []string{
			"gorm.io/",
			"github.com/jackc/",
			"github.com/go-sql-driver/",
			"github.com/glebarez/",
			"modernc.org/",
			"database/sql",
			"github.com/attesto/gormstore/repo",
			"github.com/attesto/gormstore/changesets",
			"github.com/attesto/gormstore/models",
		} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("cimd depends on %s", dep)
			}
		}
	}
}

package rig

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
)

// named is a gate that records the order it was asked in.
type named struct {
	name  string
	order *[]string
}

func (g named) Check(*efferent.Setpoint) efferent.Verdict {
	*g.order = append(*g.order, g.name)
	return efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
}

// The chain runs teleop, e-stop, watchdog, limits, motion, whatever order
// the stages are given in, and leaves out the absent ones, typed nil
// pointers included.
func TestGatesChainOrder(t *testing.T) {
	var order []string
	g := func(n string) safety.Gate { return named{n, &order} }
	c := Gates{Motion: g("motion"), Limits: g("limits"), Watchdog: g("watchdog"), EStop: g("estop"), Teleop: g("teleop")}.Chain()
	c.Check(&efferent.Setpoint{})
	if want := []string{"teleop", "estop", "watchdog", "limits", "motion"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	var motion *safety.MotionGate
	order = nil
	c = Gates{Limits: g("limits"), Motion: motion}.Chain()
	if len(c) != 1 {
		t.Fatalf("a nil motion gate is in the chain: %d stages", len(c))
	}
}

// The gate chain is built in exactly one place: no package outside rig
// makes a safety.Chain (rig's Gates.Chain is the only constructor), and
// no package but rig and control calls control.New.
func TestChainBuiltOnce(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var found []string
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n != "." && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.ToSlash(filepath.Dir(rel))
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CompositeLit:
				if sel, ok := x.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Chain" && isIdent(sel.X, "safety") && rel != "rig/gates.go" {
					found = append(found, fset.Position(x.Pos()).String()+": safety.Chain{…}")
				}
			case *ast.CallExpr:
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
					switch {
					case sel.Sel.Name == "Chain" && isIdent(sel.X, "safety") && rel != "rig/gates.go":
						found = append(found, fset.Position(x.Pos()).String()+": safety.Chain(…)")
					case sel.Sel.Name == "New" && isIdent(sel.X, "control") && dir != "rig":
						found = append(found, fset.Position(x.Pos()).String()+": control.New")
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Fatalf("a gate chain or a loop is assembled outside rig:\n%s", strings.Join(found, "\n"))
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

package sql

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/sql/parser"
)

// createFunction plans CREATE [TEMPORARY [SYSTEM]] FUNCTION name AS
// 'identifier' [LANGUAGE …]: name calls, in the queries after it, the
// scalar function the identifier names. Sluice runs Go functions: the
// identifier is 'go:fn' or 'fn' for a function registered with
// sluice.RegisterFunction (or a built-in one), or an identifier that a
// package registered with expr.RegisterClass for a function it ships in Go
// (the nexmark connector does so for Nexmark's Java CountChar, so that
// Nexmark q14 runs as written).
func (p *planner) createFunction(n *parser.CreateFunction) error {
	at := func(pos parser.Pos, format string, args ...any) error {
		return &Error{File: p.o.File, Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...)}
	}
	name := strings.ToUpper(n.Name)
	ident := strings.TrimSpace(n.Identifier)
	target := ""
	switch {
	case strings.HasPrefix(ident, "go:") && expr.IsFunction(strings.TrimPrefix(ident, "go:")):
		target = strings.ToUpper(strings.TrimPrefix(ident, "go:"))
	case expr.IsFunction(ident):
		target = strings.ToUpper(ident)
	default:
		if fn, ok := expr.ClassFunction(ident); ok {
			target = fn
		}
	}
	if target == "" {
		msg := fmt.Sprintf("CREATE FUNCTION %s: no function %q is registered: Sluice runs Go functions, registered from Go with sluice.RegisterFunction and named 'go:name'", n.Name, ident)
		if l := n.Language; l != "" && l != "GO" {
			msg += fmt.Sprintf(" (LANGUAGE %s functions cannot run here)", l)
		}
		return at(n.IdentifierPos, "%s", msg)
	}
	if expr.IsFunction(name) && name != target {
		if n.IfNotExists {
			return nil
		}
		return at(n.Pos, "CREATE FUNCTION %s: %s is a function already", n.Name, name)
	}
	if prev, ok := p.functions[name]; ok && prev != target {
		if n.IfNotExists {
			return nil
		}
		return at(n.Pos, "CREATE FUNCTION %s: %s is created already, calling %s", n.Name, name, prev)
	}
	if p.functions == nil {
		p.functions = map[string]string{}
	}
	p.functions[name] = target
	return nil
}

// Package expr is the bound expression tree: what the planner produces after
// resolving names and types, and what the operators evaluate.
//
// Expressions are immutable once built. The planner inserts explicit Cast
// nodes so that every Call receives arguments of the types its kernel
// expects (see the comment on each Func); evaluators may rely on that.
package expr

import (
	"fmt"
	"strings"

	"github.com/sluicedb/sluice/types"
)

// Expr is a bound, typed scalar expression.
type Expr interface {
	// Type is the SQL type of the expression's value.
	Type() types.T
	// String prints the expression in SQL-like form for EXPLAIN.
	String() string
}

// ColumnRef reads column Index of the input record.
type ColumnRef struct {
	Index int
	Name  string
	T     types.T
}

// Type implements Expr.
func (c *ColumnRef) Type() types.T { return c.T }

// String implements Expr.
func (c *ColumnRef) String() string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("#%d", c.Index)
}

// Literal is a constant.
type Literal struct {
	Value types.Datum
	T     types.T
}

// Type implements Expr.
func (l *Literal) Type() types.T { return l.T }

// String implements Expr.
func (l *Literal) String() string {
	if l.Value.Null {
		return "NULL"
	}
	if l.T.Kind == types.Varchar {
		return "'" + strings.ReplaceAll(l.Value.S, "'", "''") + "'"
	}
	if l.T.Kind == types.Timestamp || l.T.Kind == types.Date {
		return l.T.Name() + " '" + l.Value.String() + "'"
	}
	if l.T.Kind == types.Interval {
		return "INTERVAL '" + l.Value.String() + "'"
	}
	return l.Value.String()
}

// Param is a placeholder ($1, ?) bound to a value before execution.
type Param struct {
	Ordinal int // 1-based
	T       types.T
}

// Type implements Expr.
func (p *Param) Type() types.T { return p.T }

// String implements Expr.
func (p *Param) String() string { return fmt.Sprintf("$%d", p.Ordinal) }

// Cast converts Arg to type To, with SQL (MySQL-flavoured) conversion rules.
// A value that cannot be converted is a data error (SQLSTATE class 22).
type Cast struct {
	Arg Expr
	To  types.T
}

// Type implements Expr.
func (c *Cast) Type() types.T { return c.To }

// String implements Expr.
func (c *Cast) String() string { return fmt.Sprintf("CAST(%s AS %s)", c.Arg, c.To) }

// When is one WHEN cond THEN result arm of a Case.
type When struct {
	Cond   Expr // BOOLEAN
	Result Expr // of the Case's type
}

// Case is a searched CASE: the first arm whose Cond is true gives the
// result, else Else (NULL when nil). The planner rewrites the simple form
// CASE x WHEN v ... into this one, and casts every Result to T.
type Case struct {
	Whens []When
	Else  Expr
	T     types.T
}

// Type implements Expr.
func (c *Case) Type() types.T { return c.T }

// String implements Expr.
func (c *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range c.Whens {
		fmt.Fprintf(&b, " WHEN %s THEN %s", w.Cond, w.Result)
	}
	if c.Else != nil {
		fmt.Fprintf(&b, " ELSE %s", c.Else)
	}
	b.WriteString(" END")
	return b.String()
}

// Call applies a built-in function or operator to its arguments.
type Call struct {
	Func Func
	Args []Expr
	T    types.T
}

// Type implements Expr.
func (c *Call) Type() types.T { return c.T }

// String implements Expr.
func (c *Call) String() string {
	info := c.Func.Info()
	if info.Infix != "" && len(c.Args) == 2 {
		return fmt.Sprintf("(%s %s %s)", c.Args[0], info.Infix, c.Args[1])
	}
	switch c.Func {
	case Neg:
		return fmt.Sprintf("(-%s)", c.Args[0])
	case Not:
		return fmt.Sprintf("(NOT %s)", c.Args[0])
	case IsNull:
		return fmt.Sprintf("(%s IS NULL)", c.Args[0])
	case IsNotNull:
		return fmt.Sprintf("(%s IS NOT NULL)", c.Args[0])
	case In:
		parts := make([]string, len(c.Args)-1)
		for i, a := range c.Args[1:] {
			parts[i] = a.String()
		}
		return fmt.Sprintf("(%s IN (%s))", c.Args[0], strings.Join(parts, ", "))
	}
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s(%s)", info.Name, strings.Join(parts, ", "))
}

// Columns returns the sorted, distinct input column indexes e reads.
func Columns(e Expr) []int {
	seen := map[int]bool{}
	Walk(e, func(x Expr) {
		if c, ok := x.(*ColumnRef); ok {
			seen[c.Index] = true
		}
	})
	out := make([]int, 0, len(seen))
	for i := range seen {
		out = append(out, i)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Walk calls fn on e and every expression below it, parents first.
func Walk(e Expr, fn func(Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *Call:
		for _, a := range x.Args {
			Walk(a, fn)
		}
	case *Cast:
		Walk(x.Arg, fn)
	case *Case:
		for _, w := range x.Whens {
			Walk(w.Cond, fn)
			Walk(w.Result, fn)
		}
		Walk(x.Else, fn)
	}
}

// Rewrite returns e with fn applied bottom-up: children are rewritten first,
// then fn sees the node with its new children. Nodes fn leaves alone are
// shared, not copied.
func Rewrite(e Expr, fn func(Expr) Expr) Expr {
	if e == nil {
		return nil
	}
	switch x := e.(type) {
	case *Call:
		args := make([]Expr, len(x.Args))
		for i, a := range x.Args {
			args[i] = Rewrite(a, fn)
		}
		e = &Call{Func: x.Func, Args: args, T: x.T}
	case *Cast:
		e = &Cast{Arg: Rewrite(x.Arg, fn), To: x.To}
	case *Case:
		ws := make([]When, len(x.Whens))
		for i, w := range x.Whens {
			ws[i] = When{Cond: Rewrite(w.Cond, fn), Result: Rewrite(w.Result, fn)}
		}
		e = &Case{Whens: ws, Else: Rewrite(x.Else, fn), T: x.T}
	}
	return fn(e)
}

// Equal reports whether two expressions are structurally the same: same
// node kinds, functions, types, literal values and column indexes.
func Equal(a, b Expr) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.Type() != b.Type() {
		return false
	}
	switch x := a.(type) {
	case *ColumnRef:
		y, ok := b.(*ColumnRef)
		return ok && x.Index == y.Index
	case *Literal:
		y, ok := b.(*Literal)
		if !ok || x.Value.Null != y.Value.Null {
			return false
		}
		return x.Value.Null || x.String() == y.String()
	case *Param:
		y, ok := b.(*Param)
		return ok && x.Ordinal == y.Ordinal
	case *Cast:
		y, ok := b.(*Cast)
		return ok && Equal(x.Arg, y.Arg)
	case *Call:
		y, ok := b.(*Call)
		if !ok || x.Func != y.Func || len(x.Args) != len(y.Args) {
			return false
		}
		for i := range x.Args {
			if !Equal(x.Args[i], y.Args[i]) {
				return false
			}
		}
		return true
	case *Case:
		y, ok := b.(*Case)
		if !ok || len(x.Whens) != len(y.Whens) || !Equal(x.Else, y.Else) {
			return false
		}
		for i := range x.Whens {
			if !Equal(x.Whens[i].Cond, y.Whens[i].Cond) || !Equal(x.Whens[i].Result, y.Whens[i].Result) {
				return false
			}
		}
		return true
	}
	return false
}

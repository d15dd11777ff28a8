package planner

import (
	"fmt"
	"slices"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// Mirror emits each row of its input and, after it, the same row with
// columns A and B swapped. It is how a symmetric pair count is kept once
// per unordered pair and shown for both orders (see symmetricPairs): its
// input's rows must never have equal values in A and B, so that the
// mirrored rows are other rows than the input's.
type Mirror struct {
	Input Node
	A, B  int
}

// Schema implements Node: the input's, with A and B each nullable when
// either is.
func (m *Mirror) Schema() types.Schema {
	s := append(types.Schema{}, m.Input.Schema()...)
	null := s[m.A].Nullable || s[m.B].Nullable
	s[m.A].Nullable, s[m.B].Nullable = null, null
	return s
}

// Children implements Node.
func (m *Mirror) Children() []Node { return []Node{m.Input} }

// WithChildren implements Node.
func (m *Mirror) WithChildren(c []Node) Node { return &Mirror{Input: c[0], A: m.A, B: m.B} }

// Explain implements Node.
func (m *Mirror) Explain() string {
	in := m.Input.Schema()
	return fmt.Sprintf("Mirror rows and their swap of (%s, %s)", in[m.A].Name, in[m.B].Name)
}

// symmetricPairs counts each unordered pair once in a symmetric pair
// count, the shape of co-occurrence:
//
//	SELECT a.x, b.x, COUNT(*) FROM t a JOIN t b
//	  ON a.k = b.k AND a.x <> b.x [AND b.ts BETWEEN a.ts - d AND a.ts + d]
//	GROUP BY a.x, b.x
//
// The join's condition holds for a pair of rows (p, q) exactly when it
// holds for (q, p), so the count of (x, y) equals that of (y, x). The
// rule turns a.x <> b.x into a.x < b.x, which keeps one order of each
// pair, and puts a Mirror over the aggregate to show each count under
// both orders: the join's filter passes, and the aggregate counts and
// reads back, half as many rows.
//
// It applies to an Aggregate of COUNT(*) only, grouped by exactly the
// same column of the two roles of an inner self-join (Join.SelfJoin),
// possibly through a Project, whose residual has a conjunct a.x <> b.x
// on that column and is symmetric: each conjunct, with the roles
// swapped, is a conjunct of it, up to the order of a comparison's
// operands, and comparisons of the two roles' times written as
// b.ts - a.ts against a constant (so b.ts BETWEEN a.ts - d AND a.ts + d
// is symmetric, as is b.ts > a.ts - d AND b.ts < a.ts + d, while
// BETWEEN a.ts - d AND a.ts + e is not). The column's type must order every two
// unequal values (not DOUBLE, whose NaN is unequal to itself yet not
// ordered). Only continuous plans are rewritten: a query recomputes the
// answer the plain way, which is what the differential tests compare
// views against.
func symmetricPairs(n Node, mode queryMode) (Node, bool) {
	a, ok := n.(*Aggregate)
	if !ok || mode != continuousQuery || len(a.GroupBy) != 2 || a.WindowCol >= 0 || a.EmitOnClose || len(a.Aggs) == 0 {
		return n, false
	}
	for _, c := range a.Aggs {
		if c.Func != AggCountStar {
			return n, false
		}
	}
	cols := []int{a.GroupBy[0], a.GroupBy[1]}
	in := a.Input
	proj, _ := in.(*Project)
	if proj != nil {
		for i, c := range cols {
			ref, ok := proj.Exprs[c].(*expr.ColumnRef)
			if !ok {
				return n, false
			}
			cols[i] = ref.Index
		}
		in = proj.Input
	}
	j, ok := in.(*Join)
	if !ok || j.Kind != InnerJoin || j.Residual == nil || !j.SelfJoin() {
		return n, false
	}
	nl := len(j.Left.Schema())
	x := min(cols[0], cols[1])
	if x >= nl || max(cols[0], cols[1]) != x+nl {
		return n, false
	}
	residual, ok := orderPairs(j, x)
	if !ok {
		return n, false
	}
	nj := *j
	nj.Residual, nj.Unordered = residual, true
	var input Node = &nj
	if proj != nil {
		input = proj.WithChildren([]Node{input})
	}
	na := *a
	na.Input = input
	return &Mirror{Input: &na, A: 0, B: 1}, true
}

// orderPairs returns the residual of self-join j with its conjunct
// left.x <> right.x (x a column of the left role) turned into
// left.x < right.x, when the residual is symmetric in the two roles (see
// symmetricPairs); false when it is not, or has no such conjunct.
func orderPairs(j *Join, x int) (expr.Expr, bool) {
	nl := len(j.Left.Schema())
	conj := splitConjuncts(j.Residual)
	forms := make([]symForm, len(conj))
	for i, c := range conj {
		forms[i] = symFormOf(c, nl)
	}
	pair := -1
	var lo, hi expr.Expr // the pair conjunct's operands, left role first
	for i, c := range conj {
		if pair < 0 {
			if l, r, ok := isPairNe(c, x, nl); ok {
				pair, lo, hi = i, l, r
			}
		}
		swapped := symFormOf(swapRoles(c, nl), nl)
		if !slices.ContainsFunc(forms, swapped.same) {
			return nil, false
		}
	}
	if pair < 0 {
		return nil, false
	}
	out := append([]expr.Expr{}, conj...)
	out[pair] = &expr.Call{Func: expr.Lt, T: types.BoolType, Args: []expr.Expr{lo, hi}}
	return conjoin(out), true
}

// symForm is a conjunct of a self-join's residual written one way, so
// that two conjuncts that say the same compare equal: a comparison of
// the two roles' times as right - left against a constant (time), else
// the expression with its comparisons written one way (canonicalCompare).
type symForm struct {
	time string
	e    expr.Expr
}

func (f symForm) same(g symForm) bool {
	if f.time != "" || g.time != "" {
		return f.time == g.time
	}
	return expr.Equal(f.e, g.e)
}

// symFormOf writes conjunct c of a self-join's residual (nl columns in the
// left role) as a symForm. A comparison of a time term of each role
// (timeTerm: a TIMESTAMP column, without a cast, plus or minus a fixed
// interval) becomes right - left <op> v, so that b.ts < a.ts + d and
// a.ts > b.ts - d are one form.
func symFormOf(c expr.Expr, nl int) symForm {
	call, ok := c.(*expr.Call)
	if ok && len(call.Args) == 2 {
		f := call.Func
		ac, aoff, aExact, okA := timeTerm(call.Args[0])
		bc, boff, bExact, okB := timeTerm(call.Args[1])
		// Only plain columns: a cast may round (to a lower precision),
		// and then shifting it by a constant is not the same condition.
		if okA && okB && aExact && bExact && (ac < nl) != (bc < nl) && (f == expr.Eq || f == expr.Ne || f == expr.Lt || f == expr.Le || f == expr.Gt || f == expr.Ge) {
			// a + aoff <f> b + boff, one of a and b in each role.
			v := boff - aoff // a - b <f> v
			if ac < nl {
				// left - right <f> v: right - left <flip f> -v.
				ac, bc = bc, ac
				f, v = f.Swapped(), -v
			}
			return symForm{time: fmt.Sprintf("right $%d - left $%d %s %d", ac-nl, bc, f, v)}
		}
	}
	return symForm{e: canonicalCompare(c)}
}

// isPairNe reports whether c is left.x <> right.x (either way round) over
// a column whose type orders any two unequal values, and returns its
// operands, the left role's first. A VARCHAR(n) column may be cast to
// TEXT on both sides, as comparisons of strings are planned.
func isPairNe(c expr.Expr, x, nl int) (l, r expr.Expr, ok bool) {
	call, ok := c.(*expr.Call)
	if !ok || call.Func != expr.Ne || len(call.Args) != 2 {
		return nil, nil, false
	}
	l, r = call.Args[0], call.Args[1]
	lc, okL := stringCastOf(l)
	rc, okR := stringCastOf(r)
	if !okL || !okR {
		return nil, nil, false
	}
	if lc.Index > rc.Index {
		l, r, lc, rc = r, l, rc, lc
	}
	if lc.Index != x || rc.Index != x+nl {
		return nil, nil, false
	}
	switch lc.T.Kind {
	case types.Boolean, types.Int, types.BigInt, types.Decimal, types.Varchar, types.Timestamp, types.Date:
		return l, r, true
	}
	return nil, nil, false
}

// stringCastOf returns the column e reads: e itself, or a VARCHAR column
// cast to VARCHAR (of another length, or TEXT), which keeps its value.
func stringCastOf(e expr.Expr) (*expr.ColumnRef, bool) {
	if c, ok := e.(*expr.Cast); ok && c.To.Kind == types.Varchar && c.To.Width == 0 {
		e = c.Arg
		if ref, ok := e.(*expr.ColumnRef); !ok || ref.T.Kind != types.Varchar {
			return nil, false
		}
	}
	ref, ok := e.(*expr.ColumnRef)
	return ref, ok
}

// indexedText is e's text with its columns named by index, which tells
// the two roles of a self-join apart.
func indexedText(e expr.Expr) string {
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.ColumnRef); ok {
			return &expr.ColumnRef{Index: c.Index, T: c.T}
		}
		return x
	}).String()
}

// swapRoles exchanges the two roles of a self-join in e: column i of the
// left role (i < nl) becomes column i of the right one, and back.
func swapRoles(e expr.Expr, nl int) expr.Expr {
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		c, ok := x.(*expr.ColumnRef)
		if !ok {
			return x
		}
		i := c.Index + nl
		if c.Index >= nl {
			i = c.Index - nl
		}
		return &expr.ColumnRef{Index: i, Name: c.Name, T: c.T}
	})
}

// canonicalCompare writes the comparisons in e one way, so that two that
// say the same with their operands swapped compare Equal: a > b as
// b < a, a >= b as b <= a, and = and <> with their operands in the order
// of their text (columns by index).
func canonicalCompare(e expr.Expr) expr.Expr {
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		c, ok := x.(*expr.Call)
		if !ok || len(c.Args) != 2 {
			return x
		}
		l, r := c.Args[0], c.Args[1]
		switch c.Func {
		case expr.Gt, expr.Ge:
			return &expr.Call{Func: c.Func.Swapped(), Args: []expr.Expr{r, l}, T: c.T}
		case expr.Eq, expr.Ne:
			if indexedText(r) < indexedText(l) {
				return &expr.Call{Func: c.Func, Args: []expr.Expr{r, l}, T: c.T}
			}
		}
		return x
	})
}

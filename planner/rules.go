package planner

import (
	"math"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// rule rewrites a plan tree and reports whether it changed anything.
type rule struct {
	name  string
	apply func(Node, queryMode) (Node, bool)
}

// rules run in order, each once, over the whole tree.
var rules = []rule{
	{"merge_filters", bottomUp(mergeFilters)},
	{"push_down_filters", pushDownFilters},
	{"merge_filters_again", bottomUp(mergeFilters)},
	{"temporal_filter", bottomUp(temporalFilter)},
	{"top_n", bottomUp(topN)},
	{"point_lookup", bottomUp(pointLookup)},
	{"prune_columns", pruneColumns},
	{"merge_projects", bottomUp(mergeProjects)},
}

// Optimize applies the rewrite rules to a bound plan.
func Optimize(n Node, mode queryMode) Node {
	for _, r := range rules {
		n, _ = r.apply(n, mode)
	}
	return n
}

// bottomUp turns a node-local rewrite into a whole-tree rule.
func bottomUp(f func(Node, queryMode) (Node, bool)) func(Node, queryMode) (Node, bool) {
	var walk func(Node, queryMode) (Node, bool)
	walk = func(n Node, mode queryMode) (Node, bool) {
		changed := false
		kids := n.Children()
		if len(kids) > 0 {
			nk := make([]Node, len(kids))
			for i, k := range kids {
				var c bool
				nk[i], c = walk(k, mode)
				changed = changed || c
			}
			if changed {
				n = n.WithChildren(nk)
			}
		}
		out, c := f(n, mode)
		return out, changed || c
	}
	return walk
}

// mergeFilters folds a Filter directly over a Filter into one.
func mergeFilters(n Node, _ queryMode) (Node, bool) {
	f, ok := n.(*Filter)
	if !ok {
		return n, false
	}
	inner, ok := f.Input.(*Filter)
	if !ok {
		return n, false
	}
	return &Filter{Input: inner.Input, Pred: conjoin([]expr.Expr{inner.Pred, f.Pred})}, true
}

// mergeProjects folds a Project directly over a Project into one, when
// that computes nothing twice: the outer one only picks and renames
// columns, or the inner one only picks columns and constants.
func mergeProjects(n Node, _ queryMode) (Node, bool) {
	outer, ok := n.(*Project)
	if !ok {
		return n, false
	}
	if isIdentityProject(outer) {
		return outer.Input, true
	}
	inner, ok := outer.Input.(*Project)
	if !ok {
		return n, false
	}
	if !allTrivial(outer.Exprs, false) && !allTrivial(inner.Exprs, true) {
		return n, false
	}
	exprs := make([]expr.Expr, len(outer.Exprs))
	for i, e := range outer.Exprs {
		exprs[i] = expr.Rewrite(e, func(x expr.Expr) expr.Expr {
			if c, ok := x.(*expr.ColumnRef); ok {
				return inner.Exprs[c.Index]
			}
			return x
		})
	}
	return &Project{Input: inner.Input, Exprs: exprs, Names: outer.Names}, true
}

// isIdentityProject reports whether p passes its input through unchanged,
// names included.
func isIdentityProject(p *Project) bool {
	in := p.Input.Schema()
	if len(in) != len(p.Exprs) {
		return false
	}
	for i, e := range p.Exprs {
		c, ok := e.(*expr.ColumnRef)
		if !ok || c.Index != i || p.Names[i] != in[i].Name {
			return false
		}
	}
	return true
}

// allTrivial reports whether every expression is a column reference (or,
// with literals set, a constant).
func allTrivial(es []expr.Expr, literals bool) bool {
	for _, e := range es {
		switch e.(type) {
		case *expr.ColumnRef:
		case *expr.Literal:
			if !literals {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// pushDownFilters moves filter conjuncts below projections and into the
// side of a join they read, so rows are dropped as early as possible.
func pushDownFilters(n Node, mode queryMode) (Node, bool) {
	changed := false
	var walk func(Node) Node
	walk = func(n Node) Node {
		if f, ok := n.(*Filter); ok {
			if out, ok := pushFilter(f); ok {
				changed = true
				return walk(out)
			}
		}
		kids := n.Children()
		if len(kids) == 0 {
			return n
		}
		nk := make([]Node, len(kids))
		for i, k := range kids {
			nk[i] = walk(k)
		}
		return n.WithChildren(nk)
	}
	out := walk(n)
	return out, changed
}

// pushFilter pushes one filter a step down, if it can.
func pushFilter(f *Filter) (Node, bool) {
	switch in := f.Input.(type) {
	case *Project:
		// Substitute the projection's expressions for the filter's column
		// references; only when every referenced expression is cheap (a
		// column or a literal), so nothing is computed twice.
		for _, c := range expr.Columns(f.Pred) {
			switch in.Exprs[c].(type) {
			case *expr.ColumnRef, *expr.Literal:
			default:
				return f, false
			}
		}
		pred := expr.Rewrite(f.Pred, func(e expr.Expr) expr.Expr {
			if c, ok := e.(*expr.ColumnRef); ok {
				return in.Exprs[c.Index]
			}
			return e
		})
		return &Project{Input: &Filter{Input: in.Input, Pred: pred}, Exprs: in.Exprs, Names: in.Names}, true
	case *Join:
		nl := len(in.Left.Schema())
		var left, right, keep []expr.Expr
		for _, c := range splitConjuncts(f.Pred) {
			cols := expr.Columns(c)
			switch {
			case len(cols) > 0 && cols[len(cols)-1] < nl:
				left = append(left, c)
			case len(cols) > 0 && cols[0] >= nl && in.Kind == InnerJoin:
				right = append(right, shift(c, -nl))
			default:
				keep = append(keep, c)
			}
		}
		if len(left) == 0 && len(right) == 0 {
			return f, false
		}
		j := *in
		if len(left) > 0 {
			j.Left = &Filter{Input: in.Left, Pred: conjoin(left)}
		}
		if len(right) > 0 {
			j.Right = &Filter{Input: in.Right, Pred: conjoin(right)}
		}
		if len(keep) == 0 {
			return &j, true
		}
		return &Filter{Input: &j, Pred: conjoin(keep)}, true
	case *Aggregate:
		// Conjuncts over group columns only filter whole groups: push them
		// below the aggregate.
		var below, keep []expr.Expr
		for _, c := range splitConjuncts(f.Pred) {
			cols := expr.Columns(c)
			if len(cols) > 0 && cols[len(cols)-1] < len(in.GroupBy) {
				below = append(below, expr.Rewrite(c, func(e expr.Expr) expr.Expr {
					if r, ok := e.(*expr.ColumnRef); ok {
						return &expr.ColumnRef{Index: in.GroupBy[r.Index], Name: r.Name, T: r.T}
					}
					return e
				}))
				continue
			}
			keep = append(keep, c)
		}
		if len(below) == 0 {
			return f, false
		}
		a := &Aggregate{Input: &Filter{Input: in.Input, Pred: conjoin(below)}, GroupBy: in.GroupBy, Aggs: in.Aggs, WindowCol: in.WindowCol, EmitOnClose: in.EmitOnClose}
		if len(keep) == 0 {
			return a, true
		}
		return &Filter{Input: a, Pred: conjoin(keep)}, true
	}
	return f, false
}

func shift(e expr.Expr, by int) expr.Expr {
	return expr.Rewrite(e, func(e expr.Expr) expr.Expr {
		if c, ok := e.(*expr.ColumnRef); ok {
			return &expr.ColumnRef{Index: c.Index + by, Name: c.Name, T: c.T}
		}
		return e
	})
}

// pruneColumns narrows every Scan to the columns the plan reads, and drops
// projection outputs nobody reads.
func pruneColumns(n Node, _ queryMode) (Node, bool) {
	all := make([]bool, len(n.Schema()))
	for i := range all {
		all[i] = true
	}
	out, _ := prune(n, all)
	return out, true
}

// prune rebuilds n keeping at least the outputs marked in need. It returns
// the new node and, for each old output index, its new index (or -1).
func prune(n Node, need []bool) (Node, []int) {
	switch x := n.(type) {
	case *Scan:
		cols, m := pruneLeaf(x.Cols, need)
		return &Scan{Rel: x.Rel, Cols: cols}, m
	case *Lookup:
		cols, m := pruneLeaf(x.Cols, need)
		return &Lookup{Rel: x.Rel, Cols: cols, Key: x.Key}, m
	case *Filter:
		n2 := append([]bool{}, need...)
		for _, c := range expr.Columns(x.Pred) {
			n2[c] = true
		}
		in, m := prune(x.Input, n2)
		return &Filter{Input: in, Pred: remap(x.Pred, m)}, m
	case *Project:
		childNeed := make([]bool, len(x.Input.Schema()))
		var exprs []expr.Expr
		var names []string
		m := make([]int, len(x.Exprs))
		for i, e := range x.Exprs {
			m[i] = -1
			if !need[i] {
				continue
			}
			m[i] = len(exprs)
			exprs = append(exprs, e)
			names = append(names, x.Names[i])
			for _, c := range expr.Columns(e) {
				childNeed[c] = true
			}
		}
		in, cm := prune(x.Input, childNeed)
		for i, e := range exprs {
			exprs[i] = remap(e, cm)
		}
		return &Project{Input: in, Exprs: exprs, Names: names}, m
	case *Aggregate:
		childNeed := make([]bool, len(x.Input.Schema()))
		for _, g := range x.GroupBy {
			childNeed[g] = true
		}
		for _, a := range x.Aggs {
			if a.Func != AggCountStar {
				childNeed[a.Arg] = true
			}
		}
		in, cm := prune(x.Input, childNeed)
		groups := make([]int, len(x.GroupBy))
		for i, g := range x.GroupBy {
			groups[i] = cm[g]
		}
		aggs := append([]AggCall{}, x.Aggs...)
		for i := range aggs {
			if aggs[i].Func != AggCountStar {
				aggs[i].Arg = cm[aggs[i].Arg]
			}
		}
		return &Aggregate{Input: in, GroupBy: groups, Aggs: aggs, WindowCol: x.WindowCol, EmitOnClose: x.EmitOnClose}, seq(len(need))
	case *Join:
		nl := len(x.Left.Schema())
		ln := make([]bool, nl)
		rn := make([]bool, len(need)-nl)
		for i, v := range need {
			if i < nl {
				ln[i] = v
			} else {
				rn[i-nl] = v
			}
		}
		for _, k := range x.LeftKeys {
			ln[k] = true
		}
		for _, k := range x.RightKeys {
			rn[k] = true
		}
		if x.Residual != nil {
			for _, c := range expr.Columns(x.Residual) {
				if c < nl {
					ln[c] = true
				} else {
					rn[c-nl] = true
				}
			}
		}
		l, lm := prune(x.Left, ln)
		r, rm := prune(x.Right, rn)
		newL := len(l.Schema())
		m := make([]int, len(need))
		for i := range m {
			if i < nl {
				m[i] = lm[i]
			} else if rm[i-nl] >= 0 {
				m[i] = rm[i-nl] + newL
			} else {
				m[i] = -1
			}
		}
		j := &Join{Left: l, Right: r, Kind: x.Kind}
		for _, k := range x.LeftKeys {
			j.LeftKeys = append(j.LeftKeys, lm[k])
		}
		for _, k := range x.RightKeys {
			j.RightKeys = append(j.RightKeys, rm[k])
		}
		if x.Residual != nil {
			j.Residual = remap(x.Residual, m)
		}
		return j, m
	case *Sort:
		n2 := append([]bool{}, need...)
		for _, k := range x.Keys {
			n2[k.Col] = true
		}
		in, m := prune(x.Input, n2)
		keys := append([]SortKey{}, x.Keys...)
		for i := range keys {
			keys[i].Col = m[keys[i].Col]
		}
		return &Sort{Input: in, Keys: keys}, m
	case *Limit:
		in, m := prune(x.Input, need)
		return &Limit{Input: in, Offset: x.Offset, Count: x.Count}, m
	}
	if out, m, ok := pruneStream(n, need); ok {
		return out, m
	}
	return n, seq(len(need))
}

// pruneLeaf narrows the columns a Scan or Lookup reads to those needed.
func pruneLeaf(in []int, need []bool) ([]int, []int) {
	var cols []int
	m := make([]int, len(in))
	for i, c := range in {
		m[i] = -1
		if need[i] {
			m[i] = len(cols)
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 && len(in) > 0 {
		// Keep one column so rows still have a count.
		cols = append(cols, in[0])
		m[0] = 0
	}
	return cols, m
}

func remap(e expr.Expr, m []int) expr.Expr {
	return expr.Rewrite(e, func(e expr.Expr) expr.Expr {
		if c, ok := e.(*expr.ColumnRef); ok && m[c.Index] != c.Index {
			return &expr.ColumnRef{Index: m[c.Index], Name: c.Name, T: c.T}
		}
		return e
	})
}

// pointLookup turns a filter that fixes every key column of a keyed
// relation to a constant into an index lookup (queries only).
func pointLookup(n Node, mode queryMode) (Node, bool) {
	if mode != batchQuery {
		return n, false
	}
	f, ok := n.(*Filter)
	if !ok {
		return n, false
	}
	scan, ok := f.Input.(*Scan)
	if !ok || !scan.Rel.Keyed || len(scan.Rel.Key) == 0 {
		return n, false
	}
	conj := splitConjuncts(f.Pred)
	keyVals := make([]expr.Expr, len(scan.Rel.Key))
	used := make([]bool, len(conj))
	for ki, relCol := range scan.Rel.Key {
		for ci, c := range conj {
			if used[ci] {
				continue
			}
			if v, ok := keyEquality(c, scan, relCol); ok {
				keyVals[ki] = v
				used[ci] = true
				break
			}
		}
		if keyVals[ki] == nil {
			return n, false
		}
	}
	var rest []expr.Expr
	for ci, c := range conj {
		if !used[ci] {
			rest = append(rest, c)
		}
	}
	var out Node = &Lookup{Rel: scan.Rel, Cols: scan.Cols, Key: keyVals}
	if len(rest) > 0 {
		out = &Filter{Input: out, Pred: conjoin(rest)}
	}
	return out, true
}

// keyEquality matches `col = constant` (either side) where col is scan
// output reading relation column relCol, and returns the constant cast to
// the column's type.
func keyEquality(e expr.Expr, scan *Scan, relCol int) (expr.Expr, bool) {
	c, ok := e.(*expr.Call)
	if !ok || c.Func != expr.Eq {
		return nil, false
	}
	colType := scan.Rel.Schema[relCol].Type
	// isKeyCol reports whether x reads the key column, and whether it does
	// so through a widening cast (INT compared as BIGINT).
	isKeyCol := func(x expr.Expr) (bool, bool) {
		widened := false
		if cast, ok := x.(*expr.Cast); ok && colType.IsInteger() && cast.To.Kind == types.BigInt {
			x, widened = cast.Arg, true
		}
		r, ok := x.(*expr.ColumnRef)
		return ok && scan.Cols[r.Index] == relCol, widened
	}
	for i := 0; i < 2; i++ {
		col, val := c.Args[i], c.Args[1-i]
		isKey, widened := isKeyCol(col)
		if !isKey || len(expr.Columns(val)) != 0 {
			continue
		}
		if widened {
			// The comparison happens in BIGINT: only a constant that fits
			// the column can be looked up (3000000000 matches no INT row,
			// and casting it to INT would fail).
			lit, ok := val.(*expr.Literal)
			if !ok || (!lit.Value.Null && (lit.Value.I < math.MinInt32 || lit.Value.I > math.MaxInt32)) {
				return nil, false
			}
		}
		if lit, ok := val.(*expr.Literal); ok && widened && !lit.Value.Null && colType.Kind == types.Int {
			return &expr.Literal{Value: types.NewInt(int32(lit.Value.I)), T: colType}, true
		}
		return castTo(val, colType), true
	}
	return nil, false
}

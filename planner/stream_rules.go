package planner

import (
	"fmt"

	"github.com/sluicedb/sluice/parser"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// pruneStream prunes the streaming nodes (see prune).
func pruneStream(n Node, need []bool) (Node, []int, bool) {
	switch x := n.(type) {
	case *Window:
		nIn := len(x.Input.Schema())
		childNeed := append([]bool{}, need[:nIn]...)
		childNeed[x.TimeCol] = true
		for _, k := range x.Keys {
			childNeed[k] = true
		}
		in, cm := prune(x.Input, childNeed)
		w := *x
		w.Input = in
		w.TimeCol = cm[x.TimeCol]
		w.Keys = mapCols(x.Keys, cm)
		newIn := len(in.Schema())
		m := append(append([]int{}, cm...), newIn, newIn+1)
		return &w, m, true
	case *TemporalFilter:
		childNeed := append([]bool{}, need...)
		childNeed[x.TimeCol] = true
		in, cm := prune(x.Input, childNeed)
		f := *x
		f.Input = in
		f.TimeCol = cm[x.TimeCol]
		return &f, cm, true
	case *TopN:
		nIn := len(x.Input.Schema())
		childNeed := append([]bool{}, need[:nIn]...)
		for _, p := range x.Partition {
			childNeed[p] = true
		}
		for _, o := range x.Order {
			childNeed[o.Col] = true
		}
		in, cm := prune(x.Input, childNeed)
		t := *x
		t.Input = in
		t.Partition = mapCols(x.Partition, cm)
		t.Order = append([]SortKey{}, x.Order...)
		for i := range t.Order {
			t.Order[i].Col = cm[t.Order[i].Col]
		}
		m := append([]int{}, cm...)
		if x.EmitRank {
			if need[nIn] {
				m = append(m, len(in.Schema()))
			} else {
				t.EmitRank = false
				m = append(m, -1)
			}
		}
		return &t, m, true
	case *Ranked:
		nIn := len(x.Input.Schema())
		childNeed := append([]bool{}, need[:nIn]...)
		for _, p := range x.Partition {
			childNeed[p] = true
		}
		for _, o := range x.Order {
			childNeed[o.Col] = true
		}
		in, cm := prune(x.Input, childNeed)
		r := *x
		r.Input = in
		r.Partition = mapCols(x.Partition, cm)
		r.Order = append([]SortKey{}, x.Order...)
		for i := range r.Order {
			r.Order[i].Col = cm[r.Order[i].Col]
		}
		return &r, append(append([]int{}, cm...), len(in.Schema())), true
	}
	return nil, nil, false
}

func mapCols(cols, m []int) []int {
	out := make([]int, len(cols))
	for i, c := range cols {
		out[i] = m[c]
	}
	return out
}

// topN turns a filter on a rank column (rn <= N, rn < N, rn = 1) right
// above a Ranked node into a TopN; other conjuncts stay above it.
func topN(n Node, _ queryMode) (Node, bool) {
	f, ok := n.(*Filter)
	if !ok {
		return n, false
	}
	r, ok := f.Input.(*Ranked)
	if !ok {
		return n, false
	}
	rankCol := len(r.Input.Schema())
	limit := int64(-1)
	var rest []expr.Expr
	for _, c := range splitConjuncts(f.Pred) {
		if v, ok := rankBound(c, rankCol); ok && (limit < 0 || v < limit) {
			limit = v
			continue
		}
		rest = append(rest, c)
	}
	if limit < 0 {
		return n, false
	}
	var out Node = &TopN{Input: r.Input, Partition: r.Partition, Order: r.Order, N: limit, Kind: r.Kind, EmitRank: true, RankName: r.Name}
	if len(rest) > 0 {
		out = &Filter{Input: out, Pred: conjoin(rest)}
	}
	return out, true
}

// rankBound matches rank <= N, rank < N, N >= rank, N > rank and rank = 1,
// returning the largest rank kept.
func rankBound(e expr.Expr, rankCol int) (int64, bool) {
	c, ok := e.(*expr.Call)
	if !ok || len(c.Args) != 2 {
		return 0, false
	}
	isRank := func(x expr.Expr) bool {
		r, ok := x.(*expr.ColumnRef)
		return ok && r.Index == rankCol
	}
	lit := func(x expr.Expr) (int64, bool) {
		if cast, ok := x.(*expr.Cast); ok {
			x = cast.Arg
		}
		l, ok := x.(*expr.Literal)
		if !ok || l.Value.Null || !l.T.IsInteger() {
			return 0, false
		}
		return l.Value.I, true
	}
	f := c.Func
	a, b := c.Args[0], c.Args[1]
	if !isRank(a) {
		a, b, f = b, a, f.Swapped()
	}
	if !isRank(a) {
		return 0, false
	}
	v, ok := lit(b)
	if !ok {
		return 0, false
	}
	switch f {
	case expr.Le:
		return max(v, 0), true
	case expr.Lt:
		return max(v-1, 0), true
	case expr.Eq:
		if v == 1 {
			return 1, true
		}
	}
	return 0, false
}

// temporalFilter moves `ts > NOW() - INTERVAL d` conjuncts of a filter in a
// continuous query into a TemporalFilter.
func temporalFilter(n Node, mode queryMode) (Node, bool) {
	f, ok := n.(*Filter)
	if !ok || mode != continuousQuery {
		return n, false
	}
	var tf *TemporalFilter
	var rest []expr.Expr
	for _, c := range splitConjuncts(f.Pred) {
		if t, ok := temporalBound(c); ok && tf == nil {
			tf = t
			continue
		}
		rest = append(rest, c)
	}
	if tf == nil {
		return n, false
	}
	var in Node = f.Input
	if len(rest) > 0 {
		in = &Filter{Input: in, Pred: conjoin(rest)}
	}
	tf.Input = in
	return tf, true
}

// temporalBound matches ts > NOW() - INTERVAL d (also >=, and the mirrored
// NOW() - INTERVAL d < ts).
func temporalBound(e expr.Expr) (*TemporalFilter, bool) {
	c, ok := e.(*expr.Call)
	if !ok || len(c.Args) != 2 {
		return nil, false
	}
	f, a, b := c.Func, c.Args[0], c.Args[1]
	switch f {
	case expr.Lt:
		f, a, b = expr.Gt, b, a
	case expr.Le:
		f, a, b = expr.Ge, b, a
	}
	if f != expr.Gt && f != expr.Ge {
		return nil, false
	}
	if cast, ok := a.(*expr.Cast); ok && cast.To.Kind == types.Timestamp {
		a = cast.Arg
	}
	col, ok := a.(*expr.ColumnRef)
	if !ok || col.T.Kind != types.Timestamp {
		return nil, false
	}
	sub, ok := b.(*expr.Call)
	if !ok || sub.Func != expr.SubInterval {
		return nil, false
	}
	now, ok := sub.Args[0].(*expr.Call)
	if !ok || now.Func != expr.Now {
		return nil, false
	}
	iv, ok := sub.Args[1].(*expr.Literal)
	if !ok || iv.Value.Null || iv.Value.Months != 0 {
		return nil, false
	}
	w := int64(iv.Value.Days)*86400e6 + iv.Value.I
	if w <= 0 {
		return nil, false
	}
	return &TemporalFilter{TimeCol: col.Index, Window: w, Inclusive: f == expr.Ge}, true
}

// checkStreaming refuses what a continuous query cannot run: a rank
// without a Top-N filter, NOW() outside a temporal filter.
func checkStreaming(n Node, mode queryMode) error {
	var err error
	var walk func(Node)
	walk = func(n Node) {
		if err != nil {
			return
		}
		switch x := n.(type) {
		case *Ranked:
			err = sqlerr.Planf(sqlerr.FeatureNotSupported, "%s() is supported only as a Top-N: filter the ranked rows with WHERE %s <= N in an outer query", x.kindName(), x.Name)
			return
		}
		if mode == continuousQuery {
			for _, e := range nodeExprs(n) {
				expr.Walk(e, func(x expr.Expr) {
					if c, ok := x.(*expr.Call); ok && c.Func == expr.Now && err == nil {
						err = sqlerr.Planf(sqlerr.FeatureNotSupported, "NOW() in a materialized view is supported only as a temporal filter: WHERE ts > NOW() - INTERVAL ...")
					}
				})
			}
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(n)
	return err
}

// nodeExprs lists the expressions a node evaluates.
func nodeExprs(n Node) []expr.Expr {
	switch x := n.(type) {
	case *Filter:
		return []expr.Expr{x.Pred}
	case *Project:
		return x.Exprs
	case *Join:
		if x.Residual != nil {
			return []expr.Expr{x.Residual}
		}
	case *Lookup:
		return x.Key
	}
	return nil
}

// traceColumn follows column col of n down through projections and
// filters to the Window node that produced it, if any, returning the
// window and the column's index in the window's output.
func traceColumn(n Node, col int) (*Window, int) {
	for {
		switch x := n.(type) {
		case *Window:
			return x, col
		case *Project:
			r, ok := x.Exprs[col].(*expr.ColumnRef)
			if !ok {
				return nil, 0
			}
			n, col = x.Input, r.Index
		case *Filter, *TemporalFilter:
			n = n.Children()[0]
		default:
			return nil, 0
		}
	}
}

// markWindows finds aggregates grouped by a window column, so their
// closed groups are freed (and, with emitOnClose, emitted once), and checks
// that each such window's input has a watermark. It returns notices about
// state that is never freed.
func markWindows(n Node, emitOnClose bool) (Node, []string, error) {
	var notices []string
	marked := false
	var rec func(Node) Node
	rec = func(n Node) Node {
		kids := n.Children()
		if len(kids) > 0 {
			nk := make([]Node, len(kids))
			for i, k := range kids {
				nk[i] = rec(k)
			}
			n = n.WithChildren(nk)
		}
		switch x := n.(type) {
		case *Aggregate:
			for gi, g := range x.GroupBy {
				w, wc := traceColumn(x.Input, g)
				if w == nil || wc < w.StartCol() {
					continue
				}
				a := *x
				a.WindowCol = gi
				a.EmitOnClose = emitOnClose
				marked = true
				if !hasWatermark(w.Input, w.TimeCol) {
					notices = append(notices, fmt.Sprintf("the windows of this view never close: the time column %q has no WATERMARK, so window state grows without bound", w.Input.Schema()[w.TimeCol].Name))
				}
				return &a
			}
		case *Window:
			if emitOnClose && x.Kind == parser.Session {
				w := *x
				w.EmitOnClose = true
				return &w
			}
		case *Join:
			if tb := joinTimeBound(x); tb != nil {
				if hasWatermark(x.Left, tb.LeftCol) && hasWatermark(x.Right, tb.RightCol) {
					j := *x
					j.Time = tb
					return &j
				}
				notices = append(notices, "the state of this join grows without bound: its time condition cannot free rows because the time columns have no WATERMARK")
			} else if IsAppendOnly(x.Left) || IsAppendOnly(x.Right) {
				notices = append(notices, "the state of this join grows without bound: an append-only input is joined without a time bound (use an interval join: b.ts BETWEEN a.ts - INTERVAL ... AND a.ts + INTERVAL ...)")
			}
		}
		return n
	}
	out := rec(n)
	if emitOnClose && !marked {
		return nil, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "EMIT ON WINDOW CLOSE needs an aggregate grouped by window_start or window_end of a TUMBLE, HOP or SESSION window")
	}
	if emitOnClose && len(notices) > 0 {
		return nil, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "EMIT ON WINDOW CLOSE needs a WATERMARK on the window's time column: %s", notices[0])
	}
	return out, notices, nil
}

// hasWatermark reports whether column col of n carries a watermark: it
// traces back to a table's watermark column.
func hasWatermark(n Node, col int) bool {
	for {
		switch x := n.(type) {
		case *Scan:
			return x.Rel.Watermark != nil && x.Cols[col] == x.Rel.Watermark.Col
		case *Project:
			r, ok := x.Exprs[col].(*expr.ColumnRef)
			if !ok {
				return false
			}
			n, col = x.Input, r.Index
		case *Filter, *TemporalFilter:
			n = n.Children()[0]
		case *Window:
			if col >= x.StartCol() {
				col = x.TimeCol
			}
			n = x.Input
		default:
			return false
		}
	}
}

// joinTimeBound finds a bound on the right side's event time relative to
// the left's in a join condition: equal window columns (a window join) or
// residual conjuncts right.ts >= left.ts - INTERVAL x and
// right.ts <= left.ts + INTERVAL y (BETWEEN, either orientation).
func joinTimeBound(j *Join) *TimeBound {
	l, r := j.Left.Schema(), j.Right.Schema()
	nl := len(l)
	for i := range j.LeftKeys {
		lc, rc := j.LeftKeys[i], j.RightKeys[i]
		if l[lc].Type.Kind == types.Timestamp && r[rc].Type.Kind == types.Timestamp {
			return &TimeBound{LeftCol: lc, RightCol: rc}
		}
	}
	if j.Residual == nil {
		return nil
	}
	type bound struct {
		lc, rc int
		v      int64
		conj   expr.Expr // the conjunct, when the bound is exactly it
	}
	var los, his []bound
	for _, c := range splitConjuncts(j.Residual) {
		call, ok := c.(*expr.Call)
		if !ok || len(call.Args) != 2 {
			continue
		}
		f := call.Func
		a, b := call.Args[0], call.Args[1]
		// Normalise to "a <op> b" with op one of >=, <=. A strict
		// comparison makes the bound wider than the conjunct.
		exact := f == expr.Ge || f == expr.Le
		switch f {
		case expr.Gt:
			f = expr.Ge
		case expr.Lt:
			f = expr.Le
		}
		if f != expr.Ge && f != expr.Le {
			continue
		}
		ac, aoff, aExact, ok1 := timeTerm(a)
		bc, boff, bExact, ok2 := timeTerm(b)
		if !ok1 || !ok2 {
			continue
		}
		var conj expr.Expr
		if exact && aExact && bExact {
			conj = c
		}
		// a + aoff <op> b + boff, one column on each side.
		var rc, lc int
		var rOnLeftOfOp bool
		switch {
		case ac >= nl && bc < nl:
			rc, lc, rOnLeftOfOp = ac-nl, bc, true
		case ac < nl && bc >= nl:
			rc, lc, rOnLeftOfOp = bc-nl, ac, false
		default:
			continue
		}
		if rOnLeftOfOp {
			// right + aoff >= left + boff  =>  right >= left + (boff - aoff)
			v := boff - aoff
			if f == expr.Ge {
				los = append(los, bound{lc, rc, v, conj})
			} else {
				his = append(his, bound{lc, rc, v, conj})
			}
		} else {
			// left + aoff >= right + boff  =>  right <= left + (aoff - boff)
			v := aoff - boff
			if f == expr.Ge {
				his = append(his, bound{lc, rc, v, conj})
			} else {
				los = append(los, bound{lc, rc, v, conj})
			}
		}
	}
	for _, lo := range los {
		for _, hi := range his {
			if lo.lc == hi.lc && lo.rc == hi.rc && lo.v <= hi.v {
				tb := &TimeBound{LeftCol: lo.lc, RightCol: lo.rc, Lo: lo.v, Hi: hi.v}
				for _, c := range []expr.Expr{lo.conj, hi.conj} {
					if c != nil {
						tb.Exact = append(tb.Exact, c)
					}
				}
				return tb
			}
		}
	}
	return nil
}

// timeTerm matches a timestamp column, possibly cast, plus or minus a
// constant interval of fixed length: it returns the column and the
// offset, and whether the term is exactly column + offset (no cast).
func timeTerm(e expr.Expr) (col int, off int64, exact bool, ok bool) {
	if c, isCall := e.(*expr.Call); isCall && (c.Func == expr.AddInterval || c.Func == expr.SubInterval) {
		iv, isLit := c.Args[1].(*expr.Literal)
		if !isLit || iv.Value.Null || iv.Value.Months != 0 {
			return 0, 0, false, false
		}
		off = int64(iv.Value.Days)*86400e6 + iv.Value.I
		if c.Func == expr.SubInterval {
			off = -off
		}
		e = c.Args[0]
	}
	exact = true
	if cast, isCast := e.(*expr.Cast); isCast && cast.To.Kind == types.Timestamp {
		e = cast.Arg
		exact = false
	}
	ref, isRef := e.(*expr.ColumnRef)
	if !isRef || ref.T.Kind != types.Timestamp {
		return 0, 0, false, false
	}
	return ref.Index, off, exact, true
}

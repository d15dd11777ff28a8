package planner

import "github.com/sluicedb/sluice/expr"

// Growth says how a column's value can change while its row lives, in a
// plan whose rows are only inserted and updated (see RowGrowth).
type Growth uint8

// The kinds of growth.
const (
	// GrowthUnknown: the value may change either way.
	GrowthUnknown Growth = iota
	// Constant: the value never changes.
	Constant
	// Rising: the value never decreases and is never NULL.
	Rising
	// Falling: the value never increases and is never NULL.
	Falling
)

// String names the growth for EXPLAIN and tests.
func (g Growth) String() string {
	switch g {
	case Constant:
		return "constant"
	case Rising:
		return "rising"
	case Falling:
		return "falling"
	}
	return "unknown"
}

// RowGrowth reports whether a continuous plan never deletes a row for
// good, and if so how each of its columns can change. Such a plan's
// changes are inserts and updates: every retraction is of a row being
// updated, and the row's new version is inserted after it in the same
// epoch (an aggregate over inserts only updates its groups so; a plan of
// inserts only has every column Constant). Operators downstream can then
// keep less state: a Top-N whose rows can only move up forgets the rows
// below its top (TopN.Monotone).
func RowGrowth(n Node) ([]Growth, bool) {
	if IsAppendOnly(n) {
		g := make([]Growth, len(n.Schema()))
		for i := range g {
			g[i] = Constant
		}
		return g, true
	}
	switch x := n.(type) {
	case *Scan:
		if x.Rel.Growth == nil {
			return nil, false
		}
		g := make([]Growth, len(x.Cols))
		for i, c := range x.Cols {
			g[i] = x.Rel.Growth[c]
		}
		return g, true
	case *Filter:
		in, ok := RowGrowth(x.Input)
		if !ok {
			return nil, false
		}
		// A predicate over constant columns keeps or drops both versions
		// of an updated row; one over changing columns could drop only the
		// new version, deleting the row.
		for _, c := range expr.Columns(x.Pred) {
			if in[c] != Constant {
				return nil, false
			}
		}
		return in, true
	case *Project:
		in, ok := RowGrowth(x.Input)
		if !ok {
			return nil, false
		}
		g := make([]Growth, len(x.Exprs))
		for i, e := range x.Exprs {
			switch e := e.(type) {
			case *expr.ColumnRef:
				g[i] = in[e.Index]
			case *expr.Literal:
				g[i] = Constant
			}
		}
		return g, true
	case *Mirror:
		// A mirrored row's A is the input row's B: alike only when both
		// change alike.
		in, ok := RowGrowth(x.Input)
		if !ok {
			return nil, false
		}
		g := append([]Growth{}, in...)
		if g[x.A] != g[x.B] {
			g[x.A], g[x.B] = GrowthUnknown, GrowthUnknown
		}
		return g, true
	case *Aggregate:
		// Over inserts only, groups are never deleted and their
		// counts only grow (EMIT ON WINDOW CLOSE, inserts only, is
		// handled above).
		if !IsAppendOnly(x.Input) {
			return nil, false
		}
		in := x.Input.Schema()
		g := make([]Growth, 0, len(x.GroupBy)+len(x.Aggs))
		for range x.GroupBy {
			g = append(g, Constant)
		}
		for _, a := range x.Aggs {
			var ag Growth
			switch a.Func {
			case AggCountStar, AggCount, AggCountDistinct:
				ag = Rising
			// A group has a row, so MAX and MIN of a NOT NULL column are
			// never NULL (but a global aggregate's row is, before any).
			case AggMax:
				if !in[a.Arg].Nullable && len(x.GroupBy) > 0 {
					ag = Rising
				}
			case AggMin:
				if !in[a.Arg].Nullable && len(x.GroupBy) > 0 {
					ag = Falling
				}
			}
			g = append(g, ag)
		}
		return g, true
	}
	return nil, false
}

// Monotone reports whether the Top-N's rows can only move up in their
// partition, so that a row below the top never returns unless it is
// inserted again: the input never deletes a row for good (RowGrowth), a
// row never changes partition, its ORDER BY values only move towards the
// front (rising under DESC, falling under ASC) and the columns that break
// ties (the others, ascending) never rise. Only for ROW_NUMBER, where the
// top is exactly Offset+N rows. The Top-N then keeps only each
// partition's best rows instead of all of them.
func (t *TopN) Monotone() bool {
	if t.Kind == Rank {
		return false
	}
	g, ok := RowGrowth(t.Input)
	if !ok {
		return false
	}
	decided := make([]bool, len(g))
	for _, c := range t.Partition {
		if g[c] != Constant {
			return false
		}
		decided[c] = true
	}
	for _, k := range t.Order {
		if decided[k.Col] {
			continue
		}
		switch g[k.Col] {
		case Constant:
		case Rising:
			if !k.Desc {
				return false
			}
		case Falling:
			if k.Desc {
				return false
			}
		default:
			return false
		}
		decided[k.Col] = true
	}
	for c, d := range decided {
		if !d && g[c] != Constant && g[c] != Falling {
			return false
		}
	}
	return true
}

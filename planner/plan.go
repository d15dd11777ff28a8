package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// Node is a logical plan node. Nodes are immutable: rules build new trees.
type Node interface {
	// Schema is the node's output columns.
	Schema() types.Schema
	// Children are the node's inputs.
	Children() []Node
	// WithChildren returns a copy of the node over new inputs.
	WithChildren(children []Node) Node
	// Explain is the node's one-line description for EXPLAIN.
	Explain() string
}

// Scan reads columns Cols of a table or view. In a continuous query it is
// the relation's change stream (its current rows first); in a SELECT it
// is the relation's snapshot at the read epoch.
type Scan struct {
	Rel  *Relation
	Cols []int
}

// Schema implements Node.
func (s *Scan) Schema() types.Schema { return project(s.Rel.Schema, s.Cols) }

// Children implements Node.
func (s *Scan) Children() []Node { return nil }

// WithChildren implements Node.
func (s *Scan) WithChildren([]Node) Node { return s }

// Explain implements Node.
func (s *Scan) Explain() string {
	return fmt.Sprintf("Scan %s columns=[%s]", s.Rel.Name, colNames(s.Rel.Schema, s.Cols))
}

// Lookup reads the rows of a keyed relation whose key equals Key (one
// constant or parameter per key column): a point lookup in the index.
type Lookup struct {
	Rel  *Relation
	Cols []int
	Key  []expr.Expr
}

// Schema implements Node.
func (l *Lookup) Schema() types.Schema { return project(l.Rel.Schema, l.Cols) }

// Children implements Node.
func (l *Lookup) Children() []Node { return nil }

// WithChildren implements Node.
func (l *Lookup) WithChildren([]Node) Node { return l }

// Explain implements Node.
func (l *Lookup) Explain() string {
	parts := make([]string, len(l.Key))
	for i, k := range l.Key {
		parts[i] = fmt.Sprintf("%s = %s", l.Rel.Schema[l.Rel.Key[i]].Name, k)
	}
	return fmt.Sprintf("Lookup %s key=[%s] columns=[%s]", l.Rel.Name, strings.Join(parts, ", "), colNames(l.Rel.Schema, l.Cols))
}

// Values produces constant rows.
type Values struct {
	Rows [][]expr.Expr
	Out  types.Schema
}

// Schema implements Node.
func (v *Values) Schema() types.Schema { return v.Out }

// Children implements Node.
func (v *Values) Children() []Node { return nil }

// WithChildren implements Node.
func (v *Values) WithChildren([]Node) Node { return v }

// Explain implements Node.
func (v *Values) Explain() string { return fmt.Sprintf("Values rows=%d", len(v.Rows)) }

// Filter keeps the rows where Pred is true.
type Filter struct {
	Input Node
	Pred  expr.Expr
}

// Schema implements Node.
func (f *Filter) Schema() types.Schema { return f.Input.Schema() }

// Children implements Node.
func (f *Filter) Children() []Node { return []Node{f.Input} }

// WithChildren implements Node.
func (f *Filter) WithChildren(c []Node) Node { return &Filter{Input: c[0], Pred: f.Pred} }

// Explain implements Node.
func (f *Filter) Explain() string { return "Filter " + f.Pred.String() }

// Project computes one expression per output column.
type Project struct {
	Input Node
	Exprs []expr.Expr
	Names []string
}

// Schema implements Node.
func (p *Project) Schema() types.Schema {
	in := p.Input.Schema()
	s := make(types.Schema, len(p.Exprs))
	for i, e := range p.Exprs {
		nullable := true
		if c, ok := e.(*expr.ColumnRef); ok && c.Index < len(in) {
			nullable = in[c.Index].Nullable
		}
		s[i] = types.Column{Name: p.Names[i], Type: e.Type(), Nullable: nullable}
	}
	return s
}

// Children implements Node.
func (p *Project) Children() []Node { return []Node{p.Input} }

// WithChildren implements Node.
func (p *Project) WithChildren(c []Node) Node {
	return &Project{Input: c[0], Exprs: p.Exprs, Names: p.Names}
}

// Explain implements Node.
func (p *Project) Explain() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		s := e.String()
		if s != p.Names[i] {
			s += " AS " + p.Names[i]
		}
		parts[i] = s
	}
	return strings.TrimSpace("Project " + strings.Join(parts, ", "))
}

// AggFunc is an aggregate function.
type AggFunc uint8

// The aggregate functions.
const (
	AggCountStar AggFunc = iota + 1
	AggCount
	AggCountDistinct
	AggSum
	AggAvg
	AggMin
	AggMax
)

var aggNames = map[AggFunc]string{AggCountStar: "count(*)", AggCount: "count", AggCountDistinct: "count distinct",
	AggSum: "sum", AggAvg: "avg", AggMin: "min", AggMax: "max"}

// String names the function.
func (f AggFunc) String() string { return aggNames[f] }

// AggCall is one aggregate computed by an Aggregate node.
type AggCall struct {
	Func    AggFunc
	Arg     int // input column; unused for AggCountStar
	ArgType types.T
	Type    types.T
	Name    string
}

// Aggregate groups its input by the GroupBy columns and computes Aggs.
// Its output is the group columns, then one column per AggCall.
type Aggregate struct {
	Input   Node
	GroupBy []int
	Aggs    []AggCall
	// WindowCol is the index in GroupBy of a window_start or window_end
	// column, whose watermark closes groups (their state is then freed),
	// or -1. Set by the planner after rewriting; zero-valued nodes built
	// before that have no windows.
	WindowCol int
	// EmitOnClose emits each group once, when its window closes, instead
	// of updating it in place (EMIT ON WINDOW CLOSE).
	EmitOnClose bool
}

// Schema implements Node.
func (a *Aggregate) Schema() types.Schema {
	in := a.Input.Schema()
	s := project(in, a.GroupBy)
	for _, c := range a.Aggs {
		s = append(s, types.Column{Name: c.Name, Type: c.Type, Nullable: true})
	}
	return s
}

// Children implements Node.
func (a *Aggregate) Children() []Node { return []Node{a.Input} }

// WithChildren implements Node.
func (a *Aggregate) WithChildren(c []Node) Node {
	n := *a
	n.Input = c[0]
	return &n
}

// Explain implements Node.
func (a *Aggregate) Explain() string {
	in := a.Input.Schema()
	aggs := make([]string, len(a.Aggs))
	for i, c := range a.Aggs {
		switch c.Func {
		case AggCountStar:
			aggs[i] = "count(*)"
		case AggCountDistinct:
			aggs[i] = fmt.Sprintf("count(DISTINCT %s)", in[c.Arg].Name)
		default:
			aggs[i] = fmt.Sprintf("%s(%s)", c.Func, in[c.Arg].Name)
		}
	}
	s := fmt.Sprintf("HashAggregate group=[%s] aggs=[%s]", colNames(in, a.GroupBy), strings.Join(aggs, ", "))
	if a.WindowCol >= 0 && a.WindowCol < len(a.GroupBy) {
		s += " close-on=" + in[a.GroupBy[a.WindowCol]].Name
		if a.EmitOnClose {
			s += " emit=on-close"
		}
	}
	return s
}

// JoinKind is the kind of a join.
type JoinKind uint8

// The join kinds.
const (
	InnerJoin JoinKind = iota + 1
	LeftJoin
)

// Join is an equi-join on LeftKeys = RightKeys, with an optional residual
// predicate over the concatenated schema (left columns, then right).
type Join struct {
	Left, Right         Node
	Kind                JoinKind
	LeftKeys, RightKeys []int
	Residual            expr.Expr
	// Time, set on continuous joins whose condition bounds the two sides'
	// event times against each other (an interval join, or a window join
	// on window_start) and whose time columns carry watermarks, lets the
	// join free rows that can no longer match. The residual still holds
	// the condition itself.
	Time *TimeBound
	// Unordered, set by symmetricPairs on a self-join whose residual is
	// left.x < right.x and a condition the same for (l, r) as for (r, l),
	// says so: the join may find each unordered pair once and orient it
	// by x itself (join.Options.Unordered).
	Unordered bool
}

// TimeBound says a right row can match a left row only when
// right[RightCol] is within [left[LeftCol] + Lo, left[LeftCol] + Hi]
// (microseconds).
type TimeBound struct {
	LeftCol, RightCol int
	Lo, Hi            int64
	// Exact lists the residual's conjuncts the bound enforces exactly
	// (non-strict comparisons of the plain columns): a join that applies
	// the bound need not evaluate them again (see ResidualBeyondTime).
	Exact []expr.Expr
}

// ResidualBeyondTime is the residual without the conjuncts the time bound
// enforces exactly: what is left to check on the pairs of a join that
// applies the bound. Without a time bound it is the residual.
func (j *Join) ResidualBeyondTime() expr.Expr {
	if j.Time == nil || len(j.Time.Exact) == 0 || j.Residual == nil {
		return j.Residual
	}
	var keep []expr.Expr
	for _, c := range splitConjuncts(j.Residual) {
		enforced := false
		for _, x := range j.Time.Exact {
			enforced = enforced || expr.Equal(c, x)
		}
		if !enforced {
			keep = append(keep, c)
		}
	}
	return conjoin(keep)
}

// RejectsSelfPairs reports whether residual, a predicate over the columns
// of self-join j (its left role's, then its right role's), is never TRUE
// for a row paired with itself: one of its conjuncts compares a column of
// one role with the same column of the other by <>, < or >, which is
// FALSE or NULL for equal values. DOUBLE columns are left out (NaN). Such
// a join may skip pairing each row with itself: the residual rejects the
// pair anyway.
func (j *Join) RejectsSelfPairs(residual expr.Expr) bool {
	if residual == nil || !j.SelfJoin() {
		return false
	}
	nl := len(j.Left.Schema())
	for _, c := range splitConjuncts(residual) {
		call, ok := c.(*expr.Call)
		if !ok || len(call.Args) != 2 || (call.Func != expr.Ne && call.Func != expr.Lt && call.Func != expr.Gt) {
			continue
		}
		a, okA := call.Args[0].(*expr.ColumnRef)
		b, okB := call.Args[1].(*expr.ColumnRef)
		if !okA || !okB || a.T.Kind == types.Double || b.T.Kind == types.Double {
			continue
		}
		if a.Index+nl == b.Index || b.Index+nl == a.Index {
			return true
		}
	}
	return false
}

// SelfJoin reports whether j joins one input with itself: both inputs
// are the same plan (the same relation and columns under the same
// filters, projections and windows, compared structurally), each key is the same
// column on both sides, and so is the time bound's, if any. An inner
// self-join can keep each row once, for both roles, and read its input
// once.
func (j *Join) SelfJoin() bool {
	return slices.Equal(j.LeftKeys, j.RightKeys) && samePlan(j.Left, j.Right) &&
		(j.Time == nil || j.Time.LeftCol == j.Time.RightCol)
}

// samePlan reports whether plans a and b produce the same rows: both
// scans of one relation's same columns, under equal filters, projections
// and windows. Other nodes are never the same, which is safe.
func samePlan(a, b Node) bool {
	switch x := a.(type) {
	case *Scan:
		y, ok := b.(*Scan)
		return ok && x.Rel == y.Rel && slices.Equal(x.Cols, y.Cols)
	case *Filter:
		y, ok := b.(*Filter)
		return ok && expr.Equal(x.Pred, y.Pred) && samePlan(x.Input, y.Input)
	case *Project:
		y, ok := b.(*Project)
		return ok && slices.EqualFunc(x.Exprs, y.Exprs, expr.Equal) && samePlan(x.Input, y.Input)
	case *Window:
		y, ok := b.(*Window)
		return ok && x.Kind == y.Kind && x.TimeCol == y.TimeCol && x.Size == y.Size && x.Slide == y.Slide &&
			x.Gap == y.Gap && slices.Equal(x.Keys, y.Keys) && x.EmitOnClose == y.EmitOnClose && samePlan(x.Input, y.Input)
	}
	return false
}

// Schema implements Node.
func (j *Join) Schema() types.Schema {
	l, r := j.Left.Schema(), j.Right.Schema()
	s := append(append(types.Schema{}, l...), r...)
	if j.Kind == LeftJoin {
		for i := len(l); i < len(s); i++ {
			s[i].Nullable = true
		}
	}
	return s
}

// Children implements Node.
func (j *Join) Children() []Node { return []Node{j.Left, j.Right} }

// WithChildren implements Node.
func (j *Join) WithChildren(c []Node) Node {
	n := *j
	n.Left, n.Right = c[0], c[1]
	return &n
}

// Explain implements Node.
func (j *Join) Explain() string {
	kind := "Inner"
	if j.Kind == LeftJoin {
		kind = "Left"
	} else if j.SelfJoin() {
		kind = "Inner self"
	}
	l, r := j.Left.Schema(), j.Right.Schema()
	keys := make([]string, len(j.LeftKeys))
	for i := range j.LeftKeys {
		keys[i] = fmt.Sprintf("%s = %s", l[j.LeftKeys[i]].Name, r[j.RightKeys[i]].Name)
	}
	s := fmt.Sprintf("HashJoin %s on=[%s]", kind, strings.Join(keys, ", "))
	if j.Residual != nil {
		s += " residual=" + j.Residual.String()
	}
	if t := j.Time; t != nil {
		s += fmt.Sprintf(" time=[%s in %s %+d..%+dµs]", r[t.RightCol].Name, l[t.LeftCol].Name, t.Lo, t.Hi)
	}
	if j.Unordered {
		s += " unordered"
	}
	return s
}

// SortKey is one ORDER BY item.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// Sort orders its input (only in queries, not in continuous views).
type Sort struct {
	Input Node
	Keys  []SortKey
}

// Schema implements Node.
func (s *Sort) Schema() types.Schema { return s.Input.Schema() }

// Children implements Node.
func (s *Sort) Children() []Node { return []Node{s.Input} }

// WithChildren implements Node.
func (s *Sort) WithChildren(c []Node) Node { return &Sort{Input: c[0], Keys: s.Keys} }

// Explain implements Node.
func (s *Sort) Explain() string {
	in := s.Input.Schema()
	parts := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		parts[i] = in[k.Col].Name
		if k.Desc {
			parts[i] += " DESC"
		}
	}
	return "Sort " + strings.Join(parts, ", ")
}

// Limit skips Offset rows and returns at most Count (Count < 0: all).
type Limit struct {
	Input         Node
	Offset, Count int64
}

// Schema implements Node.
func (l *Limit) Schema() types.Schema { return l.Input.Schema() }

// Children implements Node.
func (l *Limit) Children() []Node { return []Node{l.Input} }

// WithChildren implements Node.
func (l *Limit) WithChildren(c []Node) Node {
	return &Limit{Input: c[0], Offset: l.Offset, Count: l.Count}
}

// Explain implements Node.
func (l *Limit) Explain() string {
	if l.Count < 0 {
		return fmt.Sprintf("Limit offset=%d", l.Offset)
	}
	return fmt.Sprintf("Limit %d offset=%d", l.Count, l.Offset)
}

// ExplainTree prints a plan as an indented tree, one node per line.
func ExplainTree(n Node) string {
	var b strings.Builder
	var walk func(Node, int)
	walk = func(n Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(n.Explain())
		b.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return strings.TrimSuffix(b.String(), "\n")
}

func project(s types.Schema, cols []int) types.Schema {
	out := make(types.Schema, len(cols))
	for i, c := range cols {
		out[i] = s[c]
	}
	return out
}

func colNames(s types.Schema, cols []int) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = s[c].Name
	}
	return strings.Join(parts, ", ")
}

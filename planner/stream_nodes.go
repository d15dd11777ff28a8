package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// Window assigns each input row to windows of its time column and adds
// window_start and window_end: TUMBLE and HOP (one row per window the time
// falls in) or SESSION (per key, runs of rows less than Gap apart).
type Window struct {
	Input            Node
	Kind             parser.WindowKind
	TimeCol          int
	Size, Slide, Gap int64 // microseconds
	Keys             []int // SESSION partition columns
	// EmitOnClose makes a SESSION emit each session's rows once, when it
	// closes, instead of re-emitting them as the session grows.
	EmitOnClose bool
}

// Schema implements Node.
func (w *Window) Schema() types.Schema {
	in := w.Input.Schema()
	t := in[w.TimeCol].Type
	return append(append(types.Schema{}, in...),
		types.Column{Name: "window_start", Type: t},
		types.Column{Name: "window_end", Type: t})
}

// StartCol is the index of window_start in the output.
func (w *Window) StartCol() int { return len(w.Input.Schema()) }

// Children implements Node.
func (w *Window) Children() []Node { return []Node{w.Input} }

// WithChildren implements Node.
func (w *Window) WithChildren(c []Node) Node {
	n := *w
	n.Input = c[0]
	return &n
}

// Explain implements Node.
func (w *Window) Explain() string {
	in := w.Input.Schema()
	ts := in[w.TimeCol].Name
	switch w.Kind {
	case parser.Tumble:
		return fmt.Sprintf("Window TUMBLE(%s, size=%s)", ts, dur(w.Size))
	case parser.Hop:
		return fmt.Sprintf("Window HOP(%s, slide=%s, size=%s)", ts, dur(w.Slide), dur(w.Size))
	}
	s := fmt.Sprintf("Window SESSION(%s, gap=%s, keys=[%s])", ts, dur(w.Gap), colNames(in, w.Keys))
	if w.EmitOnClose {
		s += " emit=on-close"
	}
	return s
}

func dur(us int64) string { return (time.Duration(us) * time.Microsecond).String() }

// RankKind is ROW_NUMBER or RANK.
type RankKind uint8

// The rank functions.
const (
	RowNumber RankKind = iota + 1
	Rank
)

// Ranked is ROW_NUMBER() or RANK() OVER (PARTITION BY ... ORDER BY ...):
// the input plus a BIGINT rank column. It runs only as part of a Top-N:
// a filter on the rank turns it into a TopN node.
type Ranked struct {
	Input     Node
	Partition []int
	Order     []SortKey
	Kind      RankKind
	Name      string // the rank column's name
}

// Schema implements Node.
func (r *Ranked) Schema() types.Schema {
	return append(append(types.Schema{}, r.Input.Schema()...), types.Column{Name: r.Name, Type: types.BigIntType})
}

// Children implements Node.
func (r *Ranked) Children() []Node { return []Node{r.Input} }

// WithChildren implements Node.
func (r *Ranked) WithChildren(c []Node) Node {
	n := *r
	n.Input = c[0]
	return &n
}

// Explain implements Node.
func (r *Ranked) Explain() string {
	return fmt.Sprintf("Rank %s partition=[%s] order=[%s]", r.kindName(), colNames(r.Input.Schema(), r.Partition), orderNames(r.Input.Schema(), r.Order))
}

func (r *Ranked) kindName() string {
	if r.Kind == Rank {
		return "RANK"
	}
	return "ROW_NUMBER"
}

// TopN keeps, per partition, the rows ranked Offset+1 .. Offset+N by
// Order; with EmitRank the rank is appended as a BIGINT column.
type TopN struct {
	Input     Node
	Partition []int
	Order     []SortKey
	N, Offset int64
	Kind      RankKind
	EmitRank  bool
	RankName  string
}

// Schema implements Node.
func (t *TopN) Schema() types.Schema {
	s := append(types.Schema{}, t.Input.Schema()...)
	if t.EmitRank {
		s = append(s, types.Column{Name: t.RankName, Type: types.BigIntType})
	}
	return s
}

// Children implements Node.
func (t *TopN) Children() []Node { return []Node{t.Input} }

// WithChildren implements Node.
func (t *TopN) WithChildren(c []Node) Node {
	n := *t
	n.Input = c[0]
	return &n
}

// Explain implements Node.
func (t *TopN) Explain() string {
	in := t.Input.Schema()
	kind := "ROW_NUMBER"
	if t.Kind == Rank {
		kind = "RANK"
	}
	s := fmt.Sprintf("TopN %d %s partition=[%s] order=[%s]", t.N, kind, colNames(in, t.Partition), orderNames(in, t.Order))
	if t.Offset > 0 {
		s += fmt.Sprintf(" offset=%d", t.Offset)
	}
	if t.EmitRank {
		s += " rank=" + t.RankName
	}
	if t.Monotone() {
		s += " monotone"
	}
	return s
}

func orderNames(s types.Schema, keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = s[k.Col].Name
		if k.Desc {
			parts[i] += " DESC"
		}
	}
	return strings.Join(parts, ", ")
}

// TemporalFilter keeps the rows whose time column is within Window of
// NOW(): ts > NOW() - Window (>= when Inclusive). Rows leave (are
// retracted) as time passes them.
type TemporalFilter struct {
	Input     Node
	TimeCol   int
	Window    int64 // microseconds
	Inclusive bool
}

// Schema implements Node.
func (f *TemporalFilter) Schema() types.Schema { return f.Input.Schema() }

// Children implements Node.
func (f *TemporalFilter) Children() []Node { return []Node{f.Input} }

// WithChildren implements Node.
func (f *TemporalFilter) WithChildren(c []Node) Node {
	n := *f
	n.Input = c[0]
	return &n
}

// Explain implements Node.
func (f *TemporalFilter) Explain() string {
	op := ">"
	if f.Inclusive {
		op = ">="
	}
	return fmt.Sprintf("TemporalFilter %s %s NOW() - %s", f.Input.Schema()[f.TimeCol].Name, op, dur(f.Window))
}

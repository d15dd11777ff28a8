// Package eval evaluates bound expressions (package expr) over Arrow record
// batches, vectorized: typed kernels work on whole value slices and combine
// validity bitmaps, so the common BIGINT/DOUBLE/TIMESTAMP/VARCHAR
// comparisons and arithmetic run without a Datum or an interface call per
// row. Rare functions (EXTRACT, DATE_TRUNC, string functions, decimal
// arithmetic, most casts) go through a generic row loop that applies the
// same scalar code EvalScalar uses, which is also the reference for tests.
//
// Semantics are MySQL-flavoured with three-valued NULL logic; see the
// comments on expr.Func for the argument and result types of every function.
package eval

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// Evaluator evaluates one bound expression over Arrow record batches. It
// holds no Arrow memory between calls and may be used by one goroutine at a
// time (it is stateless, so in practice by several).
type Evaluator struct {
	e    expr.Expr
	root node
}

// ctx is the per-Eval state shared by the nodes.
type ctx struct {
	mem memory.Allocator
	rec arrow.RecordBatch
	n   int
}

// node is one compiled expression: it returns an array of c.n rows that
// the caller releases.
type node interface {
	eval(c *ctx) (arrow.Array, error)
}

// Compile checks that e is evaluable (every Func/type combination is
// supported and no expr.Param remains) and prepares it.
func Compile(e expr.Expr) (ev *Evaluator, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, errInternal(r)
		}
	}()
	if err := check(e); err != nil {
		return nil, fmt.Errorf("compile %s: %w", e, err)
	}
	root, err := build(e)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", e, err)
	}
	return &Evaluator{e: e, root: root}, nil
}

// Expr returns the expression the Evaluator was compiled from.
func (ev *Evaluator) Expr() expr.Expr { return ev.e }

// Eval evaluates the expression over rec and returns an array of
// rec.NumRows() values of the expression's Arrow type; the caller releases
// it. Data errors (overflow, bad cast) are *sqlerr.Error values with their
// SQLSTATE code (22003, 22P02, 22007, ...).
func (ev *Evaluator) Eval(mem memory.Allocator, rec arrow.RecordBatch) (out arrow.Array, err error) {
	defer func() {
		if r := recover(); r != nil {
			if out != nil {
				out.Release()
			}
			out, err = nil, errInternal(r)
		}
	}()
	n := int(rec.NumRows())
	if n == 0 {
		return emptyArray(mem, ev.e.Type().Arrow()), nil
	}
	return ev.root.eval(&ctx{mem: mem, rec: rec, n: n})
}

// ---- building ----

func build(e expr.Expr) (node, error) {
	switch x := e.(type) {
	case *expr.ColumnRef:
		return &colNode{idx: x.Index, t: x.T}, nil
	case *expr.Literal:
		d, err := literalValue(x)
		if err != nil {
			return nil, err
		}
		return &litNode{d: d, t: x.T}, nil
	case *expr.Cast:
		return buildCast(x)
	case *expr.Case:
		return buildCase(x)
	case *expr.Call:
		return buildCall(x)
	}
	return nil, errUnsupported("expression %T", e)
}

// literalValue returns a literal's value conformed to its type.
func literalValue(l *expr.Literal) (types.Datum, error) {
	if l.Value.Null || l.T.Kind == types.Unknown {
		return types.NewNull(l.T), nil
	}
	if l.T.Kind == types.Interval {
		return l.Value, nil
	}
	return conform(l.Value, l.T)
}

func constOf(e expr.Expr) (*types.Datum, bool) {
	l, ok := e.(*expr.Literal)
	if !ok {
		return nil, false
	}
	d, err := literalValue(l)
	if err != nil {
		return nil, false
	}
	return &d, true
}

// conformExpr wraps e in a Cast to t when its type differs in a way that
// changes the Arrow representation.
func conformExpr(e expr.Expr, t types.T) expr.Expr {
	et := e.Type()
	if t.Kind == types.Unknown || et.Kind == types.Unknown {
		if et.Kind == types.Unknown && t.Kind != types.Unknown {
			return &expr.Cast{Arg: e, To: t}
		}
		return e
	}
	if et.Kind != t.Kind || (t.Kind == types.Decimal && et.Scale != t.Scale) {
		return &expr.Cast{Arg: e, To: t}
	}
	return e
}

func buildArgs(es []expr.Expr) ([]node, error) {
	ns := make([]node, len(es))
	for i, a := range es {
		n, err := build(a)
		if err != nil {
			return nil, err
		}
		ns[i] = n
	}
	return ns, nil
}

// ---- column and literal ----

type colNode struct {
	idx int
	t   types.T
}

func (n *colNode) eval(c *ctx) (arrow.Array, error) {
	if n.idx < 0 || n.idx >= int(c.rec.NumCols()) {
		return nil, errUnsupported("column #%d out of range (record has %d columns)", n.idx, c.rec.NumCols())
	}
	col := c.rec.Column(n.idx)
	want := n.t.Arrow()
	got := col.DataType()
	if got.ID() != want.ID() {
		return nil, errUnsupported("column #%d has Arrow type %s, expression expects %s", n.idx, got, want)
	}
	if want.ID() == arrow.DECIMAL128 && got.(*arrow.Decimal128Type).Scale != n.t.Scale {
		return nil, errUnsupported("column #%d has Arrow type %s, expression expects %s", n.idx, got, want)
	}
	col.Retain()
	return col, nil
}

type litNode struct {
	d types.Datum
	t types.T
}

func (n *litNode) eval(c *ctx) (arrow.Array, error) { return constArray(c.mem, n.d, n.t, c.n), nil }

// constArray builds an array of n copies of d (of type t).
func constArray(mem memory.Allocator, d types.Datum, t types.T, n int) arrow.Array {
	dt := t.Arrow()
	if d.Null || t.Kind == types.Unknown {
		return array.MakeArrayOfNull(mem, dt, n)
	}
	switch t.Kind {
	case types.Boolean:
		buf := newBitmap(mem, n)
		if d.I != 0 {
			b := buf.Bytes()
			for i := range b {
				b[i] = 0xff
			}
		}
		return finish(dt, n, nil, buf)
	case types.Int, types.Date:
		return fillConst(mem, dt, n, int32(d.I))
	case types.BigInt, types.Timestamp:
		return fillConst(mem, dt, n, d.I)
	case types.Double:
		return fillConst(mem, dt, n, d.F)
	case types.Decimal:
		return fillConst(mem, dt, n, d.Dec)
	case types.Interval:
		return fillConst(mem, dt, n, arrow.MonthDayNanoInterval{Months: d.Months, Days: d.Days, Nanoseconds: d.I * 1000})
	case types.Varchar:
		obuf, offs := newFixed[int32](mem, n+1)
		dbuf := newBuf(mem, n*len(d.S))
		db := dbuf.Bytes()
		l := int32(len(d.S))
		for i := 0; i <= n; i++ {
			offs[i] = int32(i) * l
		}
		for i := 0; i < n; i++ {
			copy(db[int(l)*i:], d.S)
		}
		return finish(dt, n, nil, obuf, dbuf)
	}
	b := array.NewBuilder(mem, dt)
	defer b.Release()
	for i := 0; i < n; i++ {
		types.AppendDatum(b, d)
	}
	return b.NewArray()
}

func fillConst[T arrow.FixedWidthType](mem memory.Allocator, dt arrow.DataType, n int, v T) arrow.Array {
	buf, vals := newFixed[T](mem, n)
	for i := range vals {
		vals[i] = v
	}
	return finish(dt, n, nil, buf)
}

// ---- generic row loop ----

// rowNode evaluates a Call or Cast one row at a time through the scalar
// implementation. It is the path for rare functions and type combinations.
type rowNode struct {
	call   *expr.Call
	cast   *expr.Cast
	t      types.T
	args   []node
	argT   []types.T
	consts []*types.Datum
}

func newRowNode(call *expr.Call, cast *expr.Cast) (node, error) {
	var es []expr.Expr
	rn := &rowNode{call: call, cast: cast}
	if call != nil {
		es, rn.t = call.Args, call.T
	} else {
		es, rn.t = []expr.Expr{cast.Arg}, cast.To
	}
	rn.args = make([]node, len(es))
	rn.argT = make([]types.T, len(es))
	rn.consts = make([]*types.Datum, len(es))
	for i, a := range es {
		rn.argT[i] = a.Type()
		if d, ok := constOf(a); ok {
			rn.consts[i] = d
			continue
		}
		n, err := build(a)
		if err != nil {
			return nil, err
		}
		rn.args[i] = n
	}
	return rn, nil
}

func (n *rowNode) eval(c *ctx) (arrow.Array, error) {
	arrs := make([]arrow.Array, len(n.args))
	defer releaseAll(arrs)
	for i, a := range n.args {
		if a == nil {
			continue
		}
		arr, err := a.eval(c)
		if err != nil {
			return nil, err
		}
		arrs[i] = arr
	}
	b := array.NewBuilder(c.mem, n.t.Arrow())
	defer b.Release()
	b.Reserve(c.n)
	row := make([]types.Datum, len(arrs))
	for i := range n.consts {
		if n.consts[i] != nil {
			row[i] = *n.consts[i]
		}
	}
	for r := 0; r < c.n; r++ {
		for i, a := range arrs {
			if a != nil {
				row[i] = types.DatumAt(a, r, n.argT[i])
			}
		}
		var d types.Datum
		var err error
		if n.call != nil {
			d, err = applyFunc(n.call, row)
		} else {
			d, err = CastDatum(row[0], n.t)
		}
		if err != nil {
			return nil, err
		}
		types.AppendDatum(b, d)
	}
	return b.NewArray(), nil
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}

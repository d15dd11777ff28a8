package eval

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// ---- boolean logic ----

// boolNode is AND, OR, NOT, IS NULL and IS NOT NULL on bitmaps.
type boolNode struct {
	op   expr.Func
	args []node
}

func (n *boolNode) eval(c *ctx) (arrow.Array, error) {
	arrs := make([]arrow.Array, len(n.args))
	defer releaseAll(arrs)
	for i, a := range n.args {
		arr, err := a.eval(c)
		if err != nil {
			return nil, err
		}
		arrs[i] = arr
	}
	nb := int(bitutil.BytesForBits(int64(c.n)))
	out := newBuf(c.mem, nb)
	ob := out.Bytes()
	dt := arrow.FixedWidthTypes.Boolean
	switch n.op {
	case expr.IsNull, expr.IsNotNull:
		vb := validBits(arrs[0])
		for i := range ob {
			v := byte(0xff)
			if vb != nil {
				v = vb[i]
			}
			if n.op == expr.IsNull {
				v = ^v
			}
			ob[i] = v
		}
		return finish(dt, c.n, nil, out), nil
	case expr.Not:
		x := boolBits(arrs[0].(*array.Boolean))
		for i := range ob {
			ob[i] = ^x[i]
		}
		return finish(dt, c.n, andValidity(c.mem, c.n, arrs[0]), out), nil
	}
	x := boolBits(arrs[0].(*array.Boolean))
	y := boolBits(arrs[1].(*array.Boolean))
	xv, yv := validBits(arrs[0]), validBits(arrs[1])
	var valid *memory.Buffer
	var vb []byte
	if xv != nil || yv != nil {
		valid = newBuf(c.mem, nb)
		vb = valid.Bytes()
	}
	and := n.op == expr.And
	for i := range ob {
		va, vy := byte(0xff), byte(0xff)
		if xv != nil {
			va = xv[i]
		}
		if yv != nil {
			vy = yv[i]
		}
		aT, bT := va&x[i], vy&y[i]
		if and {
			ob[i] = aT & bT
			if vb != nil {
				vb[i] = va&vy | va&^x[i] | vy&^y[i]
			}
		} else {
			ob[i] = aT | bT
			if vb != nil {
				vb[i] = va&vy | aT | bT
			}
		}
	}
	return finish(dt, c.n, valid, out), nil
}

// ---- COALESCE ----

type coalesceNode struct {
	t    types.T
	args []node
}

func (n *coalesceNode) eval(c *ctx) (arrow.Array, error) {
	arrs := make([]arrow.Array, len(n.args))
	defer releaseAll(arrs)
	valid := make([][]byte, len(n.args))
	for i, a := range n.args {
		arr, err := a.eval(c)
		if err != nil {
			return nil, err
		}
		arrs[i] = arr
		valid[i] = validBits(arr)
	}
	which := make([]int32, c.n)
	for r := range which {
		which[r] = -1
		for k := range arrs {
			if isValid(valid[k], r) {
				which[r] = int32(k)
				break
			}
		}
	}
	return gather(c.mem, n.t.Arrow(), arrs, which, nil, c.n)
}

// ---- LIKE with a constant pattern ----

type likeNode struct {
	a  node
	lp likePattern
}

func buildLike(c *expr.Call) (node, bool, error) {
	if c.Args[0].Type().Kind != types.Varchar {
		return nil, false, nil
	}
	p, ok := constOf(c.Args[1])
	if !ok || p.Null {
		return nil, false, nil
	}
	esc, hasEsc := '\\', true
	if len(c.Args) > 2 {
		e, ok := constOf(c.Args[2])
		if !ok || e.Null {
			return nil, false, nil
		}
		esc, hasEsc = firstRune(e.S)
	}
	a, err := build(c.Args[0])
	if err != nil {
		return nil, true, err
	}
	return &likeNode{a: a, lp: compileLike(p.S, esc, hasEsc)}, true, nil
}

func (n *likeNode) eval(c *ctx) (arrow.Array, error) {
	a, err := n.a.eval(c)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	offs, data := stringParts(a.(*array.String))
	out := newBitmap(c.mem, c.n)
	ob := out.Bytes()
	for i := 0; i < c.n; i++ {
		if n.lp.match(data[offs[i]:offs[i+1]]) {
			ob[i>>3] |= 1 << (i & 7)
		}
	}
	return finish(arrow.FixedWidthTypes.Boolean, c.n, andValidity(c.mem, c.n, a), out), nil
}

// ---- casts ----

type castKind uint8

const (
	castIdentity castKind = iota + 1
	castI32toI64
	castI32toF64
	castI64toF64
	castI64toI32
	castF64toI64
	castDateToTs
	castTsToDate
)

type castNode struct {
	k   castKind
	a   node
	to  types.T
	dst arrow.DataType
}

func buildCast(x *expr.Cast) (node, error) {
	from, to := x.Arg.Type(), x.To
	var k castKind
	switch {
	case from == to && castIsIdentity(to):
		k = castIdentity
	case from.Kind == types.Int && to.Kind == types.BigInt:
		k = castI32toI64
	case from.Kind == types.Int && to.Kind == types.Double:
		k = castI32toF64
	case from.Kind == types.BigInt && to.Kind == types.Double:
		k = castI64toF64
	case from.Kind == types.BigInt && to.Kind == types.Int:
		k = castI64toI32
	case from.Kind == types.Double && to.Kind == types.BigInt:
		k = castF64toI64
	case from.Kind == types.Date && to.Kind == types.Timestamp:
		k = castDateToTs
	case from.Kind == types.Timestamp && to.Kind == types.Date:
		k = castTsToDate
	}
	if _, isConst := x.Arg.(*expr.Literal); k == 0 || isConst {
		return newRowNode(nil, x)
	}
	a, err := build(x.Arg)
	if err != nil {
		return nil, err
	}
	return &castNode{k: k, a: a, to: to, dst: to.Arrow()}, nil
}

// castIsIdentity reports whether CastDatum leaves every value of t
// unchanged (DECIMAL checks precision, VARCHAR(n) truncates, TIMESTAMP(p)
// rounds, so those are not).
func castIsIdentity(t types.T) bool {
	switch t.Kind {
	case types.Boolean, types.Int, types.BigInt, types.Double, types.Date:
		return true
	case types.Varchar:
		return t.Width <= 0
	case types.Timestamp:
		return t.Precision >= 6
	}
	return false
}

func (n *castNode) eval(c *ctx) (arrow.Array, error) {
	a, err := n.a.eval(c)
	if err != nil {
		return nil, err
	}
	if n.k == castIdentity {
		return a, nil
	}
	defer a.Release()
	valid := andValidity(c.mem, c.n, a)
	var buf *memory.Buffer
	var bad bool
	switch n.k {
	case castI32toI64:
		var out []int64
		buf, out = newFixed[int64](c.mem, c.n)
		for i, v := range values[int32](a)[:len(out)] {
			out[i] = int64(v)
		}
	case castI32toF64:
		var out []float64
		buf, out = newFixed[float64](c.mem, c.n)
		for i, v := range values[int32](a)[:len(out)] {
			out[i] = float64(v)
		}
	case castI64toF64:
		var out []float64
		buf, out = newFixed[float64](c.mem, c.n)
		for i, v := range values[int64](a)[:len(out)] {
			out[i] = float64(v)
		}
	case castI64toI32:
		var out []int32
		buf, out = newFixed[int32](c.mem, c.n)
		for i, v := range values[int64](a)[:len(out)] {
			out[i] = int32(v)
			if v < math.MinInt32 || v > math.MaxInt32 {
				bad = true
			}
		}
	case castF64toI64:
		var out []int64
		buf, out = newFixed[int64](c.mem, c.n)
		for i, v := range values[float64](a)[:len(out)] {
			r := math.Round(v)
			if !(r >= -9223372036854775808.0 && r < 9223372036854775808.0) {
				bad = true
				r = 0
			}
			out[i] = int64(r)
		}
	case castDateToTs:
		var out []int64
		buf, out = newFixed[int64](c.mem, c.n)
		for i, v := range values[int32](a)[:len(out)] {
			out[i] = int64(v) * usPerDay
		}
	case castTsToDate:
		var out []int32
		buf, out = newFixed[int32](c.mem, c.n)
		for i, v := range values[int64](a)[:len(out)] {
			out[i] = int32(floorDiv(v, usPerDay))
		}
	}
	if bad {
		// Out of range: an error only if the offending row is valid.
		var vb []byte
		if valid != nil {
			vb = valid.Bytes()
		}
		for i := 0; i < c.n; i++ {
			if !isValid(vb, i) {
				continue
			}
			if _, err := CastDatum(types.DatumAt(a, i, mustFromArrow(a.DataType())), n.to); err != nil {
				buf.Release()
				if valid != nil {
					valid.Release()
				}
				return nil, err
			}
		}
	}
	return finish(n.dst, c.n, valid, buf), nil
}

func mustFromArrow(dt arrow.DataType) types.T {
	t, err := types.FromArrow(dt)
	if err != nil {
		panic(err)
	}
	return t
}

// ---- CASE ----

// caseNode evaluates every condition and every taken branch over the whole
// batch, then picks per row. If any of those evaluations fails, the batch
// is re-evaluated row by row with the lazy scalar CASE, so an error in a
// branch a row does not take (CASE WHEN x = 0 THEN NULL ELSE 10 DIV x END)
// never fails the row.
type caseNode struct {
	e       *expr.Case
	t       types.T
	conds   []node
	results []node // len(conds)+1; the last is ELSE (nil: NULL)
	colIdx  []int
	colT    []types.T
	width   int
}

func buildCase(x *expr.Case) (node, error) {
	n := &caseNode{e: x, t: x.T}
	for _, w := range x.Whens {
		cn, err := build(w.Cond)
		if err != nil {
			return nil, err
		}
		rn, err := build(conformExpr(w.Result, x.T))
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cn)
		n.results = append(n.results, rn)
	}
	var en node
	if x.Else != nil {
		var err error
		if en, err = build(conformExpr(x.Else, x.T)); err != nil {
			return nil, err
		}
	}
	n.results = append(n.results, en)
	expr.Walk(x, func(e expr.Expr) {
		if c, ok := e.(*expr.ColumnRef); ok {
			n.colIdx = append(n.colIdx, c.Index)
			n.colT = append(n.colT, c.T)
			n.width = max(n.width, c.Index+1)
		}
	})
	return n, nil
}

func (n *caseNode) eval(c *ctx) (arrow.Array, error) {
	out, err := n.evalVector(c)
	if err == nil {
		return out, nil
	}
	return n.evalRows(c)
}

func (n *caseNode) evalVector(c *ctx) (arrow.Array, error) {
	which := make([]int32, c.n)
	for i := range which {
		which[i] = -2 // undecided
	}
	counts := make([]int, len(n.results))
	for k, cn := range n.conds {
		arr, err := cn.eval(c)
		if err != nil {
			return nil, err
		}
		if b, ok := arr.(*array.Boolean); ok {
			bits, vb := boolBits(b), validBits(b)
			for i := range which {
				if which[i] == -2 && isValid(vb, i) && bits[i>>3]&(1<<(i&7)) != 0 {
					which[i] = int32(k)
					counts[k]++
				}
			}
		}
		arr.Release()
	}
	elseIdx := int32(len(n.results) - 1)
	for i := range which {
		if which[i] == -2 {
			which[i] = elseIdx
			counts[elseIdx]++
		}
	}
	srcs := make([]arrow.Array, len(n.results))
	defer releaseAll(srcs)
	for k, rn := range n.results {
		if counts[k] == 0 || rn == nil {
			continue
		}
		arr, err := rn.eval(c)
		if err != nil {
			return nil, err
		}
		srcs[k] = arr
	}
	dt := n.t.Arrow()
	for k := range srcs {
		if srcs[k] == nil {
			// Never picked, or the NULL ELSE: a cheap null placeholder.
			srcs[k] = array.MakeArrayOfNull(c.mem, dt, c.n)
		}
	}
	for i := range which {
		if n.results[which[i]] == nil {
			which[i] = -1
		}
	}
	return gather(c.mem, dt, srcs, which, nil, c.n)
}

func (n *caseNode) evalRows(c *ctx) (arrow.Array, error) {
	b := array.NewBuilder(c.mem, n.t.Arrow())
	defer b.Release()
	row := make([]types.Datum, n.width)
	for i := 0; i < c.n; i++ {
		for k, idx := range n.colIdx {
			if idx >= int(c.rec.NumCols()) {
				return nil, errUnsupported("column #%d out of range", idx)
			}
			row[idx] = types.DatumAt(c.rec.Column(idx), i, n.colT[k])
		}
		d, err := evalScalar(n.e, row)
		if err != nil {
			return nil, err
		}
		types.AppendDatum(b, d)
	}
	return b.NewArray(), nil
}

package eval

import (
	"bytes"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

func buildCall(c *expr.Call) (node, error) {
	switch c.Func {
	case expr.In:
		// x IN (a, b, ...) is x = a OR x = b OR ...: three-valued OR gives
		// exactly IN's NULL semantics.
		var or expr.Expr
		for _, v := range c.Args[1:] {
			eq := &expr.Call{Func: expr.Eq, Args: []expr.Expr{c.Args[0], v}, T: types.BoolType}
			if or == nil {
				or = eq
			} else {
				or = &expr.Call{Func: expr.Or, Args: []expr.Expr{or, eq}, T: types.BoolType}
			}
		}
		return build(or)
	case expr.Eq, expr.Ne, expr.Lt, expr.Le, expr.Gt, expr.Ge:
		if n, ok, err := buildCmp(c); ok || err != nil {
			return n, err
		}
	case expr.Add, expr.Sub, expr.Mul, expr.Div:
		if n, ok, err := buildArith(c); ok || err != nil {
			return n, err
		}
	case expr.And, expr.Or, expr.Not:
		if allKind(c.Args, types.Boolean) {
			args, err := buildArgs(c.Args)
			if err != nil {
				return nil, err
			}
			return &boolNode{op: c.Func, args: args}, nil
		}
	case expr.IsNull, expr.IsNotNull:
		args, err := buildArgs(c.Args)
		if err != nil {
			return nil, err
		}
		return &boolNode{op: c.Func, args: args}, nil
	case expr.Coalesce:
		es := make([]expr.Expr, len(c.Args))
		for i, a := range c.Args {
			es[i] = conformExpr(a, c.T)
		}
		args, err := buildArgs(es)
		if err != nil {
			return nil, err
		}
		return &coalesceNode{t: c.T, args: args}, nil
	case expr.Like:
		if n, ok, err := buildLike(c); ok || err != nil {
			return n, err
		}
	case expr.AddInterval, expr.SubInterval:
		if n, ok, err := buildTsInterval(c); ok || err != nil {
			return n, err
		}
	}
	return newRowNode(c, nil)
}

func allKind(es []expr.Expr, k types.Kind) bool {
	for _, e := range es {
		if e.Type().Kind != k {
			return false
		}
	}
	return true
}

// ---- comparisons ----

type phys uint8

const (
	physNone phys = iota
	physI32
	physI64
	physF64
	physStr
)

func physOf(t types.T) phys {
	switch t.Kind {
	case types.Int, types.Date:
		return physI32
	case types.BigInt, types.Timestamp:
		return physI64
	case types.Double:
		return physF64
	case types.Varchar:
		return physStr
	}
	return physNone
}

// cmpNode compares two arrays (or an array and a constant) of one
// physical type.
type cmpNode struct {
	op   expr.Func
	p    phys
	a, b node
	c    *types.Datum // constant right-hand side when b is nil
	cs   []byte
}

func buildCmp(c *expr.Call) (node, bool, error) {
	x, y := c.Args[0], c.Args[1]
	if x.Type().Kind != y.Type().Kind {
		return nil, false, nil
	}
	p := physOf(x.Type())
	if p == physNone {
		return nil, false, nil
	}
	op := c.Func
	cx, xConst := constOf(x)
	cy, yConst := constOf(y)
	if xConst && yConst || (xConst && cx.Null) || (yConst && cy.Null) {
		return nil, false, nil
	}
	if xConst {
		x, y, cy, op = y, x, cx, op.Swapped()
		yConst = true
	}
	a, err := build(x)
	if err != nil {
		return nil, true, err
	}
	n := &cmpNode{op: op, p: p, a: a}
	if yConst {
		n.c = cy
		n.cs = []byte(cy.S)
	} else if n.b, err = build(y); err != nil {
		return nil, true, err
	}
	return n, true, nil
}

func (n *cmpNode) eval(c *ctx) (arrow.Array, error) {
	a, err := n.a.eval(c)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	var b arrow.Array
	if n.b != nil {
		if b, err = n.b.eval(c); err != nil {
			return nil, err
		}
		defer b.Release()
	}
	out := newBitmap(c.mem, c.n)
	ob := out.Bytes()
	switch n.p {
	case physI32:
		if b == nil {
			cmpVS(n.op, values[int32](a), int32(n.c.I), ob)
		} else {
			cmpVV(n.op, values[int32](a), values[int32](b), ob)
		}
	case physI64:
		if b == nil {
			cmpVS(n.op, values[int64](a), n.c.I, ob)
		} else {
			cmpVV(n.op, values[int64](a), values[int64](b), ob)
		}
	case physF64:
		if b == nil {
			cmpVS(n.op, values[float64](a), n.c.F, ob)
		} else {
			cmpVV(n.op, values[float64](a), values[float64](b), ob)
		}
	case physStr:
		ao, ad := stringParts(a.(*array.String))
		if b == nil {
			cmpStrVS(n.op, ao, ad, n.cs, ob)
		} else {
			bo, bd := stringParts(b.(*array.String))
			cmpStrVV(n.op, ao, ad, bo, bd, ob)
		}
	}
	valid := andValidity(c.mem, c.n, nonNil(a, b)...)
	return finish(arrow.FixedWidthTypes.Boolean, c.n, valid, out), nil
}

func cmpStrVS(op expr.Func, offs []int32, data, c []byte, out []byte) {
	n := len(offs) - 1
	switch op {
	case expr.Eq, expr.Ne:
		want := op == expr.Eq
		for i := 0; i < n; i++ {
			if bytes.Equal(data[offs[i]:offs[i+1]], c) == want {
				out[i>>3] |= 1 << (i & 7)
			}
		}
	default:
		for i := 0; i < n; i++ {
			if cmpResult(op, bytes.Compare(data[offs[i]:offs[i+1]], c)) {
				out[i>>3] |= 1 << (i & 7)
			}
		}
	}
}

func cmpStrVV(op expr.Func, ao []int32, ad []byte, bo []int32, bd []byte, out []byte) {
	n := len(ao) - 1
	switch op {
	case expr.Eq, expr.Ne:
		want := op == expr.Eq
		for i := 0; i < n; i++ {
			if bytes.Equal(ad[ao[i]:ao[i+1]], bd[bo[i]:bo[i+1]]) == want {
				out[i>>3] |= 1 << (i & 7)
			}
		}
	default:
		for i := 0; i < n; i++ {
			if cmpResult(op, bytes.Compare(ad[ao[i]:ao[i+1]], bd[bo[i]:bo[i+1]])) {
				out[i>>3] |= 1 << (i & 7)
			}
		}
	}
}

// ---- arithmetic ----

type arithNode struct {
	op     expr.Func
	float  bool
	a, b   node
	ca, cb *types.Datum
}

func buildArith(c *expr.Call) (node, bool, error) {
	x, y := c.Args[0], c.Args[1]
	kx, ky := x.Type().Kind, y.Type().Kind
	n := &arithNode{op: c.Func}
	switch {
	case c.T.Kind == types.BigInt && kx == types.BigInt && ky == types.BigInt && c.Func != expr.Div:
	case c.T.Kind == types.Double && kx == types.Double && ky == types.Double:
		n.float = true
	default:
		return nil, false, nil
	}
	cx, xConst := constOf(x)
	cy, yConst := constOf(y)
	if xConst && yConst || (xConst && cx.Null) || (yConst && cy.Null) {
		return nil, false, nil
	}
	var err error
	if xConst {
		n.ca = cx
	} else if n.a, err = build(x); err != nil {
		return nil, true, err
	}
	if yConst {
		n.cb = cy
	} else if n.b, err = build(y); err != nil {
		return nil, true, err
	}
	return n, true, nil
}

func (n *arithNode) eval(c *ctx) (arrow.Array, error) {
	var a, b arrow.Array
	var err error
	if n.a != nil {
		if a, err = n.a.eval(c); err != nil {
			return nil, err
		}
		defer a.Release()
	}
	if n.b != nil {
		if b, err = n.b.eval(c); err != nil {
			return nil, err
		}
		defer b.Release()
	}
	var valid = andValidity(c.mem, c.n, nonNil(a, b)...)
	if n.float {
		return n.evalFloat(c, a, b, valid)
	}
	buf, out := newFixed[int64](c.mem, c.n)
	var av, bv []int64
	var ac, bc int64
	if a != nil {
		av = values[int64](a)
	} else {
		ac = n.ca.I
	}
	if b != nil {
		bv = values[int64](b)
	} else {
		bc = n.cb.I
	}
	var ovf bool
	switch n.op {
	case expr.Add:
		switch {
		case a == nil:
			ovf = addVS(bv, ac, out)
		case b == nil:
			ovf = addVS(av, bc, out)
		default:
			ovf = addVV(av, bv, out)
		}
	case expr.Sub:
		switch {
		case a == nil:
			ovf = subSV(ac, bv, out)
		case b == nil:
			ovf = addVS(av, -bc, out) || bc == math.MinInt64
		default:
			ovf = subVV(av, bv, out)
		}
	case expr.Mul:
		switch {
		case a == nil:
			ovf = mulVS(bv, ac, out)
		case b == nil:
			ovf = mulVS(av, bc, out)
		default:
			ovf = mulVV(av, bv, out)
		}
	}
	if ovf {
		var vb []byte
		if valid != nil {
			vb = valid.Bytes()
		}
		for i := 0; i < c.n; i++ {
			if !isValid(vb, i) {
				continue
			}
			x, y := ac, bc
			if av != nil {
				x = av[i]
			}
			if bv != nil {
				y = bv[i]
			}
			if _, _, o := intArith(n.op, x, y); o {
				buf.Release()
				if valid != nil {
					valid.Release()
				}
				return nil, errBigIntRange
			}
		}
	}
	return finish(arrow.PrimitiveTypes.Int64, c.n, valid, buf), nil
}

func nonNil(as ...arrow.Array) []arrow.Array {
	out := as[:0:0]
	for _, a := range as {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

func addVV(a, b, out []int64) bool {
	a, b = a[:len(out)], b[:len(out)]
	var o int64
	for i := range out {
		x, y := a[i], b[i]
		s := x + y
		o |= (s ^ x) & (s ^ y)
		out[i] = s
	}
	return o < 0
}

func addVS(a []int64, y int64, out []int64) bool {
	a = a[:len(out)]
	var o int64
	for i := range out {
		x := a[i]
		s := x + y
		o |= (s ^ x) & (s ^ y)
		out[i] = s
	}
	return o < 0
}

func subVV(a, b, out []int64) bool {
	a, b = a[:len(out)], b[:len(out)]
	var o int64
	for i := range out {
		x, y := a[i], b[i]
		s := x - y
		o |= (x ^ y) & (s ^ x)
		out[i] = s
	}
	return o < 0
}

func subSV(x int64, b []int64, out []int64) bool {
	b = b[:len(out)]
	var o int64
	for i := range out {
		y := b[i]
		s := x - y
		o |= (x ^ y) & (s ^ x)
		out[i] = s
	}
	return o < 0
}

func mulVV(a, b, out []int64) bool {
	a, b = a[:len(out)], b[:len(out)]
	var o bool
	for i := range out {
		v, ov := mulOvf(a[i], b[i])
		o = o || ov
		out[i] = v
	}
	return o
}

func mulVS(a []int64, y int64, out []int64) bool {
	a = a[:len(out)]
	var o bool
	for i := range out {
		v, ov := mulOvf(a[i], y)
		o = o || ov
		out[i] = v
	}
	return o
}

func (n *arithNode) evalFloat(c *ctx, a, b arrow.Array, valid *memory.Buffer) (arrow.Array, error) {
	buf, out := newFixed[float64](c.mem, c.n)
	var av, bv []float64
	var ac, bc float64
	if a != nil {
		av = values[float64](a)
	} else {
		ac = n.ca.F
	}
	if b != nil {
		bv = values[float64](b)
	} else {
		bc = n.cb.F
	}
	var bad, zero bool
	switch {
	case a == nil:
		bad, zero = floatSV(n.op, ac, bv, out)
	case b == nil:
		bad, zero = floatVS(n.op, av, bc, out)
	default:
		bad, zero = floatVV(n.op, av, bv, out)
	}
	if zero {
		// x / 0 is NULL (MySQL).
		if valid == nil {
			valid = newBitmap(c.mem, c.n)
			vb := valid.Bytes()
			for i := range vb {
				vb[i] = 0xff
			}
		}
		vb := valid.Bytes()
		for i := 0; i < c.n; i++ {
			y := bc
			if bv != nil {
				y = bv[i]
			}
			if y == 0 {
				vb[i>>3] &^= 1 << (i & 7)
			}
		}
	}
	if bad {
		var vb []byte
		if valid != nil {
			vb = valid.Bytes()
		}
		for i, r := range out {
			if isValid(vb, i) && r-r != 0 {
				buf.Release()
				if valid != nil {
					valid.Release()
				}
				return nil, errDoubleRange
			}
		}
	}
	return finish(arrow.PrimitiveTypes.Float64, c.n, valid, buf), nil
}

package eval

import (
	"bytes"
	"math"
	"math/big"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// EvalScalar evaluates e over one row of Datums (a ColumnRef with Index i
// reads row[i]). It is the reference implementation of the vectorized
// Evaluator: CASE is lazy (only the taken branch is evaluated); every other
// node evaluates all of its arguments.
func EvalScalar(e expr.Expr, row []types.Datum) (d types.Datum, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errInternal(r)
		}
	}()
	return evalScalar(e, row)
}

func evalScalar(e expr.Expr, row []types.Datum) (types.Datum, error) {
	switch x := e.(type) {
	case *expr.ColumnRef:
		if x.Index < 0 || x.Index >= len(row) {
			return types.Datum{}, errUnsupported("column #%d out of range (row has %d)", x.Index, len(row))
		}
		d := row[x.Index]
		if d.Null {
			return types.NewNull(x.T), nil
		}
		return d, nil
	case *expr.Literal:
		if x.Value.Null {
			return types.NewNull(x.T), nil
		}
		return x.Value, nil
	case *expr.Param:
		return types.Datum{}, errUnsupported("parameter $%d was not bound", x.Ordinal)
	case *expr.Cast:
		a, err := evalScalar(x.Arg, row)
		if err != nil {
			return a, err
		}
		return CastDatum(a, x.To)
	case *expr.Case:
		for _, w := range x.Whens {
			c, err := evalScalar(w.Cond, row)
			if err != nil {
				return c, err
			}
			if c.Bool() {
				r, err := evalScalar(w.Result, row)
				if err != nil {
					return r, err
				}
				return conform(r, x.T)
			}
		}
		if x.Else == nil {
			return types.NewNull(x.T), nil
		}
		r, err := evalScalar(x.Else, row)
		if err != nil {
			return r, err
		}
		return conform(r, x.T)
	case *expr.Call:
		var buf [4]types.Datum
		args := buf[:0]
		for _, a := range x.Args {
			d, err := evalScalar(a, row)
			if err != nil {
				return d, err
			}
			args = append(args, d)
		}
		return applyFunc(x, args)
	case nil:
		return types.Datum{}, errUnsupported("nil expression")
	}
	return types.Datum{}, errUnsupported("unknown expression %T", e)
}

// conform casts d to t when its kind or decimal scale differs.
func conform(d types.Datum, t types.T) (types.Datum, error) {
	if d.Null {
		return types.NewNull(t), nil
	}
	if d.Kind == t.Kind && (t.Kind != types.Decimal || d.Scale == t.Scale) {
		return d, nil
	}
	if (d.Kind == types.Int || d.Kind == types.BigInt) && (t.Kind == types.Int || t.Kind == types.BigInt) && t.Kind == types.BigInt {
		return types.Datum{Kind: t.Kind, I: d.I}, nil
	}
	return CastDatum(d, t)
}

func boolDatum(b bool) types.Datum { return types.NewBool(b) }

var nullBool = types.NewNull(types.BoolType)

// applyFunc applies a call to already evaluated arguments.
func applyFunc(c *expr.Call, args []types.Datum) (types.Datum, error) {
	t := c.T
	switch c.Func {
	case expr.And, expr.Or:
		a, b := args[0], args[1]
		dom := c.Func == expr.Or // the dominating value
		if (!a.Null && (a.I != 0) == dom) || (!b.Null && (b.I != 0) == dom) {
			return boolDatum(dom), nil
		}
		if a.Null || b.Null {
			return nullBool, nil
		}
		return boolDatum(!dom), nil
	case expr.IsNull:
		return boolDatum(args[0].Null), nil
	case expr.IsNotNull:
		return boolDatum(!args[0].Null), nil
	case expr.Coalesce:
		for _, a := range args {
			if !a.Null {
				return conform(a, t)
			}
		}
		return types.NewNull(t), nil
	case expr.In:
		if args[0].Null {
			return nullBool, nil
		}
		sawNull := false
		for _, a := range args[1:] {
			if a.Null {
				sawNull = true
				continue
			}
			if compareOp(expr.Eq, args[0], a) {
				return boolDatum(true), nil
			}
		}
		if sawNull {
			return nullBool, nil
		}
		return boolDatum(false), nil
	}
	for _, a := range args {
		if a.Null {
			return types.NewNull(t), nil
		}
	}
	switch c.Func {
	case expr.Add, expr.Sub, expr.Mul, expr.Div, expr.IntDiv, expr.Mod:
		return arith(c.Func, args[0], args[1], t)
	case expr.Neg:
		return negate(args[0], t)
	case expr.Eq, expr.Ne, expr.Lt, expr.Le, expr.Gt, expr.Ge:
		return boolDatum(compareOp(c.Func, args[0], args[1])), nil
	case expr.Not:
		return boolDatum(args[0].I == 0), nil
	case expr.Like:
		esc, hasEsc := '\\', true
		if len(args) > 2 {
			esc, hasEsc = firstRune(args[2].S)
		}
		return boolDatum(likeMatch(args[0].S, args[1].S, esc, hasEsc)), nil
	case expr.Greatest, expr.Least:
		best := args[0]
		for _, a := range args[1:] {
			if c.Func == expr.Greatest && compareOp(expr.Gt, a, best) ||
				c.Func == expr.Least && compareOp(expr.Lt, a, best) {
				best = a
			}
		}
		return conform(best, t)
	case expr.Abs:
		a := args[0]
		switch a.Kind {
		case types.Double:
			return types.NewDouble(math.Abs(a.F)), nil
		case types.Decimal:
			return conform(types.NewDecimal(a.Dec.Abs(), a.Scale), t)
		default:
			if a.I == math.MinInt64 {
				return types.Datum{}, errBigIntRange
			}
			if a.I < 0 {
				a.I = -a.I
			}
			return conform(a, t)
		}
	case expr.Round:
		var d int64
		if len(args) > 1 {
			d = args[1].I
		}
		return roundDatum(args[0], d, t)
	case expr.Floor, expr.Ceil:
		return floorCeil(c.Func == expr.Ceil, args[0], t)
	case expr.Sqrt, expr.Ln, expr.Exp, expr.Pow:
		x := args[0].Float()
		var r float64
		switch c.Func {
		case expr.Sqrt:
			if x < 0 {
				return types.NewNull(t), nil
			}
			r = math.Sqrt(x)
		case expr.Ln:
			if x <= 0 {
				return types.NewNull(t), nil
			}
			r = math.Log(x)
		case expr.Exp:
			r = math.Exp(x)
		case expr.Pow:
			r = math.Pow(x, args[1].Float())
			if math.IsNaN(r) {
				return types.NewNull(t), nil
			}
		}
		if math.IsInf(r, 0) {
			return types.Datum{}, errDoubleRange
		}
		return types.NewDouble(r), nil
	case expr.Lower:
		return types.NewText(strings.ToLower(args[0].S)), nil
	case expr.Upper:
		return types.NewText(strings.ToUpper(args[0].S)), nil
	case expr.Concat:
		var sb strings.Builder
		for _, a := range args {
			sb.WriteString(a.S)
		}
		return types.NewText(sb.String()), nil
	case expr.Length:
		return types.NewBigInt(int64(utf8.RuneCountInString(args[0].S))), nil
	case expr.AddInterval, expr.SubInterval:
		iv := args[1]
		m, dd, us := iv.Months, iv.Days, iv.I
		if c.Func == expr.SubInterval {
			m, dd, us = -m, -dd, -us
		}
		a := args[0]
		if t.Kind == types.Date {
			r, ok := dateAddInterval(a.I, m, dd)
			if !ok {
				return types.NewNull(t), nil
			}
			return types.NewDate(int32(r)), nil
		}
		r, ok := addInterval(timestampOf(a), m, dd, us)
		if !ok {
			return types.NewNull(t), nil
		}
		return types.NewTimestamp(r), nil
	case expr.Extract:
		u, err := parseUnit(args[0].S, false)
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewBigInt(extract(u, timestampOf(args[1]))), nil
	case expr.DateTrunc:
		u, err := parseUnit(args[0].S, true)
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewTimestamp(dateTrunc(u, timestampOf(args[1]))), nil
	}
	return types.Datum{}, errUnsupported("function %s", c.Func)
}

func firstRune(s string) (rune, bool) {
	if s == "" {
		return 0, false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r, true
}

// compareOp compares two non-NULL datums of one type (numeric kinds may
// mix) with a comparison Func. Doubles use IEEE semantics.
func compareOp(f expr.Func, a, b types.Datum) bool {
	var c int
	switch {
	case a.Kind == types.Double || b.Kind == types.Double:
		x, y := a.Float(), b.Float()
		switch f {
		case expr.Eq:
			return x == y
		case expr.Ne:
			return x != y
		case expr.Lt:
			return x < y
		case expr.Le:
			return x <= y
		case expr.Gt:
			return x > y
		default:
			return x >= y
		}
	case a.Kind == types.Decimal || b.Kind == types.Decimal:
		c = cmpDec(a, b)
	case a.Kind == types.Varchar:
		c = strings.Compare(a.S, b.S)
	case a.Kind == types.Timestamp && b.Kind == types.Date || a.Kind == types.Date && b.Kind == types.Timestamp:
		c = cmpInt(timestampOf(a), timestampOf(b))
	default:
		c = cmpInt(a.I, b.I)
	}
	return cmpResult(f, c)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpResult(f expr.Func, c int) bool {
	switch f {
	case expr.Eq:
		return c == 0
	case expr.Ne:
		return c != 0
	case expr.Lt:
		return c < 0
	case expr.Le:
		return c <= 0
	case expr.Gt:
		return c > 0
	default:
		return c >= 0
	}
}

// arith applies a binary arithmetic Func to non-NULL numeric datums,
// producing a value of type t.
func arith(f expr.Func, a, b types.Datum, t types.T) (types.Datum, error) {
	switch t.Kind {
	case types.Double:
		x, y := a.Float(), b.Float()
		var r float64
		switch f {
		case expr.Add:
			r = x + y
		case expr.Sub:
			r = x - y
		case expr.Mul:
			r = x * y
		case expr.Div:
			if y == 0 {
				return types.NewNull(t), nil
			}
			r = x / y
		case expr.Mod:
			if y == 0 {
				return types.NewNull(t), nil
			}
			r = math.Mod(x, y)
		case expr.IntDiv:
			if y == 0 {
				return types.NewNull(t), nil
			}
			r = math.Trunc(x / y)
		}
		if math.IsInf(r, 0) || math.IsNaN(r) {
			return types.Datum{}, errDoubleRange
		}
		return types.NewDouble(r), nil
	case types.Int, types.BigInt:
		if a.Kind == types.Double || b.Kind == types.Double || a.Kind == types.Decimal || b.Kind == types.Decimal {
			if f == expr.IntDiv {
				if b.Float() == 0 {
					return types.NewNull(t), nil
				}
				// DIV truncates: recompute exactly with big ints.
				av, as := bigOf(a)
				bv, bs := bigOf(b)
				if a.Kind == types.Double || b.Kind == types.Double {
					v, err := floatToInt(math.Trunc(a.Float() / b.Float()))
					return types.Datum{Kind: t.Kind, I: v}, err
				}
				s := max(as, bs)
				qq := new(big.Int).Quo(rescaleBig(av, as, s), rescaleBig(bv, bs, s))
				v, err := bigToInt64(qq)
				return types.Datum{Kind: t.Kind, I: v}, err
			}
			r, err := arith(f, a, b, types.DecimalType(38, 0))
			if err != nil || r.Null {
				return types.NewNull(t), err
			}
			return CastDatum(r, t)
		}
		v, null, ovf := intArith(f, a.I, b.I)
		if null {
			return types.NewNull(t), nil
		}
		if ovf || (t.Kind == types.Int && (v < math.MinInt32 || v > math.MaxInt32)) {
			return types.Datum{}, errOutOfRange(t)
		}
		return types.Datum{Kind: t.Kind, I: v}, nil
	case types.Decimal:
		return decArith(f, a, b, t)
	}
	return types.Datum{}, errUnsupported("arithmetic %s producing %s", f, t)
}

// intArith is the scalar BIGINT kernel: null for division by zero, ovf on
// overflow.
func intArith(f expr.Func, x, y int64) (v int64, null, ovf bool) {
	switch f {
	case expr.Add:
		v = x + y
		ovf = (v^x)&(v^y) < 0
	case expr.Sub:
		v = x - y
		ovf = (x^y)&(v^x) < 0
	case expr.Mul:
		v, ovf = mulOvf(x, y)
	case expr.IntDiv, expr.Div:
		if y == 0 {
			return 0, true, false
		}
		if x == math.MinInt64 && y == -1 {
			return 0, false, true
		}
		v = x / y
	case expr.Mod:
		if y == 0 {
			return 0, true, false
		}
		if y == -1 {
			return 0, false, false
		}
		v = x % y
	}
	return
}

func mulOvf(x, y int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(x), uint64(y))
	hi -= uint64(x>>63) & uint64(y)
	hi -= uint64(y>>63) & uint64(x)
	return int64(lo), hi != uint64(int64(lo)>>63)
}

func decArith(f expr.Func, a, b types.Datum, t types.T) (types.Datum, error) {
	if a.Kind == types.Double || b.Kind == types.Double {
		r, err := arith(f, a, b, types.DoubleType)
		if err != nil || r.Null {
			return types.NewNull(t), err
		}
		return CastDatum(r, t)
	}
	av, as := bigOf(a)
	bv, bs := bigOf(b)
	s := t.Scale
	switch f {
	case expr.Add, expr.Sub:
		x, y := rescaleBig(av, as, s), rescaleBig(bv, bs, s)
		if f == expr.Add {
			return decFromBig(x.Add(x, y), s)
		}
		return decFromBig(x.Sub(x, y), s)
	case expr.Mul:
		p := new(big.Int).Mul(av, bv)
		return decFromBig(rescaleBig(p, as+bs, s), s)
	case expr.Div:
		if bv.Sign() == 0 {
			return types.NewNull(t), nil
		}
		// a/b at scale s = (av/10^as) / (bv/10^bs) * 10^s
		k := s - as + bs
		num, den := new(big.Int).Set(av), new(big.Int).Set(bv)
		if k >= 0 {
			num.Mul(num, pow10Big(k))
		} else {
			den.Mul(den, pow10Big(-k))
		}
		return decFromBig(divRound(num, den), s)
	case expr.Mod:
		if bv.Sign() == 0 {
			return types.NewNull(t), nil
		}
		m := max(as, bs)
		r := new(big.Int).Rem(rescaleBig(av, as, m), rescaleBig(bv, bs, m))
		return decFromBig(rescaleBig(r, m, s), s)
	case expr.IntDiv:
		if bv.Sign() == 0 {
			return types.NewNull(t), nil
		}
		m := max(as, bs)
		q := new(big.Int).Quo(rescaleBig(av, as, m), rescaleBig(bv, bs, m))
		return decFromBig(rescaleBig(q, 0, s), s)
	}
	return types.Datum{}, errUnsupported("decimal %s", f)
}

func negate(a types.Datum, t types.T) (types.Datum, error) {
	switch a.Kind {
	case types.Double:
		return types.NewDouble(-a.F), nil
	case types.Decimal:
		return conform(types.NewDecimal(a.Dec.Negate(), a.Scale), t)
	default:
		if a.I == math.MinInt64 {
			return types.Datum{}, errBigIntRange
		}
		return conform(types.Datum{Kind: a.Kind, I: -a.I}, t)
	}
}

// roundFloat rounds x half away from zero to d decimal digits.
func roundFloat(x float64, d int64) float64 {
	if d == 0 {
		return math.Round(x)
	}
	if d > 30 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	if d < -30 {
		return 0 * x
	}
	if d > 0 {
		p := math.Pow(10, float64(d))
		y := x * p
		if math.IsInf(y, 0) {
			return x
		}
		return math.Round(y) / p
	}
	p := math.Pow(10, float64(-d))
	return math.Round(x/p) * p
}

func roundDatum(a types.Datum, d int64, t types.T) (types.Datum, error) {
	switch a.Kind {
	case types.Double:
		return conform(types.NewDouble(roundFloat(a.F, d)), t)
	case types.Decimal:
		v, s := a.Dec.BigInt(), a.Scale
		if d >= int64(s) {
			return decFromBig(rescaleBig(v, s, t.Scale), t.Scale)
		}
		if d < -40 {
			d = -40
		}
		r := divRound(v, pow10Big(int32(int64(s)-d))) // value at scale d
		if int64(t.Scale) >= d {
			r.Mul(r, pow10Big(int32(int64(t.Scale)-d)))
			return decFromBig(r, t.Scale)
		}
		return decFromBig(divRound(r, pow10Big(int32(d-int64(t.Scale)))), t.Scale)
	default:
		if d >= 0 {
			return conform(a, t)
		}
		if d < -18 {
			return conform(types.Datum{Kind: a.Kind}, t)
		}
		r := divRound(big.NewInt(a.I), pow10Big(int32(-d)))
		r.Mul(r, pow10Big(int32(-d)))
		v, err := bigToInt64(r)
		if err != nil {
			return types.Datum{}, err
		}
		return conform(types.Datum{Kind: a.Kind, I: v}, t)
	}
}

func floorCeil(ceil bool, a types.Datum, t types.T) (types.Datum, error) {
	switch a.Kind {
	case types.Double:
		if ceil {
			return conform(types.NewDouble(math.Ceil(a.F)), t)
		}
		return conform(types.NewDouble(math.Floor(a.F)), t)
	case types.Decimal:
		v := a.Dec.BigInt()
		if ceil {
			v.Neg(v)
		}
		q := new(big.Int).Div(v, pow10Big(a.Scale)) // Euclidean = floor for positive divisor
		if ceil {
			q.Neg(q)
		}
		if t.Kind != types.Decimal {
			return conform(types.NewDecimal(decimalOf(q), 0), t)
		}
		return decFromBig(rescaleBig(q, 0, t.Scale), t.Scale)
	default:
		return conform(a, t)
	}
}

// likeMatch reports whether s matches the LIKE pattern p ('%' any run,
// '_' one character, esc escapes the next pattern character).
func likeMatch(s, p string, esc rune, hasEsc bool) bool {
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			pc, psz := utf8.DecodeRuneInString(p[pi:])
			switch {
			case pc == '%':
				starP, starS = pi+psz, si
				pi += psz
				continue
			case pc == '_':
				_, ssz := utf8.DecodeRuneInString(s[si:])
				si += ssz
				pi += psz
				continue
			default:
				lit := pc
				n := psz
				if hasEsc && pc == esc && pi+psz < len(p) {
					l2, sz2 := utf8.DecodeRuneInString(p[pi+psz:])
					lit, n = l2, psz+sz2
				}
				sc, ssz := utf8.DecodeRuneInString(s[si:])
				if sc == lit {
					si += ssz
					pi += n
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, ssz := utf8.DecodeRuneInString(s[starS:])
		starS += ssz
		si = starS
		pi = starP
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// likePattern is a LIKE pattern compiled for a constant right-hand side.
type likePattern struct {
	kind   uint8 // 0 general, 1 exact, 2 prefix, 3 suffix, 4 contains
	lit    []byte
	p      string
	esc    rune
	hasEsc bool
}

func compileLike(p string, esc rune, hasEsc bool) likePattern {
	lp := likePattern{p: p, esc: esc, hasEsc: hasEsc}
	special := func(s string) bool {
		return strings.ContainsAny(s, "%_") || (hasEsc && strings.ContainsRune(s, esc))
	}
	switch {
	case !special(p):
		lp.kind, lp.lit = 1, []byte(p)
	case len(p) >= 2 && p[0] == '%' && p[len(p)-1] == '%' && !special(p[1:len(p)-1]):
		lp.kind, lp.lit = 4, []byte(p[1:len(p)-1])
	case len(p) >= 1 && p[len(p)-1] == '%' && !special(p[:len(p)-1]):
		lp.kind, lp.lit = 2, []byte(p[:len(p)-1])
	case len(p) >= 1 && p[0] == '%' && !special(p[1:]):
		lp.kind, lp.lit = 3, []byte(p[1:])
	}
	return lp
}

func (lp *likePattern) match(s []byte) bool {
	switch lp.kind {
	case 1:
		return bytes.Equal(s, lp.lit)
	case 2:
		return bytes.HasPrefix(s, lp.lit)
	case 3:
		return bytes.HasSuffix(s, lp.lit)
	case 4:
		return bytes.Contains(s, lp.lit)
	}
	return likeMatch(string(s), lp.p, lp.esc, lp.hasEsc)
}

func decimalOf(v *big.Int) decimal128.Num { return decimal128.FromBigInt(v) }

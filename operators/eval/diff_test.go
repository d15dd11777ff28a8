package eval

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// The differential test: random typed expression trees over random batches
// with NULLs; Eval must agree with EvalScalar row by row. When EvalScalar
// fails on some row, Eval must fail too, with the code of one of the rows'
// errors (which row fails first may differ). When Eval fails, some row
// must fail in EvalScalar.

var diffSchema = types.Schema{
	{Name: "a", Type: bigint}, {Name: "b", Type: bigint}, {Name: "x", Type: dbl}, {Name: "y", Type: dbl},
	{Name: "s", Type: text}, {Name: "t", Type: text}, {Name: "p", Type: boolT}, {Name: "q", Type: boolT},
	{Name: "m", Type: dec2}, {Name: "n", Type: dec4}, {Name: "ts", Type: ts6}, {Name: "dt", Type: types.DateType},
	{Name: "i", Type: types.IntType},
}

type gen struct {
	r *rand.Rand
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) datum(t types.T) types.Datum {
	if g.pick(7) == 0 {
		return types.NewNull(t)
	}
	switch t.Kind {
	case types.BigInt:
		switch g.pick(10) {
		case 0:
			return types.NewBigInt([]int64{math.MaxInt64, math.MinInt64, 1 << 62, -(1 << 62), 1 << 32}[g.pick(5)])
		case 1:
			return types.NewBigInt(g.r.Int64N(2_000_000_000) - 1_000_000_000)
		default:
			return types.NewBigInt(g.r.Int64N(21) - 10)
		}
	case types.Int:
		return types.NewInt(int32(g.r.Int64N(201) - 100))
	case types.Double:
		switch g.pick(10) {
		case 0:
			return types.NewDouble([]float64{1e300, -1e300, 0, 0.5, -2.5}[g.pick(5)])
		default:
			return types.NewDouble(float64(g.r.Int64N(2001)-1000) / 8)
		}
	case types.Varchar:
		return types.NewText([]string{"", "a", "ab", "abc", "B", "héllo", "a%b", "a_c", "42", " 7 ", "-3", "1.5", "true", "off", "2026-11-25", "2026-11-25 10:00:00.5", "x\\y"}[g.pick(17)])
	case types.Boolean:
		return types.NewBool(g.pick(2) == 0)
	case types.Decimal:
		v := g.r.Int64N(200001) - 100000
		if t.Precision > 0 && t.Precision < 10 {
			v %= 1000
		}
		return types.NewDecimal(decimal128.FromI64(v), t.Scale)
	case types.Timestamp:
		return types.NewTimestamp(1_700_000_000_000_000 + g.r.Int64N(200*86400)*1_000_000 + g.r.Int64N(1_000_000)*[]int64{0, 1, 1000}[g.pick(3)] - 3e16*int64(g.pick(2)))
	case types.Date:
		return types.NewDate(int32(g.r.Int64N(40000) - 10000))
	}
	return types.NewNull(t)
}

func (g *gen) column(t types.T) expr.Expr {
	var idx []int
	for i, c := range diffSchema {
		if c.Type == t {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	i := idx[g.pick(len(idx))]
	return col(i, diffSchema[i].Type)
}

func (g *gen) leaf(t types.T) expr.Expr {
	if c := g.column(t); c != nil && g.pick(3) != 0 {
		return c
	}
	if t.Kind == types.Decimal {
		if g.pick(2) == 0 {
			return &expr.Cast{Arg: g.column(dec2), To: t}
		}
	}
	return lit(g.datum(t), t)
}

// interval draws an interval for TIMESTAMP ± INTERVAL: half the time
// without months (the vectorized path), sometimes large enough to leave
// years 1..9999 or the bounds addInterval accepts.
func (g *gen) interval() types.Datum {
	months := int32(g.r.Int64N(30) - 15)
	if g.pick(2) == 0 {
		months = 0
	}
	days := int32(g.r.Int64N(70) - 35)
	us := g.r.Int64N(1e11) - 5e10
	switch g.pick(8) {
	case 0:
		days = int32(g.r.Int64N(8e6) - 4e6)
	case 1:
		days = []int32{5_000_000, -5_000_000, 5_000_001, -5_000_001, math.MinInt32}[g.pick(5)]
	case 2:
		us = []int64{5_000_000 * usPerDay, -5_000_000*usPerDay - 1, math.MinInt64, g.r.Int64N(6e17) - 3e17}[g.pick(4)]
	}
	return types.NewInterval(months, days, us)
}

var numFuncs = []expr.Func{expr.Add, expr.Sub, expr.Mul, expr.IntDiv, expr.Mod, expr.Div}
var cmpFuncs = []expr.Func{expr.Eq, expr.Ne, expr.Lt, expr.Le, expr.Gt, expr.Ge}

// expr returns a random expression of type t.
func (g *gen) expr(t types.T, depth int) expr.Expr {
	if depth <= 0 || g.pick(4) == 0 {
		return g.leaf(t)
	}
	d := depth - 1
	switch g.pick(6) {
	case 0: // CASE
		c := &expr.Case{T: t}
		for k := 0; k <= g.pick(2); k++ {
			c.Whens = append(c.Whens, expr.When{Cond: g.expr(boolT, d), Result: g.expr(t, d)})
		}
		if g.pick(3) != 0 {
			c.Else = g.expr(t, d)
		}
		return c
	case 1: // COALESCE / GREATEST / LEAST
		if t.Kind == types.Interval {
			break
		}
		f := []expr.Func{expr.Coalesce, expr.Greatest, expr.Least}[g.pick(3)]
		args := []expr.Expr{g.expr(t, d), g.expr(t, d)}
		if g.pick(2) == 0 {
			args = append(args, g.expr(t, d))
		}
		return call(f, t, args...)
	}
	switch t.Kind {
	case types.BigInt:
		switch g.pick(9) {
		case 0, 1, 2:
			f := numFuncs[g.pick(5)]
			return call(f, t, g.expr(t, d), g.expr(t, d))
		case 3:
			return call([]expr.Func{expr.Neg, expr.Abs, expr.Floor}[g.pick(3)], t, g.expr(t, d))
		case 4:
			return call(expr.Round, t, g.expr(t, d), i64(g.r.Int64N(5)-3))
		case 5:
			return call(expr.Length, t, g.expr(text, d))
		case 6:
			u := []string{"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MICROSECOND", "DOW", "DOY", "EPOCH"}[g.pick(12)]
			return call(expr.Extract, t, str(u), g.expr([]types.T{ts6, types.DateType}[g.pick(2)], d))
		default:
			from := []types.T{dbl, text, types.IntType, dec2, boolT}[g.pick(5)]
			return &expr.Cast{Arg: g.expr(from, d), To: t}
		}
	case types.Int:
		return &expr.Cast{Arg: g.expr(bigint, d), To: t}
	case types.Double:
		switch g.pick(8) {
		case 0, 1, 2:
			f := []expr.Func{expr.Add, expr.Sub, expr.Mul, expr.Div, expr.Mod}[g.pick(5)]
			return call(f, t, g.expr(t, d), g.expr(t, d))
		case 3:
			return call(expr.Div, t, g.expr(bigint, d), g.expr(bigint, d))
		case 4:
			return call([]expr.Func{expr.Sqrt, expr.Ln, expr.Exp, expr.Neg, expr.Abs, expr.Floor, expr.Ceil}[g.pick(7)], t, g.expr(t, d))
		case 5:
			return call(expr.Pow, t, g.expr(t, d), g.expr(t, d))
		case 6:
			return call(expr.Round, t, g.expr(t, d), i64(g.r.Int64N(5)-2))
		default:
			from := []types.T{bigint, text, types.IntType, dec2}[g.pick(4)]
			return &expr.Cast{Arg: g.expr(from, d), To: t}
		}
	case types.Decimal:
		switch g.pick(6) {
		case 0, 1:
			f := []expr.Func{expr.Add, expr.Sub, expr.Mod}[g.pick(3)]
			return call(f, t, g.expr(dec2, d), g.expr(dec4, d))
		case 2:
			return call(expr.Mul, t, g.expr(dec2, d), g.expr(dec2, d))
		case 3:
			return call(expr.Div, t, g.expr(bigint, d), g.expr(bigint, d))
		case 4:
			return call([]expr.Func{expr.Neg, expr.Abs}[g.pick(2)], t, g.expr(t, d))
		default:
			from := []types.T{bigint, text, dbl, dec2, dec4}[g.pick(5)]
			return &expr.Cast{Arg: g.expr(from, d), To: t}
		}
	case types.Boolean:
		switch g.pick(7) {
		case 0, 1:
			ct := []types.T{bigint, dbl, text, boolT, dec2, ts6, types.DateType, types.IntType}[g.pick(8)]
			a, b := g.expr(ct, d), g.expr(ct, d)
			if ct == dec2 && g.pick(2) == 0 {
				b = g.expr(dec4, d)
			}
			return call(cmpFuncs[g.pick(6)], t, a, b)
		case 2:
			return call([]expr.Func{expr.And, expr.Or}[g.pick(2)], t, g.expr(t, d), g.expr(t, d))
		case 3:
			return call(expr.Not, t, g.expr(t, d))
		case 4:
			ct := []types.T{bigint, dbl, text, ts6}[g.pick(4)]
			return call([]expr.Func{expr.IsNull, expr.IsNotNull}[g.pick(2)], t, g.expr(ct, d))
		case 5:
			ct := []types.T{bigint, text, dbl}[g.pick(3)]
			args := []expr.Expr{g.expr(ct, d)}
			for k := 0; k <= g.pick(3); k++ {
				args = append(args, g.expr(ct, 0))
			}
			return call(expr.In, t, args...)
		default:
			p := str([]string{"a%", "%b", "%b%", "a_c", "a\\%b", "%", "", "h_llo", "a%c%"}[g.pick(9)])
			var pe expr.Expr = p
			if g.pick(4) == 0 {
				pe = g.expr(text, d)
			}
			return call(expr.Like, t, g.expr(text, d), pe)
		}
	case types.Varchar:
		switch g.pick(5) {
		case 0:
			return call([]expr.Func{expr.Lower, expr.Upper}[g.pick(2)], t, g.expr(t, d))
		case 1:
			return call(expr.Concat, t, g.expr(t, d), g.expr(t, d))
		case 2:
			from := []types.T{bigint, dbl, dec2, boolT, ts6, types.DateType}[g.pick(6)]
			return &expr.Cast{Arg: g.expr(from, d), To: t}
		case 3:
			return &expr.Cast{Arg: g.expr(t, d), To: types.T{Kind: types.Varchar, Width: 2}}
		default:
			return g.leaf(t)
		}
	case types.Timestamp:
		switch g.pick(4) {
		case 0:
			iv := g.interval()
			f := []expr.Func{expr.AddInterval, expr.SubInterval}[g.pick(2)]
			return call(f, t, g.expr([]types.T{ts6, types.DateType}[g.pick(2)], d), lit(iv, types.IntervalType))
		case 1:
			u := []string{"year", "quarter", "month", "week", "day", "hour", "minute", "second"}[g.pick(8)]
			return call(expr.DateTrunc, t, str(u), g.expr(t, d))
		case 2:
			from := []types.T{types.DateType, text}[g.pick(2)]
			return &expr.Cast{Arg: g.expr(from, d), To: []types.T{ts6, types.TimestampType(0), types.TimestampType(3)}[g.pick(3)]}
		default:
			return g.leaf(t)
		}
	case types.Date:
		switch g.pick(3) {
		case 0:
			iv := types.NewInterval(int32(g.r.Int64N(30)-15), int32(g.r.Int64N(70)-35), 0)
			return call([]expr.Func{expr.AddInterval, expr.SubInterval}[g.pick(2)], t, g.expr(t, d), lit(iv, types.IntervalType))
		case 1:
			return &expr.Cast{Arg: g.expr([]types.T{ts6, text}[g.pick(2)], d), To: t}
		default:
			return g.leaf(t)
		}
	}
	return g.leaf(t)
}

func TestDifferential(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	seed := uint64(20261125)
	if s := os.Getenv("EVAL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	g := &gen{r: rand.New(rand.NewPCG(seed, 7))}
	resultTypes := []types.T{bigint, dbl, boolT, text, dec2, dec4, types.DecimalType(38, 4), ts6, types.DateType, types.IntType}
	iters := 3000
	if testing.Short() {
		iters = 500
	}
	var errCases, okCases int
	for it := 0; it < iters; it++ {
		rt := resultTypes[g.pick(len(resultTypes))]
		e := g.expr(rt, 1+g.pick(4))
		if rt.Kind == types.Decimal && e.Type() != rt {
			continue
		}
		nrows := []int{1, 3, 17, 64, 100}[g.pick(5)]
		rows := make([][]types.Datum, nrows)
		for r := range rows {
			rows[r] = make([]types.Datum, len(diffSchema))
			for c, col := range diffSchema {
				rows[r][c] = g.datum(col.Type)
			}
		}
		if _, err := Compile(e); err != nil {
			t.Fatalf("iteration %d: Compile(%s): %v", it, e, err)
		}
		want := make([]types.Datum, nrows)
		scalarCodes := map[string]bool{}
		for r := range rows {
			d, err := EvalScalar(e, rows[r])
			if err != nil {
				if _, ok := sqlerr.As(err); !ok || sqlerr.Code(err) == sqlerr.InternalError {
					t.Fatalf("iteration %d: EvalScalar(%s) row %v: untyped error %v", it, e, rows[r], err)
				}
				scalarCodes[sqlerr.Code(err)] = true
			}
			want[r] = d
		}
		rec := makeRecord(mem, diffSchema, rows)
		got, err := evalRows(t, mem, e, rec)
		rec.Release()
		switch {
		case err != nil && len(scalarCodes) == 0:
			t.Fatalf("iteration %d: Eval(%s) failed (%v) but EvalScalar did not", it, e, err)
		case err == nil && len(scalarCodes) > 0:
			t.Fatalf("iteration %d: EvalScalar(%s) failed %v but Eval did not", it, e, scalarCodes)
		case err != nil:
			if !scalarCodes[sqlerr.Code(err)] {
				t.Fatalf("iteration %d: %s: Eval error %v (code %s), scalar codes %v", it, e, err, sqlerr.Code(err), scalarCodes)
			}
			errCases++
		default:
			okCases++
			for r := range got {
				if !sameDatum(got[r], want[r]) {
					t.Fatalf("iteration %d: %s row %d %v: Eval %v (%+v), EvalScalar %v (%+v)", it, e, r, rows[r], got[r], got[r], want[r], want[r])
				}
			}
		}
	}
	t.Logf("%d agreeing batches, %d agreeing errors", okCases, errCases)
	if okCases < iters/3 {
		t.Errorf("too few successful evaluations: %d of %d", okCases, iters)
	}
}

package eval

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// The unit-test schema.
var (
	dec2  = types.DecimalType(10, 2)
	dec4  = types.DecimalType(12, 4)
	ts6   = types.TimestampType(6)
	tschm = types.Schema{
		{Name: "a", Type: bigint}, {Name: "b", Type: bigint}, {Name: "d", Type: dbl},
		{Name: "s", Type: text}, {Name: "p", Type: boolT}, {Name: "m", Type: dec2},
		{Name: "ts", Type: ts6}, {Name: "dt", Type: types.DateType}, {Name: "i", Type: types.IntType},
		{Name: "m4", Type: dec4},
	}
	cA, cB, cD, cS, cP = col(0, bigint), col(1, bigint), col(2, dbl), col(3, text), col(4, boolT)
	cM, cTs, cDt, cI   = col(5, dec2), col(6, ts6), col(7, types.DateType), col(8, types.IntType)
	cM4                = col(9, dec4)
)

// row builds a test row: named values, everything else NULL.
func row(kv map[int]types.Datum) []types.Datum {
	r := make([]types.Datum, len(tschm))
	for i := range r {
		r[i] = types.NewNull(tschm[i].Type)
		if d, ok := kv[i]; ok {
			r[i] = d
		}
	}
	return r
}

func decD(s string, scale int32) types.Datum {
	n, err := decimal128.FromString(s, 38, scale)
	if err != nil {
		panic(err)
	}
	return types.NewDecimal(n, scale)
}

func tsD(s string) types.Datum {
	us, err := ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return types.NewTimestamp(us)
}

func dateD(s string) types.Datum {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return types.NewDate(d)
}

type fcase struct {
	name string
	e    expr.Expr
	row  map[int]types.Datum
	want types.Datum
	code string // expected SQLSTATE when an error is expected
}

// runCases checks every case through EvalScalar and through Eval over a
// batch holding the row twice around an all-NULL row (so kernels see nulls
// and offsets), and over a one-row slice.
func runCases(t *testing.T, cases []fcase) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, c := range cases {
		r := row(c.row)
		got, err := EvalScalar(c.e, r)
		if c.code != "" {
			if err == nil || sqlerr.Code(err) != c.code {
				t.Errorf("%s: scalar %s: got %v, %v; want error %s", c.name, c.e, got, err, c.code)
			}
		} else if err != nil || !sameDatum(got, c.want) {
			t.Errorf("%s: scalar %s: got %v (%v), want %v", c.name, c.e, got, err, c.want)
		}

		rec := makeRecord(mem, tschm, [][]types.Datum{r, row(nil), r})
		out, err := evalRows(t, mem, c.e, rec)
		if c.code != "" {
			if err == nil || sqlerr.Code(err) != c.code {
				t.Errorf("%s: vector %s: got %v, %v; want error %s", c.name, c.e, out, err, c.code)
			}
		} else if err != nil {
			t.Errorf("%s: vector %s: %v", c.name, c.e, err)
		} else {
			for _, i := range []int{0, 2} {
				if !sameDatum(out[i], c.want) {
					t.Errorf("%s: vector %s row %d: got %v, want %v", c.name, c.e, i, out[i], c.want)
				}
			}
		}
		// A sliced record exercises non-zero array offsets.
		sl := rec.NewSlice(2, 3)
		out, err = evalRows(t, mem, c.e, sl)
		if c.code == "" && (err != nil || !sameDatum(out[0], c.want)) {
			t.Errorf("%s: sliced %s: got %v, %v; want %v", c.name, c.e, out, err, c.want)
		}
		sl.Release()
		rec.Release()
	}
}

func TestArithmetic(t *testing.T) {
	const rng = sqlerr.NumericOutOfRange
	b := types.NewBigInt
	runCases(t, []fcase{
		{"add", call(expr.Add, bigint, cA, cB), map[int]types.Datum{0: b(2), 1: b(40)}, b(42), ""},
		{"add const", call(expr.Add, bigint, cA, i64(1)), map[int]types.Datum{0: b(41)}, b(42), ""},
		{"add null", call(expr.Add, bigint, cA, cB), map[int]types.Datum{0: b(2)}, types.NewNull(bigint), ""},
		{"add overflow", call(expr.Add, bigint, cA, i64(1)), map[int]types.Datum{0: b(math.MaxInt64)}, null, rng},
		{"add overflow vv", call(expr.Add, bigint, cA, cB), map[int]types.Datum{0: b(math.MinInt64), 1: b(-1)}, null, rng},
		{"sub", call(expr.Sub, bigint, cA, cB), map[int]types.Datum{0: b(2), 1: b(40)}, b(-38), ""},
		{"sub const left", call(expr.Sub, bigint, i64(10), cA), map[int]types.Datum{0: b(3)}, b(7), ""},
		{"sub overflow", call(expr.Sub, bigint, cA, i64(math.MinInt64)), map[int]types.Datum{0: b(0)}, null, rng},
		{"sub overflow const left", call(expr.Sub, bigint, i64(-2), cA), map[int]types.Datum{0: b(math.MaxInt64)}, null, rng},
		{"mul", call(expr.Mul, bigint, cA, cB), map[int]types.Datum{0: b(-6), 1: b(7)}, b(-42), ""},
		{"mul overflow", call(expr.Mul, bigint, cA, cB), map[int]types.Datum{0: b(1 << 32), 1: b(1 << 31)}, null, rng},
		{"mul overflow neg", call(expr.Mul, bigint, cA, i64(-1)), map[int]types.Datum{0: b(math.MinInt64)}, null, rng},
		{"mul min ok", call(expr.Mul, bigint, cA, i64(1)), map[int]types.Datum{0: b(math.MinInt64)}, b(math.MinInt64), ""},
		{"intdiv", call(expr.IntDiv, bigint, cA, cB), map[int]types.Datum{0: b(-7), 1: b(2)}, b(-3), ""},
		{"intdiv zero", call(expr.IntDiv, bigint, cA, cB), map[int]types.Datum{0: b(7), 1: b(0)}, types.NewNull(bigint), ""},
		{"intdiv overflow", call(expr.IntDiv, bigint, cA, i64(-1)), map[int]types.Datum{0: b(math.MinInt64)}, null, rng},
		{"mod", call(expr.Mod, bigint, cA, cB), map[int]types.Datum{0: b(-7), 1: b(3)}, b(-1), ""},
		{"mod zero", call(expr.Mod, bigint, cA, i64(0)), map[int]types.Datum{0: b(7)}, types.NewNull(bigint), ""},
		{"neg", call(expr.Neg, bigint, cA), map[int]types.Datum{0: b(5)}, b(-5), ""},
		{"neg overflow", call(expr.Neg, bigint, cA), map[int]types.Datum{0: b(math.MinInt64)}, null, rng},
		{"div bigint decimal", call(expr.Div, types.DecimalType(38, 4), cA, cB), map[int]types.Datum{0: b(1), 1: b(3)}, decD("0.3333", 4), ""},
		{"div bigint decimal round", call(expr.Div, types.DecimalType(38, 4), cA, cB), map[int]types.Datum{0: b(2), 1: b(3)}, decD("0.6667", 4), ""},
		{"div bigint negative", call(expr.Div, types.DecimalType(38, 4), cA, cB), map[int]types.Datum{0: b(-2), 1: b(3)}, decD("-0.6667", 4), ""},
		{"div bigint zero", call(expr.Div, types.DecimalType(38, 4), cA, cB), map[int]types.Datum{0: b(2), 1: b(0)}, types.NewNull(types.DecimalType(38, 4)), ""},
		{"div bigint double", call(expr.Div, dbl, cA, cB), map[int]types.Datum{0: b(1), 1: b(4)}, types.NewDouble(0.25), ""},
		{"ddiv", call(expr.Div, dbl, cD, f64(4)), map[int]types.Datum{2: types.NewDouble(1)}, types.NewDouble(0.25), ""},
		{"ddiv zero", call(expr.Div, dbl, cD, f64(0)), map[int]types.Datum{2: types.NewDouble(1)}, types.NewNull(dbl), ""},
		{"ddiv zero vv", call(expr.Div, dbl, f64(3), cD), map[int]types.Datum{2: types.NewDouble(0)}, types.NewNull(dbl), ""},
		{"dadd", call(expr.Add, dbl, cD, cD), map[int]types.Datum{2: types.NewDouble(1.25)}, types.NewDouble(2.5), ""},
		{"dsub", call(expr.Sub, dbl, f64(1), cD), map[int]types.Datum{2: types.NewDouble(1.25)}, types.NewDouble(-0.25), ""},
		{"dmul overflow", call(expr.Mul, dbl, cD, f64(1e300)), map[int]types.Datum{2: types.NewDouble(1e300)}, null, rng},
		{"dmod", call(expr.Mod, dbl, cD, f64(2)), map[int]types.Datum{2: types.NewDouble(-5.5)}, types.NewDouble(-1.5), ""},
		{"decimal add scales", call(expr.Add, types.DecimalType(14, 4), cM, cM4), map[int]types.Datum{5: decD("1.25", 2), 9: decD("0.0001", 4)}, decD("1.2501", 4), ""},
		{"decimal sub", call(expr.Sub, dec2, cM, cM), map[int]types.Datum{5: decD("1.25", 2)}, decD("0", 2), ""},
		{"decimal mul", call(expr.Mul, types.DecimalType(20, 4), cM, cM), map[int]types.Datum{5: decD("-1.25", 2)}, decD("1.5625", 4), ""},
		{"decimal div", call(expr.Div, types.DecimalType(38, 6), cM, cM4), map[int]types.Datum{5: decD("1.00", 2), 9: decD("3.0000", 4)}, decD("0.333333", 6), ""},
		{"decimal div zero", call(expr.Div, types.DecimalType(38, 6), cM, cM4), map[int]types.Datum{5: decD("1.00", 2), 9: decD("0", 4)}, types.NewNull(types.DecimalType(38, 6)), ""},
		{"decimal mod", call(expr.Mod, dec2, cM, lit(decD("1.00", 2), dec2)), map[int]types.Datum{5: decD("-5.75", 2)}, decD("-0.75", 2), ""},
		{"decimal neg", call(expr.Neg, dec2, cM), map[int]types.Datum{5: decD("5.75", 2)}, decD("-5.75", 2), ""},
		{"decimal overflow", call(expr.Mul, types.DecimalType(38, 0), lit(decD("10000000000000000000000000000000000000", 0), types.DecimalType(38, 0)), lit(decD("10", 0), types.DecimalType(38, 0))), nil, null, rng},
	})
}

func TestComparisonsAndLogic(t *testing.T) {
	b := types.NewBigInt
	T, F, N := types.NewBool(true), types.NewBool(false), types.NewNull(boolT)
	runCases(t, []fcase{
		{"gt", call(expr.Gt, boolT, cA, i64(100)), map[int]types.Datum{0: b(101)}, T, ""},
		{"gt false", call(expr.Gt, boolT, cA, i64(100)), map[int]types.Datum{0: b(100)}, F, ""},
		{"lt flipped", call(expr.Lt, boolT, i64(100), cA), map[int]types.Datum{0: b(101)}, T, ""},
		{"le vv", call(expr.Le, boolT, cA, cB), map[int]types.Datum{0: b(3), 1: b(3)}, T, ""},
		{"ne null", call(expr.Ne, boolT, cA, cB), map[int]types.Datum{0: b(3)}, N, ""},
		{"eq null literal", call(expr.Eq, boolT, cA, lit(types.NewNull(bigint), bigint)), map[int]types.Datum{0: b(3)}, N, ""},
		{"double ge", call(expr.Ge, boolT, cD, f64(1.5)), map[int]types.Datum{2: types.NewDouble(1.5)}, T, ""},
		{"string lt", call(expr.Lt, boolT, cS, str("b")), map[int]types.Datum{3: types.NewText("abc")}, T, ""},
		{"string eq", call(expr.Eq, boolT, cS, str("héllo")), map[int]types.Datum{3: types.NewText("héllo")}, T, ""},
		{"string gt bytes", call(expr.Gt, boolT, cS, str("Z")), map[int]types.Datum{3: types.NewText("a")}, T, ""},
		{"bool lt", call(expr.Lt, boolT, cP, lit(types.NewBool(true), boolT)), map[int]types.Datum{4: F}, T, ""},
		{"decimal scales", call(expr.Eq, boolT, cM, cM4), map[int]types.Datum{5: decD("1.50", 2), 9: decD("1.5000", 4)}, T, ""},
		{"decimal lt", call(expr.Lt, boolT, cM, cM4), map[int]types.Datum{5: decD("1.50", 2), 9: decD("1.5001", 4)}, T, ""},
		{"timestamp", call(expr.Lt, boolT, cTs, lit(tsD("2026-11-25 10:00:00"), ts6)), map[int]types.Datum{6: tsD("2026-11-25 09:59:59.999999")}, T, ""},
		{"date", call(expr.Eq, boolT, cDt, lit(dateD("2026-11-25"), types.DateType)), map[int]types.Datum{7: dateD("2026-11-25")}, T, ""},
		{"int32", call(expr.Gt, boolT, cI, lit(types.NewInt(-1), types.IntType)), map[int]types.Datum{8: types.NewInt(0)}, T, ""},
		{"and F N", call(expr.And, boolT, cP, call(expr.Gt, boolT, cA, i64(0))), map[int]types.Datum{4: F}, F, ""},
		{"and T N", call(expr.And, boolT, cP, call(expr.Gt, boolT, cA, i64(0))), map[int]types.Datum{4: T}, N, ""},
		{"and T T", call(expr.And, boolT, cP, call(expr.Gt, boolT, cA, i64(0))), map[int]types.Datum{4: T, 0: b(1)}, T, ""},
		{"or T N", call(expr.Or, boolT, cP, call(expr.Gt, boolT, cA, i64(0))), map[int]types.Datum{4: T}, T, ""},
		{"or F N", call(expr.Or, boolT, cP, call(expr.Gt, boolT, cA, i64(0))), map[int]types.Datum{4: F}, N, ""},
		{"or F F", call(expr.Or, boolT, cP, call(expr.Gt, boolT, cA, i64(0))), map[int]types.Datum{4: F, 0: b(0)}, F, ""},
		{"not", call(expr.Not, boolT, cP), map[int]types.Datum{4: F}, T, ""},
		{"not null", call(expr.Not, boolT, cP), nil, N, ""},
		{"is null", call(expr.IsNull, boolT, cA), nil, T, ""},
		{"is not null", call(expr.IsNotNull, boolT, cA), map[int]types.Datum{0: b(1)}, T, ""},
		{"in", call(expr.In, boolT, cA, i64(1), i64(2), i64(3)), map[int]types.Datum{0: b(2)}, T, ""},
		{"in miss", call(expr.In, boolT, cA, i64(1), i64(3)), map[int]types.Datum{0: b(2)}, F, ""},
		{"in null list", call(expr.In, boolT, cA, i64(1), lit(types.NewNull(bigint), bigint)), map[int]types.Datum{0: b(2)}, N, ""},
		{"in null list hit", call(expr.In, boolT, cA, i64(2), lit(types.NewNull(bigint), bigint)), map[int]types.Datum{0: b(2)}, T, ""},
		{"in null lhs", call(expr.In, boolT, cA, i64(2)), nil, N, ""},
		{"in strings", call(expr.In, boolT, cS, str("x"), str("y")), map[int]types.Datum{3: types.NewText("y")}, T, ""},
	})
}

func TestLikeAndStrings(t *testing.T) {
	T, F := types.NewBool(true), types.NewBool(false)
	s := func(v string) map[int]types.Datum { return map[int]types.Datum{3: types.NewText(v)} }
	like := func(p string) expr.Expr { return call(expr.Like, boolT, cS, str(p)) }
	runCases(t, []fcase{
		{"prefix", like("ab%"), s("abc"), T, ""},
		{"prefix miss", like("ab%"), s("xabc"), F, ""},
		{"suffix", like("%bc"), s("abc"), T, ""},
		{"contains", like("%b%"), s("abc"), T, ""},
		{"exact", like("abc"), s("abc"), T, ""},
		{"exact case", like("abc"), s("ABC"), F, ""},
		{"underscore", like("a_c"), s("abc"), T, ""},
		{"underscore utf8", like("a_c"), s("aéc"), T, ""},
		{"underscore short", like("a_c"), s("ac"), F, ""},
		{"backtrack", like("%a%b%c"), s("xaxbxbxc"), T, ""},
		{"backtrack miss", like("%a%b%c"), s("xaxbxbx"), F, ""},
		{"escape", like(`100\%`), s("100%"), T, ""},
		{"escape miss", like(`100\%`), s("1000"), F, ""},
		{"escape underscore", like(`a\_c`), s("abc"), F, ""},
		{"custom escape", call(expr.Like, boolT, cS, str("a!%"), str("!")), s("a%"), T, ""},
		{"column pattern", call(expr.Like, boolT, str("hello"), cS), s("h%o"), T, ""},
		{"empty", like(""), s(""), T, ""},
		{"percent only", like("%"), s(""), T, ""},
		{"like null", like("%"), nil, types.NewNull(boolT), ""},
		{"lower", call(expr.Lower, text, cS), s("HeLLo É"), types.NewText("hello é"), ""},
		{"upper", call(expr.Upper, text, cS), s("héllo"), types.NewText("HÉLLO"), ""},
		{"concat", call(expr.Concat, text, cS, str("-"), cS), s("ab"), types.NewText("ab-ab"), ""},
		{"concat null", call(expr.Concat, text, cS, str("-")), nil, types.NewNull(text), ""},
		{"length chars", call(expr.Length, bigint, cS), s("héllo"), types.NewBigInt(5), ""},
		{"coalesce", call(expr.Coalesce, text, cS, str("dflt")), nil, types.NewText("dflt"), ""},
		{"coalesce first", call(expr.Coalesce, text, cS, str("dflt")), s("x"), types.NewText("x"), ""},
		{"greatest", call(expr.Greatest, bigint, cA, i64(5), cB), map[int]types.Datum{0: types.NewBigInt(7), 1: types.NewBigInt(-1)}, types.NewBigInt(7), ""},
		{"greatest null", call(expr.Greatest, bigint, cA, i64(5)), nil, types.NewNull(bigint), ""},
		{"least strings", call(expr.Least, text, cS, str("b")), s("abc"), types.NewText("abc"), ""},
	})
}

func TestMathFunctions(t *testing.T) {
	d := types.NewDouble
	dd := func(v float64) map[int]types.Datum { return map[int]types.Datum{2: d(v)} }
	runCases(t, []fcase{
		{"abs", call(expr.Abs, bigint, cA), map[int]types.Datum{0: types.NewBigInt(-3)}, types.NewBigInt(3), ""},
		{"abs overflow", call(expr.Abs, bigint, cA), map[int]types.Datum{0: types.NewBigInt(math.MinInt64)}, null, sqlerr.NumericOutOfRange},
		{"abs dec", call(expr.Abs, dec2, cM), map[int]types.Datum{5: decD("-3.50", 2)}, decD("3.50", 2), ""},
		{"round half away", call(expr.Round, dbl, cD), dd(-2.5), d(-3), ""},
		{"round digits", call(expr.Round, dbl, cD, i64(2)), dd(1.005e3), d(1005), ""},
		{"round 2", call(expr.Round, dbl, cD, i64(1)), dd(2.25), d(2.3), ""},
		{"round neg digits", call(expr.Round, dbl, cD, i64(-2)), dd(1250), d(1300), ""},
		{"round bigint", call(expr.Round, bigint, cA, i64(-1)), map[int]types.Datum{0: types.NewBigInt(-25)}, types.NewBigInt(-30), ""},
		{"round decimal", call(expr.Round, types.DecimalType(10, 1), cM, i64(1)), map[int]types.Datum{5: decD("2.25", 2)}, decD("2.3", 1), ""},
		{"round decimal neg", call(expr.Round, types.DecimalType(10, 0), cM, i64(-1)), map[int]types.Datum{5: decD("-15.00", 2)}, decD("-20", 0), ""},
		{"floor", call(expr.Floor, dbl, cD), dd(-1.5), d(-2), ""},
		{"ceil", call(expr.Ceil, dbl, cD), dd(-1.5), d(-1), ""},
		{"floor dec", call(expr.Floor, types.DecimalType(10, 0), cM), map[int]types.Datum{5: decD("-1.01", 2)}, decD("-2", 0), ""},
		{"ceil dec", call(expr.Ceil, types.DecimalType(10, 0), cM), map[int]types.Datum{5: decD("1.01", 2)}, decD("2", 0), ""},
		{"floor bigint", call(expr.Floor, bigint, cA), map[int]types.Datum{0: types.NewBigInt(7)}, types.NewBigInt(7), ""},
		{"sqrt", call(expr.Sqrt, dbl, cD), dd(2.25), d(1.5), ""},
		{"sqrt neg", call(expr.Sqrt, dbl, cD), dd(-1), types.NewNull(dbl), ""},
		{"ln", call(expr.Ln, dbl, cD), dd(math.E), d(1), ""},
		{"ln zero", call(expr.Ln, dbl, cD), dd(0), types.NewNull(dbl), ""},
		{"exp", call(expr.Exp, dbl, cD), dd(0), d(1), ""},
		{"exp overflow", call(expr.Exp, dbl, cD), dd(1000), null, sqlerr.NumericOutOfRange},
		{"pow", call(expr.Pow, dbl, cD, f64(3)), dd(2), d(8), ""},
		{"pow nan", call(expr.Pow, dbl, cD, f64(0.5)), dd(-2), types.NewNull(dbl), ""},
	})
}

func TestTimeFunctions(t *testing.T) {
	tsr := func(s string) map[int]types.Datum { return map[int]types.Datum{6: tsD(s)} }
	dtr := func(s string) map[int]types.Datum { return map[int]types.Datum{7: dateD(s)} }
	iv := func(m, d int32, us int64) expr.Expr { return lit(types.NewInterval(m, d, us), types.IntervalType) }
	unit := func(u string) expr.Expr { return str(u) }
	b := types.NewBigInt
	runCases(t, []fcase{
		{"add month clamp", call(expr.AddInterval, types.DateType, cDt, iv(1, 0, 0)), dtr("2026-01-31"), dateD("2026-02-28"), ""},
		{"add month leap", call(expr.AddInterval, types.DateType, cDt, iv(1, 0, 0)), dtr("2024-01-31"), dateD("2024-02-29"), ""},
		{"sub month clamp", call(expr.SubInterval, types.DateType, cDt, iv(1, 0, 0)), dtr("2026-03-31"), dateD("2026-02-28"), ""},
		{"add year", call(expr.AddInterval, types.DateType, cDt, iv(12, 0, 0)), dtr("2024-02-29"), dateD("2025-02-28"), ""},
		{"add days", call(expr.AddInterval, types.DateType, cDt, iv(0, 3, 0)), dtr("2026-12-30"), dateD("2027-01-02"), ""},
		{"date plus time", call(expr.AddInterval, ts6, cDt, iv(0, 0, 3600e6)), dtr("2026-11-25"), tsD("2026-11-25 01:00:00"), ""},
		{"ts minus", call(expr.SubInterval, ts6, cTs, iv(0, 0, 5e6)), tsr("2026-11-25 00:00:02"), tsD("2026-11-24 23:59:57"), ""},
		{"ts month", call(expr.AddInterval, ts6, cTs, iv(1, 1, 1)), tsr("2026-01-31 10:00:00"), tsD("2026-03-01 10:00:00.000001"), ""},
		{"ts before epoch", call(expr.AddInterval, ts6, cTs, iv(-1, 0, 0)), tsr("1969-03-31 23:00:00"), tsD("1969-02-28 23:00:00"), ""},
		{"out of range", call(expr.AddInterval, types.DateType, cDt, iv(12*9000, 0, 0)), dtr("2026-01-01"), types.NewNull(types.DateType), ""},
		{"extract year", call(expr.Extract, bigint, unit("YEAR"), cTs), tsr("2026-11-25 10:11:12.5"), b(2026), ""},
		{"extract quarter", call(expr.Extract, bigint, unit("quarter"), cTs), tsr("2026-11-25 10:11:12.5"), b(4), ""},
		{"extract month", call(expr.Extract, bigint, unit("MONTH"), cDt), dtr("2026-11-25"), b(11), ""},
		{"extract day", call(expr.Extract, bigint, unit("DAY"), cTs), tsr("2026-11-25 10:11:12.5"), b(25), ""},
		{"extract hour", call(expr.Extract, bigint, unit("HOUR"), cTs), tsr("2026-11-25 10:11:12.5"), b(10), ""},
		{"extract minute", call(expr.Extract, bigint, unit("MINUTE"), cTs), tsr("2026-11-25 10:11:12.5"), b(11), ""},
		{"extract second", call(expr.Extract, bigint, unit("SECOND"), cTs), tsr("2026-11-25 10:11:12.5"), b(12), ""},
		{"extract micro", call(expr.Extract, bigint, unit("MICROSECOND"), cTs), tsr("2026-11-25 10:11:12.5"), b(500000), ""},
		{"extract dow", call(expr.Extract, bigint, unit("DOW"), cDt), dtr("2026-11-29"), b(0), ""}, // a Sunday
		{"extract doy", call(expr.Extract, bigint, unit("DOY"), cDt), dtr("2024-12-31"), b(366), ""},
		{"extract week", call(expr.Extract, bigint, unit("WEEK"), cDt), dtr("2021-01-03"), b(53), ""},
		{"extract week 1", call(expr.Extract, bigint, unit("WEEK"), cDt), dtr("2026-01-01"), b(1), ""},
		{"extract epoch", call(expr.Extract, bigint, unit("EPOCH"), cTs), tsr("1970-01-01 00:01:00.9"), b(60), ""},
		{"extract epoch neg", call(expr.Extract, bigint, unit("EPOCH"), cTs), tsr("1969-12-31 23:59:59.5"), b(-1), ""},
		{"extract bad unit", call(expr.Extract, bigint, cS, cTs), map[int]types.Datum{3: types.NewText("fortnight"), 6: tsD("2026-01-01")}, null, sqlerr.InvalidParameter},
		{"trunc year", call(expr.DateTrunc, ts6, unit("year"), cTs), tsr("2026-11-25 10:11:12"), tsD("2026-01-01"), ""},
		{"trunc quarter", call(expr.DateTrunc, ts6, unit("quarter"), cTs), tsr("2026-11-25 10:11:12"), tsD("2026-10-01"), ""},
		{"trunc month", call(expr.DateTrunc, ts6, unit("month"), cTs), tsr("2026-11-25 10:11:12"), tsD("2026-11-01"), ""},
		{"trunc week", call(expr.DateTrunc, ts6, unit("week"), cTs), tsr("2026-11-29 10:11:12"), tsD("2026-11-23"), ""},
		{"trunc day", call(expr.DateTrunc, ts6, unit("day"), cTs), tsr("1969-12-31 10:11:12"), tsD("1969-12-31"), ""},
		{"trunc hour", call(expr.DateTrunc, ts6, unit("hour"), cTs), tsr("2026-11-25 10:11:12"), tsD("2026-11-25 10:00:00"), ""},
		{"trunc minute", call(expr.DateTrunc, ts6, unit("minute"), cTs), tsr("2026-11-25 10:11:12"), tsD("2026-11-25 10:11:00"), ""},
		{"trunc second", call(expr.DateTrunc, ts6, unit("second"), cTs), tsr("1969-12-31 23:59:59.5"), tsD("1969-12-31 23:59:59"), ""},
	})
}

func TestCasts(t *testing.T) {
	cast := func(e expr.Expr, to types.T) expr.Expr { return &expr.Cast{Arg: e, To: to} }
	s := func(v string) map[int]types.Datum { return map[int]types.Datum{3: types.NewText(v)} }
	d := func(v float64) map[int]types.Datum { return map[int]types.Datum{2: types.NewDouble(v)} }
	a := func(v int64) map[int]types.Datum { return map[int]types.Datum{0: types.NewBigInt(v)} }
	b := types.NewBigInt
	runCases(t, []fcase{
		{"text to bigint", cast(cS, bigint), s(" 42 "), b(42), ""},
		{"text to bigint bad", cast(cS, bigint), s("abc"), null, sqlerr.InvalidTextRep},
		{"text to bigint range", cast(cS, bigint), s("99999999999999999999"), null, sqlerr.NumericOutOfRange},
		{"text to int range", cast(cS, types.IntType), s("3000000000"), null, sqlerr.NumericOutOfRange},
		{"text to double", cast(cS, dbl), s("1.5e3"), types.NewDouble(1500), ""},
		{"text to double inf", cast(cS, dbl), s("inf"), types.NewDouble(math.Inf(1)), ""},
		{"text to double hex", cast(cS, dbl), s("0x10"), null, sqlerr.InvalidTextRep},
		{"text to double underflow", cast(cS, dbl), s("1e-400"), null, sqlerr.NumericOutOfRange},
		{"text to decimal", cast(cS, dec2), s("-1.005"), decD("-1.01", 2), ""},
		{"text to decimal exp", cast(cS, dec2), s("1.5e1"), decD("15.00", 2), ""},
		{"text to decimal bad", cast(cS, dec2), s("1.2.3"), null, sqlerr.InvalidTextRep},
		{"text to decimal precision", cast(cS, dec2), s("123456789"), null, sqlerr.NumericOutOfRange},
		{"text to bool yes", cast(cS, boolT), s("YES"), types.NewBool(true), ""},
		{"text to bool off", cast(cS, boolT), s(" off"), types.NewBool(false), ""},
		{"text to bool 0", cast(cS, boolT), s("0"), types.NewBool(false), ""},
		{"text to bool bad", cast(cS, boolT), s("maybe"), null, sqlerr.InvalidTextRep},
		{"text to ts", cast(cS, ts6), s("2026-11-25 10:00:00.123456"), tsD("2026-11-25 10:00:00.123456"), ""},
		{"text to ts T Z", cast(cS, ts6), s("2026-11-25T10:00:00Z"), tsD("2026-11-25 10:00:00"), ""},
		{"text to ts offset", cast(cS, ts6), s("2026-11-25T10:00:00+02:00"), tsD("2026-11-25 08:00:00"), ""},
		{"text to ts date", cast(cS, ts6), s("2026-11-25"), tsD("2026-11-25 00:00:00"), ""},
		{"text to ts bad", cast(cS, ts6), s("2026-13-25 10:00"), null, sqlerr.DatetimeOverflow},
		{"text to ts syntax", cast(cS, ts6), s("2026-11-25 noon"), null, sqlerr.InvalidDatetime},
		{"text to ts zone", cast(cS, ts6), s("2026-11-25 10:00+16"), null, sqlerr.InvalidZoneDisplacement},
		{"text to ts feb 30", cast(cS, ts6), s("2026-02-30"), null, sqlerr.DatetimeOverflow},
		{"text to date feb 30", cast(cS, types.DateType), s("2026-02-30"), null, sqlerr.DatetimeOverflow},
		{"text to date zone", cast(cS, types.DateType), s("2026-02-28 10:00-15:60"), null, sqlerr.InvalidZoneDisplacement},
		{"text to ts(3) rounds", cast(cS, types.TimestampType(3)), s("2026-11-25 10:00:00.123456"), tsD("2026-11-25 10:00:00.123"), ""},
		{"text to ts(0) rounds up", cast(cS, types.TimestampType(0)), s("2026-11-25 10:00:59.5"), tsD("2026-11-25 10:01:00"), ""},
		{"text to date", cast(cS, types.DateType), s("2026-11-25"), dateD("2026-11-25"), ""},
		{"text to date from ts", cast(cS, types.DateType), s("2026-11-25 23:00:00"), dateD("2026-11-25"), ""},
		{"text to date bad", cast(cS, types.DateType), s("yesterday"), null, sqlerr.InvalidDatetime},
		{"double to bigint", cast(cD, bigint), d(2.5), b(3), ""},
		{"double to bigint neg", cast(cD, bigint), d(-2.5), b(-3), ""},
		{"double to bigint range", cast(cD, bigint), d(1e19), null, sqlerr.NumericOutOfRange},
		{"double to decimal", cast(cD, dec2), d(1.005), decD("1.01", 2), ""}, // 1.005 is 1.00499999999999989...
		{"bigint to double", cast(cA, dbl), a(3), types.NewDouble(3), ""},
		{"bigint to int", cast(cA, types.IntType), a(5), types.NewInt(5), ""},
		{"bigint to int range", cast(cA, types.IntType), a(1 << 40), null, sqlerr.NumericOutOfRange},
		{"int to bigint", cast(cI, bigint), map[int]types.Datum{8: types.NewInt(-7)}, b(-7), ""},
		{"bigint to decimal", cast(cA, dec2), a(12), decD("12.00", 2), ""},
		{"bigint to decimal range", cast(cA, dec2), a(123456789), null, sqlerr.NumericOutOfRange},
		{"decimal to bigint", cast(cM, bigint), map[int]types.Datum{5: decD("-2.50", 2)}, b(-3), ""},
		{"decimal rescale", cast(cM4, dec2), map[int]types.Datum{9: decD("1.2350", 4)}, decD("1.24", 2), ""},
		{"bigint to text", cast(cA, text), a(-12), types.NewText("-12"), ""},
		{"double to text", cast(cD, text), d(0.1), types.NewText("0.1"), ""},
		{"decimal to text", cast(cM, text), map[int]types.Datum{5: decD("-0.05", 2)}, types.NewText("-0.05"), ""},
		{"bool to text", cast(cP, text), map[int]types.Datum{4: types.NewBool(true)}, types.NewText("true"), ""},
		{"ts to text", cast(cTs, text), map[int]types.Datum{6: tsD("2026-11-25 10:00:00.5")}, types.NewText("2026-11-25 10:00:00.5"), ""},
		{"date to text", cast(cDt, text), map[int]types.Datum{7: dateD("2026-11-25")}, types.NewText("2026-11-25"), ""},
		{"varchar width", cast(cS, types.T{Kind: types.Varchar, Width: 3}), s("héllo"), types.NewText("hél"), ""},
		{"bool to bigint", cast(cP, bigint), map[int]types.Datum{4: types.NewBool(true)}, b(1), ""},
		{"bigint to bool", cast(cA, boolT), a(-3), types.NewBool(true), ""},
		{"ts to date", cast(cTs, types.DateType), map[int]types.Datum{6: tsD("1969-12-31 23:00:00")}, dateD("1969-12-31"), ""},
		{"date to ts", cast(cDt, ts6), map[int]types.Datum{7: dateD("2026-11-25")}, tsD("2026-11-25"), ""},
		{"null to bigint", cast(lit(types.NullDatum, types.NullType), bigint), nil, types.NewNull(bigint), ""},
	})
}

func TestCase(t *testing.T) {
	b := types.NewBigInt
	// CASE WHEN b = 0 THEN NULL ELSE a DIV b END, plus an overflow in an untaken branch.
	safe := &expr.Case{T: bigint, Whens: []expr.When{{Cond: call(expr.Eq, boolT, cB, i64(0)), Result: lit(types.NewNull(bigint), bigint)}},
		Else: call(expr.IntDiv, bigint, cA, cB)}
	guard := &expr.Case{T: bigint, Whens: []expr.When{{Cond: call(expr.Lt, boolT, cA, i64(100)), Result: call(expr.Add, bigint, cA, i64(math.MaxInt64-100))}},
		Else: i64(-1)}
	multi := &expr.Case{T: text, Whens: []expr.When{
		{Cond: call(expr.Gt, boolT, cA, i64(10)), Result: str("big")},
		{Cond: call(expr.Gt, boolT, cA, i64(0)), Result: str("small")},
	}}
	conv := &expr.Case{T: dec4, Whens: []expr.When{{Cond: cP, Result: cM}}, Else: cM4}
	runCases(t, []fcase{
		{"case zero", safe, map[int]types.Datum{0: b(10), 1: b(0)}, types.NewNull(bigint), ""},
		{"case div", safe, map[int]types.Datum{0: b(10), 1: b(3)}, b(3), ""},
		{"case guard ok", guard, map[int]types.Datum{0: b(1000)}, b(-1), ""},
		{"case guard taken", guard, map[int]types.Datum{0: b(5)}, b(math.MaxInt64 - 95), ""},
		{"case first", multi, map[int]types.Datum{0: b(11)}, types.NewText("big"), ""},
		{"case second", multi, map[int]types.Datum{0: b(5)}, types.NewText("small"), ""},
		{"case no else", multi, map[int]types.Datum{0: b(-5)}, types.NewNull(text), ""},
		{"case null cond", multi, nil, types.NewNull(text), ""},
		{"case conform", conv, map[int]types.Datum{4: types.NewBool(true), 5: decD("1.25", 2)}, decD("1.2500", 4), ""},
		{"case else conform", conv, map[int]types.Datum{9: decD("1.2345", 4)}, decD("1.2345", 4), ""},
	})

	// The guard must also hold when other rows of the batch take the branch.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := makeRecord(mem, tschm, [][]types.Datum{row(map[int]types.Datum{0: b(1000)}), row(map[int]types.Datum{0: b(5)}), row(nil)})
	defer rec.Release()
	out, err := evalRows(t, mem, guard, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !sameDatum(out[0], b(-1)) || !sameDatum(out[1], b(math.MaxInt64-95)) || !sameDatum(out[2], b(-1)) {
		t.Errorf("guard: got %v", out)
	}
}

func TestCompileErrors(t *testing.T) {
	bad := []expr.Expr{
		&expr.Param{Ordinal: 1, T: bigint},
		call(expr.Add, bigint, cA, &expr.Param{Ordinal: 2, T: bigint}),
		call(expr.Add, bigint, cA, cS),
		call(expr.Eq, boolT, cA, cS),
		call(expr.And, boolT, cA, cP),
		call(expr.Like, boolT, cA, str("x")),
		call(expr.Extract, bigint, str("fortnight"), cTs),
		call(expr.DateTrunc, ts6, str("epoch"), cTs),
		&expr.Cast{Arg: cTs, To: bigint},
		call(expr.Func(200), bigint, cA),
		call(expr.Add, bigint, cA),
	}
	for _, e := range bad {
		if _, err := Compile(e); err == nil {
			t.Errorf("Compile(%s) succeeded, want error", e)
		}
	}
}

func TestColumnTypeMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := makeRecord(mem, tschm, [][]types.Datum{row(nil)})
	defer rec.Release()
	ev, err := Compile(col(3, bigint)) // column 3 is VARCHAR
	if err != nil {
		t.Fatal(err)
	}
	if a, err := ev.Eval(mem, rec); err == nil {
		a.Release()
		t.Fatal("expected a type mismatch error")
	}
	ev, _ = Compile(col(42, bigint))
	if a, err := ev.Eval(mem, rec); err == nil {
		a.Release()
		t.Fatal("expected an out of range error")
	}
}

func TestParseTimestamp(t *testing.T) {
	good := map[string]string{
		"2026-11-25 10:00:00":           "2026-11-25 10:00:00",
		"2026-11-25 10:00:00.5":         "2026-11-25 10:00:00.5",
		"2026-11-25 10:00:00.1234567":   "2026-11-25 10:00:00.123457",
		"2026-11-25T10:00:00Z":          "2026-11-25 10:00:00",
		"2026-11-25 10:00":              "2026-11-25 10:00:00",
		" 2026-11-25 ":                  "2026-11-25 00:00:00",
		"0001-01-01 00:00:00":           "0001-01-01 00:00:00",
		"1969-12-31 23:59:59.999999":    "1969-12-31 23:59:59.999999",
		"2026-11-25 10:00:00-05:30":     "2026-11-25 15:30:00",
		"2024-02-29 00:00:00.000001+00": "2024-02-29 00:00:00.000001",
	}
	for in, want := range good {
		us, err := ParseTimestamp(in)
		if err != nil {
			t.Errorf("ParseTimestamp(%q): %v", in, err)
			continue
		}
		if got := string(types.AppendTimestamp(nil, us)); got != want {
			t.Errorf("ParseTimestamp(%q) = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"", "2026", "2026-11-25X10:00:00", "2026-11-25 10:00:00.", "abc", "2026-11-25 10:00:00 UTC"} {
		if _, err := ParseTimestamp(in); err == nil || sqlerr.Code(err) != sqlerr.InvalidDatetime {
			t.Errorf("ParseTimestamp(%q): got %v, want 22007", in, err)
		}
	}
	for _, in := range []string{"2026-11-25 25:00:00", "2026-11-25 10:60:00", "2023-02-29", "9999-12-31 24:00:01"} {
		if _, err := ParseTimestamp(in); err == nil || sqlerr.Code(err) != sqlerr.DatetimeOverflow {
			t.Errorf("ParseTimestamp(%q): got %v, want 22008", in, err)
		}
	}
	for _, in := range []string{"2026-11-25 10:00+16", "2026-11-25 10:00:00-15:59:60"} {
		if _, err := ParseTimestamp(in); err == nil || sqlerr.Code(err) != sqlerr.InvalidZoneDisplacement {
			t.Errorf("ParseTimestamp(%q): got %v, want 22009", in, err)
		}
	}
	if d, err := ParseDate("1970-01-02"); err != nil || d != 1 {
		t.Errorf("ParseDate: %d %v", d, err)
	}
	// As Postgres's date_in: a valid time and zone are ignored, not applied.
	if d, err := ParseDate("1970-01-02 23:00-05"); err != nil || d != 1 {
		t.Errorf("ParseDate with a time: %d %v", d, err)
	}
	if _, err := ParseDate("1970-01-02 25:00"); err == nil {
		t.Error("ParseDate accepted a bad time")
	}
}

func TestCivilRoundTrip(t *testing.T) {
	for day := int64(minDay); day <= maxDay; day += 37 {
		y, m, d := civilFromDays(day)
		if got := daysFromCivil(y, m, d); got != day {
			t.Fatalf("day %d -> %d-%d-%d -> %d", day, y, m, d, got)
		}
	}
}

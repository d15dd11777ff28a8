package eval

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

const benchN = 4096

func benchBatch(mem memory.Allocator) arrow.RecordBatch {
	rows := make([][]types.Datum, benchN)
	for i := range rows {
		rows[i] = []types.Datum{
			types.NewBigInt(int64(i*7919) % 200), types.NewBigInt(int64(i)),
			types.NewDouble(float64(i) / 3), types.NewText(fmt.Sprintf("user-%d", i%50)),
		}
		if i%97 == 0 {
			rows[i][0] = types.NewNull(bigint)
		}
	}
	return makeRecord(mem, types.Schema{{Name: "x", Type: bigint}, {Name: "y", Type: bigint}, {Name: "d", Type: dbl}, {Name: "s", Type: text}}, rows)
}

func benchEval(b *testing.B, e expr.Expr) {
	mem := memory.NewGoAllocator()
	rec := benchBatch(mem)
	defer rec.Release()
	ev, err := Compile(e)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := ev.Eval(mem, rec)
		if err != nil {
			b.Fatal(err)
		}
		a.Release()
	}
	b.ReportMetric(float64(b.N)*benchN/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkEvalInt64GtConst(b *testing.B) {
	benchEval(b, call(expr.Gt, boolT, col(0, bigint), i64(100)))
}

func BenchmarkEvalInt64AddVV(b *testing.B) {
	benchEval(b, call(expr.Add, bigint, col(0, bigint), col(1, bigint)))
}

func BenchmarkEvalInt64MulConst(b *testing.B) {
	benchEval(b, call(expr.Mul, bigint, col(0, bigint), i64(3)))
}

func BenchmarkEvalFloat64Div(b *testing.B) {
	benchEval(b, call(expr.Div, dbl, col(2, dbl), f64(3)))
}

func BenchmarkEvalStringEq(b *testing.B) {
	benchEval(b, call(expr.Eq, boolT, col(3, text), str("user-7")))
}

func BenchmarkEvalLikePrefix(b *testing.B) {
	benchEval(b, call(expr.Like, boolT, col(3, text), str("user-1%")))
}

func BenchmarkEvalAndOr(b *testing.B) {
	benchEval(b, call(expr.And, boolT, call(expr.Gt, boolT, col(0, bigint), i64(10)), call(expr.Lt, boolT, col(1, bigint), i64(3000))))
}

func BenchmarkEvalGenericRound(b *testing.B) {
	benchEval(b, call(expr.Round, dbl, col(2, dbl), i64(1)))
}

// BenchmarkEvalTimestampPlusInterval is the interval join's residual
// bound: a TIMESTAMP column plus a constant INTERVAL '30' MINUTE.
func BenchmarkEvalTimestampPlusInterval(b *testing.B) {
	ts := types.TimestampType(6)
	mem := memory.NewGoAllocator()
	rows := make([][]types.Datum, benchN)
	for i := range rows {
		rows[i] = []types.Datum{types.NewTimestamp(1_700_000_000_000_000 + int64(i)*1_000_003)}
		if i%97 == 0 {
			rows[i][0] = types.NewNull(ts)
		}
	}
	rec := makeRecord(mem, types.Schema{{Name: "ts", Type: ts}}, rows)
	defer rec.Release()
	ev, err := Compile(call(expr.AddInterval, ts, col(0, ts), lit(types.NewInterval(0, 0, 30*60*1_000_000), types.IntervalType)))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := ev.Eval(mem, rec)
		if err != nil {
			b.Fatal(err)
		}
		a.Release()
	}
	b.ReportMetric(float64(b.N)*benchN/b.Elapsed().Seconds(), "rows/s")
}

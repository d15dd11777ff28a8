package eval

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// makeRecord builds a record of schema s from rows of datums.
func makeRecord(mem memory.Allocator, s types.Schema, rows [][]types.Datum) arrow.RecordBatch {
	sch := s.Arrow()
	cols := make([]arrow.Array, len(s))
	for c := range s {
		b := array.NewBuilder(mem, sch.Field(c).Type)
		for _, r := range rows {
			types.AppendDatum(b, r[c])
		}
		cols[c] = b.NewArray()
		b.Release()
	}
	rec := array.NewRecordBatch(sch, cols, int64(len(rows)))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// evalRows compiles and evaluates e over rec and returns the result datums.
func evalRows(t *testing.T, mem memory.Allocator, e expr.Expr, rec arrow.RecordBatch) ([]types.Datum, error) {
	t.Helper()
	ev, err := Compile(e)
	if err != nil {
		t.Fatalf("compile %s: %v", e, err)
	}
	arr, err := ev.Eval(mem, rec)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	if arr.Len() != int(rec.NumRows()) {
		t.Fatalf("%s: got %d rows, want %d", e, arr.Len(), rec.NumRows())
	}
	if want := e.Type().Arrow(); !arrow.TypeEqual(arr.DataType(), want) {
		t.Fatalf("%s: got Arrow type %s, want %s", e, arr.DataType(), want)
	}
	out := make([]types.Datum, arr.Len())
	for i := range out {
		out[i] = types.DatumAt(arr, i, e.Type())
	}
	return out, nil
}

// sameDatum compares two results (floats with a relative tolerance).
func sameDatum(a, b types.Datum) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	if a.Kind == types.Double && b.Kind == types.Double {
		if math.IsNaN(a.F) || math.IsNaN(b.F) {
			return math.IsNaN(a.F) && math.IsNaN(b.F)
		}
		if a.F == b.F {
			return true
		}
		return math.Abs(a.F-b.F) <= 1e-12*math.Max(math.Abs(a.F), math.Abs(b.F))
	}
	return a.Kind == b.Kind && a.String() == b.String()
}

func col(i int, t types.T) *expr.ColumnRef { return &expr.ColumnRef{Index: i, T: t} }
func lit(d types.Datum, t types.T) *expr.Literal {
	return &expr.Literal{Value: d, T: t}
}
func call(f expr.Func, t types.T, args ...expr.Expr) *expr.Call {
	return &expr.Call{Func: f, Args: args, T: t}
}
func i64(v int64) *expr.Literal   { return lit(types.NewBigInt(v), types.BigIntType) }
func f64(v float64) *expr.Literal { return lit(types.NewDouble(v), types.DoubleType) }
func str(s string) *expr.Literal  { return lit(types.NewText(s), types.TextType) }

var (
	null   = types.Datum{Null: true}
	bigint = types.BigIntType
	dbl    = types.DoubleType
	text   = types.TextType
	boolT  = types.BoolType
)

func codeOf(err error) string { return sqlerr.Code(err) }

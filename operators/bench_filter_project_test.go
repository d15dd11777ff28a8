package operators

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

const benchRows = 4096

// benchRecord is one 4096-row batch (x BIGINT in 0..199 with ~1% NULLs, y BIGINT).
func benchRecord(mem memory.Allocator) arrow.RecordBatch {
	sch := types.Schema{{Name: "x", Type: types.BigIntType}, {Name: "y", Type: types.BigIntType}}.Arrow()
	xb := array.NewInt64Builder(mem)
	yb := array.NewInt64Builder(mem)
	defer xb.Release()
	defer yb.Release()
	for i := 0; i < benchRows; i++ {
		if i%97 == 0 {
			xb.AppendNull()
		} else {
			xb.Append(int64(i*7919) % 200)
		}
		yb.Append(int64(i))
	}
	x, y := xb.NewArray(), yb.NewArray()
	defer x.Release()
	defer y.Release()
	return array.NewRecordBatch(sch, []arrow.Array{x, y}, benchRows)
}

func reportRows(b *testing.B) {
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkFilterInt64Gt(b *testing.B) {
	mem := memory.NewGoAllocator()
	rec := benchRecord(mem)
	defer rec.Release()
	x := &expr.ColumnRef{Index: 0, T: types.BigIntType}
	pred := &expr.Call{Func: expr.Gt, T: types.BoolType, Args: []expr.Expr{x, &expr.Literal{Value: types.NewBigInt(100), T: types.BigIntType}}}
	f, err := NewFilter(mem, rec.Schema(), pred, OutputFunc(func(Message) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	ch := &Chunk{Rec: rec}
	b.SetBytes(benchRows * 8)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.Push(ch); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b)
}

func BenchmarkProjectAddInt64(b *testing.B) {
	mem := memory.NewGoAllocator()
	rec := benchRecord(mem)
	defer rec.Release()
	x := &expr.ColumnRef{Index: 0, T: types.BigIntType}
	y := &expr.ColumnRef{Index: 1, T: types.BigIntType}
	sum := &expr.Call{Func: expr.Add, T: types.BigIntType, Args: []expr.Expr{x, y}}
	p, err := NewProject(mem, []expr.Expr{sum, x}, []string{"s", "x"}, OutputFunc(func(Message) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	ch := &Chunk{Rec: rec}
	b.SetBytes(benchRows * 16)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Push(ch); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b)
}

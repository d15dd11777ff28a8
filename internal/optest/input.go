package optest

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// BigInt returns a BIGINT datum.
func BigInt(v int64) types.Datum { return types.NewBigInt(v) }

// Int returns an INT datum.
func Int(v int32) types.Datum { return types.NewInt(v) }

// Double returns a DOUBLE datum.
func Double(v float64) types.Datum { return types.NewDouble(v) }

// Text returns a VARCHAR datum.
func Text(s string) types.Datum { return types.NewText(s) }

// Timestamp returns a TIMESTAMP datum of us microseconds since the epoch.
func Timestamp(us int64) types.Datum { return types.NewTimestamp(us) }

// Null returns the NULL of type t.
func Null(t types.T) types.Datum { return types.NewNull(t) }

// Row returns its datums as one row.
func Row(ds ...types.Datum) []types.Datum { return ds }

// ColumnTypes returns the types of cols.
func ColumnTypes(cols []types.Column) []types.T {
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.Type
	}
	return ts
}

// SchemaTypes returns the types of schema's fields; t fails on a field
// without a SQL type.
func SchemaTypes(t testing.TB, schema *arrow.Schema) []types.T {
	t.Helper()
	ts := make([]types.T, schema.NumFields())
	for i, f := range schema.Fields() {
		ty, err := types.FromArrow(f.Type)
		if err != nil {
			t.Fatalf("field %d (%s): %v", i, f.Name, err)
		}
		ts[i] = ty
	}
	return ts
}

// BuildRecord makes a record of schema from rows of datums (datum j of a
// row goes to column j).
func BuildRecord(mem memory.Allocator, schema *arrow.Schema, rows [][]types.Datum) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	for _, r := range rows {
		for j, d := range r {
			types.AppendDatum(rb.Field(j), d)
		}
	}
	return rb.NewRecordBatch()
}

// Feed pushes rows of schema into op in chunks of batch rows (all at once
// when batch <= 0), row i with ops[i] (ops nil: an append-only chunk of
// inserts). It returns op's first error.
func Feed(mem memory.Allocator, op operators.Output, schema *arrow.Schema, rows [][]types.Datum, ops []operators.Op, batch int) error {
	if batch <= 0 {
		batch = max(1, len(rows))
	}
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		rec := BuildRecord(mem, schema, rows[start:end])
		c := &operators.Chunk{Rec: rec}
		if ops != nil {
			c.Ops = ops[start:end]
		}
		err := op.Push(c)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// OpsOf returns the ops of n rows that all carry op: nil (an append-only
// chunk) for Insert.
func OpsOf(op operators.Op, n int) []operators.Op {
	if op == operators.Insert {
		return nil
	}
	ops := make([]operators.Op, n)
	for i := range ops {
		ops[i] = op
	}
	return ops
}

// BatchSizes are the input chunk sizes operator tests run with: single
// rows, chunks that split most epochs and update pairs, and one chunk.
var BatchSizes = []int{1, 3, 1024}

// ForBatches runs fn as a subtest "batchN" for each of BatchSizes.
func ForBatches(t *testing.T, fn func(t *testing.T, batch int)) {
	for _, b := range BatchSizes {
		t.Run(fmt.Sprintf("batch%d", b), func(t *testing.T) { fn(t, b) })
	}
}

// CheckedMem returns an allocator that checks, when t ends, that
// everything allocated from it was released.
func CheckedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

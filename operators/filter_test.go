package operators

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// The test input: (k BIGINT, v DOUBLE, s VARCHAR, ts TIMESTAMP).
var fpSchema = types.Schema{
	{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.DoubleType},
	{Name: "s", Type: types.TextType}, {Name: "ts", Type: types.TimestampType(6)},
}

// fpRows returns n rows with some NULLs and an op per row (every fifth a
// retraction).
func fpRows(n int) ([][]types.Datum, []Op) {
	rows := make([][]types.Datum, n)
	ops := make([]Op, n)
	for i := range rows {
		k := types.NewBigInt(int64(i%13) * 20)
		if i%7 == 3 {
			k = types.NewNull(types.BigIntType)
		}
		rows[i] = []types.Datum{k, types.NewDouble(float64(i) / 4), types.NewText(fmt.Sprintf("s%d", i%5)), types.NewTimestamp(int64(i) * 1e6)}
		ops[i] = []Op{Insert, Insert, Delete, UpdateBefore, UpdateAfter}[i%5]
	}
	return rows, ops
}

// chunksOf builds chunks of at most size rows; nil ops give append-only chunks.
func chunksOf(mem memory.Allocator, s types.Schema, rows [][]types.Datum, ops []Op, size int) []*Chunk {
	var out []*Chunk
	for lo := 0; lo < len(rows); lo += size {
		hi := min(lo+size, len(rows))
		sch := s.Arrow()
		cols := make([]arrow.Array, len(s))
		for c := range s {
			b := array.NewBuilder(mem, sch.Field(c).Type)
			for _, r := range rows[lo:hi] {
				types.AppendDatum(b, r[c])
			}
			cols[c] = b.NewArray()
			b.Release()
		}
		rec := array.NewRecordBatch(sch, cols, int64(hi-lo))
		for _, c := range cols {
			c.Release()
		}
		ch := &Chunk{Rec: rec}
		if ops != nil {
			ch.Ops = append([]Op(nil), ops[lo:hi]...)
		}
		out = append(out, ch)
	}
	return out
}

// collector records what an operator emits, copying the lent chunks.
type collector struct {
	t       *testing.T
	schema  types.Schema
	rows    [][]types.Datum
	ops     []Op
	msgs    []Message // non-chunk messages
	chunks  int
	records []arrow.RecordBatch // identity of emitted records
}

func (c *collector) Push(m Message) error {
	ch, ok := m.(*Chunk)
	if !ok {
		c.msgs = append(c.msgs, m)
		return nil
	}
	c.chunks++
	c.records = append(c.records, ch.Rec)
	if int(ch.Rec.NumCols()) != len(c.schema) {
		c.t.Fatalf("chunk has %d columns, want %d", ch.Rec.NumCols(), len(c.schema))
	}
	if ch.Ops != nil && len(ch.Ops) != ch.Len() {
		c.t.Fatalf("chunk has %d ops for %d rows", len(ch.Ops), ch.Len())
	}
	for i := 0; i < ch.Len(); i++ {
		r := make([]types.Datum, len(c.schema))
		for j, col := range c.schema {
			r[j] = types.DatumAt(ch.Rec.Column(j), i, col.Type)
		}
		c.rows = append(c.rows, r)
		c.ops = append(c.ops, ch.Op(i))
	}
	return nil
}

func colRef(i int) *expr.ColumnRef {
	return &expr.ColumnRef{Index: i, Name: fpSchema[i].Name, T: fpSchema[i].Type}
}

func TestFilter(t *testing.T) {
	for _, size := range []int{1, 3, 1024} {
		for _, withOps := range []bool{false, true} {
			t.Run(fmt.Sprintf("size=%d/ops=%v", size, withOps), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				rows, ops := fpRows(200)
				if !withOps {
					ops = nil
				}
				// k > 100 AND s <> 's1'
				pred := &expr.Call{Func: expr.And, T: types.BoolType, Args: []expr.Expr{
					&expr.Call{Func: expr.Gt, T: types.BoolType, Args: []expr.Expr{colRef(0), &expr.Literal{Value: types.NewBigInt(100), T: types.BigIntType}}},
					&expr.Call{Func: expr.Ne, T: types.BoolType, Args: []expr.Expr{colRef(2), &expr.Literal{Value: types.NewText("s1"), T: types.TextType}}},
				}}
				col := &collector{t: t, schema: fpSchema}
				f, err := NewFilter(mem, fpSchema.Arrow(), pred, col)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if !f.Schema().Equal(fpSchema.Arrow()) {
					t.Fatalf("schema %s", f.Schema())
				}
				var wantRows [][]types.Datum
				var wantOps []Op
				for i, r := range rows {
					if !r[0].Null && r[0].I > 100 && r[2].S != "s1" {
						wantRows = append(wantRows, r)
						if ops != nil {
							wantOps = append(wantOps, ops[i])
						} else {
							wantOps = append(wantOps, Insert)
						}
					}
				}
				for _, ch := range chunksOf(mem, fpSchema, rows, ops, size) {
					if err := f.Push(ch); err != nil {
						t.Fatal(err)
					}
					ch.Rec.Release()
				}
				if err := f.Push(Barrier{Epoch: 1}); err != nil {
					t.Fatal(err)
				}
				if err := f.Push(Watermark{Column: 3, Time: 42}); err != nil {
					t.Fatal(err)
				}
				if len(wantRows) == 0 {
					t.Fatal("test predicate keeps nothing")
				}
				if !reflect.DeepEqual(col.rows, wantRows) || !reflect.DeepEqual(col.ops, wantOps) {
					t.Fatalf("got %d rows %v\nwant %d rows %v", len(col.rows), col.ops, len(wantRows), wantOps)
				}
				if !reflect.DeepEqual(col.msgs, []Message{Barrier{Epoch: 1}, Watermark{Column: 3, Time: 42}}) {
					t.Fatalf("messages %v", col.msgs)
				}
			})
		}
	}
}

func TestFilterPassThroughAndDrop(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows, ops := fpRows(10)
	for i := range rows {
		rows[i][0] = types.NewBigInt(int64(i))
	}
	chunks := chunksOf(mem, fpSchema, rows, ops, 10)
	defer chunks[0].Rec.Release()
	ge := func(v int64) expr.Expr {
		return &expr.Call{Func: expr.Ge, T: types.BoolType, Args: []expr.Expr{colRef(0), &expr.Literal{Value: types.NewBigInt(v), T: types.BigIntType}}}
	}
	// All kept: the very same record is forwarded.
	col := &collector{t: t, schema: fpSchema}
	f, err := NewFilter(mem, fpSchema.Arrow(), ge(0), col)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Push(chunks[0]); err != nil {
		t.Fatal(err)
	}
	if len(col.records) != 1 || col.records[0] != chunks[0].Rec || !reflect.DeepEqual(col.ops, ops) {
		t.Fatalf("all-kept batch was not passed through: %d chunks", len(col.records))
	}
	// All dropped: nothing is emitted.
	col = &collector{t: t, schema: fpSchema}
	f, _ = NewFilter(mem, fpSchema.Arrow(), ge(100), col)
	if err := f.Push(chunks[0]); err != nil {
		t.Fatal(err)
	}
	if col.chunks != 0 {
		t.Fatalf("all-dropped batch emitted %d chunks", col.chunks)
	}
	// NULL predicate drops.
	col = &collector{t: t, schema: fpSchema}
	f, _ = NewFilter(mem, fpSchema.Arrow(), &expr.Literal{Value: types.NewNull(types.BoolType), T: types.BoolType}, col)
	if err := f.Push(chunks[0]); err != nil {
		t.Fatal(err)
	}
	if col.chunks != 0 {
		t.Fatalf("NULL predicate emitted %d chunks", col.chunks)
	}
}

func TestFilterErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if _, err := NewFilter(mem, fpSchema.Arrow(), colRef(0), &collector{}); err == nil {
		t.Fatal("non-boolean predicate accepted")
	}
	// k + MaxInt64 > 0 overflows on data: the error surfaces with its code.
	pred := &expr.Call{Func: expr.Gt, T: types.BoolType, Args: []expr.Expr{
		&expr.Call{Func: expr.Add, T: types.BigIntType, Args: []expr.Expr{colRef(0), &expr.Literal{Value: types.NewBigInt(math.MaxInt64), T: types.BigIntType}}},
		&expr.Literal{Value: types.NewBigInt(0), T: types.BigIntType}}}
	f, err := NewFilter(mem, fpSchema.Arrow(), pred, &collector{t: t, schema: fpSchema})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := fpRows(5)
	ch := chunksOf(mem, fpSchema, rows, nil, 5)[0]
	defer ch.Rec.Release()
	err = f.Push(ch)
	if err == nil || sqlerr.Code(err) != sqlerr.NumericOutOfRange {
		t.Fatalf("got %v, want 22003", err)
	}
	// Downstream errors propagate.
	boom := errors.New("boom")
	f, _ = NewFilter(mem, fpSchema.Arrow(), &expr.Literal{Value: types.NewBool(true), T: types.BoolType}, OutputFunc(func(Message) error { return boom }))
	if err := f.Push(ch); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

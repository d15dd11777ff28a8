package operators

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/types"
)

// mirrorSchema is a pair-count row: x and y (the mirrored columns, of one
// type), a count and a label.
var mirrorSchema = types.Schema{
	{Name: "x", Type: types.BigIntType}, {Name: "n", Type: types.BigIntType},
	{Name: "y", Type: types.BigIntType}, {Name: "s", Type: types.TextType},
}

// mirrorRows returns n rows with NULLs in x and y and an op per row.
func mirrorRows(n int) ([][]types.Datum, []Op) {
	rows := make([][]types.Datum, n)
	ops := make([]Op, n)
	for i := range rows {
		x, y := types.NewBigInt(int64(i%7)), types.NewBigInt(int64(100+i%11))
		if i%5 == 2 {
			x = types.NewNull(types.BigIntType)
		}
		if i%6 == 4 {
			y = types.NewNull(types.BigIntType)
		}
		rows[i] = []types.Datum{x, types.NewBigInt(int64(i)), y, types.NewText(fmt.Sprintf("s%d", i%3))}
		ops[i] = []Op{Insert, Delete, UpdateBefore, UpdateAfter}[i%4]
	}
	return rows, ops
}

// TestMirror: each chunk is passed on as it is (same record, ops and
// slot hint), then followed by a chunk of the same rows with x and y
// swapped, the same ops and no slot hint, sharing the input's arrays.
// Watermarks on x or y are dropped, others and Barriers pass, and every
// record is released.
func TestMirror(t *testing.T) {
	for _, size := range []int{1, 3, 1024} {
		for _, withOps := range []bool{false, true} {
			t.Run(fmt.Sprintf("size=%d/ops=%v", size, withOps), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				rows, ops := mirrorRows(50)
				if !withOps {
					ops = nil
				}
				col := &collector{t: t, schema: mirrorSchema}
				var in *Chunk
				var kept []arrow.RecordBatch // emitted records, retained past Push
				nth := 0
				m := NewMirror(mirrorSchema.Arrow(), 0, 2, OutputFunc(func(msg Message) error {
					ch, ok := msg.(*Chunk)
					if !ok {
						return col.Push(msg)
					}
					if nth%2 == 0 {
						if ch != in {
							t.Fatal("the input chunk was not passed on as it is")
						}
					} else {
						if ch.Rec == in.Rec {
							t.Fatal("the mirrored chunk is the input's record")
						}
						if ch.Slots != nil {
							t.Fatal("the mirrored chunk kept the input's slot hint")
						}
						if !reflect.DeepEqual(ch.Ops, in.Ops) {
							t.Fatalf("mirrored ops %v, want %v", ch.Ops, in.Ops)
						}
						if !ch.Rec.Schema().Equal(in.Rec.Schema()) {
							t.Fatalf("mirrored schema %s", ch.Rec.Schema())
						}
						for c, want := range []int{2, 1, 0, 3} {
							if ch.Rec.Column(c) != in.Rec.Column(want) {
								t.Fatalf("mirrored column %d is not the input's column %d", c, want)
							}
						}
					}
					nth++
					ch.Rec.Retain()
					kept = append(kept, ch.Rec)
					return col.Push(msg)
				}))
				defer m.Close()
				if !m.Schema().Equal(mirrorSchema.Arrow()) {
					t.Fatalf("schema %s", m.Schema())
				}
				var wantRows [][]types.Datum
				var wantOps []Op
				for i, ch := range chunksOf(mem, mirrorSchema, rows, ops, size) {
					if i%2 == 0 {
						ch.Slots = &SlotHint{Store: 1, Gen: 2, Slots: make([]uint32, ch.Len())}
					}
					in = ch
					before := nth
					if err := m.Push(ch); err != nil {
						t.Fatal(err)
					}
					if nth != before+2 {
						t.Fatalf("%d chunks emitted for one, want 2", nth-before)
					}
					lo := i * size
					for j := range ch.Len() {
						wantRows = append(wantRows, rows[lo+j])
						wantOps = append(wantOps, ch.Op(j))
					}
					for j := range ch.Len() {
						r := rows[lo+j]
						wantRows = append(wantRows, []types.Datum{r[2], r[1], r[0], r[3]})
						wantOps = append(wantOps, ch.Op(j))
					}
					ch.Rec.Release()
				}
				for _, msg := range []Message{Watermark{Column: 0, Time: 7}, Watermark{Column: 1, Time: 8}, Watermark{Column: 2, Time: 9}, Watermark{Column: 3, Time: 10}, Barrier{Epoch: 3, Checkpoint: true}} {
					if err := m.Push(msg); err != nil {
						t.Fatal(err)
					}
				}
				if !reflect.DeepEqual(col.rows, wantRows) {
					t.Fatalf("rows differ:\n got %v\nwant %v", col.rows[:4], wantRows[:4])
				}
				if !reflect.DeepEqual(col.ops, wantOps) {
					t.Fatal("ops differ")
				}
				if want := []Message{Watermark{Column: 1, Time: 8}, Watermark{Column: 3, Time: 10}, Barrier{Epoch: 3, Checkpoint: true}}; !reflect.DeepEqual(col.msgs, want) {
					t.Fatalf("messages %v, want %v", col.msgs, want)
				}
				// The records stay valid while retained downstream, and
				// are freed with the last reference.
				for _, r := range kept {
					if r.NumRows() > 0 && r.Column(0).Len() != int(r.NumRows()) {
						t.Fatal("a retained record lost its columns")
					}
					r.Release()
				}
			})
		}
	}
}

// TestMirrorNullability: the mirrored columns are each nullable when
// either is (a mirrored row's x is an input row's y).
func TestMirrorNullability(t *testing.T) {
	fields := []arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
		{Name: "y", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}
	m := NewMirror(arrow.NewSchema(fields, nil), 0, 2, OutputFunc(func(Message) error { return nil }))
	defer m.Close()
	for i, want := range []bool{true, false, true} {
		if got := m.Schema().Field(i).Nullable; got != want {
			t.Errorf("field %d nullable %v, want %v", i, got, want)
		}
	}
	if fields[0].Nullable {
		t.Error("NewMirror changed its argument's fields")
	}
	// Both chunks a Mirror emits carry its schema, also when the input's
	// nullability differs from it.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := arrow.NewSchema(fields, nil)
	cols := make([]arrow.Array, len(fields))
	for i := range cols {
		b := array.NewInt64Builder(mem)
		b.AppendValues([]int64{int64(i), int64(10 + i)}, nil)
		cols[i] = b.NewArray()
		defer cols[i].Release()
	}
	rec := array.NewRecordBatch(in, cols, 2)
	defer rec.Release()
	var got []*arrow.Schema
	m = NewMirror(in, 0, 2, OutputFunc(func(msg Message) error {
		got = append(got, msg.(*Chunk).Rec.Schema())
		return nil
	}))
	if err := m.Push(&Chunk{Rec: rec}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(m.Schema()) || !got[1].Equal(m.Schema()) {
		t.Errorf("chunk schemas %v, want two of %v", got, m.Schema())
	}
}

// TestMirrorErrors: an error from downstream stops the Mirror, on the
// input chunk (no mirrored chunk follows) and on the mirrored one, and
// the records are still released.
func TestMirrorErrors(t *testing.T) {
	for _, failAt := range []int{0, 1} {
		t.Run(fmt.Sprintf("fail=%d", failAt), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rows, ops := mirrorRows(10)
			ch := chunksOf(mem, mirrorSchema, rows, ops, 10)[0]
			defer ch.Rec.Release()
			boom := errors.New("boom")
			pushed := 0
			m := NewMirror(mirrorSchema.Arrow(), 2, 0, OutputFunc(func(Message) error {
				pushed++
				if pushed-1 == failAt {
					return boom
				}
				return nil
			}))
			defer m.Close()
			if err := m.Push(ch); !errors.Is(err, boom) {
				t.Fatalf("error %v, want %v", err, boom)
			}
			if pushed != failAt+1 {
				t.Fatalf("%d chunks pushed after an error on chunk %d", pushed, failAt)
			}
		})
	}
}

package state

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// gatherBench returns a store of 4096 random rows of allTypes (a tenth of
// the values NULL), bound to their record, and 1024 random slots and rows.
func gatherBench(b *testing.B) (*Columns, arrow.RecordBatch, []uint32, []int32) {
	b.Helper()
	mem := memory.NewGoAllocator()
	r := rand.New(rand.NewPCG(1, 2))
	ts := make([]types.T, len(allTypes))
	for i, c := range allTypes {
		ts[i] = c.Type
	}
	c, err := NewColumns(ts)
	if err != nil {
		b.Fatal(err)
	}
	rows := make([][]types.Datum, 4096)
	for i := range rows {
		rows[i] = randRow(r, allTypes, 0.1, 1000)
	}
	rec := mkChunk(b, mem, allTypes, rows, nil).Rec
	if err := c.Bind(rec); err != nil {
		b.Fatal(err)
	}
	all := make([]uint32, len(rows))
	for i := range rows {
		all[i] = c.Add(i)
	}
	slots := make([]uint32, 1024)
	sel := make([]int32, 1024)
	for i := range slots {
		slots[i] = all[r.IntN(len(all))]
		sel[i] = int32(r.IntN(len(rows)))
	}
	return c, rec, slots, sel
}

// BenchmarkGatherSlots gathers 1024 random slots of every type into a record.
func BenchmarkGatherSlots(b *testing.B) {
	c, rec, slots, _ := gatherBench(b)
	defer rec.Release()
	benchGather(b, len(slots), func(mem memory.Allocator, schema *arrow.Schema, dst []arrow.Array) ([]arrow.Array, error) {
		return c.GatherSlots(mem, schema, 0, slots, dst)
	})
}

// BenchmarkGatherRows gathers 1024 random rows of the bound record of
// every type into a record.
func BenchmarkGatherRows(b *testing.B) {
	c, rec, _, sel := gatherBench(b)
	defer rec.Release()
	benchGather(b, len(sel), func(mem memory.Allocator, schema *arrow.Schema, dst []arrow.Array) ([]arrow.Array, error) {
		return c.GatherRows(mem, schema, 0, sel, dst)
	})
}

// benchGather times gather, which appends n rows' arrays of every type
// to dst, building a record of them each time.
func benchGather(b *testing.B, n int, gather func(memory.Allocator, *arrow.Schema, []arrow.Array) ([]arrow.Array, error)) {
	mem := memory.NewGoAllocator()
	schema := allTypes.Arrow()
	var arrs []arrow.Array
	for b.Loop() {
		var err error
		if arrs, err = gather(mem, schema, arrs[:0]); err != nil {
			b.Fatal(err)
		}
		array.NewRecordBatch(schema, arrs, int64(n)).Release()
		ReleaseAll(arrs)
	}
}

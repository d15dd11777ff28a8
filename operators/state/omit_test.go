package state

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// TestColumnsOmit checks an omitted column stores nothing, is skipped by
// Equal, refused by the slot gathers and by Datum (a panic that names the
// column), while the other columns behave as before.
func TestColumnsOmit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ts := []types.T{types.BigIntType, types.TimestampType(6)}
	c, err := NewColumns(ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Omit(2); err == nil {
		t.Fatal("Omit of an out-of-range column succeeded")
	}
	if err := c.Omit(1); err != nil {
		t.Fatal(err)
	}
	if !c.Omitted(1) || c.Omitted(0) {
		t.Fatalf("Omitted: %v %v, want false true", c.Omitted(0), c.Omitted(1))
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: ts[0].Arrow(), Nullable: true},
		{Name: "t", Type: ts[1].Arrow(), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{7, 8}, nil)
	b.Field(1).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{100, 200}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	if err := c.Bind(rec); err != nil {
		t.Fatal(err)
	}
	s0, s1 := c.Add(0), c.Add(1)
	if got := len(c.cols[1].i64); got != 0 {
		t.Fatalf("omitted column holds %d values", got)
	}
	if err := c.Omit(0); err == nil {
		t.Fatal("Omit after Add succeeded")
	}
	if !c.Equal(s0, 0) || c.Equal(s0, 1) || !c.Equal(s1, 1) {
		t.Fatal("Equal does not compare the stored column alone")
	}
	if _, err := c.GatherSlotsColumn(mem, ts[1].Arrow(), 1, []uint32{s0}); err == nil {
		t.Fatal("gather of an omitted column succeeded")
	}
	a, err := c.GatherRowsColumn(mem, ts[1].Arrow(), 1, []int32{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	if v := a.(*array.Timestamp).TimestampValues(); v[0] != 200 || v[1] != 100 {
		t.Fatalf("bound rows of an omitted column: %v", v)
	}
	a.Release()
	if a, err := c.GatherSlots(mem, schema, 0, []uint32{s1, s0}, nil); err == nil || !strings.Contains(err.Error(), "omitted") {
		state := "no error"
		if err != nil {
			state = err.Error()
		}
		ReleaseAll(a)
		t.Fatalf("GatherSlots over an omitted column: %s", state)
	}
	if got := c.Datum(s1, 0); got.Null || got.I != 8 {
		t.Fatalf("Datum of a stored column: %s, want 8", got)
	}
	if msg := datumPanic(c, s0, 1); !strings.Contains(msg, "column 1") || !strings.Contains(msg, "omitted") {
		t.Fatalf("Datum of the omitted column: panic %q, want one naming column 1 as omitted", msg)
	}
	c.Unbind()
	c.Remove(s0)
	c.Reset()
	if !c.Omitted(1) {
		t.Fatal("Reset forgot the omission")
	}
}

// datumPanic returns the message of Datum's panic for column col at slot,
// or "" when it does not panic.
func datumPanic(c *Columns, slot uint32, col int) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	c.Datum(slot, col)
	return ""
}

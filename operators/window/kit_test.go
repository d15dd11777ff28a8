package window

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var batchSizes = []int{1, 3, 1024}

func forBatches(t *testing.T, fn func(t *testing.T, batch int)) {
	for _, b := range batchSizes {
		t.Run(fmt.Sprintf("batch%d", b), func(t *testing.T) { fn(t, b) })
	}
}

const minute = int64(60_000_000)

// outRow is one emitted row, copied out of the lent chunk.
type outRow struct {
	op   operators.Op
	vals []types.Datum
}

func rowString(vals []types.Datum) string {
	parts := make([]string, len(vals))
	for i, d := range vals {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// collector records an operator's output and checks the invariants every
// operator keeps: schema as declared, update pairs adjacent, epochs
// increasing, watermarks never going back and no row below a watermark
// sent before it (on integer-like columns).
type collector struct {
	t       testing.TB
	schema  *arrow.Schema
	types   []types.T
	rows    []outRow // everything, in order
	pending []outRow // since the last barrier
	epochs  [][]outRow
	wms     []operators.Watermark
	lastWM  map[int]int64
	lastEp  uint64
	// fold is the net multiset of rows emitted so far.
	fold map[string]int
}

func newCollector(t testing.TB, schema *arrow.Schema) *collector {
	c := &collector{t: t, schema: schema, lastWM: map[int]int64{}, fold: map[string]int{}}
	for _, f := range schema.Fields() {
		ty, err := types.FromArrow(f.Type)
		if err != nil {
			t.Fatal(err)
		}
		c.types = append(c.types, ty)
	}
	return c
}

func (c *collector) Push(m operators.Message) error {
	switch m := m.(type) {
	case *operators.Chunk:
		if !m.Rec.Schema().Equal(c.schema) {
			c.t.Errorf("chunk schema %s, want %s", m.Rec.Schema(), c.schema)
		}
		n := m.Len()
		for i := 0; i < n; i++ {
			r := outRow{op: m.Op(i)}
			for j := 0; j < int(m.Rec.NumCols()); j++ {
				r.vals = append(r.vals, types.DatumAt(m.Rec.Column(j), i, c.types[j]))
			}
			if r.op == operators.UpdateBefore && (i+1 >= n || m.Op(i+1) != operators.UpdateAfter) {
				c.t.Errorf("UpdateBefore at row %d not followed by UpdateAfter", i)
			}
			if r.op == operators.UpdateAfter && (i == 0 || m.Op(i-1) != operators.UpdateBefore) {
				c.t.Errorf("UpdateAfter at row %d not preceded by UpdateBefore", i)
			}
			for col, wm := range c.lastWM {
				if d := r.vals[col]; !d.Null && intLike(d.Kind) && d.I < wm {
					c.t.Errorf("row %s (%s) below the watermark %d on column %d", rowString(r.vals), r.op, wm, col)
				}
			}
			key := rowString(r.vals)
			c.fold[key] += int(r.op.Sign())
			if c.fold[key] < 0 {
				c.t.Errorf("retraction of %s, never emitted", key)
			}
			if c.fold[key] == 0 {
				delete(c.fold, key)
			}
			c.rows = append(c.rows, r)
			c.pending = append(c.pending, r)
		}
	case operators.Barrier:
		if m.Epoch <= c.lastEp && c.lastEp != 0 {
			c.t.Errorf("barrier epoch %d after %d", m.Epoch, c.lastEp)
		}
		c.lastEp = m.Epoch
		c.epochs = append(c.epochs, c.pending)
		c.pending = nil
	case operators.Watermark:
		if old, ok := c.lastWM[m.Column]; ok && m.Time < old {
			c.t.Errorf("watermark on column %d went back from %d to %d", m.Column, old, m.Time)
		}
		c.lastWM[m.Column] = m.Time
		c.wms = append(c.wms, m)
	default:
		c.t.Errorf("unexpected message %T", m)
	}
	return nil
}

func intLike(k types.Kind) bool {
	switch k {
	case types.Int, types.BigInt, types.Timestamp, types.Date:
		return true
	}
	return false
}

// folded returns the net emitted rows, sorted, a row repeated by its
// multiplicity.
func (c *collector) folded() []string {
	var out []string
	for k, n := range c.fold {
		for ; n > 0; n-- {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// render returns rows as sorted "op row" lines.
func render(rows []outRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.op.String() + " " + rowString(r.vals)
	}
	sort.Strings(out)
	return out
}

// buildRec makes a record of schema from rows of datums.
func buildRec(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows [][]types.Datum) arrow.RecordBatch {
	t.Helper()
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	for _, r := range rows {
		for j, d := range r {
			types.AppendDatum(rb.Field(j), d)
		}
	}
	return rb.NewRecordBatch()
}

// feed pushes rows with ops (nil: inserts) in chunks of batch rows.
func feed(t testing.TB, mem memory.Allocator, op operators.Output, schema *arrow.Schema, rows [][]types.Datum, ops []operators.Op, batch int) error {
	t.Helper()
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		rec := buildRec(t, mem, schema, rows[start:end])
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

func opsOf(op operators.Op, n int) []operators.Op {
	if op == operators.Insert {
		return nil
	}
	ops := make([]operators.Op, n)
	for i := range ops {
		ops[i] = op
	}
	return ops
}

func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func bi(v int64) types.Datum              { return types.NewBigInt(v) }
func ts(v int64) types.Datum              { return types.NewTimestamp(v) }
func row(ds ...types.Datum) []types.Datum { return ds }

// tsStr formats µs as a TIMESTAMP prints.
func tsStr(us int64) string { return types.NewTimestamp(us).String() }

func sortStrings(s []string) { sort.Strings(s) }

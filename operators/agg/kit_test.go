package agg

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

// outRow is one emitted row, copied out of the lent chunk.
type outRow struct {
	op   operators.Op
	vals []types.Datum
}

// collector records what an aggregate emits and checks the per-message
// invariants: schema as declared, chunk size bound, update pairs adjacent
// within a chunk, barrier epochs increasing.
type collector struct {
	t        testing.TB
	schema   *arrow.Schema
	types    []types.T
	pending  []outRow   // rows since the last barrier
	epochs   [][]outRow // rows emitted before each barrier
	wms      []operators.Watermark
	lastEp   uint64
	chunks   int
	maxChunk int
}

func (c *collector) Push(m operators.Message) error {
	switch m := m.(type) {
	case *operators.Chunk:
		if !m.Rec.Schema().Equal(c.schema) {
			c.t.Errorf("chunk schema %s, want %s", m.Rec.Schema(), c.schema)
		}
		n := m.Len()
		if n > MaxChunkRows {
			c.t.Errorf("chunk of %d rows exceeds %d", n, MaxChunkRows)
		}
		c.chunks++
		c.maxChunk = max(c.maxChunk, n)
		for i := 0; i < n; i++ {
			r := outRow{op: m.Op(i)}
			for j := 0; j < int(m.Rec.NumCols()); j++ {
				r.vals = append(r.vals, types.DatumAt(m.Rec.Column(j), i, c.types[j]))
			}
			if r.op == operators.UpdateBefore && (i+1 >= n || m.Op(i+1) != operators.UpdateAfter) {
				c.t.Errorf("UpdateBefore at row %d not followed by UpdateAfter in its chunk", i)
			}
			if r.op == operators.UpdateAfter && (i == 0 || m.Op(i-1) != operators.UpdateBefore) {
				c.t.Errorf("UpdateAfter at row %d not preceded by UpdateBefore", i)
			}
			for _, w := range c.wms {
				if d := r.vals[w.Column]; !d.Null && isIntLike(types.T{Kind: d.Kind}) && d.I < w.Time {
					c.t.Errorf("row %s below the watermark %d on column %d sent before it", rowString(r.vals), w.Time, w.Column)
				}
			}
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
		for _, w := range c.wms {
			if w.Column == m.Column && m.Time < w.Time {
				c.t.Errorf("watermark on column %d went back from %d to %d", w.Column, w.Time, m.Time)
			}
		}
		c.wms = append(c.wms, m)
	default:
		c.t.Errorf("unexpected message %T", m)
	}
	return nil
}

func rowString(vals []types.Datum) string {
	parts := make([]string, len(vals))
	for i, d := range vals {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// render turns one epoch's output into sorted lines: "+ row", "- row" and
// "row -> row" for an update pair.
func render(rows []outRow) []string {
	var out []string
	for i := 0; i < len(rows); i++ {
		r := rows[i]
		switch r.op {
		case operators.Insert:
			out = append(out, "+ "+rowString(r.vals))
		case operators.Delete:
			out = append(out, "- "+rowString(r.vals))
		case operators.UpdateBefore:
			if i+1 < len(rows) {
				out = append(out, rowString(r.vals)+" -> "+rowString(rows[i+1].vals))
				i++
			}
		default:
			out = append(out, "? "+rowString(r.vals))
		}
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
func feed(t testing.TB, mem memory.Allocator, h *HashAgg, rows [][]types.Datum, ops []operators.Op, batch int) error {
	t.Helper()
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		rec := buildRec(t, mem, h.in, rows[start:end])
		c := &operators.Chunk{Rec: rec}
		if ops != nil {
			c.Ops = ops[start:end]
		}
		err := h.Push(c)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// fixture is an aggregate under test with its collector.
type fixture struct {
	t     *testing.T
	mem   *memory.CheckedAllocator
	h     *HashAgg
	c     *collector
	batch int
	epoch uint64
}

func newFixture(t *testing.T, cols []types.Column, groupCols []int, specs []Spec, appendOnly bool, batch int) *fixture {
	t.Helper()
	return newFixtureOpts(t, cols, groupCols, specs, appendOnly, Options{WatermarkGroupCol: -1}, batch)
}

func newFixtureOpts(t *testing.T, cols []types.Column, groupCols []int, specs []Spec, appendOnly bool, opts Options, batch int) *fixture {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	schema := types.Schema(cols).Arrow()
	inTypes := make([]types.T, len(cols))
	for i, c := range cols {
		inTypes[i] = c.Type
	}
	var outTypes []types.T
	for _, g := range groupCols {
		outTypes = append(outTypes, inTypes[g])
	}
	for _, s := range specs {
		outTypes = append(outTypes, s.Result)
	}
	c := &collector{t: t, types: outTypes}
	h, err := NewWithOptions(mem, schema, inTypes, groupCols, specs, appendOnly, opts, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.schema = h.Schema()
	f := &fixture{t: t, mem: mem, h: h, c: c, batch: batch}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := h.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		mem.AssertSize(t, 0)
	})
	return f
}

// push feeds rows with one op for all (Insert or Delete).
func (f *fixture) push(op operators.Op, rows ...[]types.Datum) {
	f.t.Helper()
	var ops []operators.Op
	if op != operators.Insert {
		ops = make([]operators.Op, len(rows))
		for i := range ops {
			ops[i] = op
		}
	}
	if err := feed(f.t, f.mem, f.h, rows, ops, f.batch); err != nil {
		f.t.Fatalf("push: %v", err)
	}
}

// barrier sends a barrier and returns the rendered output of the epoch.
func (f *fixture) barrier() []string {
	f.t.Helper()
	f.epoch++
	if err := f.h.Push(operators.Barrier{Epoch: f.epoch}); err != nil {
		f.t.Fatalf("barrier: %v", err)
	}
	return render(f.c.epochs[len(f.c.epochs)-1])
}

func (f *fixture) expect(want ...string) {
	f.t.Helper()
	got := f.barrier()
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		f.t.Errorf("epoch %d:\n got %q\nwant %q", f.epoch, got, want)
	}
}

// Datum shorthands.
func bi(v int64) types.Datum              { return types.NewBigInt(v) }
func i32(v int32) types.Datum             { return types.NewInt(v) }
func dbl(v float64) types.Datum           { return types.NewDouble(v) }
func txt(s string) types.Datum            { return types.NewText(s) }
func null(t types.T) types.Datum          { return types.NewNull(t) }
func row(ds ...types.Datum) []types.Datum { return ds }

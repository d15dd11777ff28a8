package temporal

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var (
	tBig = types.T{Kind: types.BigInt}
	tTS  = types.TimestampType(6)
	tTxt = types.T{Kind: types.Varchar}
	cols = []types.Column{{Name: "id", Type: tBig}, {Name: "ts", Type: tTS}, {Name: "s", Type: tTxt}}
)

func bi(v int64) types.Datum     { return types.NewBigInt(v) }
func ts(v int64) types.Datum     { return types.NewTimestamp(v) }
func txt(s string) types.Datum   { return types.NewText(s) }
func null(t types.T) types.Datum { return types.NewNull(t) }
func r(id, t int64) []types.Datum {
	return []types.Datum{bi(id), ts(t), txt("v" + strconv.FormatInt(id, 10))}
}

// rowString prints timestamps as their µs so expectations stay short.
func rowString(vals []types.Datum) string {
	parts := make([]string, len(vals))
	for i, d := range vals {
		if d.Kind == types.Timestamp && !d.Null {
			parts[i] = strconv.FormatInt(d.I, 10)
		} else {
			parts[i] = d.String()
		}
	}
	return strings.Join(parts, ",")
}

type outRow struct {
	op   operators.Op
	vals []types.Datum
}

// collector records the output and checks schema and pair adjacency.
type collector struct {
	t       testing.TB
	schema  *arrow.Schema
	pending []outRow
	epochs  [][]outRow
	wms     int
}

func (c *collector) Push(m operators.Message) error {
	switch m := m.(type) {
	case *operators.Chunk:
		if !m.Rec.Schema().Equal(c.schema) {
			c.t.Errorf("chunk schema %s, want %s", m.Rec.Schema(), c.schema)
		}
		n := m.Len()
		for i := 0; i < n; i++ {
			o := outRow{op: m.Op(i)}
			for j, col := range cols {
				o.vals = append(o.vals, types.DatumAt(m.Rec.Column(j), i, col.Type))
			}
			if o.op == operators.UpdateBefore && (i+1 >= n || m.Op(i+1) != operators.UpdateAfter) {
				c.t.Errorf("UpdateBefore at row %d not followed by UpdateAfter", i)
			}
			if o.op == operators.UpdateAfter && (i == 0 || m.Op(i-1) != operators.UpdateBefore) {
				c.t.Errorf("UpdateAfter at row %d not preceded by UpdateBefore", i)
			}
			c.pending = append(c.pending, o)
		}
	case operators.Barrier:
		c.epochs = append(c.epochs, c.pending)
		c.pending = nil
	case operators.Watermark:
		c.wms++
	}
	return nil
}

func render(rows []outRow) []string {
	var out []string
	for i := 0; i < len(rows); i++ {
		o := rows[i]
		switch o.op {
		case operators.Insert:
			out = append(out, "+ "+rowString(o.vals))
		case operators.Delete:
			out = append(out, "- "+rowString(o.vals))
		case operators.UpdateBefore:
			out = append(out, rowString(o.vals)+" -> "+rowString(rows[i+1].vals))
			i++
		default:
			out = append(out, "? "+rowString(o.vals))
		}
	}
	sort.Strings(out)
	return out
}

func buildRec(mem memory.Allocator, schema *arrow.Schema, rows [][]types.Datum) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	for _, row := range rows {
		for j, d := range row {
			types.AppendDatum(rb.Field(j), d)
		}
	}
	return rb.NewRecordBatch()
}

func feed(mem memory.Allocator, op operators.Operator, in *arrow.Schema, rows [][]types.Datum, ops []operators.Op, batch int) error {
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		rec := buildRec(mem, in, rows[start:end])
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

type fixture struct {
	t     *testing.T
	mem   *memory.CheckedAllocator
	f     *Filter
	in    *arrow.Schema
	c     *collector
	batch int
	epoch uint64
}

func newFixture(t *testing.T, window int64, inclusive bool, batch int) *fixture {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	schema := types.Schema(cols).Arrow()
	c := &collector{t: t, schema: schema}
	f, err := NewFilter(mem, schema, []types.T{tBig, tTS, tTxt}, 1, window, inclusive, c)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, mem: mem, f: f, in: schema, c: c, batch: batch}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
		mem.AssertSize(t, 0)
	})
	return fx
}

// push feeds rows; ops nil means inserts.
func (x *fixture) push(ops []operators.Op, rows ...[]types.Datum) {
	x.t.Helper()
	if err := feed(x.mem, x.f, x.in, rows, ops, x.batch); err != nil {
		x.t.Fatal(err)
	}
}

func repeat(op operators.Op, n int) []operators.Op {
	ops := make([]operators.Op, n)
	for i := range ops {
		ops[i] = op
	}
	return ops
}

// sofar returns the rendered output since the last barrier.
func (x *fixture) sofar() []string { return render(x.c.pending) }

func (x *fixture) barrier(now int64) []string {
	x.t.Helper()
	x.epoch++
	if err := x.f.Push(operators.Barrier{Epoch: x.epoch, Now: now}); err != nil {
		x.t.Fatal(err)
	}
	return render(x.c.epochs[len(x.c.epochs)-1])
}

func same(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func batchSizes(t *testing.T, fn func(t *testing.T, batch int)) {
	for _, b := range []int{1, 3, 1024} {
		t.Run(fmt.Sprintf("batch%d", b), func(t *testing.T) { fn(t, b) })
	}
}

func TestFilterHoldUntilFirstBarrierAndExpiry(t *testing.T) {
	batchSizes(t, func(t *testing.T, batch int) {
		x := newFixture(t, 600, false, batch)
		x.push(nil, r(1, 100), r(2, 500), r(3, 400), []types.Datum{bi(4), null(tTS), txt("n")}, r(5, 900))
		same(t, "before the first barrier", x.sofar())
		// A retraction before the first barrier cancels a held row.
		x.push(repeat(operators.Delete, 1), r(5, 900))
		// Now 1000, window 600: ts > 400 is in.
		same(t, "first barrier", x.barrier(1000), "+ 2,500,v2")
		// In the window as of Now 1000: forwarded at once; 400 is not.
		x.push(nil, r(6, 401), r(7, 400), r(8, 2000))
		same(t, "mid-epoch", x.sofar(), "+ 6,401,v6", "+ 8,2000,v8")
		same(t, "barrier 1101", x.barrier(1101), "+ 6,401,v6", "+ 8,2000,v8", "- 2,500,v2", "- 6,401,v6")
		if got := x.f.StateRows(); got != 1 {
			t.Errorf("StateRows = %d, want 1", got)
		}
		// Now going back changes nothing.
		same(t, "barrier 50", x.barrier(50))
		same(t, "barrier 2600", x.barrier(2600), "- 8,2000,v8")
		if got := x.f.StateRows(); got != 0 {
			t.Errorf("StateRows = %d, want 0", got)
		}
	})
}

func TestFilterInclusive(t *testing.T) {
	batchSizes(t, func(t *testing.T, batch int) {
		x := newFixture(t, 600, true, batch)
		x.push(nil, r(1, 399), r(2, 400), r(3, 401))
		same(t, "first", x.barrier(1000), "+ 2,400,v2", "+ 3,401,v3")
		same(t, "second", x.barrier(1001), "- 2,400,v2")
	})
}

func TestFilterRetractions(t *testing.T) {
	batchSizes(t, func(t *testing.T, batch int) {
		x := newFixture(t, 1000, false, batch)
		x.push(nil, r(1, 5000), r(2, 5500), r(2, 5500), r(3, 6000))
		x.barrier(6000) // cut 5000: 1 dropped
		// Retractions of a held row, a dropped row, an unknown row.
		x.push(repeat(operators.Delete, 3), r(2, 5500), r(1, 5000), r(9, 5900))
		same(t, "deletes", x.sofar(), "- 2,5500,v2")
		// Update pairs: held → in window; held → out; dropped → in.
		// Pairs split across input chunks become a Delete and an Insert:
		// keep them whole here.
		x.batch = max(2, batch-batch%2)
		x.push([]operators.Op{operators.UpdateBefore, operators.UpdateAfter, operators.UpdateBefore, operators.UpdateAfter,
			operators.UpdateBefore, operators.UpdateAfter},
			r(3, 6000), r(3, 6100), r(2, 5500), r(2, 4000), r(1, 5000), r(1, 7000))
		x.barrier(6200) // cut 5200
		got := render(x.c.epochs[len(x.c.epochs)-1])
		same(t, "pairs", got, "- 2,5500,v2", "3,6000,v3 -> 3,6100,v3", "- 2,5500,v2", "+ 1,7000,v1")
		// An expired row's retraction is dropped; the held ones go.
		same(t, "expiry", x.barrier(7100), "- 3,6100,v3")
		x.push(repeat(operators.Delete, 2), r(3, 6100), r(1, 7000))
		same(t, "after expiry", x.sofar(), "- 1,7000,v1")
		if got := x.f.StateRows(); got != 0 {
			t.Errorf("StateRows = %d, want 0", got)
		}
	})
}

func TestFilterOutOfOrderAndPassThrough(t *testing.T) {
	batchSizes(t, func(t *testing.T, batch int) {
		x := newFixture(t, 100, false, batch)
		x.barrier(0)
		x.push(nil, r(1, 50), r(2, 30), r(3, 70), r(4, 10), r(5, 90), r(6, 40))
		if err := x.f.Push(operators.Watermark{Column: 1, Time: 5}); err != nil {
			t.Fatal(err)
		}
		if x.c.wms != 1 {
			t.Error("watermark not passed through")
		}
		same(t, "cut 35", x.barrier(135), "+ 1,50,v1", "+ 2,30,v2", "+ 3,70,v3", "+ 4,10,v4", "+ 5,90,v5", "+ 6,40,v6",
			"- 2,30,v2", "- 4,10,v4")
		x.push(repeat(operators.Delete, 1), r(6, 40))
		same(t, "cut 60", x.barrier(160), "- 6,40,v6", "- 1,50,v1")
		same(t, "cut 1000", x.barrier(1100), "- 3,70,v3", "- 5,90,v5")
	})
}

func TestFilterErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema(cols).Arrow()
	if _, err := NewFilter(mem, schema, []types.T{tBig, tTS, tTxt}, 0, 1, false, nil); err == nil {
		t.Error("BIGINT ts column: no error")
	}
	if _, err := NewFilter(mem, schema, []types.T{tBig, tTS, tTxt}, 3, 1, false, nil); err == nil {
		t.Error("ts column out of range: no error")
	}
}

// TestFilterMemoryFlat runs many epochs of rows that keep expiring, with
// and without retractions: the rows held and the state size stay bounded.
func TestFilterMemoryFlat(t *testing.T) {
	for _, retract := range []bool{false, true} {
		t.Run(fmt.Sprintf("retract=%v", retract), func(t *testing.T) {
			x := newFixture(t, 5_000, false, 1024)
			var peak [2]int64
			const perEpoch = 500
			for e := int64(0); e < 200; e++ {
				var rows [][]types.Datum
				for i := int64(0); i < perEpoch; i++ {
					id := e*perEpoch + i
					t := e*1000 + 2*i - (i%7)*3 // mostly in order
					rows = append(rows, r(id, t))
				}
				x.push(nil, rows...)
				if retract {
					x.push(repeat(operators.Delete, 50), rows[:50]...)
				}
				x.barrier(e * 1000)
				x.c.epochs = x.c.epochs[:0]
				if n := int64(x.f.StateRows()); n > 6*perEpoch {
					t.Fatalf("epoch %d: %d rows held", e, n)
				}
				half := 0
				if e >= 100 {
					half = 1
				}
				peak[half] = max(peak[half], x.f.StateBytes())
			}
			if peak[1] > peak[0] {
				t.Errorf("state grew: peak %d bytes in the first half, %d in the second", peak[0], peak[1])
			}
		})
	}
}

func TestFilterDateColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dcols := []types.Column{{Name: "d", Type: types.T{Kind: types.Date}}}
	schema := types.Schema(dcols).Arrow()
	var got []int64
	out := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			for i := 0; i < c.Len(); i++ {
				got = append(got, int64(c.Op(i).Sign())*types.DatumAt(c.Rec.Column(0), i, dcols[0].Type).I)
			}
		}
		return nil
	})
	const day = 86_400_000_000
	f, err := NewFilter(mem, schema, []types.T{dcols[0].Type}, 0, 2*day, true, out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := feed(mem, f, schema, [][]types.Datum{{types.NewDate(8)}, {types.NewDate(9)}, {types.NewDate(10)}}, nil, 3); err != nil {
		t.Fatal(err)
	}
	// Now = day 10 + 1 µs: d >= day 8 + 1 µs keeps 9 and 10.
	if err := f.Push(operators.Barrier{Epoch: 1, Now: 10*day + 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.Push(operators.Barrier{Epoch: 2, Now: 11*day + 1}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[9 10 -9]" {
		t.Errorf("got %v, want [9 10 -9]", got)
	}
}

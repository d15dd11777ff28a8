package temporal

import (
	"bytes"
	"fmt"
	"github.com/sluicedb/sluice/operators/ckptio"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// step is one input message of a script: a chunk, or a barrier with Now.
type step struct {
	rows    [][]types.Datum
	ops     []operators.Op
	barrier bool
	now     int64
}

// randScript makes epochs of random inserts (in the window, expired, out
// of order, duplicated, NULL ts), deletes and update pairs, cut into
// chunks of random sizes, each epoch ended by a barrier whose Now mostly
// advances and sometimes goes back.
func randScript(rng *rand.Rand, epochs int) []step {
	var cur [][]types.Datum
	var steps []step
	now := int64(1000)
	randRow := func() []types.Datum {
		tsv := ts(now - 150 + rng.Int64N(220))
		if rng.IntN(15) == 0 {
			tsv = null(tTS)
		}
		return []types.Datum{bi(rng.Int64N(4)), tsv, txt([]string{"a", "b"}[rng.IntN(2)])}
	}
	for range epochs {
		var rows [][]types.Datum
		var ops []operators.Op
		for n := rng.IntN(25); n > 0; n-- {
			switch k := rng.IntN(10); {
			case k < 5 || len(cur) == 0:
				row := randRow()
				rows, ops = append(rows, row), append(ops, operators.Insert)
				cur = append(cur, row)
				if rng.IntN(5) == 0 {
					rows, ops = append(rows, row), append(ops, operators.Insert)
					cur = append(cur, row)
				}
			case k < 8:
				i := rng.IntN(len(cur))
				rows, ops = append(rows, cur[i]), append(ops, operators.Delete)
				cur = slices.Delete(cur, i, i+1)
			default:
				i := rng.IntN(len(cur))
				row := randRow()
				rows, ops = append(rows, cur[i], row), append(ops, operators.UpdateBefore, operators.UpdateAfter)
				cur[i] = row
			}
		}
		for start := 0; start < len(rows); {
			end := min(len(rows), start+1+rng.IntN(8))
			steps = append(steps, step{rows: rows[start:end], ops: ops[start:end]})
			start = end
		}
		bn := now + rng.Int64N(60)
		if rng.IntN(8) == 0 {
			bn = now - 30
		}
		now = max(now, bn)
		steps = append(steps, step{barrier: true, now: bn})
	}
	return steps
}

// runner drives one filter through a script, recording its output as
// lines, a barrier line ending each epoch.
type runner struct {
	t     *testing.T
	mem   memory.Allocator
	f     *Filter
	c     *collector
	epoch uint64
	msgs  []string
}

func newRunner(t *testing.T, mem memory.Allocator, window int64, inclusive bool) *runner {
	t.Helper()
	schema := types.Schema(cols).Arrow()
	rn := &runner{t: t, mem: mem}
	rn.c = &collector{t: t, schema: schema}
	out := operators.OutputFunc(func(m operators.Message) error {
		if err := rn.c.Push(m); err != nil {
			return err
		}
		switch m := m.(type) {
		case *operators.Chunk:
			for _, o := range rn.c.pending[len(rn.c.pending)-m.Len():] {
				rn.msgs = append(rn.msgs, fmt.Sprintf("%s %s", o.op, rowString(o.vals)))
			}
		case operators.Barrier:
			rn.msgs = append(rn.msgs, fmt.Sprintf("barrier %d", m.Epoch))
		}
		return nil
	})
	f, err := NewFilter(mem, schema, []types.T{tBig, tTS, tTxt}, 1, window, inclusive, out)
	if err != nil {
		t.Fatal(err)
	}
	rn.f = f
	return rn
}

func (rn *runner) run(steps []step) {
	rn.t.Helper()
	schema := types.Schema(cols).Arrow()
	for _, s := range steps {
		if s.barrier {
			rn.epoch++
			if err := rn.f.Push(operators.Barrier{Epoch: rn.epoch, Now: s.now}); err != nil {
				rn.t.Fatal(err)
			}
			continue
		}
		if err := feed(rn.mem, rn.f, schema, s.rows, s.ops, len(s.rows)); err != nil {
			rn.t.Fatal(err)
		}
	}
}

// epochs splits output lines at barriers and sorts each epoch's lines:
// the order of rows within an epoch depends on which of two equal rows a
// retraction finds (the index is seeded per process), not on the state.
func epochs(msgs []string) string {
	var out []string
	var cur []string
	for _, m := range msgs {
		if strings.HasPrefix(m, "barrier") {
			sort.Strings(cur)
			out = append(out, strings.Join(cur, "\n")+"\n"+m)
			cur = nil
			continue
		}
		cur = append(cur, m)
	}
	sort.Strings(cur)
	return strings.Join(append(out, strings.Join(cur, "\n")), "\n---\n")
}

// dumpState renders a filter's state; exact keeps the order structures
// (ring order, heap array), else the held rows are sorted.
func dumpState(f *Filter, exact bool) string {
	row := func(s uint32) string {
		vals := make([]types.Datum, len(cols))
		for k := range cols {
			vals[k] = f.rows.Datum(s, k)
		}
		return fmt.Sprintf("%s@%d", rowString(vals), f.ts[s])
	}
	var ring, heap []string
	for _, s := range f.ring[f.head:] {
		if s != noSlot {
			ring = append(ring, row(s))
		}
	}
	for _, s := range f.heap {
		heap = append(heap, row(s))
	}
	head := fmt.Sprintf("started=%v now=%d rows=%d", f.started, f.now, f.rows.Len())
	if !exact {
		all := append(ring, heap...)
		sort.Strings(all)
		return head + "\n" + strings.Join(all, "\n")
	}
	return fmt.Sprintf("%s ringmax=%d\nring %s\nheap %s", head, f.ringMax, strings.Join(ring, " "), strings.Join(heap, " "))
}

// checkOrder checks the ring is in ts order and the heap a min-heap.
func checkOrder(t *testing.T, f *Filter) {
	t.Helper()
	var prev int64
	first := true
	for i, s := range f.ring[f.head:] {
		if s == noSlot {
			continue
		}
		if !first && f.ts[s] < prev {
			t.Fatalf("ring out of order at %d", i)
		}
		if f.loc[s] != int32(f.head+i) {
			t.Fatalf("ring slot %d: loc %d, want %d", s, f.loc[s], f.head+i)
		}
		prev, first = f.ts[s], false
	}
	for i, s := range f.heap {
		if i > 0 && f.ts[f.heap[(i-1)/2]] > f.ts[s] {
			t.Fatalf("heap out of order at %d", i)
		}
		if f.loc[s] != inHeap+int32(i) {
			t.Fatalf("heap slot %d: loc %d", s, f.loc[s])
		}
	}
}

// TestFilterCheckpointCutAndContinue runs the same random script through
// A uninterrupted and through B, snapshotted at a random point (before the
// first barrier, at a barrier, or mid-epoch) and restored into a new C
// that runs the rest. C's output after the cut must be A's, epoch by
// epoch, and the final states equal; right after the restore C's state
// must be B's, order structures included, and its snapshot B's bytes.
func TestFilterCheckpointCutAndContinue(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		t.Run(fmt.Sprintf("inclusive=%v", inclusive), func(t *testing.T) {
			for seed := uint64(0); seed < 40; seed++ {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				rng := rand.New(rand.NewPCG(seed, 11))
				steps := randScript(rng, 30)
				cut := rng.IntN(len(steps) + 1)
				switch seed % 3 {
				case 0: // right after a barrier, as the executor does
					for cut > 0 && !steps[cut-1].barrier {
						cut--
					}
				case 1: // before the first barrier
					cut = 0
					for cut < len(steps) && !steps[cut].barrier && rng.IntN(3) > 0 {
						cut++
					}
				}
				const window = 100
				a := newRunner(t, mem, window, inclusive)
				a.run(steps[:cut])
				mark := len(a.msgs)
				a.run(steps[cut:])

				b := newRunner(t, mem, window, inclusive)
				b.run(steps[:cut])
				if seed%4 == 3 {
					// A retraction of a row never held builds B's index and
					// changes nothing else: the snapshot must not depend on it.
					b.run([]step{{rows: [][]types.Datum{r(999, 1000)}, ops: []operators.Op{operators.Delete}}})
				}
				var snap bytes.Buffer
				if err := b.f.Snapshot(&snap); err != nil {
					t.Fatalf("seed %d: snapshot: %v", seed, err)
				}
				c := newRunner(t, mem, window, inclusive)
				c.epoch = b.epoch
				if err := c.f.Restore(bytes.NewReader(snap.Bytes())); err != nil {
					t.Fatalf("seed %d: restore: %v", seed, err)
				}
				if got, want := dumpState(c.f, true), dumpState(b.f, true); got != want {
					t.Fatalf("seed %d: restored state differs:\n got %s\nwant %s", seed, got, want)
				}
				checkOrder(t, c.f)
				var again bytes.Buffer
				if err := c.f.Snapshot(&again); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again.Bytes(), snap.Bytes()) {
					t.Errorf("seed %d: snapshot after restore differs from the original", seed)
				}
				c.run(steps[cut:])
				if got, want := epochs(c.msgs), epochs(a.msgs[mark:]); got != want {
					t.Fatalf("seed %d (cut at step %d of %d): output after the cut differs:\n got %s\nwant %s", seed, cut, len(steps), got, want)
				}
				if got, want := dumpState(c.f, false), dumpState(a.f, false); got != want {
					t.Fatalf("seed %d: final states differ:\n got %s\nwant %s", seed, got, want)
				}
				checkOrder(t, c.f)
				for _, x := range []*runner{a, b, c} {
					if err := x.f.Close(); err != nil {
						t.Fatal(err)
					}
				}
				mem.AssertSize(t, 0)
			}
		})
	}
}

// snapshotOf runs a script through a new filter and returns its snapshot.
func snapshotOf(t *testing.T, mem memory.Allocator, window int64, seed uint64) []byte {
	t.Helper()
	rn := newRunner(t, mem, window, false)
	defer rn.f.Close()
	rn.run(randScript(rand.New(rand.NewPCG(seed, 99)), 12))
	if rn.f.StateRows() == 0 {
		t.Fatal("the script left no rows held")
	}
	var buf bytes.Buffer
	if err := rn.f.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustTrailerLen(t *testing.T) int {
	n, err := ckptio.TrailerLen()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// reseal appends a valid trailer to body.
func reseal(t *testing.T, mem memory.Allocator, body []byte) []byte {
	tr, err := ckptio.TrailerBytes(mem, int64(len(body)), crc32.Update(0, ckptio.CRCTable, body))
	if err != nil {
		t.Fatal(err)
	}
	return append(slices.Clone(body), tr...)
}

func TestFilterCheckpointMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	snap := snapshotOf(t, mem, 100, 1)
	schema := types.Schema(cols).Arrow()
	nop := operators.OutputFunc(func(operators.Message) error { return nil })
	other := []struct {
		name      string
		types     []types.T
		tsCol     int
		window    int64
		inclusive bool
	}{
		{"window", []types.T{tBig, tTS, tTxt}, 1, 200, false},
		{"inclusive", []types.T{tBig, tTS, tTxt}, 1, 100, true},
		{"types", []types.T{tBig, types.TimestampType(3), tTxt}, 1, 100, false},
	}
	for _, o := range other {
		f, err := NewFilter(mem, schema, o.types, o.tsCol, o.window, o.inclusive, nop)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Restore(bytes.NewReader(snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Errorf("%s: %v", o.name, err)
		}
		if f.StateRows() != 0 {
			t.Errorf("%s: state after a failed restore", o.name)
		}
		f.Close()
	}
	rn := newRunner(t, mem, 100, false)
	defer rn.f.Close()
	var hb bytes.Buffer
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: rn.f.config(), Names: ckptValues, Counts: make([]int64, len(ckptValues))}
	if err := h.Write(&hb, mem); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format  string
		version uint32
		want    string
	}{{ckptFormat, 2, "version 2"}, {"sluice.topn", 1, "not a sluice.temporal checkpoint"}} {
		var buf bytes.Buffer
		h2 := h
		h2.Format, h2.Version = c.format, c.version
		if err := h2.Write(&buf, mem); err != nil {
			t.Fatal(err)
		}
		buf.Write(snap[hb.Len() : len(snap)-mustTrailerLen(t)])
		err := rn.f.Restore(bytes.NewReader(reseal(t, mem, buf.Bytes())))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("format %q version %d: %v, want an error with %q", c.format, c.version, err, c.want)
		}
	}
	if err := rn.f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := rn.f.Restore(bytes.NewReader(snap)); err == nil {
		t.Error("second restore: no error")
	}
}

// TestFilterCheckpointCorrupt feeds truncated, bit-flipped and garbage
// snapshots: each must fail with an error, no panic (even a recovered
// one), and no state.
func TestFilterCheckpointCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	snap := snapshotOf(t, mem, 100, 3)
	rn := newRunner(t, mem, 100, false)
	defer rn.f.Close()
	mustFail := func(what string, data []byte) {
		t.Helper()
		err := rn.f.Restore(bytes.NewReader(data))
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if strings.Contains(err.Error(), "panic") {
			t.Fatalf("%s: a panic was recovered: %v", what, err)
		}
		if rn.f.StateRows() != 0 || rn.f.started {
			t.Fatalf("%s: state after a failed restore", what)
		}
	}
	for n := 0; n < len(snap); n++ {
		mustFail(fmt.Sprintf("truncated to %d of %d bytes", n, len(snap)), snap[:n])
	}
	// One flipped bit in every byte (which bit varies), then bursts.
	fr := rand.New(rand.NewPCG(1, 2))
	for i := range snap {
		bit := 8*i + fr.IntN(8)
		data := slices.Clone(snap)
		data[bit/8] ^= 1 << (bit % 8)
		mustFail(fmt.Sprintf("bit %d of %d flipped", bit, 8*len(snap)), data)
	}
	for range 500 {
		data := slices.Clone(snap)
		i := fr.IntN(len(data) - 4)
		for j := range 4 {
			data[i+j] ^= byte(fr.Uint32())
		}
		mustFail(fmt.Sprintf("burst at byte %d", i), data)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 50 {
		data := make([]byte, r.IntN(400))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		mustFail(fmt.Sprintf("garbage %d", i), data)
	}
	mustFail("trailing bytes", append(slices.Clone(snap), 0))
	if err := rn.f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
}

// TestFilterCheckpointBadContent checks the content checks behind the
// checksum: a state that breaks the filter's invariants, written with a
// valid checksum (as a writer bug would), is refused.
func TestFilterCheckpointBadContent(t *testing.T) {
	cases := map[string]struct {
		spoil func(f *Filter)
		want  string
	}{
		"ring order": {func(f *Filter) {
			a, b := f.ring[f.head], f.ring[len(f.ring)-1]
			f.ring[f.head], f.ring[len(f.ring)-1] = b, a
		}, "ring rows out of ts order"},
		"heap order":  {func(f *Filter) { f.heap[0], f.heap[len(f.heap)-1] = f.heap[len(f.heap)-1], f.heap[0] }, "heap rows out of order"},
		"expired row": {func(f *Filter) { f.now += 1000 }, "outside the window"},
		"ringmax":     {func(f *Filter) { f.ringMax = 0 }, "ringmax"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			b := newRunner(t, mem, 1000, false)
			defer b.f.Close()
			b.run([]step{{barrier: true, now: 1000}})
			var rows [][]types.Datum
			for i, tv := range []int64{500, 600, 700, 800, 650, 550, 520} { // the last three go to the heap
				rows = append(rows, r(int64(i), tv))
			}
			b.run([]step{{rows: rows}})
			if len(b.f.heap) != 3 {
				t.Fatalf("heap holds %d rows", len(b.f.heap))
			}
			c.spoil(b.f)
			var buf bytes.Buffer
			if err := b.f.Snapshot(&buf); err != nil {
				t.Fatal(err)
			}
			f := newRunner(t, mem, 1000, false)
			defer f.f.Close()
			err := f.f.Restore(&buf)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want an error with %q", err, c.want)
			}
			if f.f.StateRows() != 0 {
				t.Fatal("state after a failed restore")
			}
		})
	}
}

// failWriter fails once n bytes have been written.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, fmt.Errorf("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestSnapshotWriteError checks a failing writer makes Snapshot return
// its error, at any point of the checkpoint.
func TestSnapshotWriteError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rn := newRunner(t, mem, 100, false)
	defer rn.f.Close()
	rn.run(randScript(rand.New(rand.NewPCG(4, 4)), 10))
	var buf bytes.Buffer
	if err := rn.f.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < buf.Len(); n += 1 + n/8 {
		err := rn.f.Snapshot(&failWriter{n: n})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("writer failing after %d of %d bytes: %v", n, buf.Len(), err)
		}
	}
}

// TestFilterCheckpointLarge round-trips a state whose rows stream spans
// several record batches.
func TestFilterCheckpointLarge(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := newRunner(t, mem, 1<<30, false)
	defer b.f.Close()
	var rows [][]types.Datum
	for i := range int64(ckptBatchRows + 5000) {
		rows = append(rows, r(i, 1000+i-(i%10)*3)) // some out of order
	}
	b.run([]step{{barrier: true, now: 1000}, {rows: rows}})
	if len(b.f.heap) == 0 {
		t.Fatal("no rows in the heap")
	}
	var buf bytes.Buffer
	if err := b.f.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	c := newRunner(t, mem, 1<<30, false)
	defer c.f.Close()
	if err := c.f.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpState(c.f, true), dumpState(b.f, true); got != want {
		t.Fatal("restored state differs")
	}
	checkOrder(t, c.f)
}

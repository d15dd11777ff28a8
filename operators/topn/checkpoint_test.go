package topn

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

// step is one input message of a script: a chunk (rows with ops) or a
// barrier.
type step struct {
	rows    [][]types.Datum
	ops     []operators.Op
	barrier bool
}

// randScript makes epochs of random inserts, deletes and update pairs
// over diffCols (several partitions, NULLs, duplicates), each epoch cut
// into chunks of random sizes and ended by a barrier.
func randScript(r *rand.Rand, epochs int) []step {
	var cur [][]types.Datum
	var steps []step
	for range epochs {
		var rows [][]types.Datum
		var ops []operators.Op
		for n := r.IntN(16); n > 0; n-- {
			switch k := r.IntN(10); {
			case k < 5 || len(cur) == 0:
				x := randRow(r)
				rows, ops = append(rows, x), append(ops, operators.Insert)
				cur = append(cur, x)
				if r.IntN(6) == 0 { // a duplicate
					rows, ops = append(rows, x), append(ops, operators.Insert)
					cur = append(cur, x)
				}
			case k < 8:
				i := r.IntN(len(cur))
				rows, ops = append(rows, cur[i]), append(ops, operators.Delete)
				cur = slices.Delete(cur, i, i+1)
			default:
				i := r.IntN(len(cur))
				x := slices.Clone(cur[i])
				x[1] = bi(x[1].I + int64(r.IntN(3)) - 1)
				if r.IntN(4) == 0 {
					x[0] = bi(int64(r.IntN(3))) // moves partition
				}
				rows, ops = append(rows, cur[i], x), append(ops, operators.UpdateBefore, operators.UpdateAfter)
				cur[i] = x
			}
		}
		for start := 0; start < len(rows); {
			end := min(len(rows), start+1+r.IntN(6))
			if end < len(rows) && ops[end] == operators.UpdateAfter {
				end++ // keep pairs in one chunk
			}
			steps = append(steps, step{rows: rows[start:end], ops: ops[start:end]})
			start = end
		}
		steps = append(steps, step{barrier: true})
	}
	return steps
}

// runner drives one Top-N through a script, recording its output.
type runner struct {
	t     *testing.T
	cols  []types.Column
	mem   memory.Allocator
	op    *TopN
	c     *collector
	epoch uint64
	msgs  []string // every output row and barrier, in order
}

func newRunner(t *testing.T, mem memory.Allocator, spec Spec) *runner {
	t.Helper()
	return newRunnerCols(t, mem, spec, diffCols)
}

// newRunnerCols is newRunner over input columns cols.
func newRunnerCols(t *testing.T, mem memory.Allocator, spec Spec, cols []types.Column) *runner {
	t.Helper()
	schema := types.Schema(cols).Arrow()
	inTypes := make([]types.T, len(cols))
	for i, c := range cols {
		inTypes[i] = c.Type
	}
	outTypes := slices.Clone(inTypes)
	if spec.EmitRank {
		outTypes = append(outTypes, tBig)
	}
	rn := &runner{t: t, mem: mem, cols: cols}
	rn.c = &collector{t: t, types: outTypes}
	out := operators.OutputFunc(func(m operators.Message) error {
		if err := rn.c.Push(m); err != nil {
			return err
		}
		switch m := m.(type) {
		case *operators.Chunk:
			for _, o := range rn.c.pending[len(rn.c.pending)-m.Len():] {
				rn.msgs = append(rn.msgs, fmt.Sprintf("%s %s", o.op, rowString(o.vals)))
			}
			rn.msgs = append(rn.msgs, "|") // chunk boundary
		case operators.Barrier:
			rn.msgs = append(rn.msgs, fmt.Sprintf("barrier %d", m.Epoch))
		}
		return nil
	})
	op, err := New(mem, schema, inTypes, spec, out)
	if err != nil {
		t.Fatal(err)
	}
	rn.c.schema = op.Schema()
	rn.op = op
	return rn
}

func (rn *runner) run(steps []step) {
	rn.t.Helper()
	schema := types.Schema(rn.cols).Arrow()
	for _, s := range steps {
		if s.barrier {
			rn.epoch++
			if err := rn.op.Push(operators.Barrier{Epoch: rn.epoch}); err != nil {
				rn.t.Fatal(err)
			}
			continue
		}
		if err := feed(rn.mem, rn.op, schema, s.rows, s.ops, len(s.rows)); err != nil {
			rn.t.Fatal(err)
		}
	}
}

// dumpState renders a Top-N's state canonically: partitions by key, each
// with its rows and counts and its emitted top.
func dumpState(t *TopN) string {
	var lines []string
	for _, p := range t.parts {
		if p == nil {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "part %x rows=%d touched=%v\n", p.key, p.count(), p.touched)
		err := t.eachRow(p, func(k []byte, c uint32) error {
			fmt.Fprintf(&b, "  %x×%d\n", k, c)
			return nil
		})
		if err != nil {
			panic(err)
		}
		s := &p.snap
		fmt.Fprintf(&b, "  top full=%v bound=%x\n", s.full, s.bound)
		for i := 0; i < s.len(); i++ {
			var r int64
			if s.rank != nil {
				r = s.rank[i]
			}
			fmt.Fprintf(&b, "  %x×%d@%d\n", s.key(i), s.mult[i], r)
		}
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

func ckptSpecs() []Spec {
	bases := []Spec{
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 2},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, NullsFirst: true}, {Col: 2, Desc: true}}, N: 3},
		{Order: []OrderKey{{Col: 2}, {Col: 1, Desc: true}}, N: 4, Offset: 2},
		{PartitionCols: []int{0, 2}, Order: []OrderKey{{Col: 1}}, N: 1},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 0, Desc: true}, {Col: 1}}, N: 2}, // a partition column in ORDER BY
		{PartitionCols: []int{0}, N: 2},
	}
	var out []Spec
	for _, b := range bases {
		for _, kind := range []RankKind{RowNumber, Rank} {
			for _, emit := range []bool{false, true} {
				s := b
				s.Kind, s.EmitRank = kind, emit
				out = append(out, s)
			}
		}
	}
	return out
}

// TestTopNCheckpointCutAndContinue runs the same random script through A
// uninterrupted and through B, which is snapshotted at a random point (at
// a barrier, or mid-epoch with changes pending) and restored into a new
// C that runs the rest. C's output must be A's after the cut, message for
// message, and the final states equal. A snapshot of C right after the
// restore must be B's, byte for byte.
func TestTopNCheckpointCutAndContinue(t *testing.T) {
	for si, spec := range ckptSpecs() {
		t.Run(fmt.Sprintf("spec%d/%s/rank=%v", si, spec.Kind, spec.EmitRank), func(t *testing.T) {
			for seed := uint64(0); seed < 6; seed++ {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				r := rand.New(rand.NewPCG(seed, uint64(si)))
				steps := randScript(r, 30)
				cut := r.IntN(len(steps) + 1)
				if seed%2 == 0 { // cut right after a barrier, as the executor does
					for cut > 0 && !steps[cut-1].barrier {
						cut--
					}
				}
				a := newRunner(t, mem, spec)
				a.run(steps[:cut])
				mark := len(a.msgs)
				a.run(steps[cut:])

				b := newRunner(t, mem, spec)
				b.run(steps[:cut])
				var snap bytes.Buffer
				if err := b.op.Snapshot(&snap); err != nil {
					t.Fatalf("seed %d: snapshot: %v", seed, err)
				}
				bState := dumpState(b.op)

				c := newRunner(t, mem, spec)
				c.epoch = b.epoch
				if err := c.op.Restore(bytes.NewReader(snap.Bytes())); err != nil {
					t.Fatalf("seed %d: restore: %v", seed, err)
				}
				if got := dumpState(c.op); got != bState {
					t.Fatalf("seed %d: restored state differs:\n got %s\nwant %s", seed, got, bState)
				}
				var again bytes.Buffer
				if err := c.op.Snapshot(&again); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again.Bytes(), snap.Bytes()) {
					t.Errorf("seed %d: snapshot after restore differs from the original (%d vs %d bytes)", seed, again.Len(), snap.Len())
				}
				c.run(steps[cut:])
				want := a.msgs[mark:]
				if fmt.Sprint(c.msgs) != fmt.Sprint(want) {
					t.Fatalf("seed %d (cut at step %d of %d): output after the cut differs:\n got %v\nwant %v", seed, cut, len(steps), c.msgs, want)
				}
				if got, want := dumpState(c.op), dumpState(a.op); got != want {
					t.Fatalf("seed %d: final states differ:\n got %s\nwant %s", seed, got, want)
				}
				for _, x := range []*runner{a, b, c} {
					if err := x.op.Close(); err != nil {
						t.Fatal(err)
					}
				}
				mem.AssertSize(t, 0)
			}
		})
	}
}

// TestTopNCheckpointRests is TestTopNCheckpointCutAndContinue over
// partitions larger than their sorted heads (small heads, so that rests
// hold rows and are refilled): cut at barriers and mid-epoch, the state
// restored (every partition split afresh) must continue exactly as the
// uninterrupted run, and snapshot to the same bytes.
func TestTopNCheckpointRests(t *testing.T) {
	for si, spec := range ckptSpecs() {
		for _, fixed := range []bool{false, true} {
			t.Run(fmt.Sprintf("spec%d/%s/rank=%v/fixed=%v", si, spec.Kind, spec.EmitRank, fixed), func(t *testing.T) {
				cols := diffCols
				if fixed {
					cols = fixedCols
				}
				for seed := uint64(0); seed < 3; seed++ {
					mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
					r := rand.New(rand.NewPCG(seed, uint64(si)))
					steps, _ := refillScript(r, spec, fixed, 16)
					cut := len(steps)/2 + r.IntN(len(steps)/2)
					if seed%2 == 0 {
						for cut > 0 && !steps[cut-1].barrier {
							cut--
						}
					}
					a := newRunnerCols(t, mem, spec, cols)
					smallHead(a.op)
					a.run(steps[:cut])
					mark := len(a.msgs)
					a.run(steps[cut:])

					b := newRunnerCols(t, mem, spec, cols)
					smallHead(b.op)
					b.run(steps[:cut])
					var snap bytes.Buffer
					if err := b.op.Snapshot(&snap); err != nil {
						t.Fatalf("seed %d: snapshot: %v", seed, err)
					}
					restsHeld := 0
					for _, p := range b.op.parts {
						if p != nil && p.rest != nil {
							restsHeld++
						}
					}
					// (Where all rows tie under RANK they are all in the
					// top, and the heads keep them.)
					if allTie := spec.Kind == Rank && len(spec.Order) == 0; restsHeld == 0 && !allTie {
						t.Fatalf("seed %d: no partition has a rest at the cut", seed)
					}
					c := newRunnerCols(t, mem, spec, cols)
					smallHead(c.op)
					c.epoch = b.epoch
					if err := c.op.Restore(bytes.NewReader(snap.Bytes())); err != nil {
						t.Fatalf("seed %d: restore: %v", seed, err)
					}
					if got, want := dumpState(c.op), dumpState(b.op); got != want {
						t.Fatalf("seed %d: restored state differs:\n got %s\nwant %s", seed, got, want)
					}
					var again bytes.Buffer
					if err := c.op.Snapshot(&again); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(again.Bytes(), snap.Bytes()) {
						t.Errorf("seed %d: snapshot after restore differs from the original", seed)
					}
					c.run(steps[cut:])
					if want := a.msgs[mark:]; fmt.Sprint(c.msgs) != fmt.Sprint(want) {
						t.Fatalf("seed %d (cut at step %d of %d): output after the cut differs:\n got %v\nwant %v", seed, cut, len(steps), c.msgs, want)
					}
					if got, want := dumpState(c.op), dumpState(a.op); got != want {
						t.Fatalf("seed %d: final states differ:\n got %s\nwant %s", seed, got, want)
					}
					for _, x := range []*runner{a, b, c} {
						if err := x.op.Close(); err != nil {
							t.Fatal(err)
						}
					}
					mem.AssertSize(t, 0)
				}
			})
		}
	}
}

// snapshotOf runs a script through a new Top-N and returns its snapshot
// and state dump.
func snapshotOf(t *testing.T, mem memory.Allocator, spec Spec, seed uint64) ([]byte, string) {
	t.Helper()
	rn := newRunner(t, mem, spec)
	defer rn.op.Close()
	rn.run(randScript(rand.New(rand.NewPCG(seed, 99)), 20))
	var buf bytes.Buffer
	if err := rn.op.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), dumpState(rn.op)
}

func TestTopNCheckpointConfigMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 2, EmitRank: true}
	snap, _ := snapshotOf(t, mem, spec, 1)
	others := map[string]Spec{}
	s := spec
	s.N = 3
	others["N"] = s
	s = spec
	s.Offset = 1
	others["offset"] = s
	s = spec
	s.Kind = Rank
	others["kind"] = s
	s = spec
	s.EmitRank = false
	others["emit rank"] = s
	s = spec
	s.PartitionCols = []int{2}
	others["partition"] = s
	s = spec
	s.Order = []OrderKey{{Col: 1}}
	others["order"] = s
	for name, o := range others {
		rn := newRunner(t, mem, o)
		err := rn.op.Restore(bytes.NewReader(snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Errorf("%s: restore into another configuration: %v", name, err)
		}
		if rn.op.Partitions() != 0 {
			t.Errorf("%s: state after a failed restore", name)
		}
		rn.op.Close()
	}
	// Other input types.
	cols := []types.Column{{Name: "p", Type: tBig}, {Name: "a", Type: tBig}, {Name: "b", Type: tTxt}, {Name: "c", Type: tBig}}
	schema := types.Schema(cols).Arrow()
	op, err := New(mem, schema, []types.T{tBig, tBig, tTxt, tBig}, spec, operators.OutputFunc(func(operators.Message) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if err := op.Restore(bytes.NewReader(snap)); err == nil || !strings.Contains(err.Error(), "differently configured") {
		t.Errorf("restore with other input types: %v", err)
	}
	// Another version, and another format.
	rn := newRunner(t, mem, spec)
	defer rn.op.Close()
	var hb bytes.Buffer
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: rn.op.config(), Names: []string{"partitions", "entries", "tops"}, Counts: []int64{0, 0, 0}}
	if err := h.Write(&hb, mem); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format  string
		version uint32
		want    string
	}{{ckptFormat, 2, "version 2"}, {"sluice.agg", 1, "not a sluice.topn checkpoint"}} {
		var buf bytes.Buffer
		h2 := h
		h2.Format, h2.Version = c.format, c.version
		if err := h2.Write(&buf, mem); err != nil {
			t.Fatal(err)
		}
		buf.Write(snap[hb.Len() : len(snap)-mustTrailerLen(t)])
		err := rn.op.Restore(bytes.NewReader(reseal(t, mem, buf.Bytes())))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("format %q version %d: %v, want an error with %q", c.format, c.version, err, c.want)
		}
	}
	// Restore into an operator with state.
	if err := rn.op.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := rn.op.Restore(bytes.NewReader(snap)); err == nil {
		t.Error("second restore: no error")
	}
}

// TestTopNCheckpointCorrupt feeds truncated, bit-flipped and garbage
// snapshots: every one must fail with an error, without a panic (even a
// recovered one) and without leaving state.
func TestTopNCheckpointCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, NullsFirst: true}, {Col: 2, Desc: true}}, N: 3, EmitRank: true, Kind: Rank}
	snap, _ := snapshotOf(t, mem, spec, 7)
	rn := newRunner(t, mem, spec)
	defer rn.op.Close()
	mustFail := func(what string, data []byte) {
		t.Helper()
		err := rn.op.Restore(bytes.NewReader(data))
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if strings.Contains(err.Error(), "panic") {
			t.Fatalf("%s: a panic was recovered: %v", what, err)
		}
		if rn.op.Partitions() != 0 {
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
	// Bytes appended after a valid snapshot.
	mustFail("trailing bytes", append(slices.Clone(snap), 0))
	// The intact snapshot still restores.
	if err := rn.op.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
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

// TestTopNCheckpointBadContent checks that a checkpoint whose checksum is
// right but whose content is inconsistent (as a bug in a writer would
// make it) is refused by the content checks behind the checksum.
func TestTopNCheckpointBadContent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 2, Desc: true}, {Col: 1}}, N: 2, EmitRank: true}
	cases := map[string]struct {
		spoil func(op *TopN)
		want  string
	}{
		"count 0":             {func(op *TopN) { op.parts[0].rows.blocks[0].cnt[0] = 0 }, "count NULL or 0"},
		"rows out of order":   {swapFirstKeys, "out of order"},
		"duplicate partition": {func(op *TopN) { op.parts[1].key = op.parts[0].key }, "duplicate partition key"},
		"rank outside top":    {func(op *TopN) { op.parts[0].snap.rank[0] = 99 }, "outside the top"},
		"tops out of order": {func(op *TopN) {
			s := &op.parts[0].snap
			s.push(slices.Clone(s.key(0)), 1, 1, true) // the first entry again, last
		}, "out of order"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cols := []types.Column{{Name: "p", Type: tBig}, {Name: "a", Type: tBig}, {Name: "n", Type: tBig}}
			schema := types.Schema(cols).Arrow()
			ts := []types.T{tBig, tBig, tBig}
			nop := operators.OutputFunc(func(operators.Message) error { return nil })
			b, err := New(mem, schema, ts, spec, nop)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var rows [][]types.Datum
			for p := int64(0); p < 3; p++ {
				for a := int64(0); a < 5; a++ {
					rows = append(rows, row(bi(p), bi(a), bi(a%3)))
				}
			}
			if err := feed(mem, b, schema, rows, nil, 4); err != nil {
				t.Fatal(err)
			}
			if err := b.Push(operators.Barrier{Epoch: 1}); err != nil {
				t.Fatal(err)
			}
			c.spoil(b)
			var buf bytes.Buffer
			if err := b.Snapshot(&buf); err != nil {
				t.Fatal(err)
			}
			op, err := New(mem, schema, ts, spec, nop)
			if err != nil {
				t.Fatal(err)
			}
			defer op.Close()
			err = op.Restore(&buf)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want an error with %q", err, c.want)
			}
			if op.Partitions() != 0 {
				t.Fatal("state after a failed restore")
			}
		})
	}
}

// swapFirstKeys swaps the first two row keys of the first partition
// (fixed-width keys).
func swapFirstKeys(op *TopN) {
	b := op.parts[0].rows.blocks[0]
	w := b.w
	k0 := slices.Clone(b.key(0))
	copy(b.data[:w], b.data[w:2*w])
	copy(b.data[w:2*w], k0)
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
	rn := newRunner(t, mem, ckptSpecs()[3])
	defer rn.op.Close()
	rn.run(randScript(rand.New(rand.NewPCG(4, 4)), 10))
	var buf bytes.Buffer
	if err := rn.op.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < buf.Len(); n += 1 + n/8 {
		err := rn.op.Snapshot(&failWriter{n: n})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("writer failing after %d of %d bytes: %v", n, buf.Len(), err)
		}
	}
}

// TestTopNCheckpointLarge round-trips a state whose streams span several
// record batches.
func TestTopNCheckpointLarge(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 5, EmitRank: true}
	b := newRunner(t, mem, spec)
	defer b.op.Close()
	var rows [][]types.Datum
	for i := range ckptBatchRows + 5000 {
		rows = append(rows, row(bi(int64(i%7)), bi(int64(i)), txt(fmt.Sprint("s", i%13)), dbl(float64(i%5))))
	}
	b.run([]step{{rows: rows}, {barrier: true}})
	var buf bytes.Buffer
	if err := b.op.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	c := newRunner(t, mem, spec)
	defer c.op.Close()
	if err := c.op.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpState(c.op), dumpState(b.op); got != want {
		t.Fatal("restored state differs")
	}
}

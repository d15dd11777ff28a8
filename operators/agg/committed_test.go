package agg

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// countSpecs are aggregates a committed-backed aggregate can compute, over
// diffCols: COUNT(*) twice, COUNT(v) twice (one counter), COUNT(d) and
// COUNT(s).
func countSpecs() []Spec {
	b := types.BigIntType
	cnt := func(arg int, name string) Spec {
		return Spec{Kind: Count, Arg: arg, ArgType: diffCols[arg].Type, Result: b, Name: name}
	}
	return []Spec{
		cnt(2, "cv"), {Kind: CountStar, Result: b, Name: "n"}, cnt(3, "cd"),
		cnt(2, "cv2"), {Kind: CountStar, Result: b, Name: "n2"}, cnt(5, "cs"),
	}
}

// fakeCommitted stands for a view's committed store: it logs the
// aggregate's output like a recorder, folds each epoch's rows into its
// committed rows when the barrier passes (checking the changelog is
// consistent with them), and serves Read from the committed rows.
type fakeCommitted struct {
	t      *testing.T
	rec    *recorder
	nk     int
	rows   map[string][]types.Datum // committed: key → output row
	staged []outRow                 // the epoch's rows, until its barrier
	reads  int
}

func newFakeCommitted(t *testing.T, outTypes []types.T, nk int) *fakeCommitted {
	return &fakeCommitted{t: t, rec: &recorder{t: t, types: outTypes}, nk: nk, rows: map[string][]types.Datum{}}
}

func (f *fakeCommitted) Push(m operators.Message) error {
	if err := f.rec.Push(m); err != nil {
		return err
	}
	switch m := m.(type) {
	case *operators.Chunk:
		for i := 0; i < m.Len(); i++ {
			r := outRow{op: m.Op(i)}
			for j := 0; j < int(m.Rec.NumCols()); j++ {
				r.vals = append(r.vals, types.DatumAt(m.Rec.Column(j), i, f.rec.types[j]))
			}
			f.staged = append(f.staged, r)
		}
	case operators.Barrier:
		f.commit()
	}
	return nil
}

// commit applies the staged rows as a keyed store would.
func (f *fakeCommitted) commit() {
	for _, r := range f.staged {
		ks, rs := rowString(r.vals[:f.nk]), rowString(r.vals)
		cur, ok := f.rows[ks]
		switch {
		case r.op.IsRetract():
			if !ok || rowString(cur) != rs {
				f.t.Fatalf("%s of %s, but the committed row is %v (present %v)", r.op, rs, cur, ok)
			}
			delete(f.rows, ks)
		default:
			if ok {
				f.t.Fatalf("%s of %s, but the committed row is %s", r.op, rs, rowString(cur))
			}
			f.rows[ks] = r.vals
		}
	}
	f.staged = f.staged[:0]
}

func (f *fakeCommitted) Read(keys arrow.RecordBatch, cols []int, found []bool, dst [][]int64) error {
	if len(f.staged) > 0 {
		f.t.Errorf("Read with %d rows of the epoch emitted", len(f.staged))
	}
	if int(keys.NumCols()) != f.nk {
		f.t.Fatalf("Read with %d key columns, want %d", keys.NumCols(), f.nk)
	}
	f.reads++
	n := int(keys.NumRows())
	key := make([]types.Datum, f.nk)
	for i := 0; i < n; i++ {
		for k := range key {
			key[k] = types.DatumAt(keys.Column(k), i, f.rec.types[k])
		}
		row, ok := f.rows[rowString(key)]
		found[i] = ok
		for k, c := range cols {
			dst[k][i] = 0
			if ok {
				dst[k][i] = row[c].I
			}
		}
	}
	return nil
}

// newCountAgg builds an aggregate of countSpecs over diffCols, backed by
// committed unless it is nil.
func newCountAgg(t *testing.T, groupCols []int, appendOnly bool, committed *fakeCommitted, out operators.Output) (*HashAgg, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	inTypes := make([]types.T, len(diffCols))
	for i, c := range diffCols {
		inTypes[i] = c.Type
	}
	opts := Options{WatermarkGroupCol: -1}
	if committed != nil {
		opts.Committed = committed
	}
	h, err := NewWithOptions(mem, types.Schema(diffCols).Arrow(), inTypes, groupCols, countSpecs(), appendOnly, opts, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
		mem.AssertSize(t, 0)
	})
	return h, mem
}

func countOutTypes(groupCols []int) []types.T {
	var ts []types.T
	for _, g := range groupCols {
		ts = append(ts, diffCols[g].Type)
	}
	for _, s := range countSpecs() {
		ts = append(ts, s.Result)
	}
	return ts
}

var committedConfigs = []ckptConfig{
	{name: "intKey", groupCols: []int{0}},
	{name: "varcharKey", groupCols: []int{1}},
	{name: "doubleKey", groupCols: []int{3}},
	{name: "multiKey", groupCols: []int{0, 1}},
	{name: "intPairKey", groupCols: []int{0, 6}},
	{name: "intPairKeyAppendOnly", groupCols: []int{6, 2}, appendOnly: true},
}

// TestCommittedDifferential runs random scripts (inserts, retractions as
// Delete or UpdateBefore, duplicates, NULL keys and values, groups that
// vanish and come back, watermarks on group columns) through a full
// aggregate and through a committed-backed one over a fake committed
// store, snapshotting and restoring the committed-backed one at random
// barriers. Their outputs must be equal line for line (rows sorted within
// each epoch), the committed-backed one must hold no group after a
// barrier, and its snapshots must be no larger than an empty one's.
func TestCommittedDifferential(t *testing.T) {
	for ci, cfg := range committedConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				r := rand.New(rand.NewPCG(uint64(ci)*100+seed, 23))
				cfg.opts = Options{WatermarkGroupCol: -1}
				script := genScript(r, cfg, 6000)
				outTypes := countOutTypes(cfg.groupCols)
				ref := &recorder{t: t, types: outTypes}
				a, memA := newCountAgg(t, cfg.groupCols, cfg.appendOnly, nil, ref)
				fc := newFakeCommitted(t, outTypes, len(cfg.groupCols))
				b, memB := newCountAgg(t, cfg.groupCols, cfg.appendOnly, fc, fc)
				cuts, deletes, maxSnap := 0, 0, 0
				for i, s := range script {
					runStep(t, memA, a, s)
					runStep(t, memB, b, s)
					if s.epoch == 0 {
						continue
					}
					if g := b.Groups(); g != 0 {
						t.Fatalf("seed %d: %d groups held after barrier %d", seed, g, s.epoch)
					}
					if len(fc.rows) != a.Groups() {
						t.Fatalf("seed %d barrier %d: %d committed rows, %d groups in the full aggregate", seed, s.epoch, len(fc.rows), a.Groups())
					}
					if i == len(script)-1 || r.IntN(10) != 0 {
						continue
					}
					var buf bytes.Buffer
					if err := b.Snapshot(&buf); err != nil {
						t.Fatal(err)
					}
					maxSnap = max(maxSnap, buf.Len())
					c, memC := newCountAgg(t, cfg.groupCols, cfg.appendOnly, fc, fc)
					if err := c.Restore(&buf); err != nil {
						t.Fatalf("seed %d: restore: %v", seed, err)
					}
					if err := b.Close(); err != nil {
						t.Fatal(err)
					}
					b, memB = c, memC
					cuts++
				}
				for _, l := range ref.log {
					if strings.HasPrefix(l, "delete") {
						deletes++
					}
				}
				if !slices.Equal(fc.rec.log, ref.log) {
					for k := 0; k < min(len(fc.rec.log), len(ref.log)); k++ {
						if fc.rec.log[k] != ref.log[k] {
							t.Fatalf("seed %d: line %d:\n got %s\nwant %s", seed, k, fc.rec.log[k], ref.log[k])
						}
					}
					t.Fatalf("seed %d: %d lines, want %d", seed, len(fc.rec.log), len(ref.log))
				}
				if cuts == 0 || fc.reads == 0 || (!cfg.appendOnly && deletes < 10) {
					t.Fatalf("seed %d: a weak run: %d cuts, %d reads, %d deletes", seed, cuts, fc.reads, deletes)
				}
				empty, _ := newCountAgg(t, cfg.groupCols, cfg.appendOnly, fc, fc)
				if e := snapshotSize(t, empty); maxSnap > e {
					t.Fatalf("seed %d: committed-backed snapshot of %d bytes, an empty one has %d", seed, maxSnap, e)
				}
				t.Logf("seed %d: %d lines, %d cuts, %d groups, snapshot %d bytes (full: %d)", seed, len(ref.log), cuts, a.Groups(), maxSnap, snapshotSize(t, a))
			}
		})
	}
}

func snapshotSize(t *testing.T, h *HashAgg) int {
	var buf bytes.Buffer
	if err := h.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// TestCommittedEpochNetting checks a committed-backed aggregate emits the
// net change of an epoch against the committed row: a group's rows
// retracted and re-added within one epoch emit nothing; a group whose
// committed row has COUNT(*) 2 and that loses 3 rows is an error, as is
// a committed row with COUNT(*) 0.
func TestCommittedEpochNetting(t *testing.T) {
	cols := []types.Column{{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}}
	specs := []Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}, {Kind: Count, Arg: 1, ArgType: types.BigIntType, Result: types.BigIntType, Name: "cv"}}
	outTypes := []types.T{types.BigIntType, types.BigIntType, types.BigIntType}
	fc := newFakeCommitted(t, outTypes, 1)
	f := newFixtureOpts(t, cols, []int{0}, specs, false, Options{WatermarkGroupCol: -1, Committed: fc}, 2)
	f.c = nil
	// The fixture's collector is replaced by the fake, which records.
	f.h.out = fc
	ep := uint64(0)
	barrier := func() (string, error) {
		ep++
		n := len(fc.rec.log)
		err := f.h.Push(operators.Barrier{Epoch: ep})
		return strings.Join(fc.rec.log[n:], "; "), err
	}
	must := func(want string) {
		t.Helper()
		got, err := barrier()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("epoch %d: got %q, want %q", ep, got, want)
		}
	}
	push := func(op operators.Op, rows ...[]types.Datum) {
		t.Helper()
		ops := make([]operators.Op, len(rows))
		for i := range ops {
			ops[i] = op
		}
		if err := feed(t, f.mem, f.h, rows, ops, 2); err != nil {
			t.Fatal(err)
		}
	}
	push(operators.Insert, row(bi(1), bi(10)), row(bi(1), null(types.BigIntType)), row(bi(2), bi(5)))
	must("insert 1,2,1; insert 2,1,1; barrier 1")
	push(operators.Delete, row(bi(1), bi(10)))
	push(operators.Insert, row(bi(1), bi(10)))
	must("barrier 2")
	// A NULL value out, a non-NULL one in: COUNT(v) changes, COUNT(*) not.
	push(operators.Delete, row(bi(1), null(types.BigIntType)))
	push(operators.Insert, row(bi(1), bi(3)))
	must("update_after 1,2,2; update_before 1,2,1; barrier 3")
	push(operators.Delete, row(bi(2), bi(5)))
	must("delete 2,1,1; barrier 4")
	push(operators.Delete, row(bi(1), bi(10)), row(bi(1), bi(3)), row(bi(1), bi(3)))
	if _, err := barrier(); err == nil || !strings.Contains(err.Error(), "count went negative") {
		t.Fatalf("three rows out of a group of two: %v", err)
	}
	// A committed row that no aggregate could have emitted.
	fc2 := newFakeCommitted(t, outTypes, 1)
	fc2.rows[rowString([]types.Datum{bi(7)})] = []types.Datum{bi(7), bi(0), bi(0)}
	g := newFixtureOpts(t, cols, []int{0}, specs, false, Options{WatermarkGroupCol: -1, Committed: fc2}, 2)
	if err := feed(t, g.mem, g.h, [][]types.Datum{row(bi(7), bi(1))}, nil, 1); err != nil {
		t.Fatal(err)
	}
	if err := g.h.Push(operators.Barrier{Epoch: 1}); err == nil || !strings.Contains(err.Error(), "COUNT(*) = 0") {
		t.Fatalf("committed row with COUNT(*) 0: %v", err)
	}
}

// TestCommittedRejects checks which aggregates cannot be committed-backed.
func TestCommittedRejects(t *testing.T) {
	mem := memory.NewGoAllocator()
	cols := []types.Column{{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}}
	schema := types.Schema(cols).Arrow()
	in := []types.T{types.BigIntType, types.BigIntType}
	out := operators.OutputFunc(func(operators.Message) error { return nil })
	fc := newFakeCommitted(t, nil, 1)
	star := Spec{Kind: CountStar, Result: types.BigIntType}
	cases := []struct {
		name  string
		group []int
		specs []Spec
		opts  Options
	}{
		{"global", nil, []Spec{star}, Options{WatermarkGroupCol: -1}},
		{"no COUNT(*)", []int{0}, []Spec{{Kind: Count, Arg: 1, ArgType: types.BigIntType, Result: types.BigIntType}}, Options{WatermarkGroupCol: -1}},
		{"SUM", []int{0}, []Spec{star, {Kind: Sum, Arg: 1, ArgType: types.BigIntType, Result: types.BigIntType}}, Options{WatermarkGroupCol: -1}},
		{"MAX", []int{0}, []Spec{star, {Kind: Max, Arg: 1, ArgType: types.BigIntType, Result: types.BigIntType}}, Options{WatermarkGroupCol: -1}},
		{"COUNT DISTINCT", []int{0}, []Spec{star, {Kind: CountDistinct, Arg: 1, ArgType: types.BigIntType, Result: types.BigIntType}}, Options{WatermarkGroupCol: -1}},
		{"window", []int{0}, []Spec{star}, Options{WatermarkGroupCol: 0}},
	}
	for _, tc := range cases {
		tc.opts.Committed = fc
		if Recoverable(tc.specs) && tc.name != "global" && tc.name != "window" {
			t.Errorf("%s: Recoverable", tc.name)
		}
		if _, err := NewWithOptions(mem, schema, in, tc.group, tc.specs, false, tc.opts, out); err == nil {
			t.Errorf("%s: accepted as committed-backed", tc.name)
		}
	}
	if !Recoverable([]Spec{star, {Kind: Count, Arg: 1}}) {
		t.Error("COUNT(*), COUNT(x): not Recoverable")
	}
}

// TestCommittedKeepsCapacity checks that a committed-backed aggregate
// keeps its table between epochs of similar size, and gives it back after
// a burst.
func TestCommittedKeepsCapacity(t *testing.T) {
	cols := []types.Column{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType}}
	specs := []Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}}
	outTypes := []types.T{types.BigIntType, types.BigIntType, types.BigIntType}
	fc := newFakeCommitted(t, outTypes, 2)
	f := newFixtureOpts(t, cols, []int{0, 1}, specs, true, Options{WatermarkGroupCol: -1, Committed: fc}, 4096)
	f.h.out = fc
	epoch := func(groups int, ep uint64) {
		rows := make([][]types.Datum, groups)
		for i := range rows {
			rows[i] = row(bi(int64(i)), bi(int64(i%7)))
		}
		if err := feed(t, f.mem, f.h, rows, nil, 4096); err != nil {
			t.Fatal(err)
		}
		if err := f.h.Push(operators.Barrier{Epoch: ep}); err != nil {
			t.Fatal(err)
		}
	}
	epoch(50_000, 1)
	big := len(f.h.ptable.slots)
	epoch(40_000, 2)
	if len(f.h.ptable.slots) != big {
		t.Fatalf("table of %d slots after an epoch of similar size, was %d", len(f.h.ptable.slots), big)
	}
	if cap(f.h.rowCount) < 40_000 {
		t.Fatalf("row counts dropped: capacity %d", cap(f.h.rowCount))
	}
	epoch(100, 3)
	if len(f.h.ptable.slots) >= big/8 || cap(f.h.rowCount) > 1<<12 {
		t.Fatalf("after a small epoch: table of %d slots (was %d), row count capacity %d", len(f.h.ptable.slots), big, cap(f.h.rowCount))
	}
	if got := len(fc.rows); got != 50_000 {
		t.Fatalf("%d committed rows, want 50000", got)
	}
	if row := fc.rows[rowString([]types.Datum{bi(3), bi(3)})]; row[2].I != 3 {
		t.Fatalf("count of (3, 3) is %v, want 3", row)
	}
}

// TestCommittedPushDoesNotAllocate checks the hot path of a
// committed-backed aggregate makes no allocation per chunk once its
// buffers are sized, across epochs too.
func TestCommittedPushDoesNotAllocate(t *testing.T) {
	cols := []types.Column{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType}}
	specs := []Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}}
	fc := newFakeCommitted(t, []types.T{types.BigIntType, types.BigIntType, types.BigIntType}, 2)
	f := newFixtureOpts(t, cols, []int{0, 1}, specs, false, Options{WatermarkGroupCol: -1, Committed: fc}, 1024)
	f.h.out = fc
	var rows [][]types.Datum
	for i := 0; i < 1000; i++ {
		rows = append(rows, row(bi(int64(i%50)), bi(int64(i%3))))
	}
	rec := buildRec(t, f.mem, f.h.in, rows)
	defer rec.Release()
	c := &operators.Chunk{Rec: rec}
	for ep := uint64(1); ep <= 3; ep++ {
		if err := f.h.Push(c); err != nil {
			t.Fatal(err)
		}
		if err := f.h.Push(operators.Barrier{Epoch: ep}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.h.Push(c); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := f.h.Push(c); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per Push", n)
	}
	// Three epochs committed, each with the chunk's rows of key (4, 1).
	n := 0
	for _, r := range rows {
		if r[0].I == 4 && r[1].I == 1 {
			n++
		}
	}
	if got, want := fmt.Sprint(fc.rows[rowString([]types.Datum{bi(4), bi(1)})]), fmt.Sprint([]types.Datum{bi(4), bi(1), bi(int64(3 * n))}); got != want {
		t.Errorf("row (4, 1) = %s, want %s", got, want)
	}
}

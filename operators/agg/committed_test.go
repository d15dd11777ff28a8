package agg

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/optest"
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
	rec    *optest.Recorder
	nk     int
	rows   map[string][]types.Datum // committed: key → output row
	staged []optest.OutRow          // the epoch's rows, until its barrier
	reads  int
}

func newFakeCommitted(t *testing.T, outTypes []types.T, nk int) *fakeCommitted {
	return &fakeCommitted{t: t, rec: &optest.Recorder{T: t, Types: outTypes}, nk: nk, rows: map[string][]types.Datum{}}
}

func (f *fakeCommitted) Push(m operators.Message) error {
	if err := f.rec.Push(m); err != nil {
		return err
	}
	switch m := m.(type) {
	case *operators.Chunk:
		f.staged = append(f.staged, optest.ChunkRows(m, f.rec.Types)...)
	case operators.Barrier:
		f.commit()
	}
	return nil
}

// commit applies the staged rows as a keyed store would.
func (f *fakeCommitted) commit() {
	for _, r := range f.staged {
		ks, rs := optest.FormatRow(r.Vals[:f.nk]), optest.FormatRow(r.Vals)
		cur, ok := f.rows[ks]
		switch {
		case r.Op.IsRetract():
			if !ok || optest.FormatRow(cur) != rs {
				f.t.Fatalf("%s of %s, but the committed row is %v (present %v)", r.Op, rs, cur, ok)
			}
			delete(f.rows, ks)
		default:
			if ok {
				f.t.Fatalf("%s of %s, but the committed row is %s", r.Op, rs, optest.FormatRow(cur))
			}
			f.rows[ks] = r.Vals
		}
	}
	f.staged = f.staged[:0]
}

// SlotStamp names no store: the hints of its chunks match none.
func (f *fakeCommitted) SlotStamp() (uint64, uint64) { return 0, 0 }

func (f *fakeCommitted) Read(keys arrow.RecordBatch, cols []int, found []bool, dst [][]int64, slots []uint32) error {
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
			key[k] = types.DatumAt(keys.Column(k), i, f.rec.Types[k])
		}
		row, ok := f.rows[optest.FormatRow(key)]
		found[i] = ok
		slots[i] = operators.NoSlot
		for k, c := range cols {
			dst[k][i] = 0
			if ok {
				dst[k][i] = row[c].I
			}
		}
	}
	return nil
}

// starSpecs are COUNT(*) alone: the aggregate of the co-occurrence view,
// whose all-adding chunks a committed-backed aggregate over two integer
// keys counts as it resolves their groups.
func starSpecs() []Spec {
	return []Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}}
}

// newCountAgg builds an aggregate of specs over diffCols sending its
// output to out, backed by committed unless it is nil.
func newCountAgg(t *testing.T, groupCols []int, specs []Spec, appendOnly bool, committed *fakeCommitted, out operators.Output) *fixture {
	t.Helper()
	mem := optest.CheckedMem(t)
	schema := types.Schema(diffCols).Arrow()
	opts := Options{WatermarkGroupCol: -1}
	if committed != nil {
		opts.Committed = committed
	}
	h, err := NewWithOptions(mem, schema, optest.ColumnTypes(diffCols), groupCols, specs, appendOnly, opts, out)
	if err != nil {
		t.Fatal(err)
	}
	optest.CloseAtEnd(t, h, nil)
	return &fixture{Harness: &optest.Harness{T: t, Mem: mem, Input: h, InSchema: schema}, h: h}
}

// committedConfigs are the aggregates TestCommittedDifferential runs:
// countSpecs unless specs is set.
var committedConfigs = []struct {
	ckptConfig
	specs func() []Spec
}{
	{ckptConfig: ckptConfig{name: "intKey", groupCols: []int{0}}},
	{ckptConfig: ckptConfig{name: "varcharKey", groupCols: []int{1}}},
	{ckptConfig: ckptConfig{name: "doubleKey", groupCols: []int{3}}},
	{ckptConfig: ckptConfig{name: "multiKey", groupCols: []int{0, 1}}},
	{ckptConfig: ckptConfig{name: "intPairKey", groupCols: []int{0, 6}}},
	{ckptConfig: ckptConfig{name: "intPairKeyAppendOnly", groupCols: []int{6, 2}, appendOnly: true}},
	{ckptConfig: ckptConfig{name: "intPairKeyStar", groupCols: []int{0, 6}}, specs: starSpecs},
	{ckptConfig: ckptConfig{name: "intPairKeyStarAppendOnly", groupCols: []int{6, 0}, appendOnly: true}, specs: starSpecs},
}

// mixedEpochs counts the epochs of script that hold both a chunk whose
// rows all add (which a committed-backed pair-key aggregate counts as it
// resolves them) and one that retracts.
func mixedEpochs(script []optest.Step) int {
	n, adds, retracts := 0, false, false
	for _, s := range script {
		switch {
		case s.IsBarrier():
			if adds && retracts {
				n++
			}
			adds, retracts = false, false
		case len(s.Rows) > 0 && slices.ContainsFunc(s.Ops, operators.Op.IsRetract):
			retracts = true
		case len(s.Rows) > 0:
			adds = true
		}
	}
	return n
}

// TestCommittedDifferential runs random scripts (inserts, retractions as
// Delete or UpdateBefore, duplicates, NULL keys and values, groups that
// vanish and come back, watermarks on group columns) through a full
// aggregate and through a committed-backed one over a fake committed
// store, snapshotting and restoring the committed-backed one at random
// barriers. Their outputs must be equal line for line (rows sorted within
// each epoch), the committed-backed one must hold no group after a
// barrier, and its snapshots must be no larger than an empty one's; a
// snapshot in the middle of an epoch must be refused. Epochs mix chunks
// whose rows all add with chunks that retract (for pair keys: the
// counting probe and the general path in one epoch).
func TestCommittedDifferential(t *testing.T) {
	for ci, cfg := range committedConfigs {
		specs := countSpecs
		if cfg.specs != nil {
			specs = cfg.specs
		}
		t.Run(cfg.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				r := rand.New(rand.NewPCG(uint64(ci)*100+seed, 23))
				cfg.opts = Options{WatermarkGroupCol: -1}
				script := genScript(r, cfg.ckptConfig, 6000)
				outTypes := outTypes(optest.ColumnTypes(diffCols), cfg.groupCols, specs())
				ref := &optest.Recorder{T: t, Types: outTypes}
				a := newCountAgg(t, cfg.groupCols, specs(), cfg.appendOnly, nil, ref)
				fc := newFakeCommitted(t, outTypes, len(cfg.groupCols))
				b := newCountAgg(t, cfg.groupCols, specs(), cfg.appendOnly, fc, fc)
				cuts, deletes, maxSnap, refused := 0, 0, 0, 0
				for i, s := range script {
					a.Run(s)
					b.Run(s)
					if !s.IsBarrier() {
						if len(s.Rows) > 0 && r.IntN(8) == 0 {
							if err := b.h.Snapshot(io.Discard); err == nil {
								t.Fatalf("seed %d step %d: a snapshot in the middle of an epoch was accepted", seed, i)
							}
							refused++
						}
						continue
					}
					if g := b.h.Groups(); g != 0 {
						t.Fatalf("seed %d: %d groups held after barrier %d", seed, g, s.Epoch)
					}
					if len(fc.rows) != a.h.Groups() {
						t.Fatalf("seed %d barrier %d: %d committed rows, %d groups in the full aggregate", seed, s.Epoch, len(fc.rows), a.h.Groups())
					}
					if i == len(script)-1 || r.IntN(10) != 0 {
						continue
					}
					c := newCountAgg(t, cfg.groupCols, specs(), cfg.appendOnly, fc, fc)
					snap, err := optest.RoundTrip(b.h, c.h)
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					maxSnap = max(maxSnap, len(snap))
					if err := b.h.Close(); err != nil {
						t.Fatal(err)
					}
					b = c
					cuts++
				}
				for _, l := range ref.Log {
					if strings.HasPrefix(l, "delete") {
						deletes++
					}
				}
				if d := optest.DiffLines(fc.rec.Log, ref.Log); d != "" {
					t.Fatalf("seed %d: %s", seed, d)
				}
				mixed := mixedEpochs(script)
				if cuts == 0 || fc.reads == 0 || refused == 0 || (!cfg.appendOnly && (deletes < 10 || mixed < 3)) {
					t.Fatalf("seed %d: a weak run: %d cuts, %d reads, %d refused snapshots, %d deletes, %d mixed epochs", seed, cuts, fc.reads, refused, deletes, mixed)
				}
				empty := newCountAgg(t, cfg.groupCols, specs(), cfg.appendOnly, fc, fc)
				if e := len(optest.Snapshot(t, empty.h)); maxSnap > e {
					t.Fatalf("seed %d: committed-backed snapshot of %d bytes, an empty one has %d", seed, maxSnap, e)
				}
				t.Logf("seed %d: %d lines, %d cuts, %d groups, snapshot %d bytes (full: %d)", seed, len(ref.Log), cuts, a.h.Groups(), maxSnap, len(optest.Snapshot(t, a.h)))
			}
		})
	}
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
	f.Out = nil
	// The fixture's collector is replaced by the fake, which records.
	f.h.out = fc
	ep := uint64(0)
	barrier := func() (string, error) {
		ep++
		n := len(fc.rec.Log)
		err := f.h.Push(operators.Barrier{Epoch: ep})
		return strings.Join(fc.rec.Log[n:], "; "), err
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
		if err := f.Feed(rows, ops, 2); err != nil {
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
	fc2.rows[optest.FormatRow([]types.Datum{bi(7)})] = []types.Datum{bi(7), bi(0), bi(0)}
	g := newFixtureOpts(t, cols, []int{0}, specs, false, Options{WatermarkGroupCol: -1, Committed: fc2}, 2)
	if err := g.Feed([][]types.Datum{row(bi(7), bi(1))}, nil, 1); err != nil {
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
		if err := f.Feed(rows, nil, 4096); err != nil {
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
	if row := fc.rows[optest.FormatRow([]types.Datum{bi(3), bi(3)})]; row[2].I != 3 {
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
	rec := optest.BuildRecord(f.Mem, f.h.in, rows)
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
	if got, want := fmt.Sprint(fc.rows[optest.FormatRow([]types.Datum{bi(4), bi(1)})]), fmt.Sprint([]types.Datum{bi(4), bi(1), bi(int64(3 * n))}); got != want {
		t.Errorf("row (4, 1) = %s, want %s", got, want)
	}
}

package agg

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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

// withEmptyEpochs doubles some barriers of script (epochs without rows)
// and renumbers the epochs.
func withEmptyEpochs(r *rand.Rand, script []optest.Step) []optest.Step {
	var out []optest.Step
	ep := uint64(0)
	for _, s := range script {
		if !s.IsBarrier() {
			out = append(out, s)
			continue
		}
		for n := 1 + r.IntN(2)*r.IntN(3); n > 0; n-- {
			ep++
			out = append(out, optest.Step{Epoch: ep})
		}
	}
	return out
}

// withAddsFirst splits about half of the steps of script that retract
// into one of their adding rows, then one of their retracting rows (so
// that no count goes lower than before), giving epochs all-adding chunks
// followed by retracting ones.
func withAddsFirst(r *rand.Rand, script []optest.Step) []optest.Step {
	var out []optest.Step
	for _, s := range script {
		if !slices.ContainsFunc(s.Ops, operators.Op.IsRetract) || r.IntN(2) == 0 {
			out = append(out, s)
			continue
		}
		add, ret := s, s
		add.Rows, add.Ops, ret.Rows, ret.Ops = nil, nil, nil, nil
		for i, op := range s.Ops {
			if op.IsRetract() {
				ret.Rows, ret.Ops = append(ret.Rows, s.Rows[i]), append(ret.Ops, op)
			} else {
				add.Rows, add.Ops = append(add.Rows, s.Rows[i]), append(add.Ops, op)
			}
		}
		if len(add.Rows) > 0 {
			out = append(out, add)
		}
		out = append(out, ret)
	}
	return out
}

// inlineCoverage counts what the inline-count path of a run went
// through.
type inlineCoverage struct {
	counted   int // chunks counted in the inline table
	fallbacks int // chunks that materialized a non-empty table mid-epoch
	wideFalls int // those of them that materialized a wide table
	grown     int // steps that grew the table
	nullKeys  int // steps after which the table held a key with a NULL
	empty     int // barriers with nothing pending
	narrow    int // barriers that found a narrow table with groups
	wide      int // barriers that found a wide table with groups
	switches  int // chunks that switched a table with groups to wide
}

// observe records what step s, before which the inline table held n
// groups in entries entries (narrow ones if narrow) and the last epoch
// had last groups, did to h.
func (c *inlineCoverage) observe(h *HashAgg, s optest.Step, n, entries, last int, narrow bool) {
	switch {
	case s.IsBarrier():
		if n == 0 && h.numGroups == 0 {
			c.empty++
		}
		switch {
		case n > 0 && narrow:
			c.narrow++
		case n > 0:
			c.wide++
		}
		return
	case len(s.Rows) == 0:
		return
	}
	if h.inl.n > n {
		c.counted++
	}
	if n > 0 && narrow && h.inl.e != nil {
		c.switches++
	}
	if n > 0 && h.inlOff && h.numGroups >= n {
		c.fallbacks++
		if !narrow {
			c.wideFalls++
		}
	}
	if entries == 0 {
		entries = 1 << inlineFirstLog(last) // the epoch's first table
	}
	if h.inl.n > 0 && h.inl.size() > entries {
		c.grown++
	}
	for _, e := range h.inl.s {
		if e.w>>inlineMaskShift != 0 {
			c.nullKeys++
			break
		}
	}
	for _, e := range h.inl.e {
		if e.w>>inlineMaskShift != 0 {
			c.nullKeys++
			break
		}
	}
}

// withWideKeys returns script with column col's values (i*1_000_003
// for i < 1000, or NULL) mapped one to one: a few to values just inside
// and just outside 32 bits (and ±2^32 and 2^32-1, whose low halves are
// those of 32-bit values), a third to negatives. So that epochs of an
// inline table over col count in narrow tables, and some switch to wide
// ones mid-way.
func withWideKeys(script []optest.Step, col int) []optest.Step {
	special := map[int64]int64{
		3: math.MaxInt32, 5: math.MaxInt32 + 1, 7: math.MinInt32, 11: math.MinInt32 - 1, 13: -1,
		19: 1 << 32, 23: -1 << 32, 29: 1<<32 - 1, 31: math.MaxInt64, 37: math.MinInt64,
		41: math.MaxInt32 + 2, 43: math.MinInt32 - 2, 47: 1 << 40, 53: -1 << 40,
	}
	out := make([]optest.Step, len(script))
	for i, s := range script {
		if len(s.Rows) > 0 {
			rows := make([][]types.Datum, len(s.Rows))
			for j, r := range s.Rows {
				r = slices.Clone(r)
				if d := &r[col]; !d.Null {
					k := d.I / 1_000_003
					switch v, ok := special[k]; {
					case ok:
						d.I = v
					case k%3 == 0:
						d.I = -d.I
					}
				}
				rows[j] = r
			}
			s.Rows = rows
		}
		out[i] = s
	}
	return out
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
// counting probe and the general path in one epoch). Some barriers
// close empty epochs. A COUNT(*) aggregate over two integer keys counts
// all-adding chunks in an inline table (tiny here, so that it grows);
// the run must go through that path, its growth, NULL keys in it, and
// fallbacks from it to the general path mid-epoch. Its timestamp keys
// are remapped (withWideKeys) so that the run also goes through narrow
// tables, switches to wide ones mid-epoch, and fallbacks from wide ones.
func TestCommittedDifferential(t *testing.T) {
	defer func(l uint) { inlineMinLog = l }(inlineMinLog)
	inlineMinLog = 2
	for ci, cfg := range committedConfigs {
		specs := countSpecs
		if cfg.specs != nil {
			specs = cfg.specs
		}
		t.Run(cfg.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				r := rand.New(rand.NewPCG(uint64(ci)*100+seed, 23))
				cfg.opts = Options{WatermarkGroupCol: -1}
				script := withAddsFirst(r, withEmptyEpochs(r, genScript(r, cfg.ckptConfig, 6000)))
				if cfg.specs != nil {
					script = withWideKeys(script, 6)
				}
				var cov inlineCoverage
				outTypes := outTypes(optest.ColumnTypes(diffCols), cfg.groupCols, specs())
				ref := &optest.Recorder{T: t, Types: outTypes}
				a := newCountAgg(t, cfg.groupCols, specs(), cfg.appendOnly, nil, ref)
				fc := newFakeCommitted(t, outTypes, len(cfg.groupCols))
				b := newCountAgg(t, cfg.groupCols, specs(), cfg.appendOnly, fc, fc)
				cuts, deletes, maxSnap, refused := 0, 0, 0, 0
				for i, s := range script {
					n, entries, last, narrow := b.h.inl.n, b.h.inl.size(), b.h.inlLast, b.h.inl.s != nil
					a.Run(s)
					b.Run(s)
					cov.observe(b.h, s, n, entries, last, narrow)
					if !s.IsBarrier() {
						if len(s.Rows) > 0 && r.IntN(8) == 0 {
							if err := b.h.Snapshot(io.Discard); err == nil || !strings.Contains(err.Error(), "changes pending") {
								t.Fatalf("seed %d step %d: a snapshot in the middle of an epoch: %v", seed, i, err)
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
				if cov.empty == 0 {
					t.Fatalf("seed %d: no empty epoch", seed)
				}
				if b.h.inlOK != (cfg.specs != nil) {
					t.Fatalf("seed %d: inline counting %v", seed, b.h.inlOK)
				}
				if b.h.inlOK && (cov.counted < 50 || cov.grown < 10 || cov.nullKeys < 10 || (!cfg.appendOnly && (cov.fallbacks < 10 || cov.wideFalls < 3)) ||
					(cfg.appendOnly && (cov.narrow < 10 || cov.wide < 5 || cov.switches < 5))) {
					t.Fatalf("seed %d: a weak run of the inline path: %+v", seed, cov)
				}
				empty := newCountAgg(t, cfg.groupCols, specs(), cfg.appendOnly, fc, fc)
				if e := len(optest.Snapshot(t, empty.h)); maxSnap > e {
					t.Fatalf("seed %d: committed-backed snapshot of %d bytes, an empty one has %d", seed, maxSnap, e)
				}
				t.Logf("seed %d: %d lines, %d cuts, %d groups, snapshot %d bytes (full: %d), inline %+v", seed, len(ref.Log), cuts, a.h.Groups(), maxSnap, len(optest.Snapshot(t, a.h)), cov)
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
// keeps its per-group slices between epochs of similar size, and gives
// them back after a burst; that a COUNT(*) aggregate over two keys
// counts an all-adding epoch in an inline table sized from the previous
// epoch's groups, which it drops at the barrier (holding no memory
// between epochs), leaving its pair table unused.
func TestCommittedKeepsCapacity(t *testing.T) {
	cols := []types.Column{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType}}
	specs := []Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}}
	outTypes := []types.T{types.BigIntType, types.BigIntType, types.BigIntType}
	fc := newFakeCommitted(t, outTypes, 2)
	f := newFixtureOpts(t, cols, []int{0, 1}, specs, true, Options{WatermarkGroupCol: -1, Committed: fc}, 4096)
	f.h.out = fc
	feed := func(groups int) {
		rows := make([][]types.Datum, groups)
		for i := range rows {
			rows[i] = row(bi(int64(i)), bi(int64(i%7)))
		}
		if err := f.Feed(rows, nil, 4096); err != nil {
			t.Fatal(err)
		}
		if got := f.h.inl.n; got != groups {
			t.Fatalf("%d groups in the inline table, want %d", got, groups)
		}
	}
	barrier := func(ep uint64) {
		if err := f.h.Push(operators.Barrier{Epoch: ep}); err != nil {
			t.Fatal(err)
		}
		if f.h.inl.size() > inlineKeep || f.h.inl.n != 0 || len(f.h.ptable.slots) > 1024 {
			t.Fatalf("after barrier %d: inline table of %d entries (%d groups), pair table of %d slots", ep, f.h.inl.size(), f.h.inl.n, len(f.h.ptable.slots))
		}
	}
	feed(50_000)
	barrier(1)
	feed(40_000)
	if got, want := f.h.inl.size(), 1<<inlineFirstLog(50_000); got != want {
		t.Fatalf("inline table of %d entries after an epoch of 50000 groups, want %d", got, want)
	}
	barrier(2)
	if cap(f.h.rowCount) < 40_000 || cap(f.h.pkeys.kv) < 40_000 {
		t.Fatalf("per-group slices dropped: capacity %d, %d", cap(f.h.rowCount), cap(f.h.pkeys.kv))
	}
	feed(100)
	barrier(3)
	if cap(f.h.rowCount) > 1<<12 || cap(f.h.pkeys.kv) > 1<<12 {
		t.Fatalf("after a small epoch: per-group capacity %d, %d", cap(f.h.rowCount), cap(f.h.pkeys.kv))
	}
	if got := len(fc.rows); got != 50_000 {
		t.Fatalf("%d committed rows, want 50000", got)
	}
	for i := range 50_000 {
		want := int64(1)
		if i < 40_000 {
			want++
		}
		if i < 100 {
			want++
		}
		if row := fc.rows[optest.FormatRow([]types.Datum{bi(int64(i)), bi(int64(i % 7))})]; row == nil || row[2].I != want {
			t.Fatalf("row of (%d, %d) is %v, want count %d", i, i%7, row, want)
		}
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

// TestCommittedInlineNullKeys checks the inline-count path keeps apart
// keys that differ only in NULLs (a NULL column's value is held as 0):
// every combination of 0, NULL and 5 in two columns, counted in a tiny
// table that grows, in epochs that fall back to the general path mid-way
// (a retracting chunk) and go on counting, across checkpoints.
func TestCommittedInlineNullKeys(t *testing.T) {
	defer func(l uint) { inlineMinLog = l }(inlineMinLog)
	inlineMinLog = 2
	p := newPairCountRun(t, false, 3, 3)
	keys := pairCombos([]types.Datum{bi(0), null(types.BigIntType), bi(5)})
	for ep := uint64(1); ep <= 4; ep++ {
		p.feed(keys, operators.Insert, func(k int) int { return k + 1 })
		if ep%2 == 0 {
			if p.f.h.inl.n != len(keys) {
				t.Fatalf("epoch %d: %d groups in the inline table, want %d", ep, p.f.h.inl.n, len(keys))
			}
			p.feed(keys, operators.Delete, func(k int) int { return k % 2 })
			if p.f.h.inl.n != 0 || p.f.h.numGroups != len(keys) {
				t.Fatalf("epoch %d: after a retracting chunk, %d groups inline, %d ordinary", ep, p.f.h.inl.n, p.f.h.numGroups)
			}
			p.feed(keys, operators.Insert, func(k int) int { return k % 3 })
		}
		p.endEpoch(ep)
	}
}

// pairCountRun drives a committed-backed COUNT(*) GROUP BY two BIGINT
// columns (the inline table's shape) into a fake committed store,
// keeping the count each key should have.
type pairCountRun struct {
	t     *testing.T
	fc    *fakeCommitted
	f     *fixture
	r     *rand.Rand
	want  map[string]int64
	batch int
}

func newPairCountRun(t *testing.T, appendOnly bool, batch int, seed uint64) *pairCountRun {
	outTypes := []types.T{types.BigIntType, types.BigIntType, types.BigIntType}
	p := &pairCountRun{t: t, fc: newFakeCommitted(t, outTypes, 2), r: rand.New(rand.NewPCG(seed, seed+1)),
		want: map[string]int64{}, batch: batch}
	p.f = p.build(appendOnly)
	return p
}

// build returns a new aggregate writing to the run's store.
func (p *pairCountRun) build(appendOnly bool) *fixture {
	cols := []types.Column{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType}}
	f := newFixtureOpts(p.t, cols, []int{0, 1}, starSpecs(), appendOnly, Options{WatermarkGroupCol: -1, Committed: p.fc}, p.batch)
	f.h.out = p.fc
	return f
}

// feed feeds times(k) rows of each key k, shuffled, with op.
func (p *pairCountRun) feed(keys [][]types.Datum, op operators.Op, times func(k int) int) {
	p.t.Helper()
	var rows [][]types.Datum
	for k, key := range keys {
		for range times(k) {
			rows = append(rows, key)
		}
	}
	p.r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	var ops []operators.Op
	sign := int64(1)
	if op != operators.Insert {
		ops, sign = make([]operators.Op, len(rows)), -1
		for i := range ops {
			ops[i] = op
		}
	}
	for _, row := range rows {
		p.want[optest.FormatRow(row)] += sign
	}
	if err := p.f.Feed(rows, ops, p.batch); err != nil {
		p.t.Fatal(err)
	}
}

// endEpoch ends epoch ep, checks every committed count, and goes on with
// a new aggregate restored from a checkpoint of the old one.
func (p *pairCountRun) endEpoch(ep uint64) {
	p.t.Helper()
	if err := p.f.h.Push(operators.Barrier{Epoch: ep}); err != nil {
		p.t.Fatal(err)
	}
	if len(p.fc.rows) != len(p.want) {
		p.t.Fatalf("epoch %d: %d committed rows, want %d", ep, len(p.fc.rows), len(p.want))
	}
	for k, n := range p.want {
		if got := p.fc.rows[k]; got == nil || got[2].I != n {
			p.t.Fatalf("epoch %d: row of %s is %v, want count %d", ep, k, got, n)
		}
	}
	g := p.build(false)
	if _, err := optest.RoundTrip(p.f.h, g.h); err != nil {
		p.t.Fatal(err)
	}
	p.f = g
}

// pairCombos is every pair of vals.
func pairCombos(vals []types.Datum) [][]types.Datum {
	var keys [][]types.Datum
	for _, a := range vals {
		for _, b := range vals {
			keys = append(keys, row(a, b))
		}
	}
	return keys
}

// TestCommittedInlineCountGuard checks the inline table takes no chunk
// that could carry a count into its NULL mask bits: past the bound, the
// epoch goes on the general path, with the counts kept.
func TestCommittedInlineCountGuard(t *testing.T) {
	p := newPairCountRun(t, true, 8, 1)
	f, fc := p.f, p.fc
	rows := [][]types.Datum{row(bi(1), bi(2)), row(bi(1), bi(2)), row(bi(3), null(types.BigIntType))}
	if err := f.Feed(rows, nil, 8); err != nil {
		t.Fatal(err)
	}
	if f.h.inlOff || f.h.inl.n != 2 {
		t.Fatalf("a first small chunk: inline off %v, %d groups inline", f.h.inlOff, f.h.inl.n)
	}
	f.h.inl.rows = inlineMaxRows - 2 // as if the epoch had counted that many rows
	if err := f.Feed(rows, nil, 8); err != nil {
		t.Fatal(err)
	}
	if !f.h.inlOff || f.h.inl.n != 0 || f.h.numGroups != 2 {
		t.Fatalf("a chunk past the bound: inline off %v, %d groups inline, %d ordinary", f.h.inlOff, f.h.inl.n, f.h.numGroups)
	}
	if err := f.h.Push(operators.Barrier{Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	for k, n := range map[string]int64{"1,2": 4, "3,NULL": 2} {
		if got := fc.rows[k]; got == nil || got[2].I != n {
			t.Fatalf("row of %s is %v, want count %d (rows %v)", k, got, n, fc.rows)
		}
	}
}

// TestCommittedInlineNarrowSwitch checks the inline table's two forms:
// epochs whose key values all fit in 32 bits (among them both bounds, -1
// and other negatives, and NULLs next to zeros) are counted in a narrow
// table; the first chunk with a value just outside (2^31, -2^31-1, ±2^32,
// whose low halves are those of 32-bit values) switches the epoch's
// table to the wide form keeping its counts, and the next epoch starts
// narrow again. Epochs fall back to the general path before the switch,
// after it or not at all; the committed counts must be the rows'.
func TestCommittedInlineNarrowSwitch(t *testing.T) {
	defer func(l uint) { inlineMinLog = l }(inlineMinLog)
	inlineMinLog = 2
	p := newPairCountRun(t, false, 5, 5)
	narrow := pairCombos([]types.Datum{bi(0), null(types.BigIntType), bi(-1), bi(7), bi(math.MinInt32), bi(math.MaxInt32), bi(-123456)})
	var wide [][]types.Datum // each with a value that does not fit, next to narrow ones
	for _, w := range []int64{math.MaxInt32 + 1, math.MinInt32 - 1, 1 << 32, -1 << 32, 1<<32 - 1, math.MaxInt64, math.MinInt64} {
		for _, v := range []types.Datum{bi(0), null(types.BigIntType), bi(-1), bi(math.MinInt32)} {
			wide = append(wide, row(bi(w), v), row(v, bi(w)))
		}
		wide = append(wide, row(bi(w), bi(w)))
	}
	feed := p.feed
	form := func(ep uint64, what string, wantWide bool, groups int) {
		t.Helper()
		inl := &p.f.h.inl
		if (inl.e != nil) != wantWide || (inl.s != nil) == wantWide || inl.n != groups {
			t.Fatalf("epoch %d, %s: wide %d entries, narrow %d, %d groups; want wide %v, %d groups", ep, what, len(inl.e), len(inl.s), inl.n, wantWide, groups)
		}
	}
	all := func(int) int { return 1 }
	for ep := uint64(1); ep <= 6; ep++ {
		feed(narrow, operators.Insert, func(k int) int { return k%3 + 1 })
		form(ep, "narrow keys", false, len(narrow))
		retract := func() {
			feed(narrow, operators.Delete, func(k int) int { return k % 2 })
			if p.f.h.inl.n != 0 || !p.f.h.inlOff {
				t.Fatalf("epoch %d: after a retracting chunk, %d groups inline", ep, p.f.h.inl.n)
			}
		}
		switch ep % 3 {
		case 1: // the switch by values just outside, more narrow keys, no fallback
			edge := [][]types.Datum{row(bi(math.MaxInt32+1), bi(0)), row(bi(-1), bi(math.MinInt32-1))}
			feed(edge, operators.Insert, all) // one chunk
			form(ep, "values just outside", true, len(narrow)+len(edge))
			feed(wide, operators.Insert, func(k int) int { return k%2 + 1 })
			form(ep, "a wide key", true, len(narrow)+len(wide))
			feed(narrow, operators.Insert, all)
			form(ep, "narrow keys after the switch", true, len(narrow)+len(wide))
		case 2: // the switch, then a fallback from the wide form
			feed(wide, operators.Insert, all)
			form(ep, "a wide key", true, len(narrow)+len(wide))
			retract()
			feed(wide, operators.Insert, all)
		case 0: // a fallback from the narrow form, then wide keys
			retract()
			feed(wide, operators.Insert, all)
		}
		p.endEpoch(ep)
	}
}

// TestPairKeysGarbageUnderNull feeds two-BIGINT-key chunks whose NULL
// slots hold arbitrary values (Arrow leaves them undefined) to a full
// aggregate (the pair table) and to a committed-backed one (the inline
// table): (NULL, 5) under different garbage is one group, and so is
// (5, NULL), apart from (0, 5) and (5, 0).
func TestPairKeysGarbageUnderNull(t *testing.T) {
	cols := []types.Column{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType}}
	// column values and validity of the rows fed
	a := []int64{99, 7, 0, 5, 5, 5}
	av := []bool{false, false, true, true, true, true}
	b := []int64{5, 5, 5, -3, 123, 0}
	bv := []bool{true, true, true, false, false, true}
	arr := func(vals []int64, valid []bool) arrow.Array {
		bm := make([]byte, 1)
		for i, v := range valid {
			if v {
				bm[0] |= 1 << i
			}
		}
		data := array.NewData(arrow.PrimitiveTypes.Int64, len(vals), []*memory.Buffer{
			memory.NewBufferBytes(bm), memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(vals))}, nil, array.UnknownNullCount, 0)
		defer data.Release()
		return array.MakeFromData(data)
	}
	ca, cb := arr(a, av), arr(b, bv)
	rec := array.NewRecordBatch(types.Schema(cols).Arrow(), []arrow.Array{ca, cb}, int64(len(a)))
	ca.Release()
	cb.Release()
	defer rec.Release()
	const groups = 4 // (NULL, 5), (0, 5), (5, NULL), (5, 0)
	full := newFixture(t, cols, []int{0, 1}, starSpecs(), true, 3)
	if err := full.h.Push(&operators.Chunk{Rec: rec}); err != nil {
		t.Fatal(err)
	}
	if full.h.numGroups != groups {
		t.Errorf("pair table: %d groups, want %d", full.h.numGroups, groups)
	}
	inl := newPairCountRun(t, false, 3, 1).f
	if err := inl.h.Push(&operators.Chunk{Rec: rec}); err != nil {
		t.Fatal(err)
	}
	if inl.h.inl.n != groups {
		t.Errorf("inline table: %d groups, want %d", inl.h.inl.n, groups)
	}
}

// Package agg is the streaming hash aggregate: GROUP BY over a changelog,
// emitting the net change of every touched group at each barrier.
//
// State is columnar, indexed by a dense group id: the group keys (an
// int64 slice for a single integer-like key, else the encoded key bytes),
// a row count per group, and per aggregate typed slices (sums, non-NULL
// counts, extremes). Ids of groups whose rows all went away are reused.
// Everything is plain slices and maps of plain values, so it can be
// written out at a checkpoint.
//
// An aggregate whose output is exactly a view's rows, keyed by the group
// columns, and whose results can be read back from a row (COUNT(*) and
// COUNT(x)) can be committed-backed (Options.Committed, committed.go): it
// keeps only the current epoch's deltas and, at each barrier, reads the
// touched groups' results from the view's committed rows, so that no
// group is held twice.
//
// Errors: a retraction of a row that was never inserted (a count would go
// negative) returns an internal *sqlerr.Error naming the aggregate; after
// any error from Push the operator's state is undefined and the pipeline
// must stop.
package agg

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Kind is an aggregate function.
type Kind uint8

// The aggregate functions.
const (
	CountStar     Kind = iota // COUNT(*)
	Count                     // COUNT(x): non-NULL values
	CountDistinct             // COUNT(DISTINCT x)
	Sum                       // SUM(x)
	Avg                       // AVG(x)
	Min                       // MIN(x)
	Max                       // MAX(x)
)

// String returns the SQL name of k.
func (k Kind) String() string {
	switch k {
	case CountStar:
		return "COUNT(*)"
	case Count:
		return "COUNT"
	case CountDistinct:
		return "COUNT(DISTINCT)"
	case Sum:
		return "SUM"
	case Avg:
		return "AVG"
	case Min:
		return "MIN"
	case Max:
		return "MAX"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Spec is one aggregate call: Kind over input column Arg (ignored for
// CountStar) of type ArgType, with the SQL result type Result that the
// planner decided (COUNT → BIGINT; SUM(INT/BIGINT) → BIGINT; SUM(DOUBLE) →
// DOUBLE; SUM(DECIMAL(p,s)) → DECIMAL(38,s); AVG(INT/BIGINT/DOUBLE) →
// DOUBLE; AVG(DECIMAL(p,s)) → DECIMAL(38,s+4); MIN/MAX → ArgType). Name is
// the output column name.
type Spec struct {
	Kind    Kind
	Arg     int
	ArgType types.T
	Result  types.T
	Name    string
}

// MaxChunkRows bounds the rows of a Chunk the aggregate emits.
const MaxChunkRows = 4096

type keyMode uint8

const (
	modeGlobal keyMode = iota // no GROUP BY: one group, id 0
	modeInt                   // one integer-like key column: intTable
	modeBytes                 // anything else: encoded keys in a map
	modeInt2                  // two integer-like key columns: pairTable
)

// HashAgg is the streaming hash aggregate operator. It implements
// operators.Operator; see New.
type HashAgg struct {
	mem        memory.Allocator
	in         *arrow.Schema
	usedCols   []int
	groupCols  []int
	keyTypes   []types.T
	appendOnly bool
	out        operators.Output
	schema     *arrow.Schema
	mode       keyMode
	inTypes    []types.T // the configuration, for Restore and its fingerprint
	specs      []Spec
	pushed     bool // a message was pushed (Restore must come first)

	numGroups int
	rowCount  []int64 // input rows per group
	free      []uint32

	intKeys   []int64 // modeInt: key per group
	table     intTable
	nullGroup int64 // modeInt: the group of the NULL key, or -1

	pkeys  pairKeys // modeInt2: keys per group
	ptable pairTable
	ints2  []int64
	hashes []uint64 // lookupInt2: per row of the chunk, its key's hash
	// probeSink keeps lookupInt2's touching loads from being optimized away.
	probeSink uint64

	enc      keyEncoder
	byteKeys []string // modeBytes: encoded key per group
	byteMap  map[string]uint32

	counters []*nnCounter
	accs     []accumulator

	// The epoch's touched groups: a bit per group, the list in first-touch
	// order and each one's row count at first touch. A committed-backed
	// aggregate keeps no bits: all its groups are touched, and it lists
	// them at the barrier (touchAll).
	dirtyBits     []uint64
	dirty         []uint32
	oldRowCount   []int64
	globalEmitted bool

	// Watermark-driven closing (see Options). wmCol is the input column
	// of the watermark group column, -1 when there is none.
	opts        Options
	wmCol       int
	wm          int64 // the latest watermark on wmCol
	wmSet       bool
	gen         []uint32 // per group, bumped when the id is freed (none when committed-backed)
	closeHeap   closeHeap
	closing     []uint32 // groups closed since the last barrier
	created     []int32  // rows of the chunk being folded that created a group
	lateRows    int64
	pendingWM   []operators.Watermark // output watermarks held until the barrier
	evictBits   []uint64
	wmInts      []int64
	byteDeletes int // keys evicted from byteMap since it was rebuilt

	// Committed-backed (Options.Committed; see committed.go): the groups
	// hold the epoch's deltas only and are dropped at each barrier.
	committed bool
	starSpec  int           // the first COUNT(*) spec
	ctrSpec   []int         // per counter, the first COUNT(x) spec over it
	countAccs []*countAcc   // per spec, its accumulator if COUNT(x)
	cols      []int         // per spec, its output column
	keySchema *arrow.Schema // the group columns
	found     []bool
	cvals     [][]int64 // per spec, the committed values of a batch of groups
	dslots    []uint32  // per dirty group, its row's slot in the view's store
	// The view's store and slot generation when hydrate read dslots.
	hintStore, hintGen uint64
	byteMapSize        int // modeBytes: the most groups byteMap held since it was made

	// The inline-count path (see inline.go): inlOK when the aggregate can
	// take it, inlOff once a chunk of the epoch could not, inlLast the
	// groups of the last epoch (to size the next epoch's table).
	inl      inlineTable
	inlOK    bool
	inlOff   bool
	inlLast  int
	inlWords []uint64 // addNarrow: per row of the chunk, its NULL mask word
	// readPair's copies of key values with NULLs zeroed, and the masks.
	pairVals  [2][]int64
	pairNulls []uint8
	inlKeys   []uint64 // addNarrow: per row of the chunk, its packed key

	cur      batch // the chunk being folded (a field, so it is not heap-allocated per Push)
	gids     []uint32
	emitGids []uint32
	signs    []int64
	rows     []emitRow
	freed    []uint32
	keyBuf   []string
	pos      []int
	closed   bool
}

var _ operators.Operator = (*HashAgg)(nil)

func planErr(format string, args ...any) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "agg: "+format, args...)
}

// Options are the windowing options of a hash aggregate.
type Options struct {
	// WatermarkGroupCol is the index into groupCols of a group column
	// that carries a watermark (window_start, say), or -1 for none. It
	// must be integer-like (INT, BIGINT, TIMESTAMP, DATE). When a
	// Watermark arrives on its input column, every group whose value
	// there is below the watermark is closed: its state is evicted at the
	// next barrier (after its final row is emitted) and its id reused.
	// A row that arrives later for a closed group (a value below the
	// watermark) is dropped and counted (LateRows).
	WatermarkGroupCol int
	// EmitOnClose makes the output append-only: a group emits nothing
	// until it closes, then its final row once, as an Insert, at the
	// barrier that follows the closing watermark. It needs a
	// WatermarkGroupCol.
	EmitOnClose bool
	// Committed, when set, makes the aggregate committed-backed: it keeps
	// only the deltas of the epoch and reads the groups' results as of
	// the last barrier from Committed at each barrier (see Committed).
	// It needs GROUP BY columns, no WatermarkGroupCol, and specs that
	// are Recoverable.
	Committed Committed
	// Meaning, when not empty, says what the plan around the aggregate
	// makes its groups stand for (e.g. each unordered pair counted once,
	// under a Mirror). It changes nothing in how the aggregate computes,
	// only its configuration fingerprint, so that a snapshot taken by a
	// build that planned the query otherwise is refused on Restore.
	Meaning string
}

// New builds a hash aggregate over input schema in (whose SQL types are
// inTypes), grouping by the input columns groupCols (empty: a global
// aggregate, which emits one row even over empty input) and computing
// specs. The output schema is the group columns (as in the input) then one
// column per spec. appendOnly promises the input never retracts, which
// lets MIN/MAX keep only the extreme and COUNT(DISTINCT) only a set.
// It is NewWithOptions without watermark-driven closing.
func New(mem memory.Allocator, in *arrow.Schema, inTypes []types.T, groupCols []int, specs []Spec, appendOnly bool, out operators.Output) (*HashAgg, error) {
	return NewWithOptions(mem, in, inTypes, groupCols, specs, appendOnly, Options{WatermarkGroupCol: -1}, out)
}

// NewWithOptions is New with windowing options (see Options).
func NewWithOptions(mem memory.Allocator, in *arrow.Schema, inTypes []types.T, groupCols []int, specs []Spec, appendOnly bool, opts Options, out operators.Output) (*HashAgg, error) {
	h := &HashAgg{}
	if err := h.init(mem, in, inTypes, groupCols, specs, appendOnly, opts, out); err != nil {
		return nil, err
	}
	return h, nil
}

// reset returns the aggregate to its freshly built state.
func (h *HashAgg) reset() {
	if err := h.init(h.mem, h.in, h.inTypes, h.groupCols, h.specs, h.appendOnly, h.opts, h.out); err != nil {
		panic(err) // the configuration was accepted before
	}
}

// init (re)builds h for a configuration, with empty state.
func (h *HashAgg) init(mem memory.Allocator, in *arrow.Schema, inTypes []types.T, groupCols []int, specs []Spec, appendOnly bool, opts Options, out operators.Output) error {
	if mem == nil || in == nil || out == nil {
		return planErr("New needs an allocator, an input schema and an output")
	}
	if len(inTypes) != in.NumFields() {
		return planErr("%d input types for %d input columns", len(inTypes), in.NumFields())
	}
	*h = HashAgg{
		mem:        mem,
		in:         in,
		groupCols:  append([]int(nil), groupCols...),
		inTypes:    append([]types.T(nil), inTypes...),
		specs:      append([]Spec(nil), specs...),
		appendOnly: appendOnly,
		out:        out,
		nullGroup:  -1,
		opts:       opts,
		wmCol:      -1,
	}
	if w := opts.WatermarkGroupCol; w >= 0 {
		if w >= len(groupCols) {
			return planErr("watermark group column %d out of range (%d group columns)", w, len(groupCols))
		}
		c := groupCols[w]
		if c < 0 || c >= in.NumFields() {
			return planErr("group column %d out of range", c)
		}
		if t := inTypes[c]; !isIntLike(t) || t.Kind == types.Boolean {
			return planErr("watermark group column has type %s, want an integer or temporal type", t)
		}
		h.wmCol = c
	} else if w != -1 {
		return planErr("watermark group column %d: use -1 for none", w)
	}
	if opts.EmitOnClose && h.wmCol < 0 {
		return planErr("EMIT ON WINDOW CLOSE needs a watermark group column")
	}
	used := map[int]bool{}
	fields := make([]arrow.Field, 0, len(groupCols)+len(specs))
	for _, c := range groupCols {
		if c < 0 || c >= in.NumFields() {
			return planErr("group column %d out of range", c)
		}
		t := inTypes[c]
		switch t.Kind {
		case types.Boolean, types.Int, types.BigInt, types.Double, types.Decimal, types.Varchar, types.Timestamp, types.Date:
		default:
			return sqlerr.Execf(sqlerr.FeatureNotSupported, "agg: cannot group by a column of type %s", t)
		}
		h.keyTypes = append(h.keyTypes, t)
		used[c] = true
		fields = append(fields, in.Field(c))
	}
	switch {
	case len(groupCols) == 0:
		h.mode = modeGlobal
	case len(groupCols) == 1 && isIntLike(h.keyTypes[0]) && h.keyTypes[0].Kind != types.Boolean:
		h.mode = modeInt
		h.table.init(10)
	case len(groupCols) == 2 && isIntLike(h.keyTypes[0]) && h.keyTypes[0].Kind != types.Boolean &&
		isIntLike(h.keyTypes[1]) && h.keyTypes[1].Kind != types.Boolean:
		h.mode = modeInt2
		h.ptable.init(10)
	default:
		h.mode = modeBytes
		h.byteMap = make(map[string]uint32)
		h.enc = keyEncoder{cols: h.groupCols, types: h.keyTypes}
	}
	counters := map[int]*nnCounter{}
	counterFor := func(col int, name string) *nnCounter {
		if c, ok := counters[col]; ok {
			return c
		}
		c := &nnCounter{col: col, name: name}
		counters[col] = c
		h.counters = append(h.counters, c)
		return c
	}
	for _, s := range specs {
		name := s.Name
		if name == "" {
			name = strings.ToLower(strings.TrimSuffix(s.Kind.String(), "(*)"))
		}
		if s.Kind != CountStar {
			if s.Arg < 0 || s.Arg >= in.NumFields() {
				return planErr("%s: argument column %d out of range", name, s.Arg)
			}
			if inTypes[s.Arg].Kind != s.ArgType.Kind || inTypes[s.Arg].Scale != s.ArgType.Scale {
				return planErr("%s: argument type %s but input column %d is %s", name, s.ArgType, s.Arg, inTypes[s.Arg])
			}
			used[s.Arg] = true
		}
		acc, err := h.newAcc(s, name, counterFor)
		if err != nil {
			return err
		}
		h.accs = append(h.accs, acc)
		fields = append(fields, arrow.Field{Name: name, Type: s.Result.Arrow(), Nullable: true})
	}
	for c := range used {
		h.usedCols = append(h.usedCols, c)
	}
	h.schema = arrow.NewSchema(fields, nil)
	if opts.Committed != nil {
		if err := h.initCommitted(); err != nil {
			return err
		}
	}
	if h.mode == modeGlobal {
		h.allocGroup()
		h.growState()
	}
	return nil
}

func (h *HashAgg) newAcc(s Spec, name string, counterFor func(int, string) *nnCounter) (accumulator, error) {
	arg, res := s.ArgType, s.Result
	bad := func() error {
		return planErr("%s: unsupported %s(%s) → %s", name, s.Kind, arg, res)
	}
	switch s.Kind {
	case CountStar, Count, CountDistinct:
		if res.Kind != types.BigInt {
			return nil, bad()
		}
	}
	switch s.Kind {
	case CountStar:
		return &countAcc{src: &h.rowCount, rows: true, oldRef: &h.oldRowCount}, nil
	case Count:
		return &countAcc{src: &counterFor(s.Arg, name).n}, nil
	case CountDistinct:
		switch {
		case isIntLike(arg):
			return newDistinct(&intFamily, name, s.Arg, arg, h.appendOnly), nil
		case arg.Kind == types.Double:
			return newDistinct(&floatBitsFamily, name, s.Arg, arg, h.appendOnly), nil
		case arg.Kind == types.Decimal:
			return newDistinct(&decFamily, name, s.Arg, arg, h.appendOnly), nil
		case arg.Kind == types.Varchar:
			return newDistinct(&strFamily, name, s.Arg, arg, h.appendOnly), nil
		}
		return nil, bad()
	case Sum, Avg:
		avg := s.Kind == Avg
		switch arg.Kind {
		case types.Int, types.BigInt:
			if (avg && res.Kind != types.Double) || (!avg && res.Kind != types.BigInt) {
				return nil, bad()
			}
			return &sumIntAcc{name: name, col: s.Arg, avg: avg, nn: counterFor(s.Arg, name)}, nil
		case types.Double:
			if res.Kind != types.Double {
				return nil, bad()
			}
			return &sumFloatAcc{name: name, col: s.Arg, avg: avg, nn: counterFor(s.Arg, name)}, nil
		case types.Decimal:
			up := res.Scale - arg.Scale
			if res.Kind != types.Decimal || up < 0 || up > 38 || (!avg && up != 0) {
				return nil, bad()
			}
			return &sumDecAcc{name: name, col: s.Arg, avg: avg, up: up, scale: arg.Scale, nn: counterFor(s.Arg, name)}, nil
		}
		return nil, bad()
	case Min, Max:
		if res.Kind != arg.Kind || res.Scale != arg.Scale {
			return nil, bad()
		}
		isMax := s.Kind == Max
		switch {
		case isIntLike(arg):
			return &minMaxAcc[int64]{f: &intFamily, name: name, col: s.Arg, argType: arg, max: isMax, appendOnly: h.appendOnly}, nil
		case arg.Kind == types.Double:
			return &minMaxAcc[float64]{f: &floatFamily, name: name, col: s.Arg, argType: arg, max: isMax, appendOnly: h.appendOnly}, nil
		case arg.Kind == types.Decimal:
			return &minMaxAcc[decimal128.Num]{f: &decFamily, name: name, col: s.Arg, argType: arg, max: isMax, appendOnly: h.appendOnly}, nil
		case arg.Kind == types.Varchar:
			return &minMaxAcc[string]{f: &strFamily, name: name, col: s.Arg, argType: arg, max: isMax, appendOnly: h.appendOnly}, nil
		}
		return nil, bad()
	}
	return nil, planErr("%s: unknown aggregate kind %d", name, s.Kind)
}

func newDistinct[K comparable](f *family[K], name string, col int, arg types.T, appendOnly bool) *distinctAcc[K] {
	a := &distinctAcc[K]{f: f, name: name, col: col, argType: arg, appendOnly: appendOnly}
	if appendOnly {
		a.set = make(map[dkey[K]]struct{})
	} else {
		a.idx = make(map[dkey[K]]uint32)
	}
	return a
}

// Schema returns the output schema: group columns, then one per spec.
func (h *HashAgg) Schema() *arrow.Schema { return h.schema }

// Push consumes one message: a Chunk is folded into the state, a Barrier
// emits the epoch's changes and is forwarded, a Watermark on a group
// column closes groups (on the watermark group column) and is forwarded
// remapped to the output column after the rows of the next barrier (so
// no emitted row is ever below a watermark sent before it); watermarks on
// other columns are dropped, and anything else passes through.
func (h *HashAgg) Push(msg operators.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internalErr("agg: panic: %v", r)
		}
	}()
	if h.closed {
		return internalErr("agg: Push after Close")
	}
	h.pushed = true
	switch m := msg.(type) {
	case *operators.Chunk:
		return h.pushChunk(m)
	case operators.Barrier:
		if err := h.flush(); err != nil {
			return fmt.Errorf("agg: barrier %d: %w", m.Epoch, err)
		}
		return h.out.Push(m)
	case operators.Watermark:
		if m.Column == h.wmCol && (!h.wmSet || m.Time > h.wm) {
			h.wm, h.wmSet = m.Time, true
			h.closeBelow(m.Time)
		}
		for i, c := range h.groupCols {
			if c == m.Column {
				h.holdWatermark(operators.Watermark{Column: i, Time: m.Time})
				break
			}
		}
		return nil
	}
	return h.out.Push(msg)
}

func (h *HashAgg) checkSchema(rec arrow.RecordBatch) error {
	s := rec.Schema()
	if s == h.in {
		return nil
	}
	if s.NumFields() != h.in.NumFields() {
		return internalErr("agg: input chunk has %d columns, want %d", s.NumFields(), h.in.NumFields())
	}
	for _, c := range h.usedCols {
		if !arrow.TypeEqual(s.Field(c).Type, h.in.Field(c).Type) {
			return internalErr("agg: input column %d is %s, want %s", c, s.Field(c).Type, h.in.Field(c).Type)
		}
	}
	return nil
}

// allocGroup returns a free group id with empty state.
func (h *HashAgg) allocGroup() uint32 {
	if l := len(h.free); l > 0 {
		g := h.free[l-1]
		h.free = h.free[:l-1]
		return g
	}
	g := uint32(h.numGroups)
	h.numGroups++
	h.rowCount = append(h.rowCount, 0)
	if !h.committed {
		// A committed-backed aggregate closes no window and marks no
		// group dirty (touchAll): it needs no generation nor dirty bit.
		h.gen = append(h.gen, 0)
		if g&63 == 0 {
			h.dirtyBits = append(h.dirtyBits, 0)
		}
	}
	switch h.mode {
	case modeInt:
		h.intKeys = append(h.intKeys, 0)
	case modeBytes:
		h.byteKeys = append(h.byteKeys, "")
	case modeInt2:
		h.pkeys.kv = append(h.pkeys.kv, pairKV{})
		h.pkeys.nulls = append(h.pkeys.nulls, 0)
	}
	return g
}

// growState sizes every aggregate's state to numGroups.
func (h *HashAgg) growState() {
	for _, c := range h.counters {
		c.grow(h.numGroups)
	}
	for _, a := range h.accs {
		a.grow(h.numGroups)
	}
}

func (h *HashAgg) pushChunk(c *operators.Chunk) error {
	n := c.Len()
	if n == 0 {
		return nil
	}
	if err := h.checkSchema(c.Rec); err != nil {
		return err
	}
	if h.wmSet {
		if late, err := h.dropLate(c); late || err != nil {
			return err
		}
	}
	var signs []int64
	if c.Ops != nil {
		if len(c.Ops) != n {
			return internalErr("agg: chunk has %d ops for %d rows", len(c.Ops), n)
		}
		signs = growSlice(&h.signs, n)
		neg := false
		for i, op := range c.Ops {
			s := op.Sign()
			signs[i] = s
			neg = neg || s < 0
		}
		switch {
		case !neg:
			signs = nil // all additions: take the append-only paths
		case h.appendOnly:
			return internalErr("agg: retraction in the input of an append-only aggregate")
		}
	}
	if h.numGroups+h.inl.n+n >= math.MaxUint32 {
		return sqlerr.New(sqlerr.Resource, sqlerr.ProgramLimitExceeded, "agg: too many groups")
	}
	if h.inlOK && !h.inlOff {
		if signs == nil && h.inl.rows+uint64(n) <= inlineMaxRows {
			return h.addInline(c.Rec.Column(h.groupCols[0]), c.Rec.Column(h.groupCols[1]), n)
		}
		// This chunk needs group ids: the epoch's groups so far become
		// ordinary ones, found by later lookups, and the epoch goes on
		// on the general path.
		h.inlOff = true
		if err := h.materialize(true); err != nil {
			return err
		}
	}
	gids := growSlice(&h.gids, n)
	h.created = h.created[:0]
	counted := false
	switch h.mode {
	case modeGlobal:
		clear(gids)
	case modeInt:
		if err := h.lookupInt(c.Rec.Column(h.groupCols[0]), gids); err != nil {
			return err
		}
	case modeBytes:
		if err := h.lookupBytes(&h.enc, c.Rec, gids); err != nil {
			return err
		}
	case modeInt2:
		// A committed-backed aggregate counts the rows of an all-adding
		// chunk as it resolves them (counted), while their row counts are
		// in cache.
		counted = h.committed && signs == nil
		if err := h.lookupInt2(c.Rec.Column(h.groupCols[0]), c.Rec.Column(h.groupCols[1]), gids, counted); err != nil {
			return err
		}
	}
	h.growState()
	if h.wmCol >= 0 && len(h.created) > 0 {
		if err := h.trackCreated(c.Rec, gids); err != nil {
			return err
		}
	}

	switch {
	case counted:
	case h.committed:
		// Every group was created this epoch, so it is dirty (touchAll):
		// only count rows. Deltas may go negative.
		rc := h.rowCount
		if signs == nil {
			for _, g := range gids {
				rc[g]++
			}
		} else {
			for i, g := range gids {
				rc[g] += signs[i]
			}
		}
	default:
		if err := h.markAndCount(gids, signs); err != nil {
			return err
		}
	}
	h.cur = batch{gids: gids, signs: signs, rec: c.Rec}
	defer func() { h.cur = batch{} }() // the record is only lent
	for _, cn := range h.counters {
		if err := cn.update(&h.cur); err != nil {
			return err
		}
	}
	for _, a := range h.accs {
		if err := a.update(&h.cur); err != nil {
			return err
		}
	}
	return nil
}

// markAndCount marks the first touches of the groups of a chunk's rows
// this epoch (snapshotting their results) and counts the rows.
func (h *HashAgg) markAndCount(gids []uint32, signs []int64) error {
	start := len(h.dirty)
	rc, bitsDirty := h.rowCount, h.dirtyBits
	for i, g := range gids {
		w, bit := g>>6, uint64(1)<<(g&63)
		if bitsDirty[w]&bit == 0 {
			bitsDirty[w] |= bit
			h.dirty = append(h.dirty, g)
			h.oldRowCount = append(h.oldRowCount, rc[g])
		}
		if signs == nil {
			rc[g]++
		} else {
			rc[g] += signs[i]
		}
	}
	if fresh := h.dirty[start:]; len(fresh) > 0 {
		for _, a := range h.accs {
			a.snapshot(fresh)
		}
	}
	if signs != nil {
		for _, g := range gids {
			if rc[g] < 0 {
				return negativeErr("group row count")
			}
		}
	}
	return nil
}

// lookupInt resolves a single integer-like key column to group ids,
// creating groups for new keys.
func (h *HashAgg) lookupInt(col arrow.Array, gids []uint32) error {
	vals, err := readInts(col, &h.enc.ints)
	if err != nil {
		return fmt.Errorf("agg: group key: %w", err)
	}
	vals = vals[:len(gids)]
	bits, off := validity(col)
	t := &h.table
	for i := range gids {
		if bits != nil && !isValid(bits, off+i) {
			if h.nullGroup < 0 {
				h.nullGroup = int64(h.allocGroup())
				h.created = append(h.created, int32(i))
			}
			gids[i] = uint32(h.nullGroup)
			continue
		}
		k := vals[i]
		j := t.home(k)
		for {
			s := t.slots[j]
			if s == 0 {
				g := h.allocGroup()
				h.created = append(h.created, int32(i))
				h.intKeys[g] = k
				t.slots[j] = g + 1
				t.n++
				if t.n > t.limit {
					t.rehash(h.intKeys)
				}
				gids[i] = g
				break
			}
			if h.intKeys[s-1] == k {
				gids[i] = s - 1
				break
			}
			j = (j + 1) & t.mask
		}
	}
	return nil
}

// lookupInt2 resolves two integer-like key columns to group ids. With
// count, it also adds each row to its group's row count.
func (h *HashAgg) lookupInt2(c0, c1 arrow.Array, gids []uint32, count bool) error {
	p, err := h.readPair(c0, c1, len(gids))
	if err != nil {
		return err
	}
	t := &h.ptable
	hashes := growSlice(&h.hashes, len(gids))
	for i := range gids {
		hashes[i] = pairHash(p.at(i))
	}
	// Probe in blocks: first touch each row's home entry, then, in a
	// second wave, the key and row count of the group the entry names
	// (independent loads: the misses of each wave overlap instead of
	// each key waiting for its entry), then resolve the rows, mostly from
	// cache.
	var sink uint64
	var ents [pairProbeBlock]uint32
	for lo := 0; lo < len(gids); lo += pairProbeBlock {
		hi := min(lo+pairProbeBlock, len(gids))
		slots, kv, rc := t.slots, h.pkeys.kv, h.rowCount
		es := ents[:hi-lo]
		for k, hash := range hashes[lo:hi] {
			es[k] = slots[t.home(hash)]
		}
		for _, e := range es {
			if e != 0 {
				g := e&t.gmask - 1
				sink += uint64(kv[g].a) + uint64(rc[g])
			}
		}
		for i := lo; i < hi; i++ {
			a, b, m := p.at(i)
			hash := hashes[i]
			tag := t.tag(hash, m)
			j := t.home(hash)
			for {
				e := t.slots[j]
				if e == 0 {
					g := h.allocGroup()
					h.created = append(h.created, int32(i))
					h.pkeys.kv[g], h.pkeys.nulls[g] = pairKV{a, b}, m
					if g+1 > t.gmask {
						if err := t.widen(g+1, &h.pkeys); err != nil {
							return err
						}
						tag = t.tag(hash, m)
					}
					t.slots[j] = tag | (g + 1)
					t.n++
					if t.n > t.limit {
						t.rehash(&h.pkeys)
					}
					gids[i] = g
					if count {
						h.rowCount[g]++
					}
					break
				}
				if e&^t.gmask == tag {
					if g := e&t.gmask - 1; h.pkeys.kv[g] == (pairKV{a, b}) {
						gids[i] = g
						if count {
							h.rowCount[g]++
						}
						break
					}
				}
				j = (j + 1) & t.mask
			}
		}
	}
	h.probeSink += sink
	return nil
}

// pairCols is a chunk's two integer-like key columns, read for the
// pair-key paths (lookupInt2, the inline table): their values, a NULL's
// as 0, and with NULLs each row's mask m (bit 1: the first column is
// NULL, bit 2: the second), else m nil.
type pairCols struct {
	v0, v1 []int64
	m      []uint8
}

// readPair reads the first n rows of key columns c0 and c1.
func (h *HashAgg) readPair(c0, c1 arrow.Array, n int) (pairCols, error) {
	v0, err := readInts(c0, &h.enc.ints)
	if err != nil {
		return pairCols{}, fmt.Errorf("agg: group key: %w", err)
	}
	v1, err := readInts(c1, &h.ints2)
	if err != nil {
		return pairCols{}, fmt.Errorf("agg: group key: %w", err)
	}
	p := pairCols{v0: v0[:n], v1: v1[:n]}
	b0, o0 := validity(c0)
	b1, o1 := validity(c1)
	if b0 == nil && b1 == nil {
		return p, nil
	}
	// The values may be the columns' own buffers: NULLs are zeroed in
	// copies.
	p.v0 = append(h.pairVals[0][:0], p.v0...)
	p.v1 = append(h.pairVals[1][:0], p.v1...)
	p.m = growSlice(&h.pairNulls, n)
	for i := range p.m {
		var m uint8
		if b0 != nil && !isValid(b0, o0+i) {
			p.v0[i], m = 0, 1
		}
		if b1 != nil && !isValid(b1, o1+i) {
			p.v1[i], m = 0, m|2
		}
		p.m[i] = m
	}
	h.pairVals = [2][]int64{p.v0, p.v1}
	return p, nil
}

// at is row i's key and NULL mask.
func (p *pairCols) at(i int) (a, b int64, m uint8) {
	if p.m != nil {
		m = p.m[i]
	}
	return p.v0[i], p.v1[i], m
}

// pairProbeBlock is how many rows lookupInt2 touches ahead of resolving.
const pairProbeBlock = 128

// lookupBytes resolves multi-column keys, encoded by enc from rec, to
// group ids.
func (h *HashAgg) lookupBytes(enc *keyEncoder, rec arrow.RecordBatch, gids []uint32) error {
	if err := enc.encode(rec, len(gids)); err != nil {
		return fmt.Errorf("agg: group key: %w", err)
	}
	buf, off := enc.buf, enc.off
	for i := range gids {
		kb := buf[off[i]:off[i+1]]
		if g, ok := h.byteMap[string(kb)]; ok {
			gids[i] = g
			continue
		}
		key := string(kb)
		g := h.allocGroup()
		h.created = append(h.created, int32(i))
		h.byteKeys[g] = key
		h.byteMap[key] = g
		gids[i] = g
	}
	return nil
}

// changed reports whether any result of group g differs from its
// snapshot at dirty position d.
func (h *HashAgg) changed(d int, g uint32) bool {
	for _, a := range h.accs {
		if a.changed(d, g) {
			return true
		}
	}
	return false
}

// flush emits the epoch's net changes (with EmitOnClose: the final rows
// of the groups closed since the last barrier), then the held
// watermarks, and starts a new epoch, evicting the closed groups.
func (h *HashAgg) flush() error {
	if h.opts.EmitOnClose {
		return h.flushClosed()
	}
	if h.committed {
		if err := h.hydrate(); err != nil {
			return err
		}
	}
	global := h.mode == modeGlobal
	rows := h.rows[:0]
	var err error
	// send emits the rows gathered so far as one chunk.
	send := func() {
		if err == nil && len(rows) > 0 {
			err = h.emit(rows)
		}
		rows = rows[:0]
	}
	if global && !h.globalEmitted && len(h.dirty) == 0 {
		rows = append(rows, emitRow{g: 0, op: operators.Insert})
	}
	for di, g := range h.dirty {
		if len(rows) >= MaxChunkRows-1 {
			send() // an update pair never straddles two chunks
		}
		d := int32(di)
		before, now := h.oldRowCount[di] > 0, h.rowCount[g] > 0
		if global {
			before, now = h.globalEmitted, true
		}
		switch {
		case !before && now:
			rows = append(rows, emitRow{g: g, d: d, op: operators.Insert})
		case before && !now:
			rows = append(rows, emitRow{g: g, d: d, old: true, op: operators.Delete})
		case before && now && h.changed(di, g):
			rows = append(rows,
				emitRow{g: g, d: d, old: true, op: operators.UpdateBefore},
				emitRow{g: g, d: d, op: operators.UpdateAfter})
		}
	}
	send()
	h.rows = rows
	if global {
		h.globalEmitted = true
	}
	if err == nil {
		err = h.sendWatermarks()
	}
	h.endEpoch()
	h.evictClosed()
	return err
}

// bigScratch is the capacity past which per-epoch buffers are dropped at
// the end of an epoch rather than kept for reuse, so a burst of touched
// groups does not pin memory proportional to it.
const bigScratch = 1 << 16

// recycle empties s for reuse, or drops it when it grew large.
func recycle[T any](s []T) []T {
	if cap(s) > bigScratch {
		return nil
	}
	return s[:0]
}

// endEpoch frees the groups that vanished and clears the dirty set.
func (h *HashAgg) endEpoch() {
	freed := h.freed[:0]
	if h.mode != modeGlobal && !h.committed {
		for _, g := range h.dirty {
			if h.rowCount[g] != 0 {
				continue
			}
			freed = append(freed, g)
			h.gen[g]++
			switch h.mode {
			case modeInt:
				if int64(g) == h.nullGroup {
					h.nullGroup = -1
				} else {
					h.table.remove(g, h.intKeys)
				}
			case modeBytes:
				delete(h.byteMap, h.byteKeys[g])
				h.byteKeys[g] = ""
			case modeInt2:
				h.ptable.remove(g, &h.pkeys)
			}
		}
	}
	if len(freed) > 0 {
		for _, c := range h.counters {
			c.clear(freed)
		}
		for _, a := range h.accs {
			a.clear(freed)
		}
		h.free = append(h.free, freed...)
	}
	h.freed = freed
	for _, a := range h.accs {
		a.endEpoch(h.dirty)
	}
	if !h.committed {
		for _, g := range h.dirty {
			h.dirtyBits[g>>6] &^= 1 << (g & 63)
		}
	}
	h.dirty, h.oldRowCount, h.freed = recycle(h.dirty), recycle(h.oldRowCount), recycle(h.freed)
	h.dslots = recycle(h.dslots)
	if h.committed {
		h.dropGroups()
	}
}

// emit builds one output chunk from rows and pushes it downstream.
func (h *HashAgg) emit(rows []emitRow) error {
	rb := array.NewRecordBuilder(h.mem, h.schema)
	defer rb.Release()
	rb.Reserve(len(rows))
	if h.mode != modeGlobal {
		gs := growSlice(&h.emitGids, len(rows))
		for i, r := range rows {
			gs[i] = r.g
		}
		if err := h.appendKeys(rb, gs); err != nil {
			return err
		}
	}
	nk := len(h.groupCols)
	for i, a := range h.accs {
		if err := a.appendRows(rb.Field(nk+i), rows); err != nil {
			return err
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	var ops []operators.Op
	for i, r := range rows {
		if r.op != operators.Insert && ops == nil {
			ops = make([]operators.Op, len(rows))
			for j := range i {
				ops[j] = operators.Insert
			}
		}
		if ops != nil {
			ops[i] = r.op
		}
	}
	return h.out.Push(&operators.Chunk{Rec: rec, Ops: ops, Slots: h.slotHint(rows)})
}

// slotHint returns where the rows of a committed-backed aggregate's
// chunk are in the view's store (as hydrate read them), or nil.
func (h *HashAgg) slotHint(rows []emitRow) *operators.SlotHint {
	if !h.committed || h.mode == modeGlobal {
		return nil
	}
	hint := &operators.SlotHint{Store: h.hintStore, Gen: h.hintGen, Slots: make([]uint32, len(rows))}
	for i, r := range rows {
		hint.Slots[i] = operators.NoSlot
		if r.op != operators.Insert && int(r.d) < len(h.dslots) {
			hint.Slots[i] = h.dslots[r.d]
		}
	}
	return hint
}

// Close releases the state. It is idempotent.
func (h *HashAgg) Close() error {
	if h.closed {
		return nil
	}
	h.closed = true
	h.rowCount, h.intKeys, h.byteKeys, h.byteMap = nil, nil, nil, nil
	h.table = intTable{}
	h.ptable, h.pkeys, h.hashes = pairTable{}, pairKeys{}, nil
	h.inl, h.inlWords, h.inlKeys = inlineTable{}, nil, nil
	h.pairVals, h.pairNulls = [2][]int64{}, nil
	h.counters, h.accs = nil, nil
	h.dirty, h.dirtyBits, h.oldRowCount, h.free = nil, nil, nil, nil
	h.gen, h.closeHeap, h.closing, h.evictBits = nil, nil, nil, nil
	return nil
}

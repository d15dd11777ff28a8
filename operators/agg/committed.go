package agg

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Committed-backed aggregation (Options.Committed).
//
// When the aggregate's output is exactly the rows of a view keyed by the
// group columns, the view's committed store already holds every group's
// current result: its key and its counts. Keeping them in the aggregate
// too would hold every group twice. A committed-backed aggregate keeps
// only the current epoch's deltas: the groups touched since the last
// barrier, each with the change of its row count and of its non-NULL
// counts (which may go negative within the epoch). At the barrier it
// reads the touched groups' committed rows (absent: a new group), adds the
// deltas, emits exactly what a full aggregate would (Insert, Delete, or an
// update pair; nothing when the result did not change), checks that no
// count went negative, and forgets every group. Its checkpoint is then
// empty: the view's store checkpoint holds the values.
//
// Only COUNT(*) and COUNT(x) can be read back from a row (a SUM cannot be
// retracted to nothing without its count, a MIN without its multiset), and
// COUNT(*) must be among them: it says when a group disappears.
//
// The caller guarantees that at every barrier the committed rows are
// exactly the aggregate's output up to the previous barrier, and that
// nothing changes them while the barrier is being processed.

// Committed is where a committed-backed aggregate reads the results its
// groups had at the last barrier: the committed rows of the view its
// output is applied to.
type Committed interface {
	// Read looks up the committed row of each group of keys, a record of
	// the aggregate's group columns (its output's first fields, one row
	// per group). It sets found[i] to whether group i has a committed row
	// and dst[k][i] to that row's value of output column cols[k] (a
	// COUNT, so BIGINT; 0 when there is no row), and slots[i] to where
	// that row is in the view's store (operators.NoSlot when none).
	// found, slots and every dst[k] have keys.NumRows() entries.
	Read(keys arrow.RecordBatch, cols []int, found []bool, dst [][]int64, slots []uint32) error
	// SlotStamp names the view's store and its slot generation, under
	// which the slots Read returned hold (operators.SlotHint): the
	// aggregate hints its emitted rows' slots with it, so that the
	// commit writes them in place without looking their keys up again.
	SlotStamp() (store, gen uint64)
}

// Recoverable reports whether the results of specs can all be read back
// from a committed row, as Options.Committed needs: every spec is
// COUNT(*) or COUNT(x), and one is COUNT(*).
func Recoverable(specs []Spec) bool {
	star := false
	for _, s := range specs {
		switch s.Kind {
		case CountStar:
			star = true
		case Count:
		default:
			return false
		}
	}
	return star
}

// CommittedBacked reports whether the aggregate was built with
// Options.Committed.
func (h *HashAgg) CommittedBacked() bool { return h.committed }

// Meaning is Options.Meaning: what the plan around the aggregate makes its
// groups stand for ("" for plain groups).
func (h *HashAgg) Meaning() string { return h.opts.Meaning }

// hydrateBatch bounds the groups read from the committed rows at once.
const hydrateBatch = 1 << 14

// initCommitted checks and sets up a committed-backed aggregate, once its
// accumulators are built.
func (h *HashAgg) initCommitted() error {
	if h.mode == modeGlobal {
		return planErr("a committed-backed aggregate needs GROUP BY columns")
	}
	if h.wmCol >= 0 || h.opts.EmitOnClose {
		return planErr("a committed-backed aggregate cannot close windows")
	}
	if !Recoverable(h.specs) {
		return planErr("a committed-backed aggregate computes only COUNT(*) and COUNT(x), with a COUNT(*)")
	}
	h.committed = true
	h.starSpec = -1
	h.ctrSpec = make([]int, len(h.counters))
	for c := range h.ctrSpec {
		h.ctrSpec[c] = -1
	}
	h.cols = make([]int, len(h.specs))
	h.countAccs = make([]*countAcc, len(h.specs))
	nk := len(h.groupCols)
	for i, s := range h.specs {
		h.cols[i] = nk + i
		ca, ok := h.accs[i].(*countAcc)
		if !ok {
			return planErr("%s: no count accumulator", s.Kind)
		}
		if s.Kind == CountStar {
			if h.starSpec < 0 {
				h.starSpec = i
			}
			continue
		}
		h.countAccs[i] = ca
		for c, cn := range h.counters {
			if ca.src == &cn.n && h.ctrSpec[c] < 0 {
				h.ctrSpec[c] = i
			}
		}
	}
	for c, i := range h.ctrSpec {
		if i < 0 {
			return planErr("counter of column %d has no COUNT", h.counters[c].col)
		}
	}
	for _, c := range h.counters {
		c.deltas = true
	}
	h.keySchema = arrow.NewSchema(h.schema.Fields()[:nk], nil)
	h.inlOK = h.inlineCounts()
	return nil
}

// hydrate turns the epoch's deltas into results: for every touched group
// it reads the committed row, adds its counts to the deltas and makes
// them the group's old results (its snapshot of the epoch), as a full
// aggregate would have held them.
func (h *HashAgg) hydrate() error {
	if err := h.materialize(false); err != nil {
		return err
	}
	h.touchAll()
	if len(h.dirty) == 0 {
		return nil
	}
	rb := array.NewRecordBuilder(h.mem, h.keySchema)
	defer rb.Release()
	if len(h.cvals) != len(h.specs) {
		h.cvals = make([][]int64, len(h.specs))
	}
	dslots := growSlice(&h.dslots, len(h.dirty))
	h.hintStore, h.hintGen = h.opts.Committed.SlotStamp()
	for lo := 0; lo < len(h.dirty); lo += hydrateBatch {
		gs := h.dirty[lo:min(lo+hydrateBatch, len(h.dirty))]
		if err := h.appendKeys(rb, gs); err != nil {
			return err
		}
		keys := rb.NewRecordBatch()
		found := growSlice(&h.found, len(gs))
		for k := range h.cvals {
			growSlice(&h.cvals[k], len(gs))
		}
		err := h.opts.Committed.Read(keys, h.cols, found, h.cvals, dslots[lo:lo+len(gs)])
		keys.Release()
		if err != nil {
			return fmt.Errorf("agg: reading the committed rows: %w", err)
		}
		if err := h.addCommitted(lo, gs, found); err != nil {
			return err
		}
	}
	return nil
}

// touchAll lists every group of a committed-backed aggregate as touched
// this epoch, in id order. pushChunk does not mark them: each was created
// this epoch with zero counts, so the groups a full aggregate would list
// as touched are exactly these (in first-touch order, where these are in
// id order: the inline table numbers its groups in table order). Their old
// results (oldRowCount, the COUNT(x) snapshots) are sized here and set by
// addCommitted.
func (h *HashAgg) touchAll() {
	dirty := growSlice(&h.dirty, h.numGroups)
	for i := range dirty {
		dirty[i] = uint32(i)
	}
	growSlice(&h.oldRowCount, h.numGroups)
	for _, ca := range h.countAccs {
		if ca != nil {
			growSlice(&ca.old, h.numGroups)
		}
	}
}

// pending reports whether the aggregate holds changes not yet emitted by
// a barrier.
func (h *HashAgg) pending() bool {
	return len(h.dirty) > 0 || (h.committed && (h.numGroups > 0 || h.inl.n > 0)) || len(h.closing) > 0 || len(h.pendingWM) > 0
}

// addCommitted adds the committed values read for groups gs (at dirty
// positions lo, lo+1, ...) to their deltas.
func (h *HashAgg) addCommitted(lo int, gs []uint32, found []bool) error {
	rc, olds, stars := h.rowCount, h.oldRowCount[lo:], h.cvals[h.starSpec]
	for i, g := range gs {
		old := stars[i]
		switch {
		case !found[i]:
			old = 0
		case old <= 0:
			return internalErr("agg: the committed row of a group has COUNT(*) = %d", old)
		}
		olds[i] = old
		if rc[g] += old; rc[g] < 0 {
			return negativeErr("group row count")
		}
	}
	for c, cn := range h.counters {
		vals, n := h.cvals[h.ctrSpec[c]], cn.n
		for i, g := range gs {
			if !found[i] {
				continue
			}
			n[g] += vals[i]
		}
		for _, g := range gs {
			if n[g] < 0 {
				return negativeErr(cn.name)
			}
		}
	}
	for s, ca := range h.countAccs {
		if ca == nil {
			continue
		}
		vals, old := h.cvals[s], ca.old[lo:]
		for i := range gs {
			if found[i] {
				old[i] = vals[i]
			} else {
				old[i] = 0
			}
		}
	}
	return nil
}

// keepCap empties s for the next epoch, or drops it when its capacity is
// far above the n entries this epoch used, so that one burst does not
// pin its memory.
func keepCap[T any](s []T, n int) []T {
	if cap(s) > 4*n && cap(s) > 1<<12 {
		return nil
	}
	return s[:0]
}

// tableLog is the log2 size of a hash table for n groups (3/4 load).
func tableLog(n int) uint {
	log := uint(10)
	for (1<<log)/4*3 < n {
		log++
	}
	return log
}

// dropGroups forgets every group at the end of an epoch of a
// committed-backed aggregate: their results are now the committed rows.
// The hash table and the per-group slices keep their capacity for the
// next epoch, unless it is far above what this epoch needed.
func (h *HashAgg) dropGroups() {
	n := h.numGroups
	h.numGroups = 0
	h.inlLast, h.inlOff = n, false
	h.resetInline()
	h.free = h.free[:0]
	h.rowCount = keepCap(h.rowCount, n)
	for _, c := range h.counters {
		c.n = keepCap(c.n, n)
	}
	log := tableLog(n)
	switch h.mode {
	case modeInt:
		h.intKeys = keepCap(h.intKeys, n)
		h.nullGroup = -1
		if len(h.table.slots) > 4<<log {
			h.table.init(log)
		} else {
			clear(h.table.slots)
			h.table.n = 0
		}
	case modeInt2:
		h.pkeys.kv = keepCap(h.pkeys.kv, n)
		h.pkeys.nulls = keepCap(h.pkeys.nulls, n)
		if len(h.ptable.slots) > 4<<log {
			h.ptable.init(log)
		} else {
			clear(h.ptable.slots)
			h.ptable.n = 0
		}
	case modeBytes:
		clear(h.byteKeys)
		h.byteKeys = keepCap(h.byteKeys, n)
		if h.byteMapSize > 4*n && h.byteMapSize > 1<<12 {
			h.byteMap = make(map[string]uint32, n)
			h.byteMapSize = n
		} else {
			clear(h.byteMap)
			h.byteMapSize = max(h.byteMapSize, n)
		}
	}
}

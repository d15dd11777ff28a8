package join

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
)

var _ operators.Checkpointer = (*HashJoin)(nil)

const (
	ckptFormat  = "sluice.join"
	ckptVersion = 1
)

// config fingerprints what a snapshot depends on.
func (j *HashJoin) config() string {
	s := fmt.Sprintf("kind=%d left=%v/%v right=%v/%v", j.kind, j.sides[0].types, j.sides[0].keys, j.sides[1].types, j.sides[1].keys)
	if j.time != nil {
		s += fmt.Sprintf(" time=%d/%d/%d/%d", j.time.LeftCol, j.time.RightCol, j.time.Lo, j.time.Hi)
	}
	if j.self {
		s += " self"
	}
	return s
}

// sideSchema is a side's stored rows plus, for the left side of a
// streaming left outer join, each row's match count.
func (j *HashJoin) sideSchema(in int) *arrow.Schema {
	s := j.sides[in]
	fields := make([]arrow.Field, 0, len(s.types)+1)
	for i, t := range s.types {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("c%d", i), Type: t.Arrow(), Nullable: true})
	}
	if j.withCounts(in) {
		fields = append(fields, arrow.Field{Name: "match_count", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

func (j *HashJoin) withCounts(in int) bool { return j.kind == StreamingLeftOuter && in == 0 }

var scalarNames = []string{"left_wm", "left_has_wm", "left_horizon", "left_evicted",
	"right_wm", "right_has_wm", "right_horizon", "right_evicted"}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Snapshot implements operators.Checkpointer: each side's stored rows
// and match counts (a self-join has one side), the watermarks and the
// eviction horizons. The key chains, row indexes and eviction queues (time heaps, or the buckets of
// an append-only side) are rebuilt on Restore.
func (j *HashJoin) Snapshot(w io.Writer) error {
	if j.bad != nil {
		return j.bad
	}
	if j.kind == LeftOuter {
		return fmt.Errorf("join: a bounded left outer join keeps no state between epochs to checkpoint")
	}
	sw := state.NewSnapshotWriter(w, j.mem)
	defer sw.Close()
	if err := sw.Header(ckptFormat, ckptVersion, j.config()); err != nil {
		return err
	}
	var vals []int64
	for _, s := range j.sides {
		vals = append(vals, s.wm, b2i(s.hasWM), s.horizon, b2i(s.evicted))
	}
	if err := sw.Scalars("meta", scalarNames, vals); err != nil {
		return err
	}
	for in, s := range j.stateSides() {
		schema := j.sideSchema(in)
		if err := sw.Begin(fmt.Sprintf("side%d", in), schema); err != nil {
			return err
		}
		slots := s.snapshotOrder()
		if len(slots) != s.rows.Len() {
			return fmt.Errorf("join: snapshot %s: %d of its %d rows are on key chains", s.name, len(slots), s.rows.Len())
		}
		for start := 0; start < len(slots); start += state.SnapshotBatchRows {
			batch := slots[start:min(start+state.SnapshotBatchRows, len(slots))]
			rec, err := j.sideBatch(sw.Mem(), in, s, schema, batch)
			if err != nil {
				return fmt.Errorf("join: snapshot %s: %w", s.name, err)
			}
			err = sw.Write(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		if err := sw.End(); err != nil {
			return err
		}
	}
	return nil
}

// snapshotOrder is the order a snapshot writes the live slots of s in,
// and so the order Restore inserts them in. An append-only side writes
// its key chains one after another (in the order of their oldest rows'
// slots), each from its oldest row to its newest: restored, each key's
// rows fill pages of their own (see chainPage), and a snapshot of the
// restored join writes the same rows in the same order. A side with a
// row index writes its slots in order.
func (s *side) snapshotOrder() []uint32 {
	slots := make([]uint32, 0, s.rows.Len())
	if !s.appendOnly {
		s.rows.ForEachLive(func(x uint32) { slots = append(slots, x) })
		return slots
	}
	s.rows.ForEachLive(func(x uint32) {
		if s.link[x].next != end {
			return // not its chain's oldest row
		}
		for y := x; y != end; y = s.link[y].prev {
			slots = append(slots, y)
		}
	})
	return slots
}

// Restore implements operators.Checkpointer. It must be called on a
// freshly built join.
func (j *HashJoin) Restore(r io.Reader) error {
	if j.bad != nil {
		return j.bad
	}
	if j.StateRows() > 0 {
		return fmt.Errorf("join: restore into a join that already holds rows")
	}
	sr := state.NewSnapshotReader(r, j.mem)
	if err := sr.Header(ckptFormat, ckptVersion, j.config()); err != nil {
		return err
	}
	vals, err := sr.Scalars("meta", scalarNames)
	if err != nil {
		return err
	}
	for in := range j.stateSides() {
		schema := j.sideSchema(in)
		err := sr.Section(fmt.Sprintf("side%d", in), schema, func(rec arrow.RecordBatch) error {
			return j.restoreRows(in, rec)
		})
		if err == nil && in == len(j.stateSides())-1 {
			err = sr.ExpectEnd()
		}
		if err != nil {
			for _, s := range j.sides {
				s.reset()
			}
			return fmt.Errorf("join: restore: %w", err)
		}
	}
	// Watermarks and horizons only once every row is in: a failed
	// restore leaves them as built.
	for in, s := range j.stateSides() {
		v := vals[in*4 : in*4+4]
		s.wm, s.hasWM, s.horizon, s.evicted = v[0], v[1] != 0, v[2], v[3] != 0
	}
	if j.self {
		j.setRoleHorizons()
	}
	return nil
}

// stateSides is the sides that hold rows: both, or a self-join's one.
func (j *HashJoin) stateSides() []*side {
	if j.self {
		return j.sides[:1]
	}
	return j.sides[:]
}

// restoreRows stores the rows of a snapshot batch again, rebuilding key
// chains, row indexes and eviction queues as inserts do.
func (j *HashJoin) restoreRows(in int, rec arrow.RecordBatch) error {
	s := j.sides[in]
	n := int(rec.NumRows())
	cols := rec.Columns()[:len(s.types)]
	data := array.NewRecordBatch(arrow.NewSchema(rec.Schema().Fields()[:len(s.types)], nil), cols, int64(n))
	defer data.Release()
	if err := s.rows.Bind(data); err != nil {
		return fmt.Errorf("join: restore: %w", err)
	}
	defer s.rows.Unbind()
	j.computeKeys(s, data, n)
	var counts *array.Int32
	if j.withCounts(in) {
		counts, _ = rec.Column(len(s.types)).(*array.Int32)
	}
	for i := 0; i < n; i++ {
		if !s.valid[i] {
			return fmt.Errorf("join: restore: a stored row has a NULL key or time: %w", state.ErrCorrupt)
		}
		slot, ok := j.insert(s, i)
		if !ok {
			return fmt.Errorf("join: restore: row below the eviction horizon: %w", state.ErrCorrupt)
		}
		if counts != nil {
			s.cnt[slot] = counts.Value(i)
		}
	}
	return nil
}

// sideBatch gathers the rows of side s (input in) at slots into a record
// of the side's checkpoint schema: its columns (the time column from the
// chain links when the rows omit it), then the match counts.
func (j *HashJoin) sideBatch(mem memory.Allocator, in int, s *side, schema *arrow.Schema, slots []uint32) (arrow.RecordBatch, error) {
	arrs := make([]arrow.Array, 0, schema.NumFields())
	for c := range s.types {
		var a arrow.Array
		var err error
		if c == s.tcol && s.rows.Omitted(c) {
			// The times are kept only in the chain links (see omitTime).
			ts := make([]int64, len(slots))
			for i, x := range slots {
				ts[i] = s.link[x].ts
			}
			a = state.Int64Array(mem, schema.Field(c).Type, ts)
		} else {
			a, err = s.rows.GatherSlotsColumn(mem, schema.Field(c).Type, c, slots)
		}
		if err != nil {
			state.ReleaseAll(arrs)
			return nil, err
		}
		arrs = append(arrs, a)
	}
	if j.withCounts(in) {
		cb := array.NewInt32Builder(mem)
		cb.Reserve(len(slots))
		for _, x := range slots {
			cb.UnsafeAppend(s.cnt[x])
		}
		arrs = append(arrs, cb.NewArray())
		cb.Release()
	}
	return state.NewRecord(schema, arrs, len(slots)), nil
}

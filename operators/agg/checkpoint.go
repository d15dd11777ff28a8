package agg

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

// Checkpoints (operators.Checkpointer).
//
// A snapshot is a sequence of framed Arrow IPC streams (see the state
// package's SnapshotWriter), in order:
//
//   - "header": format "sluice.agg.HashAgg", version, and the
//     configuration fingerprint (input types, group columns, aggregate
//     kinds and types, options); Restore into an aggregate configured
//     otherwise fails before touching any state.
//   - "meta": one row of int64: groups, watermark, watermark_set,
//     late_rows, global_emitted.
//   - "groups": one row per live group, group ids renumbered densely in
//     id order: the group key columns (the output's key fields), "rows"
//     (input rows), one "nn<i>" column per non-NULL counter, then each
//     aggregate's per-group columns ("a<i>.sum", "a<i>.value").
//   - one section per aggregate with variable-size state, in spec order:
//     "a<i>.distinct" (group, value[, count]) for COUNT(DISTINCT) and
//     "a<i>.multiset" (group, value, count: ascending values per group)
//     for a retractable MIN/MAX.
//
// A committed-backed aggregate (Options.Committed) holds no group between
// epochs, so its snapshot has an empty groups section: the committed rows
// it reads are checkpointed with the view's store.
//
// Not written, rebuilt by Restore: the hash tables (from the keys), the
// closing heap (from each group's watermark column value; stale entries
// of freed ids are dropped), COUNT(DISTINCT) per-group counts, epoch
// bookkeeping (a snapshot is taken between epochs) and id generations.

const (
	snapFormat  = "sluice.agg.HashAgg"
	snapVersion = 1
)

var metaNames = []string{"groups", "watermark", "watermark_set", "late_rows", "global_emitted"}

// accCheckpoint is the checkpoint side of an accumulator.
type accCheckpoint interface {
	// groupFields are its per-group state columns in the groups section.
	groupFields(prefix string) []arrow.Field
	// appendGroups appends the state of groups gs, one builder per field.
	appendGroups(bs []array.Builder, gs []uint32) error
	// loadGroups sets groups base, base+1, ... from columns of those fields.
	loadGroups(cols []arrow.Array, base uint32) error
	// extraSchema is the schema of its own section, nil for none.
	extraSchema() *arrow.Schema
	// writeExtra writes that section's records; newID renumbers groups
	// (nil: ids are kept).
	writeExtra(sw *state.SnapshotWriter, newID []uint32, live []uint32) error
	// readExtra folds one record of the section into groups < n.
	readExtra(rec arrow.RecordBatch, n uint32) error
}

var (
	_ accCheckpoint = (*countAcc)(nil)
	_ accCheckpoint = (*sumIntAcc)(nil)
	_ accCheckpoint = (*sumFloatAcc)(nil)
	_ accCheckpoint = (*sumDecAcc)(nil)
	_ accCheckpoint = (*distinctAcc[int64])(nil)
	_ accCheckpoint = (*minMaxAcc[string])(nil)
)

// config is the aggregate's configuration fingerprint.
func (h *HashAgg) config() string {
	var b strings.Builder
	b.WriteString("input=(")
	for i, t := range h.inTypes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.String())
	}
	b.WriteString(") group by=(")
	for i, c := range h.groupCols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", c)
	}
	b.WriteString(") aggregates=(")
	for i, s := range h.specs {
		if i > 0 {
			b.WriteString(", ")
		}
		if s.Kind == CountStar {
			fmt.Fprintf(&b, "%s -> %s", s.Kind, s.Result)
		} else {
			fmt.Fprintf(&b, "%s($%d %s) -> %s", s.Kind, s.Arg, s.ArgType, s.Result)
		}
	}
	fmt.Fprintf(&b, ") append_only=%v watermark_group_col=%d emit_on_close=%v",
		h.appendOnly, h.opts.WatermarkGroupCol, h.opts.EmitOnClose)
	if h.committed {
		// Its groups hold deltas, not results: a full aggregate's
		// snapshot cannot be restored into it, nor the reverse.
		b.WriteString(" committed_backed=true")
	}
	if h.opts.Meaning != "" {
		fmt.Fprintf(&b, " meaning=%q", h.opts.Meaning)
	}
	return b.String()
}

// groupsSchema is the schema of the groups section.
func (h *HashAgg) groupsSchema() *arrow.Schema {
	nk := len(h.groupCols)
	fields := append([]arrow.Field(nil), h.schema.Fields()[:nk]...)
	fields = append(fields, arrow.Field{Name: "rows", Type: arrow.PrimitiveTypes.Int64})
	for i := range h.counters {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("nn%d", i), Type: arrow.PrimitiveTypes.Int64})
	}
	for i, a := range h.accs {
		fields = append(fields, a.(accCheckpoint).groupFields(fmt.Sprintf("a%d.", i))...)
	}
	return arrow.NewSchema(fields, nil)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Snapshot writes the aggregate's state to w as Arrow IPC streams. It
// must be called between epochs (right after a Barrier): with changes
// pending it returns an error.
func (h *HashAgg) Snapshot(w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internalErr("agg: snapshot: panic: %v", r)
		}
	}()
	if h.closed {
		return internalErr("agg: Snapshot after Close")
	}
	if h.pending() {
		return internalErr("agg: Snapshot with changes pending: it must follow a barrier")
	}
	sw := state.NewSnapshotWriter(w, h.mem)
	defer sw.Close()
	if err := h.snapshot(sw); err != nil {
		return fmt.Errorf("agg: snapshot: %w", err)
	}
	return nil
}

func (h *HashAgg) live(g uint32) bool { return h.mode == modeGlobal || h.rowCount[g] > 0 }

func (h *HashAgg) snapshot(sw *state.SnapshotWriter) error {
	if err := sw.Header(snapFormat, snapVersion, h.config()); err != nil {
		return err
	}
	groups := h.Groups()
	if err := sw.Scalars("meta", metaNames, []int64{int64(groups), h.wm, b2i(h.wmSet), h.lateRows, b2i(h.globalEmitted)}); err != nil {
		return err
	}
	// newID renumbers live groups densely when some ids are free.
	var newID, live []uint32
	extra := false
	for _, a := range h.accs {
		extra = extra || a.(accCheckpoint).extraSchema() != nil
	}
	if len(h.free) > 0 && extra {
		newID = make([]uint32, h.numGroups)
	}
	if extra {
		live = make([]uint32, 0, groups)
	}

	schema := h.groupsSchema()
	rb := array.NewRecordBuilder(h.mem, schema)
	defer rb.Release()
	if err := sw.Begin("groups", schema); err != nil {
		return err
	}
	gs := make([]uint32, 0, min(groups, state.SnapshotBatchRows))
	n := uint32(0)
	flush := func() error {
		if len(gs) == 0 {
			return nil
		}
		if err := h.appendGroups(rb, gs); err != nil {
			return err
		}
		rec := rb.NewRecordBatch()
		defer rec.Release()
		gs = gs[:0]
		return sw.Write(rec)
	}
	for g := 0; g < h.numGroups; g++ {
		if !h.live(uint32(g)) {
			continue
		}
		if newID != nil {
			newID[g] = n
		}
		if live != nil {
			live = append(live, uint32(g))
		}
		n++
		gs = append(gs, uint32(g))
		if len(gs) == state.SnapshotBatchRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if int(n) != groups {
		return internalErr("agg: %d live groups, want %d", n, groups)
	}
	if err := sw.End(); err != nil {
		return err
	}
	for i, a := range h.accs {
		ac := a.(accCheckpoint)
		es := ac.extraSchema()
		if es == nil {
			continue
		}
		if err := sw.Begin(h.extraName(i), es); err != nil {
			return err
		}
		if err := ac.writeExtra(sw, newID, live); err != nil {
			return err
		}
		if err := sw.End(); err != nil {
			return err
		}
	}
	return nil
}

func (h *HashAgg) extraName(i int) string {
	if h.specs[i].Kind == CountDistinct {
		return fmt.Sprintf("a%d.distinct", i)
	}
	return fmt.Sprintf("a%d.multiset", i)
}

// appendGroups appends one row per group of gs to rb (groups schema).
func (h *HashAgg) appendGroups(rb *array.RecordBuilder, gs []uint32) error {
	if err := h.appendKeys(rb, gs); err != nil {
		return err
	}
	f := len(h.groupCols)
	appendInts(rb.Field(f), h.rowCount, gs, &h.wmInts)
	f++
	for _, c := range h.counters {
		appendInts(rb.Field(f), c.n, gs, &h.wmInts)
		f++
	}
	for _, a := range h.accs {
		ac := a.(accCheckpoint)
		k := len(ac.groupFields(""))
		bs := make([]array.Builder, k)
		for j := range bs {
			bs[j] = rb.Field(f + j)
		}
		if err := ac.appendGroups(bs, gs); err != nil {
			return err
		}
		f += k
	}
	return nil
}

// appendKeys appends the group key of each group of gs to the first
// fields of rb, which have the output's key types.
func (h *HashAgg) appendKeys(rb *array.RecordBuilder, gs []uint32) error {
	switch h.mode {
	case modeInt:
		b := rb.Field(0)
		if ib, ok := b.(*array.Int64Builder); ok && (h.nullGroup < 0 || !slices.Contains(gs, uint32(h.nullGroup))) {
			appendInts(ib, h.intKeys, gs, &h.wmInts)
			break
		}
		app, err := intFamily.appender(b)
		if err != nil {
			return err
		}
		b.Reserve(len(gs))
		for _, g := range gs {
			if int64(g) == h.nullGroup {
				b.AppendNull()
			} else {
				app(h.intKeys[g])
			}
		}
	case modeInt2:
		for ci := range 2 {
			b := rb.Field(ci)
			bit := uint8(1) << ci
			if ib, ok := b.(*array.Int64Builder); ok && !slices.ContainsFunc(gs, func(g uint32) bool { return h.pkeys.nulls[g]&bit != 0 }) {
				appendPairCol(ib, h.pkeys.kv, ci, gs, &h.wmInts)
				continue
			}
			app, err := intFamily.appender(b)
			if err != nil {
				return err
			}
			b.Reserve(len(gs))
			for _, g := range gs {
				switch {
				case h.pkeys.nulls[g]&bit != 0:
					b.AppendNull()
				case ci == 0:
					app(h.pkeys.kv[g].a)
				default:
					app(h.pkeys.kv[g].b)
				}
			}
		}
	case modeBytes:
		keys := h.keyBuf[:0]
		for _, g := range gs {
			keys = append(keys, h.byteKeys[g])
		}
		h.keyBuf = keys
		pos := growSlice(&h.pos, len(gs))
		clear(pos)
		for ci, t := range h.keyTypes {
			if err := decodeColumn(rb.Field(ci), t, keys, pos); err != nil {
				return err
			}
		}
		clear(keys)
	}
	return nil
}

// appendInts appends vals[g] for each g of gs to an Int64 builder,
// gathering them into scratch first so the builder copies them in bulk.
func appendInts(b array.Builder, vals []int64, gs []uint32, scratch *[]int64) {
	out := growSlice(scratch, len(gs))
	for i, g := range gs {
		out[i] = vals[g]
	}
	b.(*array.Int64Builder).AppendValues(out, nil)
}

// appendPairCol appends column ci (0: a, 1: b) of the pair keys of
// groups gs to b.
func appendPairCol(b *array.Int64Builder, kv []pairKV, ci int, gs []uint32, scratch *[]int64) {
	out := growSlice(scratch, len(gs))
	if ci == 0 {
		for i, g := range gs {
			out[i] = kv[g].a
		}
	} else {
		for i, g := range gs {
			out[i] = kv[g].b
		}
	}
	b.AppendValues(out, nil)
}

// Restore loads a snapshot that Snapshot wrote from an aggregate of the
// same configuration into this freshly built one, before any message. On
// error (another configuration, a damaged snapshot) the aggregate is left
// empty, as built.
func (h *HashAgg) Restore(r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			h.reset()
			err = internalErr("agg: restore: panic: %v", p)
		}
	}()
	if h.closed {
		return internalErr("agg: Restore after Close")
	}
	if h.pushed {
		return internalErr("agg: Restore after input: it must come first")
	}
	sr := state.NewSnapshotReader(r, h.mem)
	if err := sr.Header(snapFormat, snapVersion, h.config()); err != nil {
		return fmt.Errorf("agg: restore: %w", err)
	}
	err = h.restore(sr)
	if err == nil {
		err = sr.ExpectEnd()
	}
	if err != nil {
		h.reset()
		return fmt.Errorf("agg: restore: %w", err)
	}
	return nil
}

func corruptErr(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), state.ErrCorrupt)
}

func (h *HashAgg) restore(sr *state.SnapshotReader) error {
	meta, err := sr.Scalars("meta", metaNames)
	if err != nil {
		return err
	}
	groups := meta[0]
	h.wm, h.wmSet, h.lateRows, h.globalEmitted = meta[1], meta[2] != 0, meta[3], meta[4] != 0
	if groups < 0 || groups >= 1<<32-1 || (h.mode == modeGlobal && groups != 1) || (h.committed && groups != 0) {
		return corruptErr("%d groups", groups)
	}
	h.presize(int(min(groups, 1<<26)))
	n := uint32(0)
	nk := len(h.groupCols)
	var enc keyEncoder
	if h.mode == modeBytes {
		enc = keyEncoder{cols: make([]int, nk), types: h.keyTypes}
		for i := range enc.cols {
			enc.cols[i] = i
		}
	}
	err = sr.Section("groups", h.groupsSchema(), func(rec arrow.RecordBatch) error {
		rows := int(rec.NumRows())
		if int64(n)+int64(rows) > groups {
			return corruptErr("more than %d groups", groups)
		}
		if rows == 0 {
			return nil
		}
		gids := growSlice(&h.gids, rows)
		h.created = h.created[:0]
		var lerr error
		switch h.mode {
		case modeGlobal:
			clear(gids)
		case modeInt:
			lerr = h.lookupInt(rec.Column(0), gids)
		case modeInt2:
			lerr = h.lookupInt2(rec.Column(0), rec.Column(1), gids, false)
		case modeBytes:
			lerr = h.lookupBytes(&enc, rec, gids)
		}
		if lerr != nil {
			return lerr
		}
		for i, g := range gids {
			if g != n+uint32(i) {
				return corruptErr("group key repeated")
			}
		}
		h.created = h.created[:0]
		h.growState()
		f := nk
		rc := rec.Column(f).(*array.Int64)
		for i, v := range rc.Int64Values() {
			if v < 0 || (v == 0 && h.mode != modeGlobal) {
				return corruptErr("group with %d rows", v)
			}
			h.rowCount[n+uint32(i)] = v
		}
		f++
		for _, c := range h.counters {
			for i, v := range rec.Column(f).(*array.Int64).Int64Values() {
				if v < 0 {
					return corruptErr("negative count")
				}
				c.n[n+uint32(i)] = v
			}
			f++
		}
		for _, a := range h.accs {
			ac := a.(accCheckpoint)
			k := len(ac.groupFields(""))
			if err := ac.loadGroups(rec.Columns()[f:f+k], n); err != nil {
				return err
			}
			f += k
		}
		if h.wmCol >= 0 {
			col := rec.Column(h.opts.WatermarkGroupCol)
			vals, err := readInts(col, &h.wmInts)
			if err != nil {
				return err
			}
			for i := 0; i < rows; i++ {
				if col.IsValid(i) {
					h.closeHeap.push(closeEntry{v: vals[i], g: n + uint32(i)})
				}
			}
		}
		n += uint32(rows)
		return nil
	})
	if err != nil {
		return err
	}
	if int64(n) != groups {
		return corruptErr("%d groups, want %d", n, groups)
	}
	for i, a := range h.accs {
		ac := a.(accCheckpoint)
		es := ac.extraSchema()
		if es == nil {
			continue
		}
		if err := sr.Section(h.extraName(i), es, func(rec arrow.RecordBatch) error {
			return ac.readExtra(rec, n)
		}); err != nil {
			return err
		}
	}
	return nil
}

// presize makes room for n groups, so loading them neither rehashes nor
// regrows: the hash table at its final size, the per-group slices at
// their final capacity and every aggregate's state at its final length
// (empty state past numGroups is harmless: grow would add the same).
func (h *HashAgg) presize(n int) {
	if h.mode == modeGlobal || n == 0 {
		return
	}
	log := tableLog(n)
	switch h.mode {
	case modeInt:
		h.table.init(log)
		h.intKeys = make([]int64, 0, n)
	case modeInt2:
		h.ptable.init(log)
		h.pkeys = pairKeys{kv: make([]pairKV, 0, n), nulls: make([]uint8, 0, n)}
	case modeBytes:
		h.byteMap = make(map[string]uint32, n)
		h.byteKeys = make([]string, 0, n)
	}
	h.rowCount = make([]int64, 0, n)
	h.gen = make([]uint32, 0, n)
	h.dirtyBits = make([]uint64, 0, n/64+1)
	for _, c := range h.counters {
		c.grow(n)
	}
	for _, a := range h.accs {
		a.grow(n)
	}
}

// Per-accumulator checkpoint methods.

func (a *countAcc) groupFields(string) []arrow.Field                           { return nil }
func (a *countAcc) appendGroups([]array.Builder, []uint32) error               { return nil }
func (a *countAcc) loadGroups([]arrow.Array, uint32) error                     { return nil }
func (a *countAcc) extraSchema() *arrow.Schema                                 { return nil }
func (a *countAcc) writeExtra(*state.SnapshotWriter, []uint32, []uint32) error { return nil }
func (a *countAcc) readExtra(arrow.RecordBatch, uint32) error                  { return nil }

func (a *sumIntAcc) groupFields(p string) []arrow.Field {
	return []arrow.Field{{Name: p + "sum", Type: arrow.PrimitiveTypes.Int64}}
}

func (a *sumIntAcc) appendGroups(bs []array.Builder, gs []uint32) error {
	appendInts(bs[0], a.sum, gs, &a.scratch)
	return nil
}

func (a *sumIntAcc) loadGroups(cols []arrow.Array, base uint32) error {
	copy(a.sum[base:], cols[0].(*array.Int64).Int64Values())
	return nil
}

func (a *sumIntAcc) extraSchema() *arrow.Schema                                 { return nil }
func (a *sumIntAcc) writeExtra(*state.SnapshotWriter, []uint32, []uint32) error { return nil }
func (a *sumIntAcc) readExtra(arrow.RecordBatch, uint32) error                  { return nil }

func (a *sumFloatAcc) groupFields(p string) []arrow.Field {
	return []arrow.Field{{Name: p + "sum", Type: arrow.PrimitiveTypes.Float64}}
}

func (a *sumFloatAcc) appendGroups(bs []array.Builder, gs []uint32) error {
	out := growSlice(&a.scratch, len(gs))
	for i, g := range gs {
		out[i] = a.sum[g]
	}
	bs[0].(*array.Float64Builder).AppendValues(out, nil)
	return nil
}

func (a *sumFloatAcc) loadGroups(cols []arrow.Array, base uint32) error {
	copy(a.sum[base:], cols[0].(*array.Float64).Float64Values())
	return nil
}

func (a *sumFloatAcc) extraSchema() *arrow.Schema                                 { return nil }
func (a *sumFloatAcc) writeExtra(*state.SnapshotWriter, []uint32, []uint32) error { return nil }
func (a *sumFloatAcc) readExtra(arrow.RecordBatch, uint32) error                  { return nil }

// decSumType holds a 128-bit sum in units of the argument's scale.
func decSumType(scale int32) arrow.DataType {
	return &arrow.Decimal128Type{Precision: 38, Scale: scale}
}

func (a *sumDecAcc) groupFields(p string) []arrow.Field {
	return []arrow.Field{{Name: p + "sum", Type: decSumType(a.scale)}}
}

func (a *sumDecAcc) appendGroups(bs []array.Builder, gs []uint32) error {
	b := bs[0].(*array.Decimal128Builder)
	b.Reserve(len(gs))
	for _, g := range gs {
		b.UnsafeAppend(a.sum[g])
	}
	return nil
}

func (a *sumDecAcc) loadGroups(cols []arrow.Array, base uint32) error {
	copy(a.sum[base:], cols[0].(*array.Decimal128).Values())
	return nil
}

func (a *sumDecAcc) extraSchema() *arrow.Schema                                 { return nil }
func (a *sumDecAcc) writeExtra(*state.SnapshotWriter, []uint32, []uint32) error { return nil }
func (a *sumDecAcc) readExtra(arrow.RecordBatch, uint32) error                  { return nil }

// snapFamily returns the family reading and appending V values in a
// snapshot column: DOUBLE COUNT(DISTINCT) keys are canonical bits, kept
// as Int64.
func snapFamily[V any](f *family[V]) *family[V] {
	if p, ok := any(f).(*family[int64]); ok && p == &floatBitsFamily {
		return any(&intFamily).(*family[V])
	}
	return f
}

// valueType is the Arrow type of a snapshot column of values of t
// (integer-like values, and DOUBLE bits when bits, as Int64).
func valueType(t types.T, bits bool) arrow.DataType {
	if isIntLike(t) || (bits && t.Kind == types.Double) {
		return arrow.PrimitiveTypes.Int64
	}
	return t.Arrow()
}

func (a *distinctAcc[K]) groupFields(string) []arrow.Field             { return nil }
func (a *distinctAcc[K]) appendGroups([]array.Builder, []uint32) error { return nil }
func (a *distinctAcc[K]) loadGroups([]arrow.Array, uint32) error       { return nil }

func (a *distinctAcc[K]) extraSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: "group", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "value", Type: valueType(a.argType, true)},
	}
	if !a.appendOnly {
		fields = append(fields, arrow.Field{Name: "count", Type: arrow.PrimitiveTypes.Int64})
	}
	return arrow.NewSchema(fields, nil)
}

func (a *distinctAcc[K]) writeExtra(sw *state.SnapshotWriter, newID, _ []uint32) error {
	schema := a.extraSchema()
	rb := array.NewRecordBuilder(sw.Mem(), schema)
	defer rb.Release()
	gb := rb.Field(0).(*array.Uint32Builder)
	app, err := snapFamily(a.f).appender(rb.Field(1))
	if err != nil {
		return err
	}
	var cb *array.Int64Builder
	if !a.appendOnly {
		cb = rb.Field(2).(*array.Int64Builder)
	}
	rows := 0
	flush := func() error {
		rec := rb.NewRecordBatch()
		defer rec.Release()
		rows = 0
		return sw.Write(rec)
	}
	add := func(k dkey[K], cnt int64) error {
		g := k.g
		if newID != nil {
			g = newID[g]
		}
		gb.Append(g)
		app(k.v)
		if cb != nil {
			cb.Append(cnt)
		}
		if rows++; rows == state.SnapshotBatchRows {
			return flush()
		}
		return nil
	}
	if a.appendOnly {
		for k := range a.set {
			if err := add(k, 1); err != nil {
				return err
			}
		}
	} else {
		for k, slot := range a.idx {
			if err := add(k, a.cnt[slot]); err != nil {
				return err
			}
		}
	}
	if rows > 0 {
		return flush()
	}
	return nil
}

func (a *distinctAcc[K]) readExtra(rec arrow.RecordBatch, n uint32) error {
	gcol := rec.Column(0).(*array.Uint32)
	vcol := rec.Column(1)
	if gcol.NullN() > 0 || vcol.NullN() > 0 {
		return corruptErr("NULL in a COUNT(DISTINCT) value")
	}
	sf := snapFamily(a.f)
	vals, err := sf.read(vcol, &a.scratch)
	if err != nil {
		return err
	}
	var cnts []int64
	if !a.appendOnly {
		c := rec.Column(2).(*array.Int64)
		if c.NullN() > 0 {
			return corruptErr("NULL count")
		}
		cnts = c.Int64Values()
	}
	for i, g := range gcol.Uint32Values() {
		if g >= n {
			return corruptErr("COUNT(DISTINCT) value of group %d of %d", g, n)
		}
		k := dkey[K]{g, sf.keep(vals[i])}
		if a.appendOnly {
			if _, dup := a.set[k]; dup {
				return corruptErr("COUNT(DISTINCT) value repeated")
			}
			a.set[k] = struct{}{}
		} else {
			if _, dup := a.idx[k]; dup {
				return corruptErr("COUNT(DISTINCT) value repeated")
			}
			if cnts[i] <= 0 {
				return corruptErr("COUNT(DISTINCT) value count %d", cnts[i])
			}
			a.idx[k] = uint32(len(a.cnt))
			a.cnt = append(a.cnt, cnts[i])
		}
		a.n[g]++
	}
	return nil
}

func (a *minMaxAcc[V]) groupFields(p string) []arrow.Field {
	if !a.appendOnly {
		return nil
	}
	return []arrow.Field{{Name: p + "value", Type: valueType(a.argType, false), Nullable: true}}
}

func (a *minMaxAcc[V]) appendGroups(bs []array.Builder, gs []uint32) error {
	if !a.appendOnly {
		return nil
	}
	app, err := snapFamily(a.f).appender(bs[0])
	if err != nil {
		return err
	}
	bs[0].Reserve(len(gs))
	for _, g := range gs {
		if a.has[g] {
			app(a.val[g])
		} else {
			bs[0].AppendNull()
		}
	}
	return nil
}

func (a *minMaxAcc[V]) loadGroups(cols []arrow.Array, base uint32) error {
	if !a.appendOnly {
		return nil
	}
	col := cols[0]
	vals, err := a.f.read(col, &a.scratch)
	if err != nil {
		return err
	}
	for i := 0; i < col.Len(); i++ {
		if col.IsValid(i) {
			g := base + uint32(i)
			a.val[g], a.has[g] = a.f.keep(vals[i]), true
		}
	}
	return nil
}

func (a *minMaxAcc[V]) extraSchema() *arrow.Schema {
	if a.appendOnly {
		return nil
	}
	return arrow.NewSchema([]arrow.Field{
		{Name: "group", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "value", Type: valueType(a.argType, false)},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
}

func (a *minMaxAcc[V]) writeExtra(sw *state.SnapshotWriter, _, live []uint32) error {
	rb := array.NewRecordBuilder(sw.Mem(), a.extraSchema())
	defer rb.Release()
	gb := rb.Field(0).(*array.Uint32Builder)
	app, err := a.f.appender(rb.Field(1))
	if err != nil {
		return err
	}
	cb := rb.Field(2).(*array.Int64Builder)
	rows := 0
	for j, g := range live {
		for _, blk := range a.sets[g] {
			for _, e := range blk {
				gb.Append(uint32(j))
				app(e.v)
				cb.Append(e.n)
				rows++
			}
		}
		if rows >= state.SnapshotBatchRows || (j == len(live)-1 && rows > 0) {
			rec := rb.NewRecordBatch()
			err := sw.Write(rec)
			rec.Release()
			if err != nil {
				return err
			}
			rows = 0
		}
	}
	return nil
}

func (a *minMaxAcc[V]) readExtra(rec arrow.RecordBatch, n uint32) error {
	gcol := rec.Column(0).(*array.Uint32)
	vcol := rec.Column(1)
	ccol := rec.Column(2).(*array.Int64)
	if gcol.NullN() > 0 || vcol.NullN() > 0 || ccol.NullN() > 0 {
		return corruptErr("NULL in a MIN/MAX multiset")
	}
	vals, err := a.f.read(vcol, &a.scratch)
	if err != nil {
		return err
	}
	cnts := ccol.Int64Values()
	for i, g := range gcol.Uint32Values() {
		if g >= n {
			return corruptErr("MIN/MAX value of group %d of %d", g, n)
		}
		if cnts[i] <= 0 {
			return corruptErr("MIN/MAX value count %d", cnts[i])
		}
		m := a.sets[g]
		if l := len(m); l > 0 {
			blk := m[l-1]
			if a.f.cmp(blk[len(blk)-1].v, vals[i]) >= 0 {
				return corruptErr("MIN/MAX values out of order")
			}
		}
		e := msEntry[V]{v: a.f.keep(vals[i]), n: cnts[i]}
		if l := len(m); l == 0 || len(m[l-1]) >= msBlockMax/2 {
			a.sets[g] = append(m, []msEntry[V]{e})
		} else {
			m[l-1] = append(m[l-1], e)
		}
	}
	return nil
}

// Snapshot and Restore are the aggregate's checkpoint.
var _ operators.Checkpointer = (*HashAgg)(nil)

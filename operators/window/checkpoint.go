package window

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
)

// Session checkpoints (operators.Checkpointer). Assign keeps no state
// between messages and does not implement it.
//
// A snapshot is a sequence of framed Arrow IPC streams (see the state
// package's SnapshotWriter):
//
//   - "header": format "sluice.window.Session", version, configuration
//     (input types, time and key columns, gap, mode).
//   - "meta": one row of int64: watermark, watermark_set,
//     out_watermark, out_watermark_set, late_rows, null_rows.
//   - "rows" and "rows.free": the held rows by slot (state.Columns),
//     slot numbers kept.
//   - "emitted": update mode's record of what each row was last emitted
//     with: slot, window_start, window_end, for emitted rows.
//   - "keys": the encoded key of each key with open sessions, in the
//     order keys are visited at a barrier.
//   - "sessions": per key (its row in "keys"), its rows' (ts, slot) in
//     (ts, arrival) order.
//
// Rebuilt by Restore: the key index and each key's first session end.

const (
	sessFormat  = "sluice.window.Session"
	sessVersion = 1
)

var sessMetaNames = []string{"watermark", "watermark_set", "out_watermark", "out_watermark_set", "late_rows", "null_rows"}

var (
	emittedSchema = arrow.NewSchema([]arrow.Field{
		{Name: "slot", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "window_start", Type: tsType},
		{Name: "window_end", Type: tsType},
	}, nil)
	keysSchema     = arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.BinaryTypes.Binary}}, nil)
	sessionsSchema = arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "ts", Type: tsType},
		{Name: "slot", Type: arrow.PrimitiveTypes.Uint32},
	}, nil)
)

var _ operators.Checkpointer = (*Session)(nil)

// config is the Session's configuration fingerprint.
func (s *Session) config() string {
	var b strings.Builder
	b.WriteString("input=(")
	for i, f := range s.in.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Type.String())
	}
	fmt.Fprintf(&b, ") ts=$%d key=%v gap=%dus emit_on_close=%v", s.tsCol, s.keyCols, s.gap, s.emitOnClose)
	return b.String()
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Snapshot writes the Session's state to w as Arrow IPC streams. It must
// be called between epochs (right after a Barrier).
func (s *Session) Snapshot(w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("window session: snapshot: panic: %v", r)
		}
	}()
	if s.closed {
		return fmt.Errorf("window session: Snapshot after Close")
	}
	if len(s.touched) > 0 || len(s.toFree) > 0 || len(s.oSlots) > 0 {
		return fmt.Errorf("window session: Snapshot with changes pending: it must follow a barrier")
	}
	sw := state.NewSnapshotWriter(w, s.mem)
	defer sw.Close()
	if err := s.snapshot(sw); err != nil {
		return fmt.Errorf("window session: snapshot: %w", err)
	}
	return nil
}

func (s *Session) snapshot(sw *state.SnapshotWriter) error {
	if err := sw.Header(sessFormat, sessVersion, s.config()); err != nil {
		return err
	}
	if err := sw.Scalars("meta", sessMetaNames, []int64{s.wm, b2i(s.wmSet), s.outWM, b2i(s.outWMSet), s.late, s.nullRows}); err != nil {
		return err
	}
	if err := s.rows.SnapshotTo(sw, "rows"); err != nil {
		return err
	}
	// emitted
	eb := array.NewRecordBuilder(sw.Mem(), emittedSchema)
	defer eb.Release()
	if err := sw.Begin("emitted", emittedSchema); err != nil {
		return err
	}
	n := 0
	writeBatch := func(b *array.RecordBuilder) error {
		rec := b.NewRecordBatch()
		defer rec.Release()
		n = 0
		return sw.Write(rec)
	}
	for slot, e := range s.emitted {
		if !e {
			continue
		}
		eb.Field(0).(*array.Uint32Builder).Append(uint32(slot))
		eb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(s.emS[slot]))
		eb.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(s.emE[slot]))
		if n++; n == state.SnapshotBatchRows {
			if err := writeBatch(eb); err != nil {
				return err
			}
		}
	}
	if n > 0 {
		if err := writeBatch(eb); err != nil {
			return err
		}
	}
	if err := sw.End(); err != nil {
		return err
	}
	// keys, then their rows
	kb := array.NewRecordBuilder(sw.Mem(), keysSchema)
	defer kb.Release()
	if err := sw.Begin("keys", keysSchema); err != nil {
		return err
	}
	for _, kid := range s.live {
		k := &s.keys[kid]
		if len(k.gone) > 0 || k.touched {
			return fmt.Errorf("key with changes pending")
		}
		kb.Field(0).(*array.BinaryBuilder).AppendString(k.key)
		if n++; n == state.SnapshotBatchRows {
			if err := writeBatch(kb); err != nil {
				return err
			}
		}
	}
	if n > 0 {
		if err := writeBatch(kb); err != nil {
			return err
		}
	}
	if err := sw.End(); err != nil {
		return err
	}
	sb := array.NewRecordBuilder(sw.Mem(), sessionsSchema)
	defer sb.Release()
	if err := sw.Begin("sessions", sessionsSchema); err != nil {
		return err
	}
	for i, kid := range s.live {
		for _, r := range s.keys[kid].rows {
			sb.Field(0).(*array.Uint32Builder).Append(uint32(i))
			sb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts))
			sb.Field(2).(*array.Uint32Builder).Append(r.slot)
			if n++; n == state.SnapshotBatchRows {
				if err := writeBatch(sb); err != nil {
					return err
				}
			}
		}
	}
	if n > 0 {
		if err := writeBatch(sb); err != nil {
			return err
		}
	}
	return sw.End()
}

// Restore loads a snapshot that Snapshot wrote from a Session of the same
// configuration into this freshly built one, before any message. On error
// (another configuration, a damaged snapshot) the Session is left empty,
// as built.
func (s *Session) Restore(r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.reset()
			err = fmt.Errorf("window session: restore: panic: %v", p)
		}
	}()
	if s.closed {
		return fmt.Errorf("window session: Restore after Close")
	}
	if s.pushed {
		return fmt.Errorf("window session: Restore after input: it must come first")
	}
	sr := state.NewSnapshotReader(r, s.mem)
	if err := sr.Header(sessFormat, sessVersion, s.config()); err != nil {
		return fmt.Errorf("window session: restore: %w", err)
	}
	err = s.restore(sr)
	if err == nil {
		err = sr.ExpectEnd()
	}
	if err != nil {
		s.reset()
		return fmt.Errorf("window session: restore: %w", err)
	}
	return nil
}

// reset empties the Session's state, as built.
func (s *Session) reset() {
	s.rows.Reset()
	s.keyIdx, s.deletes = make(map[string]uint32), 0
	s.keys, s.free, s.live, s.touched = nil, nil, nil, nil
	s.emitted, s.emS, s.emE = nil, nil, nil
	s.wm, s.wmSet, s.outWM, s.outWMSet, s.late, s.nullRows = 0, false, 0, false, 0, 0
	s.oSlots, s.oS, s.oE, s.oOps, s.toFree = s.oSlots[:0], s.oS[:0], s.oE[:0], s.oOps[:0], s.toFree[:0]
}

func corruptErr(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), state.ErrCorrupt)
}

func (s *Session) restore(sr *state.SnapshotReader) error {
	meta, err := sr.Scalars("meta", sessMetaNames)
	if err != nil {
		return err
	}
	s.wm, s.wmSet, s.outWM, s.outWMSet, s.late, s.nullRows = meta[0], meta[1] != 0, meta[2], meta[3] != 0, meta[4], meta[5]
	if err := s.rows.RestoreFrom(sr, "rows"); err != nil {
		return err
	}
	nslots := s.rows.Slots()
	live := make([]uint64, (nslots+63)/64)
	s.rows.ForEachLive(func(slot uint32) { live[slot>>6] |= 1 << (slot & 63) })
	isLive := func(slot uint32) bool { return int(slot) < nslots && live[slot>>6]&(1<<(slot&63)) != 0 }
	s.emitted, s.emS, s.emE = make([]bool, nslots), make([]int64, nslots), make([]int64, nslots)
	err = sr.Section("emitted", emittedSchema, func(rec arrow.RecordBatch) error {
		slots := rec.Column(0).(*array.Uint32).Uint32Values()
		st := rec.Column(1).(*array.Timestamp).TimestampValues()
		en := rec.Column(2).(*array.Timestamp).TimestampValues()
		for i, slot := range slots {
			if !isLive(slot) || s.emitted[slot] {
				return corruptErr("emitted slot %d not held or repeated", slot)
			}
			s.emitted[slot], s.emS[slot], s.emE[slot] = true, int64(st[i]), int64(en[i])
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = sr.Section("keys", keysSchema, func(rec arrow.RecordBatch) error {
		col := rec.Column(0).(*array.Binary)
		for i := 0; i < col.Len(); i++ {
			key := string(col.Value(i))
			if _, dup := s.keyIdx[key]; dup {
				return corruptErr("key repeated")
			}
			kid := uint32(len(s.keys))
			s.keys = append(s.keys, sessKey{key: key, pos: int32(kid)})
			s.keyIdx[key] = kid
			s.live = append(s.live, kid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	used := make([]uint64, len(live))
	held := 0
	err = sr.Section("sessions", sessionsSchema, func(rec arrow.RecordBatch) error {
		kids := rec.Column(0).(*array.Uint32).Uint32Values()
		tss := rec.Column(1).(*array.Timestamp).TimestampValues()
		slots := rec.Column(2).(*array.Uint32).Uint32Values()
		for i, kid := range kids {
			slot, ts := slots[i], int64(tss[i])
			if int(kid) >= len(s.keys) {
				return corruptErr("session row of key %d of %d", kid, len(s.keys))
			}
			if !isLive(slot) || used[slot>>6]&(1<<(slot&63)) != 0 {
				return corruptErr("session slot %d not held or repeated", slot)
			}
			used[slot>>6] |= 1 << (slot & 63)
			if d := s.rows.Datum(slot, s.tsCol); d.Null || d.I != ts {
				return corruptErr("session row time %d differs from its slot's", ts)
			}
			k := &s.keys[kid]
			if n := len(k.rows); n > 0 && k.rows[n-1].ts > ts {
				return corruptErr("session rows out of order")
			}
			k.rows = append(k.rows, sessRow{ts: ts, slot: slot})
			held++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if held != s.rows.Len() {
		return corruptErr("%d rows in sessions, %d held", held, s.rows.Len())
	}
	for i := range s.keys {
		k := &s.keys[i]
		if len(k.rows) == 0 {
			return corruptErr("key without rows")
		}
		_, k.firstEnd = s.sessionEnd(k.rows, 0)
	}
	return nil
}

package temporal

import (
	"bytes"
	"fmt"
	"github.com/sluicedb/sluice/operators/ckptio"
	"io"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
)

// Checkpoint format, version 1 (see ckptio.go for the framing). The
// header's values are rows (held), ring (how many of them are in the
// ring), started (0 or 1: a barrier has passed), now (the latest
// barrier's Now, µs) and ringmax (the ts the next in-order row is
// compared with). One data stream follows:
//
//	rows  the held rows, typed as the input: first the ring's rows in
//	      its order (ts non-decreasing), then the heap's in array order
//
// so Restore rebuilds both order structures exactly (ts is read back from
// the ts column). Before the first barrier the held rows are the ones
// the first barrier will decide. The retraction index is not stored: it
// is rebuilt on the first retraction after the restore, as on any start.
const (
	ckptFormat  = "sluice.temporal"
	ckptVersion = 1
	// Record batches of the rows stream are cut at about these sizes.
	ckptBatchRows  = 1 << 16
	ckptBatchBytes = 32 << 20
)

var ckptValues = []string{"rows", "ring", "started", "now", "ringmax"}

var _ operators.Checkpointer = (*Filter)(nil)

// config is the fingerprint of what decides the meaning of the state:
// input types, ts column, window and its inclusivity.
func (f *Filter) config() string {
	var b strings.Builder
	b.WriteString("types=[")
	for i, t := range f.inTypes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.String())
	}
	fmt.Fprintf(&b, "] ts=%d window=%dus inclusive=%v", f.tsCol, f.window, f.inclusive)
	return b.String()
}

// rowSchema is the schema of the rows stream: the input's fields.
func (f *Filter) rowSchema() *arrow.Schema {
	fields := make([]arrow.Field, len(f.inTypes))
	for i, t := range f.inTypes {
		fields[i] = arrow.Field{Name: f.in.Field(i).Name, Type: t.Arrow(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// Snapshot implements operators.Checkpointer: it writes the held rows in
// their expiry order, NOW() and whether a barrier has passed (format
// above). It may be called between any two messages.
func (f *Filter) Snapshot(w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internalf("snapshot: panic: %v", r)
		}
	}()
	if f.closed {
		return internalf("snapshot after close")
	}
	if err := f.snapshot(w); err != nil {
		return fmt.Errorf("temporal filter snapshot: %w", err)
	}
	return nil
}

func (f *Filter) snapshot(w io.Writer) error {
	slots := make([]uint32, 0, f.rows.Len())
	for _, s := range f.ring[f.head:] {
		if s != noSlot {
			slots = append(slots, s)
		}
	}
	nRing := len(slots)
	slots = append(slots, f.heap...)
	if len(slots) != f.rows.Len() {
		return internalf("%d rows in the order structures, %d held", len(slots), f.rows.Len())
	}
	started := int64(0)
	if f.started {
		started = 1
	}
	cw := ckptio.NewCRCWriter(w)
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: f.config(), Names: ckptValues,
		Counts: []int64{int64(len(slots)), int64(nRing), started, f.now, f.ringMax}}
	if err := h.Write(cw, f.mem); err != nil {
		return err
	}
	schema := f.rowSchema()
	err := ckptio.WriteStream(cw, f.mem, schema, func(iw *ipc.Writer) error {
		// A batch ends at ckptBatchRows rows or ckptBatchBytes of string
		// data, well under the reader's limit.
		var arrs []arrow.Array
		for start := 0; start < len(slots); {
			part := slots[start:min(start+ckptBatchRows, len(slots))]
			part = part[:f.rows.BatchLen(part, ckptBatchBytes)]
			start += len(part)
			var err error
			arrs, err = f.rows.GatherSlots(f.mem, schema, 0, part, arrs[:0])
			if err != nil {
				return err
			}
			rec := state.NewRecord(schema, arrs, len(part))
			err = iw.Write(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	return ckptio.WriteTrailer(cw, f.mem)
}

// Restore implements operators.Checkpointer: it rebuilds the state from a
// Snapshot of a filter of the same configuration. It reads r to its end,
// and must be called before any message. On error the filter's state is
// unchanged (empty).
func (f *Filter) Restore(r io.Reader) (err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = internalf("restore: corrupt checkpoint: panic: %v", rec)
		}
	}()
	if f.closed {
		return internalf("restore after close")
	}
	if f.started || f.rows.Len() > 0 {
		return internalf("restore into a filter that already holds state")
	}
	if err := f.restore(r); err != nil {
		return fmt.Errorf("temporal filter restore: %w", err)
	}
	return nil
}

func (f *Filter) restore(r io.Reader) error {
	data, err := ckptio.ReadVerified(r, f.mem)
	if err != nil {
		return err
	}
	br := bytes.NewReader(data)
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: f.config(), Names: ckptValues}
	if err := h.Read(br, f.mem); err != nil {
		return err
	}
	nRows, nRing, started, now, ringMax := h.Counts[0], h.Counts[1], h.Counts[2], h.Counts[3], h.Counts[4]
	if nRows < 0 || nRing < 0 || nRing > nRows || nRows > math.MaxUint32-1 || started > 1 || started < 0 {
		return fmt.Errorf("bad header values %v", h.Counts)
	}
	rows, err := state.NewColumns(f.inTypes)
	if err != nil {
		return internalf("%v", err)
	}
	ts := make([]int64, 0, min(nRows, int64(len(data))))
	err = ckptio.ReadStream(br, f.mem, "rows", f.rowSchema(), func(rec arrow.RecordBatch) error {
		if int64(len(ts))+rec.NumRows() > nRows {
			return fmt.Errorf("more rows than the header's %d", nRows)
		}
		if err := rows.Bind(rec); err != nil {
			return err
		}
		defer rows.Unbind()
		f.readTS(rec.Column(f.tsCol))
		for i := range f.tsBuf {
			if f.tsNull[i] {
				return fmt.Errorf("row %d: NULL ts", len(ts))
			}
			if s := rows.Add(i); int(s) != len(ts) {
				return internalf("restored row %d got slot %d", len(ts), s)
			}
			ts = append(ts, f.tsBuf[i])
		}
		return nil
	})
	if err != nil {
		return err
	}
	if int64(len(ts)) != nRows {
		return fmt.Errorf("rows stream has %d rows, the header says %d", len(ts), nRows)
	}
	if br.Len() > 0 {
		return fmt.Errorf("%d bytes after the last stream", br.Len())
	}
	// The ring is in ts order, the heap a min-heap; after a barrier every
	// held row is in the window.
	nr := int(nRing)
	for i := 1; i < nr; i++ {
		if ts[i] < ts[i-1] {
			return fmt.Errorf("ring rows out of ts order at row %d", i)
		}
	}
	if nr > 0 && ringMax < ts[nr-1] {
		return fmt.Errorf("ringmax %d below the ring's last ts %d", ringMax, ts[nr-1])
	}
	heapTS := ts[nr:]
	for i := 1; i < len(heapTS); i++ {
		if heapTS[(i-1)/2] > heapTS[i] {
			return fmt.Errorf("heap rows out of order at heap position %d", i)
		}
	}
	cut := now - f.window
	if f.inclusive {
		cut--
	}
	if started == 1 {
		for i, t := range ts {
			if t <= cut {
				return fmt.Errorf("row %d (ts %d) is outside the window at now %d", i, t, now)
			}
		}
	}
	// Commit.
	f.rows.Reset()
	f.rows = rows
	f.ts = ts
	f.loc = make([]int32, len(ts))
	f.ring = make([]uint32, nr, nr+1024)
	for i := range nr {
		f.ring[i] = uint32(i)
		f.loc[i] = int32(i)
	}
	f.heap = make([]uint32, len(heapTS))
	for i := range heapTS {
		s := uint32(nr + i)
		f.heap[i] = s
		f.loc[s] = inHeap + int32(i)
	}
	f.head, f.tombs = 0, 0
	f.ringMax = ringMax
	f.started, f.now = started == 1, now
	f.indexed, f.tags, f.index = false, nil, rowIndex{}
	return nil
}

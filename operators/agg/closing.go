package agg

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/eval"
)

// Watermark-driven closing of groups (Options.WatermarkGroupCol).
//
// Every group created with a non-NULL value v in the watermark group
// column gets an entry (v, id, generation) in a min-heap. A watermark wm
// pops the entries below wm; an entry whose generation still matches its
// group's (the id was not freed and reused since) closes that group: it
// joins the closing list, which the next barrier emits (with EmitOnClose)
// and evicts. Late rows (a value below the last watermark) are filtered
// out of every chunk before they reach a group, so a closed group never
// changes and an evicted one is never recreated.

// closeEntry is a group's closing key in the heap.
type closeEntry struct {
	v   int64
	g   uint32
	gen uint32
}

// closeHeap is a binary min-heap of closeEntry by v.
type closeHeap []closeEntry

func (h *closeHeap) push(e closeEntry) {
	s := append(*h, e)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].v <= s[i].v {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *closeHeap) pop() closeEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s[r].v < s[l].v {
			m = r
		}
		if s[i].v <= s[m].v {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// Groups is the number of live groups (state held).
func (h *HashAgg) Groups() int { return h.numGroups - len(h.free) + h.inl.n }

// LateRows is the number of input rows dropped because their value in the
// watermark group column was below the watermark (their group was closed).
func (h *HashAgg) LateRows() int64 { return h.lateRows }

// closeBelow closes every live group whose watermark value is below wm.
func (h *HashAgg) closeBelow(wm int64) {
	for len(h.closeHeap) > 0 && h.closeHeap[0].v < wm {
		e := h.closeHeap.pop()
		if h.gen[e.g] == e.gen {
			h.closing = append(h.closing, e.g)
		}
	}
	if len(h.closeHeap) == 0 && cap(h.closeHeap) > bigScratch {
		h.closeHeap = nil
	}
}

// holdWatermark keeps an output watermark until the next barrier.
func (h *HashAgg) holdWatermark(w operators.Watermark) {
	for i := range h.pendingWM {
		if h.pendingWM[i].Column == w.Column {
			h.pendingWM[i].Time = max(h.pendingWM[i].Time, w.Time)
			return
		}
	}
	h.pendingWM = append(h.pendingWM, w)
}

// sendWatermarks forwards the held watermarks.
func (h *HashAgg) sendWatermarks() error {
	for _, w := range h.pendingWM {
		if err := h.out.Push(w); err != nil {
			return err
		}
	}
	h.pendingWM = h.pendingWM[:0]
	return nil
}

// dropLate filters out the rows of c whose watermark value is below the
// watermark, folding the rest. It reports whether it did (false: no row
// was late and c is still to be folded).
func (h *HashAgg) dropLate(c *operators.Chunk) (bool, error) {
	col := c.Rec.Column(h.wmCol)
	vals, err := readInts(col, &h.wmInts)
	if err != nil {
		return false, fmt.Errorf("agg: watermark column: %w", err)
	}
	n := c.Len()
	vals = vals[:n]
	bits, off := validity(col)
	wm, late := h.wm, 0
	for i, v := range vals {
		if v < wm && (bits == nil || isValid(bits, off+i)) {
			late++
		}
	}
	if late == 0 {
		return false, nil
	}
	h.lateRows += int64(late)
	if late == n {
		return true, nil
	}
	keep := make([]int32, 0, n-late)
	for i, v := range vals {
		if v >= wm || (bits != nil && !isValid(bits, off+i)) {
			keep = append(keep, int32(i))
		}
	}
	rec, err := eval.TakeRecord(h.mem, c.Rec, keep)
	if err != nil {
		return true, fmt.Errorf("agg: dropping late rows: %w", err)
	}
	defer rec.Release()
	var ops []operators.Op
	if c.Ops != nil {
		ops = make([]operators.Op, len(keep))
		for j, i := range keep {
			ops[j] = c.Ops[i]
		}
	}
	return true, h.pushChunk(&operators.Chunk{Rec: rec, Ops: ops})
}

// trackCreated gives the groups created by the chunk being folded their
// closing entries.
func (h *HashAgg) trackCreated(rec arrow.RecordBatch, gids []uint32) error {
	col := rec.Column(h.wmCol)
	vals, err := readInts(col, &h.wmInts)
	if err != nil {
		return fmt.Errorf("agg: watermark column: %w", err)
	}
	bits, off := validity(col)
	for _, i := range h.created {
		if bits != nil && !isValid(bits, off+int(i)) {
			continue // a NULL window never closes
		}
		g := gids[i]
		h.closeHeap.push(closeEntry{v: vals[i], g: g, gen: h.gen[g]})
	}
	h.created = h.created[:0]
	return nil
}

// flushClosed is flush for EmitOnClose: each group closed since the last
// barrier that still has rows emits its final row as an Insert.
func (h *HashAgg) flushClosed() error {
	rows := h.rows[:0]
	var err error
	for _, g := range h.closing {
		if h.rowCount[g] == 0 {
			continue
		}
		rows = append(rows, emitRow{g: g, op: operators.Insert})
		if len(rows) == MaxChunkRows {
			if err == nil {
				err = h.emit(rows)
			}
			rows = rows[:0]
		}
	}
	if err == nil && len(rows) > 0 {
		err = h.emit(rows)
	}
	h.rows = rows[:0]
	if err == nil {
		err = h.sendWatermarks()
	}
	h.endEpoch()
	h.evictClosed()
	return err
}

// evictClosed frees the state of the groups closed since the last
// barrier. It runs after endEpoch, which has already freed those whose
// rows all went away.
func (h *HashAgg) evictClosed() {
	if len(h.closing) == 0 {
		return
	}
	gs := h.closing[:0]
	for _, g := range h.closing {
		if h.rowCount[g] != 0 {
			gs = append(gs, g)
		}
	}
	if len(gs) > 0 {
		bits := growSlice(&h.evictBits, (h.numGroups+63)/64)
		clear(bits)
		for _, g := range gs {
			bits[g>>6] |= 1 << (g & 63)
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
			h.rowCount[g] = 0
			h.gen[g]++
		}
		for _, c := range h.counters {
			c.clear(gs)
		}
		for _, a := range h.accs {
			a.evict(gs, bits)
		}
		h.free = append(h.free, gs...)
		// Windows closing forever churn the encoded-key map; rebuild it
		// once as many keys were deleted as it holds (deleted slots
		// lengthen its probes), an amortized O(1) per group.
		if h.mode == modeBytes {
			if h.byteDeletes += len(gs); h.byteDeletes > len(h.byteMap)+1024 {
				m := make(map[string]uint32, len(h.byteMap))
				for k, v := range h.byteMap {
					m[k] = v
				}
				h.byteMap, h.byteDeletes = m, 0
			}
		}
	}
	h.closing = recycle(h.closing)
	if cap(h.evictBits) > bigScratch {
		h.evictBits = nil
	}
}

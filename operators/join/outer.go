package join

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
)

// outerLeftChunk processes a chunk of a StreamingLeftOuter join's left
// input. The right state does not change during it, so every row's
// candidate pairs are gathered first and the residual is evaluated over
// batches of them; the matches are emitted with the row's op. Then, in
// row order, each row is stored (with its match count) or removed, and a
// row with no match is emitted padded with NULLs.
func (j *HashJoin) outerLeftChunk(c *operators.Chunk) error {
	s, r := j.sides[0], j.sides[1]
	n := c.Len()
	j.passCnt = slices.Grow(j.passCnt[:0], n)[:n]
	clear(j.passCnt)
	timed := j.time != nil
	for i := 0; i < n; i++ {
		if !s.valid[i] {
			continue
		}
		op := operators.Insert
		if c.Op(i).IsRetract() {
			if j.evictedRow(s, i) {
				continue
			}
			op = operators.Delete
		}
		for x := j.chain(r, s, i); x != end; x = r.link[x].next {
			if timed && !j.pairInBound(0, s.rowTs[i], r.link[x].ts) {
				continue
			}
			j.cin = append(j.cin, int32(i))
			j.cslot = append(j.cslot, x)
			j.cops = append(j.cops, op)
			if len(j.cin) >= maxOut {
				if err := j.processCands(0); err != nil {
					return err
				}
			}
		}
	}
	if err := j.processCands(0); err != nil {
		return err
	}
	if err := j.flush(0); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		op := operators.Insert
		if c.Op(i).IsRetract() {
			op = operators.Delete
		}
		if s.valid[i] {
			switch {
			case op == operators.Delete && j.evictedRow(s, i):
				continue
			case op == operators.Delete:
				if !j.remove(s, i) {
					return j.missing(s, c.Rec, i)
				}
			default:
				if slot, ok := j.insert(s, i); ok {
					s.cnt[slot] = j.passCnt[i]
				}
			}
			if j.passCnt[i] > 0 {
				continue
			}
		}
		j.padRows = append(j.padRows, int32(i))
		j.padOps = append(j.padOps, op)
		if len(j.padOps) >= maxOut {
			if err := j.flushPads(0); err != nil {
				return err
			}
		}
	}
	return j.flushPads(0)
}

// outerRightChunk processes a chunk of a StreamingLeftOuter join's right
// input: each row is stored or removed, and its candidate left rows are
// gathered; the residual is evaluated over batches of candidates, then
// in order each match updates its left row's count, emitting the pair
// and retracting (first match) or restoring (last match gone) the left
// row's padded row.
func (j *HashJoin) outerRightChunk(c *operators.Chunk) error {
	s, l := j.sides[1], j.sides[0]
	n := c.Len()
	timed := j.time != nil
	for i := 0; i < n; i++ {
		if !s.valid[i] {
			continue // a NULL key (or time) matches nothing
		}
		op := operators.Insert
		if c.Op(i).IsRetract() {
			if j.evictedRow(s, i) {
				continue
			}
			if !j.remove(s, i) {
				return j.missing(s, c.Rec, i)
			}
			op = operators.Delete
		} else {
			j.insert(s, i)
		}
		for x := j.chain(l, s, i); x != end; x = l.link[x].next {
			if timed && !j.pairInBound(1, s.rowTs[i], l.link[x].ts) {
				continue
			}
			j.cin = append(j.cin, int32(i))
			j.cslot = append(j.cslot, x)
			j.cops = append(j.cops, op)
			if len(j.cin) >= maxOut {
				if err := j.processCands(1); err != nil {
					return err
				}
			}
		}
	}
	if err := j.processCands(1); err != nil {
		return err
	}
	if err := j.flush(1); err != nil {
		return err
	}
	return j.flushPads(1)
}

// processCands evaluates the residual over the candidate pairs of a
// StreamingLeftOuter chunk of input in and applies the matches in order.
func (j *HashJoin) processCands(in int) error {
	if len(j.cin) == 0 {
		return nil
	}
	defer func() {
		j.cin, j.cslot, j.cops = j.cin[:0], j.cslot[:0], j.cops[:0]
	}()
	var keep []bool
	if j.residual != nil {
		rec, err := j.buildPairs(in, j.cin, j.cslot, nil)
		if err != nil {
			return err
		}
		keep, err = j.evalMask(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	l := j.sides[0]
	for k, i := range j.cin {
		if keep != nil && !keep[k] {
			continue
		}
		x, op := j.cslot[k], j.cops[k]
		if in == 0 {
			j.passCnt[i]++
		} else if op == operators.Insert {
			l.cnt[x]++
			if l.cnt[x] == 1 {
				if err := j.addPadSlot(x, operators.Delete); err != nil {
					return err
				}
			}
		} else {
			if l.cnt[x] <= 0 {
				return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: left row at slot %d has no match to retract", x)
			}
			l.cnt[x]--
			if l.cnt[x] == 0 {
				if err := j.addPadSlot(x, operators.Insert); err != nil {
					return err
				}
			}
		}
		if j.pend[in].add(i, x, op, j.sides[1-in].link[x].ts, j.pendTimes) {
			if err := j.flush(in); err != nil {
				return err
			}
		}
	}
	return nil
}

// addPadSlot queues the padded row of left slot x with op.
func (j *HashJoin) addPadSlot(x uint32, op operators.Op) error {
	j.padSlots = append(j.padSlots, x)
	j.padOps = append(j.padOps, op)
	if len(j.padOps) >= maxOut {
		return j.flushPads(1)
	}
	return nil
}

// flushPads emits the queued padded rows: rows of the bound left record
// (in == 0) or stored left slots (in == 1), beside NULLs. The padded
// rows and the pairs are distinct rows, so emitting each in its own order
// keeps every row's changes in order.
func (j *HashJoin) flushPads(in int) error {
	n := len(j.padOps)
	if n == 0 {
		return nil
	}
	defer func() {
		j.padRows, j.padSlots, j.padOps = j.padRows[:0], j.padSlots[:0], j.padOps[:0]
	}()
	l := j.sides[0].rows
	arrs := j.arrs[:0]
	var err error
	if in == 0 {
		arrs, err = l.GatherRows(j.mem, j.schema, 0, j.padRows, arrs)
	} else {
		arrs, err = l.GatherSlots(j.mem, j.schema, 0, j.padSlots, arrs)
	}
	if err == nil {
		arrs, err = j.sides[1].rows.GatherSlots(j.mem, j.schema, len(j.sides[0].types), j.nullSlots(n), arrs)
	}
	if err != nil {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: output: %v", err)
	}
	rec := j.record(arrs, n)
	defer rec.Release()
	return j.out.Push(&operators.Chunk{Rec: rec, Ops: opsOf(j.padOps)})
}

// nullSlots returns n NoSlot values (rows of NULLs).
func (j *HashJoin) nullSlots(n int) []uint32 {
	for len(j.nulls) < n {
		j.nulls = append(j.nulls, end)
	}
	return j.nulls[:n]
}

// bufferOuter stores a chunk of a bounded LeftOuter join's input until
// the barrier.
func (j *HashJoin) bufferOuter(in int, c *operators.Chunk) error {
	s := j.sides[in]
	for i := 0; i < c.Len(); i++ {
		retract := c.Op(i).IsRetract()
		switch {
		case s.valid[i] && retract:
			if !j.remove(s, i) {
				return j.missing(s, c.Rec, i)
			}
		case s.valid[i]:
			j.insert(s, i)
		case in == 1:
			// A right row with a NULL key never matches.
		case retract:
			k := slices.IndexFunc(s.nullKeyed, func(x uint32) bool { return s.rows.Equal(x, i) })
			if k < 0 {
				return j.missing(s, c.Rec, i)
			}
			s.rows.Remove(s.nullKeyed[k])
			s.nullKeyed = slices.Delete(s.nullKeyed, k, k+1)
		default:
			s.nullKeyed = append(s.nullKeyed, s.rows.Add(i))
		}
	}
	return nil
}

// finishLeftOuter emits the buffered left rows joined with the right
// state, then drops the left rows.
func (j *HashJoin) finishLeftOuter() error {
	l, r := j.sides[0], j.sides[1]
	defer l.reset()
	matched := make([]bool, len(l.link))
	var lc, rc []uint32
	process := func() error {
		if len(lc) == 0 {
			return nil
		}
		defer func() { lc, rc = lc[:0], rc[:0] }()
		if j.residual == nil {
			for _, x := range lc {
				matched[x] = true
			}
			return j.emitSlots(lc, rc)
		}
		rec, err := j.buildSlots(lc, rc)
		if err != nil {
			return err
		}
		keep, err := j.evalMask(rec)
		rec.Release()
		if err != nil {
			return err
		}
		var kl, kr []uint32
		for i, k := range keep {
			if k {
				matched[lc[i]] = true
				kl = append(kl, lc[i])
				kr = append(kr, rc[i])
			}
		}
		return j.emitSlots(kl, kr)
	}
	pairs := func(lh, rh uint32) error {
		for x := lh; x != end; x = l.link[x].next {
			for y := rh; y != end; y = r.link[y].next {
				if j.time != nil && !j.pairInBound(0, l.link[x].ts, r.link[y].ts) {
					continue
				}
				lc = append(lc, x)
				rc = append(rc, y)
				if len(lc) >= maxOut {
					if err := process(); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if j.intKey {
		err := l.ihead.each(func(k int64, lh uint32) error {
			if rh := r.ihead.get(k); rh != end {
				return pairs(lh, rh)
			}
			return nil
		})
		if err != nil {
			return err
		}
	} else {
		for k, lh := range l.shead {
			if rh, ok := r.shead[k]; ok {
				if err := pairs(lh, rh); err != nil {
					return err
				}
			}
		}
	}
	if err := process(); err != nil {
		return err
	}
	// Unmatched left rows, padded with NULLs.
	var un []uint32
	addUnmatched := func(x uint32) error {
		if x != end && matched[x] {
			return nil
		}
		un = append(un, x)
		if len(un) >= maxOut {
			err := j.emitPadded(un)
			un = un[:0]
			return err
		}
		return nil
	}
	err := l.ihead.each(func(_ int64, h uint32) error {
		for x := h; x != end; x = l.link[x].next {
			if err := addUnmatched(x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, h := range l.shead {
		for x := h; x != end; x = l.link[x].next {
			if err := addUnmatched(x); err != nil {
				return err
			}
		}
	}
	for _, x := range l.nullKeyed {
		un = append(un, x)
		if len(un) >= maxOut {
			if err := j.emitPadded(un); err != nil {
				return err
			}
			un = un[:0]
		}
	}
	return j.emitPadded(un)
}

// buildSlots builds a record of left slots ls beside right slots rs.
func (j *HashJoin) buildSlots(ls, rs []uint32) (arrow.RecordBatch, error) {
	arrs, err := j.sides[0].rows.GatherSlots(j.mem, j.schema, 0, ls, j.arrs[:0])
	if err == nil {
		arrs, err = j.sides[1].rows.GatherSlots(j.mem, j.schema, len(j.sides[0].types), rs, arrs)
	}
	if err != nil {
		return nil, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: output: %v", err)
	}
	return j.record(arrs, len(ls)), nil
}

func (j *HashJoin) emitSlots(ls, rs []uint32) error {
	if len(ls) == 0 {
		return nil
	}
	rec, err := j.buildSlots(ls, rs)
	if err != nil {
		return err
	}
	defer rec.Release()
	return j.out.Push(&operators.Chunk{Rec: rec})
}

func (j *HashJoin) emitPadded(ls []uint32) error {
	if len(ls) == 0 {
		return nil
	}
	return j.emitSlots(ls, j.nullSlots(len(ls)))
}

package window

import (
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

// maxChunkRows bounds the rows of a chunk Session emits.
const maxChunkRows = 4096

// Session groups each key's rows into sessions: maximal runs of rows whose
// consecutive timestamps (in ts order) differ by less than gap. A
// session's window_start is its first timestamp and its window_end its
// last timestamp plus gap. The output is the input columns followed by
// window_start and window_end.
//
// Update mode (emitOnClose false): at each barrier, every row added since
// the last one is emitted annotated with its session, and every
// previously emitted row whose session bounds changed (a session
// extended, two sessions merged by a bridging row, or split by a
// retraction) is retracted with its old bounds and emitted again with
// the new ones; retracted input rows retract their emitted row. Changes
// are held until the barrier, so churn within an epoch collapses to one
// change per row. Within a barrier's output, retractions come before
// insertions.
//
// Emit-on-close mode: a session's rows are emitted once, as Inserts, at
// the first barrier after a watermark >= its window_end (no later row can
// extend it).
//
// State: the rows of open sessions, copied into columnar storage, and per
// key its rows' (ts, slot) in ts order. At a barrier, sessions whose
// window_end is <= the watermark are closed and evicted in both modes (in
// update mode their emitted rows stay downstream). Input rows below the
// watermark (which the source already drops) and rows with a NULL
// timestamp are dropped and counted, never applied, so a closed session
// is never touched again.
//
// Watermarks: the one on the timestamp column is held until the barrier.
// There, with W = min(watermark, start of every open session), Session
// emits Watermark(tsCol, W), Watermark(window_start, W) and
// Watermark(window_end, W+gap): rows of open sessions, old as they may be,
// can still be emitted (re-annotated or at close), so the timestamp
// watermark cannot be forwarded as is. Watermarks on other columns are
// dropped for the same reason.
type Session struct {
	mem         memory.Allocator
	in          *arrow.Schema
	schema      *arrow.Schema
	tsCol       int
	keyCols     []int
	gap         int64
	emitOnClose bool
	out         operators.Output

	rows    *state.Columns
	keyIdx  map[string]uint32
	deletes int // keys deleted from keyIdx since it was last rebuilt
	keys    []sessKey
	free    []uint32
	live    []uint32
	enc     []state.KeyEncoder
	keyBuf  []byte
	touched []uint32

	// Per slot, update mode: the bounds a row was last emitted with.
	emitted []bool
	emS     []int64
	emE     []int64

	wm       int64 // the latest watermark on tsCol
	wmSet    bool
	outWM    int64
	outWMSet bool
	late     int64
	nullRows int64

	// The output being built at a barrier, and slots to free after it.
	oSlots []uint32
	oS     []int64
	oE     []int64
	oOps   []operators.Op
	toFree []uint32
	pushed bool // a message was pushed (Restore must come first)
	closed bool
}

// sessKey is one key's open rows.
type sessKey struct {
	key      string
	rows     []sessRow // in (ts, arrival) order
	gone     []uint32  // update mode: retracted rows still to be retracted downstream
	touched  bool
	pos      int32 // index in Session.live
	firstEnd int64 // window_end of the first session (valid when not touched)
}

type sessRow struct {
	ts   int64
	slot uint32
}

var _ operators.Operator = (*Session)(nil)

// NewSession returns a Session over input schema in, whose column tsCol is
// a TIMESTAMP (µs), sessionizing per distinct value of keyCols (none: one
// session sequence over all rows) with gap in microseconds.
func NewSession(mem memory.Allocator, in *arrow.Schema, tsCol int, keyCols []int, gap int64, emitOnClose bool, out operators.Output) (*Session, error) {
	if mem == nil || in == nil || out == nil {
		return nil, fmt.Errorf("window session: needs an allocator, an input schema and an output")
	}
	if err := checkTSCol(in, tsCol); err != nil {
		return nil, fmt.Errorf("window session: %w", err)
	}
	if gap <= 0 {
		return nil, fmt.Errorf("window session: gap %d must be positive", gap)
	}
	for _, c := range keyCols {
		if c < 0 || c >= in.NumFields() {
			return nil, fmt.Errorf("window session: key column %d out of range", c)
		}
	}
	ts := make([]types.T, in.NumFields())
	for i, f := range in.Fields() {
		t, err := types.FromArrow(f.Type)
		if err != nil {
			return nil, fmt.Errorf("window session: column %q: %w", f.Name, err)
		}
		ts[i] = t
	}
	rows, err := state.NewColumns(ts)
	if err != nil {
		return nil, fmt.Errorf("window session: %w", err)
	}
	return &Session{
		mem: mem, in: in, schema: windowSchema(in), tsCol: tsCol,
		keyCols: append([]int(nil), keyCols...), gap: gap, emitOnClose: emitOnClose, out: out,
		rows: rows, keyIdx: make(map[string]uint32), enc: make([]state.KeyEncoder, len(keyCols)),
	}, nil
}

// Schema returns the input columns followed by window_start, window_end.
func (s *Session) Schema() *arrow.Schema { return s.schema }

// LateRows is the number of input rows dropped because their timestamp was
// below the watermark.
func (s *Session) LateRows() int64 { return s.late }

// NullRows is the number of input rows dropped because their timestamp was
// NULL.
func (s *Session) NullRows() int64 { return s.nullRows }

// OpenRows is the number of rows held (rows of open sessions, and
// retracted rows whose retraction is not yet emitted).
func (s *Session) OpenRows() int { return s.rows.Len() }

// Keys is the number of keys with open sessions.
func (s *Session) Keys() int { return len(s.live) }

// Close releases the state. It is idempotent.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.rows.Reset()
	s.keyIdx, s.keys, s.free, s.live, s.touched = nil, nil, nil, nil, nil
	s.emitted, s.emS, s.emE = nil, nil, nil
	return nil
}

// Push implements operators.Output.
func (s *Session) Push(msg operators.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("window session: panic: %v", r)
		}
	}()
	if s.closed {
		return fmt.Errorf("window session: Push after Close")
	}
	s.pushed = true
	switch m := msg.(type) {
	case *operators.Chunk:
		return s.pushChunk(m)
	case operators.Watermark:
		if m.Column == s.tsCol && (!s.wmSet || m.Time > s.wm) {
			s.wm, s.wmSet = m.Time, true
		}
		return nil
	case operators.Barrier:
		if err := s.flush(); err != nil {
			return fmt.Errorf("window session: barrier %d: %w", m.Epoch, err)
		}
		return s.out.Push(m)
	}
	return s.out.Push(msg)
}

func (s *Session) pushChunk(c *operators.Chunk) error {
	rec := c.Rec
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if int(rec.NumCols()) != s.in.NumFields() {
		return fmt.Errorf("window session: chunk has %d columns, want %d", rec.NumCols(), s.in.NumFields())
	}
	if c.Ops != nil && len(c.Ops) != n {
		return fmt.Errorf("window session: chunk has %d ops for %d rows", len(c.Ops), n)
	}
	tsArr, ok := rec.Column(s.tsCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("window session: time column is %s, want a TIMESTAMP", rec.Column(s.tsCol).DataType())
	}
	if err := s.rows.Bind(rec); err != nil {
		return fmt.Errorf("window session: %w", err)
	}
	defer s.rows.Unbind()
	for k, col := range s.keyCols {
		s.enc[k].Reset(rec.Column(col))
	}
	ts := tsArr.TimestampValues()[:n]
	hasNulls := tsArr.NullN() > 0
	for i := 0; i < n; i++ {
		if hasNulls && tsArr.IsNull(i) {
			s.nullRows++
			continue
		}
		t := int64(ts[i])
		if s.wmSet && t < s.wm {
			s.late++
			continue
		}
		buf := s.keyBuf[:0]
		for k := range s.enc {
			buf = s.enc[k].Append(buf, i)
		}
		s.keyBuf = buf
		retract := c.Ops != nil && c.Ops[i].IsRetract()
		kid, found := s.keyIdx[string(buf)]
		if !found {
			if retract {
				return fmt.Errorf("window session: retraction of a row that was never inserted")
			}
			kid = s.newKey(string(buf))
		}
		k := &s.keys[kid]
		if !k.touched {
			k.touched = true
			s.touched = append(s.touched, kid)
		}
		if retract {
			if err := s.retract(k, t, i); err != nil {
				return err
			}
			continue
		}
		slot := s.rows.Add(i)
		if int(slot) >= len(s.emitted) {
			s.emitted = append(s.emitted, false)
			s.emS = append(s.emS, 0)
			s.emE = append(s.emE, 0)
		}
		s.emitted[slot] = false
		k.insert(sessRow{ts: t, slot: slot})
	}
	return nil
}

func (s *Session) newKey(key string) uint32 {
	var kid uint32
	if l := len(s.free); l > 0 {
		kid = s.free[l-1]
		s.free = s.free[:l-1]
	} else {
		kid = uint32(len(s.keys))
		s.keys = append(s.keys, sessKey{})
	}
	s.keys[kid] = sessKey{key: key, pos: int32(len(s.live))}
	s.keyIdx[key] = kid
	s.live = append(s.live, kid)
	return kid
}

// insert adds r after the rows with ts <= r.ts (in order arrivals append).
func (k *sessKey) insert(r sessRow) {
	j := len(k.rows)
	if j > 0 && k.rows[j-1].ts > r.ts {
		j = sort.Search(len(k.rows), func(x int) bool { return k.rows[x].ts > r.ts })
	}
	k.rows = append(k.rows, sessRow{})
	copy(k.rows[j+1:], k.rows[j:])
	k.rows[j] = r
}

// retract removes the held row equal to row i of the bound record,
// preferring one not yet emitted.
func (s *Session) retract(k *sessKey, t int64, i int) error {
	lo := sort.Search(len(k.rows), func(x int) bool { return k.rows[x].ts >= t })
	pick := -1
	for j := lo; j < len(k.rows) && k.rows[j].ts == t; j++ {
		slot := k.rows[j].slot
		if !s.rows.Equal(slot, i) {
			continue
		}
		pick = j
		if !s.emitted[slot] {
			break
		}
	}
	if pick < 0 {
		return fmt.Errorf("window session: retraction of a row that was never inserted")
	}
	slot := k.rows[pick].slot
	k.rows = append(k.rows[:pick], k.rows[pick+1:]...)
	if s.emitted[slot] {
		k.gone = append(k.gone, slot)
	} else {
		s.rows.Remove(slot)
	}
	return nil
}

// sessionEnd returns the index past the last row of the session starting
// at rows[a], and the session's window_end.
func (s *Session) sessionEnd(rows []sessRow, a int) (int, int64) {
	last := rows[a].ts
	b := a + 1
	for b < len(rows) && rows[b].ts-last < s.gap {
		last = rows[b].ts
		b++
	}
	return b, last + s.gap
}

// flush runs a barrier: update mode emits the touched keys' changes; then
// sessions closed by the watermark are emitted (emit-on-close) and
// evicted; then the watermarks are sent.
func (s *Session) flush() error {
	if !s.emitOnClose {
		for _, kid := range s.touched {
			if err := s.diff(&s.keys[kid]); err != nil {
				return err
			}
		}
	}
	for _, kid := range s.touched {
		k := &s.keys[kid]
		k.touched = false
		if len(k.rows) > 0 {
			_, k.firstEnd = s.sessionEnd(k.rows, 0)
		}
	}
	s.touched = s.touched[:0]
	if s.wmSet {
		for _, kid := range s.live {
			k := &s.keys[kid]
			if len(k.rows) > 0 && k.firstEnd <= s.wm {
				if err := s.closeSessions(k); err != nil {
					return err
				}
			}
		}
	}
	if err := s.emitOut(); err != nil {
		return err
	}
	for _, slot := range s.toFree {
		s.rows.Remove(slot)
		s.emitted[slot] = false
	}
	s.toFree = s.toFree[:0]
	// Drop keys left without rows (swap-remove from live, so iterate back).
	for j := len(s.live) - 1; j >= 0; j-- {
		kid := s.live[j]
		if k := &s.keys[kid]; len(k.rows) == 0 && len(k.gone) == 0 {
			s.dropKey(kid)
		}
	}
	return s.sendWatermarks()
}

func (s *Session) dropKey(kid uint32) {
	k := &s.keys[kid]
	last := s.live[len(s.live)-1]
	s.live[k.pos] = last
	s.keys[last].pos = k.pos
	s.live = s.live[:len(s.live)-1]
	delete(s.keyIdx, k.key)
	s.keys[kid] = sessKey{}
	s.free = append(s.free, kid)
	// A map with heavy delete/insert churn slows its lookups down (deleted
	// slots lengthen probes); rebuild it once as many keys were deleted as
	// it holds, an amortized O(1) per key.
	if s.deletes++; s.deletes > len(s.keyIdx)+1024 {
		m := make(map[string]uint32, len(s.keyIdx))
		for k, v := range s.keyIdx {
			m[k] = v
		}
		s.keyIdx, s.deletes = m, 0
	}
}

// diff queues a key's changes since the last barrier: retractions of
// removed rows and of rows whose bounds changed, then insertions of new
// rows and of re-annotated ones.
func (s *Session) diff(k *sessKey) error {
	for _, slot := range k.gone {
		if err := s.queue(slot, s.emS[slot], s.emE[slot], operators.Delete); err != nil {
			return err
		}
		s.toFree = append(s.toFree, slot)
	}
	k.gone = k.gone[:0]
	for pass := 0; pass < 2; pass++ {
		for a := 0; a < len(k.rows); {
			b, end := s.sessionEnd(k.rows, a)
			start := k.rows[a].ts
			for _, r := range k.rows[a:b] {
				sl := r.slot
				if s.emitted[sl] && s.emS[sl] == start && s.emE[sl] == end {
					continue
				}
				var err error
				if pass == 0 {
					if s.emitted[sl] {
						err = s.queue(sl, s.emS[sl], s.emE[sl], operators.Delete)
					}
				} else {
					err = s.queue(sl, start, end, operators.Insert)
					s.emitted[sl], s.emS[sl], s.emE[sl] = true, start, end
				}
				if err != nil {
					return err
				}
			}
			a = b
		}
	}
	return nil
}

// closeSessions removes k's sessions that end at or before the
// watermark, emitting their rows in emit-on-close mode.
func (s *Session) closeSessions(k *sessKey) error {
	a := 0
	for a < len(k.rows) {
		b, end := s.sessionEnd(k.rows, a)
		if end > s.wm {
			break
		}
		start := k.rows[a].ts
		for _, r := range k.rows[a:b] {
			if s.emitOnClose {
				if err := s.queue(r.slot, start, end, operators.Insert); err != nil {
					return err
				}
			}
			s.toFree = append(s.toFree, r.slot)
		}
		a = b
	}
	k.rows = append(k.rows[:0], k.rows[a:]...)
	if len(k.rows) > 0 {
		_, k.firstEnd = s.sessionEnd(k.rows, 0)
	} else if cap(k.rows) > 64 {
		k.rows = nil
	}
	return nil
}

// queue adds an output row, emitting a full chunk.
func (s *Session) queue(slot uint32, start, end int64, op operators.Op) error {
	s.oSlots = append(s.oSlots, slot)
	s.oS = append(s.oS, start)
	s.oE = append(s.oE, end)
	s.oOps = append(s.oOps, op)
	if len(s.oSlots) >= maxChunkRows {
		return s.emitOut()
	}
	return nil
}

// emitOut sends the queued output rows as one chunk.
func (s *Session) emitOut() error {
	n := len(s.oSlots)
	if n == 0 {
		return nil
	}
	defer func() {
		s.oSlots, s.oS, s.oE, s.oOps = s.oSlots[:0], s.oS[:0], s.oE[:0], s.oOps[:0]
	}()
	nin := s.in.NumFields()
	arrs, err := s.rows.GatherSlots(s.mem, s.schema, 0, s.oSlots, make([]arrow.Array, 0, nin+2))
	if err != nil {
		return fmt.Errorf("window session: %w", err)
	}
	defer func() { state.ReleaseAll(arrs) }()
	for _, vals := range [][]int64{s.oS, s.oE} {
		arrs = append(arrs, state.Int64Array(s.mem, tsType, vals))
	}
	rec := array.NewRecordBatch(s.schema, arrs, int64(n))
	defer rec.Release()
	var ops []operators.Op
	for _, op := range s.oOps {
		if op != operators.Insert {
			ops = s.oOps
			break
		}
	}
	return s.out.Push(&operators.Chunk{Rec: rec, Ops: ops})
}

// sendWatermarks emits the output watermarks when they advanced.
func (s *Session) sendWatermarks() error {
	if !s.wmSet {
		return nil
	}
	w := s.wm
	for _, kid := range s.live {
		if k := &s.keys[kid]; len(k.rows) > 0 && k.rows[0].ts < w {
			w = k.rows[0].ts
		}
	}
	if s.outWMSet && w <= s.outWM {
		return nil
	}
	s.outWM, s.outWMSet = w, true
	nin := s.in.NumFields()
	for _, m := range []operators.Watermark{{Column: s.tsCol, Time: w}, {Column: nin, Time: w}, {Column: nin + 1, Time: w + s.gap}} {
		if err := s.out.Push(m); err != nil {
			return err
		}
	}
	return nil
}

package optest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// OutRow is one row an operator emitted, copied out of the lent chunk.
type OutRow struct {
	Op   operators.Op
	Vals []types.Datum
}

// opsFit reports whether c has one op per row, or none (all inserts).
func opsFit(c *operators.Chunk) bool { return c.Ops == nil || len(c.Ops) == c.Len() }

// ChunkRows copies the rows of c out as datums of the column types ts.
func ChunkRows(c *operators.Chunk, ts []types.T) []OutRow {
	n := c.Len()
	rows := make([]OutRow, n)
	for i := range rows {
		vals := make([]types.Datum, c.Rec.NumCols())
		for j := range vals {
			vals[j] = types.DatumAt(c.Rec.Column(j), i, ts[j])
		}
		rows[i] = OutRow{Op: c.Op(i), Vals: vals}
	}
	return rows
}

// RowFormat renders a row's values as one string; nil means FormatRow.
type RowFormat func(vals []types.Datum) string

func (f RowFormat) or() RowFormat {
	if f == nil {
		return FormatRow
	}
	return f
}

// FormatRow renders values as they print, separated by commas.
func FormatRow(vals []types.Datum) string {
	parts := make([]string, len(vals))
	for i, d := range vals {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// FormatRowMicros is FormatRow with timestamps as their microseconds,
// which keeps expectations over small times short.
func FormatRowMicros(vals []types.Datum) string {
	parts := make([]string, len(vals))
	for i, d := range vals {
		if d.Kind == types.Timestamp && !d.Null {
			parts[i] = strconv.FormatInt(d.I, 10)
		} else {
			parts[i] = d.String()
		}
	}
	return strings.Join(parts, ",")
}

// Collector is the Output of an operator under test. It gathers the rows
// of each epoch and the watermarks, and reports (through T.Errorf) any
// message that breaks the contract every operator keeps:
//   - a chunk of another schema than Schema, an empty chunk, or one of
//     more than MaxChunkRows rows (when MaxChunkRows > 0);
//   - an UpdateBefore not followed by an UpdateAfter in its chunk, or an
//     UpdateAfter not preceded by one;
//   - a barrier epoch not above the previous one;
//   - a watermark going back on its column, or a row below a watermark
//     sent before it (on integer-like columns);
//   - with Net set, a retraction of a row not emitted before.
//
// Set T, Schema and Types (and the options) before the first message.
type Collector struct {
	T      testing.TB
	Schema *arrow.Schema
	Types  []types.T // of the emitted columns
	// MaxChunkRows, when > 0, bounds the rows of an emitted chunk.
	MaxChunkRows int
	// Format renders rows in messages and Net's keys.
	Format RowFormat
	// Net, when not nil, is the net multiset of the rows emitted so far.
	Net Fold

	Pending    []OutRow   // rows since the last barrier
	Epochs     [][]OutRow // rows emitted before each barrier
	Watermarks []operators.Watermark
	Chunks     int // chunks received
	MaxChunk   int // rows of the largest chunk

	lastWM    map[int]int64
	lastEpoch uint64
}

// NewCollector returns a Collector of chunks of schema with columns of
// types ts.
func NewCollector(t testing.TB, schema *arrow.Schema, ts []types.T) *Collector {
	return &Collector{T: t, Schema: schema, Types: ts}
}

// Push implements operators.Output.
func (c *Collector) Push(m operators.Message) error {
	switch m := m.(type) {
	case *operators.Chunk:
		c.chunk(m)
	case operators.Barrier:
		if m.Epoch <= c.lastEpoch && c.lastEpoch != 0 {
			c.T.Errorf("barrier epoch %d after %d", m.Epoch, c.lastEpoch)
		}
		c.lastEpoch = m.Epoch
		c.Epochs = append(c.Epochs, c.Pending)
		c.Pending = nil
	case operators.Watermark:
		if c.lastWM == nil {
			c.lastWM = map[int]int64{}
		}
		if old, ok := c.lastWM[m.Column]; ok && m.Time < old {
			c.T.Errorf("watermark on column %d went back from %d to %d", m.Column, old, m.Time)
		} else {
			c.lastWM[m.Column] = m.Time
		}
		c.Watermarks = append(c.Watermarks, m)
	default:
		c.T.Errorf("unexpected message %T", m)
	}
	return nil
}

func (c *Collector) chunk(m *operators.Chunk) {
	if !m.Rec.Schema().Equal(c.Schema) {
		c.T.Errorf("chunk schema %s, want %s", m.Rec.Schema(), c.Schema)
	}
	n := m.Len()
	if n == 0 || (c.MaxChunkRows > 0 && n > c.MaxChunkRows) {
		c.T.Errorf("chunk of %d rows (at most %d)", n, c.MaxChunkRows)
	}
	if !opsFit(m) {
		c.T.Errorf("chunk of %d rows with %d ops", n, len(m.Ops))
		return
	}
	c.Chunks++
	c.MaxChunk = max(c.MaxChunk, n)
	format := c.Format.or()
	for i, r := range ChunkRows(m, c.Types) {
		if r.Op == operators.UpdateBefore && (i+1 >= n || m.Op(i+1) != operators.UpdateAfter) {
			c.T.Errorf("UpdateBefore at row %d not followed by UpdateAfter in its chunk", i)
		}
		if r.Op == operators.UpdateAfter && (i == 0 || m.Op(i-1) != operators.UpdateBefore) {
			c.T.Errorf("UpdateAfter at row %d not preceded by UpdateBefore", i)
		}
		for col, wm := range c.lastWM {
			if d := r.Vals[col]; !d.Null && intLike(d.Kind) && d.I < wm {
				c.T.Errorf("row %s (%s) below the watermark %d on column %d sent before it", format(r.Vals), r.Op, wm, col)
			}
		}
		if c.Net != nil {
			if err := c.Net.Add(r, format); err != nil {
				c.T.Errorf("%v", err)
			}
		}
		c.Pending = append(c.Pending, r)
	}
}

// intLike reports whether a watermark bounds values of kind k.
func intLike(k types.Kind) bool {
	switch k {
	case types.Int, types.BigInt, types.Timestamp, types.Date:
		return true
	}
	return false
}

// All returns every row emitted so far, in order.
func (c *Collector) All() []OutRow {
	var all []OutRow
	for _, e := range c.Epochs {
		all = append(all, e...)
	}
	return append(all, c.Pending...)
}

// LastEpoch returns the rows of the last epoch ended by a barrier.
func (c *Collector) LastEpoch() []OutRow {
	if len(c.Epochs) == 0 {
		c.T.Fatalf("no barrier has passed")
	}
	return c.Epochs[len(c.Epochs)-1]
}

// Recorder is an Output that logs an operator's messages as lines for
// comparing two runs: per epoch the sorted lines of its rows ("op row")
// and watermarks ("watermark column time"), then "barrier epoch". Rows
// after the last barrier are not in Log.
type Recorder struct {
	T     testing.TB
	Types []types.T // of the emitted columns
	Log   []string
	cur   []string
}

// Push implements operators.Output.
func (r *Recorder) Push(m operators.Message) error {
	switch m := m.(type) {
	case *operators.Chunk:
		for _, o := range ChunkRows(m, r.Types) {
			r.cur = append(r.cur, o.Op.String()+" "+FormatRow(o.Vals))
		}
	case operators.Watermark:
		r.cur = append(r.cur, fmt.Sprintf("watermark %d %d", m.Column, m.Time))
	case operators.Barrier:
		sort.Strings(r.cur)
		r.Log = append(append(r.Log, r.cur...), fmt.Sprintf("barrier %d", m.Epoch))
		r.cur = nil
	default:
		r.T.Errorf("unexpected %T", m)
	}
	return nil
}

// Transcript is an Output that passes every message on to Next and logs
// it in order: a line "op row" per row (then "|" after each chunk with
// ChunkEnds) and "barrier epoch" per barrier; watermarks pass unlogged.
type Transcript struct {
	Next      operators.Output
	Types     []types.T // of the emitted columns
	Format    RowFormat
	ChunkEnds bool
	Lines     []string
}

// Push implements operators.Output.
func (tr *Transcript) Push(m operators.Message) error {
	if err := tr.Next.Push(m); err != nil {
		return err
	}
	switch m := m.(type) {
	case *operators.Chunk:
		if !opsFit(m) {
			return fmt.Errorf("chunk of %d rows with %d ops", m.Len(), len(m.Ops))
		}
		format := tr.Format.or()
		for _, o := range ChunkRows(m, tr.Types) {
			tr.Lines = append(tr.Lines, o.Op.String()+" "+format(o.Vals))
		}
		if tr.ChunkEnds {
			tr.Lines = append(tr.Lines, "|")
		}
	case operators.Barrier:
		tr.Lines = append(tr.Lines, fmt.Sprintf("barrier %d", m.Epoch))
	}
	return nil
}

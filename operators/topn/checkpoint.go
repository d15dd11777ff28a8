package topn

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/sluicedb/sluice/operators/ckptio"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/sluicedb/sluice/operators"
)

// Checkpoint format, version 1 (see ckptio.go for the framing). After the
// header (Counts: partitions, entries, tops) come three streams, each in
// the same partition order:
//
//	partitions  the partition columns (typed, as the input's), then
//	            entries (int64: rows of this partition in the rows stream),
//	            tops (int64: rows in the tops stream), full (bool) and
//	            bound (binary: the encoded boundary key of the emitted top,
//	            see TopN.touches), touched (int32: the partition's place in
//	            the list of partitions with changes not yet emitted, -1 if
//	            none; empty after a barrier), and with Spec.Monotone
//	            dropped (bool: rows were dropped from its head)
//	rows        the distinct rows held: the input columns that are not
//	            partition columns (typed), then count (uint32, ≥ 1), each
//	            partition's rows in ORDER BY order (its sorted head, then
//	            its rest, sorted for the checkpoint)
//	tops        the top last emitted: the same columns, then mult (uint32)
//	            and rank (int64, 0 without EmitRank), in (row, rank) order
//
// Rows are stored decoded, so the checkpoint is readable with any Arrow
// tool and does not depend on the key encoding or on how a partition's
// rows are split between its head and its rest; Restore re-encodes them
// and splits them afresh.
const (
	ckptFormat  = "sluice.topn"
	ckptVersion = 1
	// Record batches of the data streams are cut at these sizes.
	ckptBatchRows  = 1 << 16
	ckptBatchBytes = 32 << 20
)

var _ operators.Checkpointer = (*TopN)(nil)

// config is the fingerprint of everything that decides the meaning of the
// state: input types, partition columns, ORDER BY, N, offset, rank kind,
// whether ranks are emitted and whether the input is monotone.
func (t *TopN) config() string { return t.configOf(t.spec.Monotone) }

// configOf is config for the operator, monotone or not.
func (t *TopN) configOf(monotone bool) string {
	var b strings.Builder
	b.WriteString("types=[")
	for i, ty := range t.inTypes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(ty.String())
	}
	fmt.Fprintf(&b, "] partition=%v order=[", t.spec.PartitionCols)
	for i, o := range t.spec.Order {
		if i > 0 {
			b.WriteByte(',')
		}
		dir, nulls := "asc", "last"
		if o.Desc {
			dir = "desc"
		}
		if o.NullsFirst {
			nulls = "first"
		}
		fmt.Fprintf(&b, "%d %s nulls %s", o.Col, dir, nulls)
	}
	fmt.Fprintf(&b, "] n=%d offset=%d kind=%s emitrank=%v", t.spec.N, t.spec.Offset, t.spec.Kind, t.spec.EmitRank)
	if monotone {
		b.WriteString(" monotone")
	}
	return b.String()
}

// ckptLayout is how the data streams map to the operator's fields.
type ckptLayout struct {
	inPart   []bool // by input column
	restCols []int  // input columns of the rows and tops streams
	partS    *arrow.Schema
	rowS     *arrow.Schema
	topS     *arrow.Schema
	// sortOut[k] is the column of the rows stream that sort field k
	// decodes into, or -1 (a partition column, or a repeat).
	sortOut []int
}

func (t *TopN) layout() *ckptLayout { return t.layoutOf(t.spec.Monotone) }

// layoutOf is layout for the operator, monotone or not.
func (t *TopN) layoutOf(monotone bool) *ckptLayout {
	l := &ckptLayout{inPart: make([]bool, len(t.inTypes))}
	var pf []arrow.Field
	for _, f := range t.partFields {
		l.inPart[f.col] = true
		pf = append(pf, t.nullable(f.col))
	}
	pf = append(pf,
		arrow.Field{Name: "entries", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "tops", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "full", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "bound", Type: arrow.BinaryTypes.Binary},
		arrow.Field{Name: "touched", Type: arrow.PrimitiveTypes.Int32})
	if monotone {
		pf = append(pf, arrow.Field{Name: "dropped", Type: arrow.FixedWidthTypes.Boolean})
	}
	l.partS = arrow.NewSchema(pf, nil)
	outOf := make([]int, len(t.inTypes))
	var rf []arrow.Field
	for c := range t.inTypes {
		outOf[c] = -1
		if !l.inPart[c] {
			outOf[c] = len(l.restCols)
			l.restCols = append(l.restCols, c)
			rf = append(rf, t.nullable(c))
		}
	}
	l.rowS = arrow.NewSchema(append(slices.Clone(rf), arrow.Field{Name: "count", Type: arrow.PrimitiveTypes.Uint32}), nil)
	l.topS = arrow.NewSchema(append(rf,
		arrow.Field{Name: "mult", Type: arrow.PrimitiveTypes.Uint32},
		arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int64}), nil)
	seen := make([]bool, len(t.inTypes))
	l.sortOut = make([]int, len(t.sortFields))
	for k, f := range t.sortFields {
		l.sortOut[k] = -1
		if !l.inPart[f.col] && !seen[f.col] {
			l.sortOut[k] = outOf[f.col]
			seen[f.col] = true
		}
	}
	return l
}

// nullable is input column c as a nullable field of its Arrow type.
func (t *TopN) nullable(c int) arrow.Field {
	return arrow.Field{Name: t.in.Field(c).Name, Type: t.inTypes[c].Arrow(), Nullable: true}
}

// liveParts lists the partitions in id order.
func (t *TopN) liveParts() []*partition {
	var ps []*partition
	for _, p := range t.parts {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Snapshot implements operators.Checkpointer: it writes every partition's
// rows and last emitted top (format above). It may be called between any
// two messages; right after a barrier no changes are pending.
func (t *TopN) Snapshot(w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internalf("snapshot: panic: %v", r)
		}
	}()
	if t.closed {
		return internalf("snapshot after close")
	}
	if err := t.snapshot(w); err != nil {
		return fmt.Errorf("topn snapshot: %w", err)
	}
	return nil
}

func (t *TopN) snapshot(w io.Writer) error {
	l := t.layout()
	parts := t.liveParts()
	touchedAt := map[int32]int32{}
	for i, id := range t.touched {
		touchedAt[id] = int32(i)
	}
	var entries, tops int64
	for _, p := range parts {
		entries += p.entries()
		tops += int64(p.snap.len())
	}
	cw := ckptio.NewCRCWriter(w)
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: t.config(),
		Names: []string{"partitions", "entries", "tops"}, Counts: []int64{int64(len(parts)), entries, tops}}
	if err := h.Write(cw, t.mem); err != nil {
		return err
	}
	// Partitions.
	err := ckptio.WriteStream(cw, t.mem, l.partS, func(iw *ipc.Writer) error {
		rb := array.NewRecordBuilder(t.mem, l.partS)
		defer rb.Release()
		np := len(t.partFields)
		sinks := make([]sink, np)
		for k := range sinks {
			sinks[k] = newSink(rb.Field(k))
		}
		ent := rb.Field(np).(*array.Int64Builder)
		tp := rb.Field(np + 1).(*array.Int64Builder)
		full := rb.Field(np + 2).(*array.BooleanBuilder)
		bound := rb.Field(np + 3).(*array.BinaryBuilder)
		touched := rb.Field(np + 4).(*array.Int32Builder)
		var dropped *array.BooleanBuilder
		if t.spec.Monotone {
			dropped = rb.Field(np + 5).(*array.BooleanBuilder)
		}
		n, size := 0, 0
		for _, p := range parts {
			pk := unsafeBytes(p.key)
			pos := 0
			var err error
			for k := range t.partFields {
				if pos, err = decodeField(pk, pos, &t.partFields[k], &sinks[k], &t.scratch); err != nil {
					return internalf("partition key: %v", err)
				}
			}
			ent.Append(p.entries())
			tp.Append(int64(p.snap.len()))
			full.Append(p.snap.full)
			bound.Append(p.snap.bound)
			if at, ok := touchedAt[p.id]; ok {
				touched.Append(at)
			} else {
				touched.Append(-1)
			}
			if dropped != nil {
				dropped.Append(p.dropped)
			}
			n++
			size += len(pk) + len(p.snap.bound)
			if n == ckptBatchRows || size >= ckptBatchBytes {
				if err := ckptio.WriteRecord(iw, rb); err != nil {
					return err
				}
				n, size = 0, 0
			}
		}
		if n > 0 {
			return ckptio.WriteRecord(iw, rb)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("partitions: %w", err)
	}
	// Rows and tops: decoded keys with a count.
	type rowSource func(yield func(key []byte, cnt uint32, rank int64) error) error
	writeKeys := func(schema *arrow.Schema, withRank bool, src rowSource) error {
		return ckptio.WriteStream(cw, t.mem, schema, func(iw *ipc.Writer) error {
			rb := array.NewRecordBuilder(t.mem, schema)
			defer rb.Release()
			nr := len(l.restCols)
			outSinks := make([]sink, nr)
			for j := range outSinks {
				outSinks[j] = newSink(rb.Field(j))
			}
			sinks := make([]*sink, len(t.sortFields))
			for k, o := range l.sortOut {
				if o >= 0 {
					sinks[k] = &outSinks[o]
				}
			}
			cnt := rb.Field(nr).(*array.Uint32Builder)
			var rank *array.Int64Builder
			if withRank {
				rank = rb.Field(nr + 1).(*array.Int64Builder)
			}
			n, size := 0, 0
			err := src(func(key []byte, c uint32, r int64) error {
				pos := 0
				var err error
				for k := range t.sortFields {
					if pos, err = decodeField(key, pos, &t.sortFields[k], sinks[k], &t.scratch); err != nil {
						return internalf("row key: %v", err)
					}
				}
				cnt.Append(c)
				if rank != nil {
					rank.Append(r)
				}
				n++
				size += len(key)
				if n == ckptBatchRows || size >= ckptBatchBytes {
					n, size = 0, 0
					return ckptio.WriteRecord(iw, rb)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if n > 0 {
				return ckptio.WriteRecord(iw, rb)
			}
			return nil
		})
	}
	err = writeKeys(l.rowS, false, func(yield func([]byte, uint32, int64) error) error {
		for _, p := range parts {
			if err := t.eachRow(p, func(k []byte, c uint32) error { return yield(k, c, 0) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	err = writeKeys(l.topS, true, func(yield func([]byte, uint32, int64) error) error {
		for _, p := range parts {
			s := &p.snap
			for i := 0; i < s.len(); i++ {
				var r int64
				if s.rank != nil {
					r = s.rank[i]
				}
				if err := yield(s.key(i), s.mult[i], r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tops: %w", err)
	}
	return ckptio.WriteTrailer(cw, t.mem)
}

// restorePart is a partition being restored.
type restorePart struct {
	p       *partition
	entries int64
	tops    int64
	touched int32
	pre     [][]byte // by sort field: the encoding of a partition column
}

// Restore implements operators.Checkpointer: it rebuilds the state from a
// Snapshot of an operator of the same configuration. It reads r to its
// end (one checkpoint per reader) and must be called before any message.
// On error the operator's state is unchanged (empty).
func (t *TopN) Restore(r io.Reader) (err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = internalf("restore: corrupt checkpoint: panic: %v", rec)
		}
	}()
	if t.closed {
		return internalf("restore after close")
	}
	if len(t.index) > 0 || len(t.touched) > 0 || len(t.ops) > 0 {
		return internalf("restore into an operator that already holds state")
	}
	if err := t.restore(r); err != nil {
		return fmt.Errorf("topn restore: %w", err)
	}
	return nil
}

func (t *TopN) restore(r io.Reader) error {
	defer func() {
		for c := range t.rd {
			t.rd[c] = reader{}
		}
	}()
	data, err := ckptio.ReadVerified(r, t.mem)
	if err != nil {
		return err
	}
	cr := bytes.NewReader(data)
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: t.config(), Names: []string{"partitions", "entries", "tops"}}
	// A monotone Top-N also takes the snapshot of the same Top-N that was
	// not monotone (taken by a build that did not plan it so): it keeps
	// each partition's first Offset+N rows and drops the others.
	fromPlain := false
	if err := h.Read(cr, t.mem); err != nil {
		if !t.spec.Monotone {
			return err
		}
		cr = bytes.NewReader(data)
		h.Config = t.configOf(false)
		if h.Read(cr, t.mem) != nil {
			return err
		}
		fromPlain = true
	}
	l := t.layoutOf(t.spec.Monotone && !fromPlain)
	nParts, nEntries, nTops := h.Counts[0], h.Counts[1], h.Counts[2]
	if nParts < 0 || nEntries < 0 || nTops < 0 {
		return fmt.Errorf("negative counts in the header")
	}
	var parts []*restorePart
	index := map[string]int32{}
	np := len(t.partFields)
	var needPre bool
	for _, f := range t.sortFields {
		needPre = needPre || l.inPart[f.col]
	}
	err = ckptio.ReadStream(cr, t.mem, "partitions", l.partS, func(rec arrow.RecordBatch) error {
		for k, f := range t.partFields {
			t.rd[f.col].reset(rec.Column(k))
		}
		ent := rec.Column(np).(*array.Int64)
		tp := rec.Column(np + 1).(*array.Int64)
		full := rec.Column(np + 2).(*array.Boolean)
		bound := rec.Column(np + 3).(*array.Binary)
		touched := rec.Column(np + 4).(*array.Int32)
		var dropped *array.Boolean
		if t.spec.Monotone && !fromPlain {
			dropped = rec.Column(np + 5).(*array.Boolean)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if int64(len(parts)) >= nParts {
				return fmt.Errorf("more partitions than the header's %d", nParts)
			}
			if ent.IsNull(i) || tp.IsNull(i) || full.IsNull(i) || touched.IsNull(i) || (dropped != nil && dropped.IsNull(i)) {
				return fmt.Errorf("partition %d: NULL metadata", len(parts))
			}
			pb := t.pbuf[:0]
			for k := range t.partFields {
				f := &t.partFields[k]
				pb = appendField(pb, f, &t.rd[f.col], i)
			}
			t.pbuf = pb
			if _, dup := index[string(pb)]; dup {
				return fmt.Errorf("partition %d: duplicate partition key", len(parts))
			}
			id := int32(len(parts))
			rp := &restorePart{
				p:       &partition{key: string(pb), id: id, keep: int32(t.headKeep), rows: tree{w: t.keyWidth}},
				entries: ent.Value(i), tops: tp.Value(i), touched: touched.Value(i),
			}
			if rp.entries < 0 || rp.entries > nEntries || rp.tops < 0 || rp.tops > nTops || rp.touched < -1 {
				return fmt.Errorf("partition %d: bad counts", id)
			}
			rp.p.dropped = dropped != nil && dropped.Value(i)
			if rp.entries == 0 && rp.touched < 0 && !rp.p.dropped {
				return fmt.Errorf("partition %d: no rows and no pending change", id)
			}
			rp.p.snap.full = full.Value(i)
			rp.p.snap.bound = append([]byte(nil), bound.Value(i)...)
			if needPre {
				rp.pre = make([][]byte, len(t.sortFields))
				for k := range t.sortFields {
					if f := &t.sortFields[k]; l.inPart[f.col] {
						rp.pre[k] = appendField(nil, f, &t.rd[f.col], i)
					}
				}
			}
			index[rp.p.key] = id
			parts = append(parts, rp)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if int64(len(parts)) != nParts {
		return fmt.Errorf("partitions stream has %d rows, the header says %d", len(parts), nParts)
	}
	// readKeys feeds the rows of a rows or tops stream to add, partition
	// by partition as counts says.
	readKeys := func(name string, schema *arrow.Schema, total int64, count func(*restorePart) int64,
		add func(rp *restorePart, key []byte, c uint32, rank int64) error) error {
		pi, left, seen := -1, int64(0), int64(0)
		next := func() bool {
			for left == 0 {
				pi++
				if pi >= len(parts) {
					return false
				}
				left = count(parts[pi])
			}
			return true
		}
		nr := len(l.restCols)
		err := ckptio.ReadStream(cr, t.mem, name, schema, func(rec arrow.RecordBatch) error {
			for j, c := range l.restCols {
				t.rd[c].reset(rec.Column(j))
			}
			cnt := rec.Column(nr).(*array.Uint32)
			var rank *array.Int64
			if nr+1 < int(rec.NumCols()) {
				rank = rec.Column(nr + 1).(*array.Int64)
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				if !next() {
					return fmt.Errorf("more rows than the partitions account for")
				}
				rp := parts[pi]
				kb := t.kbuf[:0]
				for k := range t.sortFields {
					if rp.pre != nil && rp.pre[k] != nil {
						kb = append(kb, rp.pre[k]...)
						continue
					}
					f := &t.sortFields[k]
					kb = appendField(kb, f, &t.rd[f.col], i)
				}
				t.kbuf = kb
				if cnt.IsNull(i) || cnt.Value(i) == 0 {
					return fmt.Errorf("row %d: count NULL or 0", seen)
				}
				var rk int64
				if rank != nil {
					if rank.IsNull(i) {
						return fmt.Errorf("row %d: NULL rank", seen)
					}
					rk = rank.Value(i)
				}
				if err := add(rp, kb, cnt.Value(i), rk); err != nil {
					return fmt.Errorf("row %d: %w", seen, err)
				}
				left--
				seen++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if seen != total {
			return fmt.Errorf("%s stream has %d rows, the header says %d", name, seen, total)
		}
		if next() {
			return fmt.Errorf("%s stream ends before the partitions' last rows", name)
		}
		return nil
	}
	var prev []byte // the last key added to a rest
	err = readKeys("rows", l.rowS, nEntries, func(rp *restorePart) int64 { return rp.entries },
		func(rp *restorePart, key []byte, c uint32, _ int64) error {
			p := rp.p
			if t.spec.Monotone {
				// Only heads are held.
				if fromPlain && p.rows.ent >= int(p.keep) {
					p.dropped = true
					return nil
				}
				if err := p.rows.appendSorted(key, c); err != nil {
					return err
				}
				p.syncLast()
				return nil
			}
			if p.rest == nil && p.rows.ent < int(p.keep) {
				return p.rows.appendSorted(key, c)
			}
			if p.rest == nil {
				prev = append(prev[:0], p.rows.last()...)
				p.rest = newRestSet(t.restWidth)
				p.rest.reserve(int(min(rp.entries, math.MaxInt32)) - p.rows.ent)
				p.syncLast()
			}
			if t.keyWidth > 0 && len(key) != t.keyWidth {
				return fmt.Errorf("key of %d bytes, want %d", len(key), t.keyWidth)
			}
			if compareKeys(prev, key) >= 0 {
				return errors.New("rows out of order or repeated")
			}
			if p.count() > math.MaxInt64-int64(c) {
				return errors.New("row count overflow")
			}
			if !p.rest.add(key, c) {
				return errors.New("a partition's keys over 4 GB")
			}
			prev = append(prev[:0], key...)
			return nil
		})
	if err != nil {
		return err
	}
	withRank := t.spec.EmitRank
	err = readKeys("tops", l.topS, nTops, func(rp *restorePart) int64 { return rp.tops },
		func(rp *restorePart, key []byte, c uint32, rank int64) error {
			s := &rp.p.snap
			if n := s.len(); n > 0 {
				cmp := bytes.Compare(s.key(n-1), key)
				if cmp > 0 || cmp == 0 && (!withRank || s.rank[n-1] >= rank) {
					return errors.New("top rows out of order")
				}
			}
			if withRank && (rank <= t.spec.Offset || rank > t.spec.Offset+t.spec.N) {
				return fmt.Errorf("rank %d outside the top", rank)
			}
			s.push(key, c, rank, withRank)
			return nil
		})
	if err != nil {
		return err
	}
	if cr.Len() > 0 {
		return fmt.Errorf("%d bytes after the last stream", cr.Len())
	}
	// Commit.
	t.parts = make([]*partition, len(parts))
	t.index = index
	if t.intParts != nil {
		t.intParts = map[int64]int32{} // filled again by lookups
		t.dense = nil
	}
	t.freeIDs = nil
	var touched []*restorePart
	for i, rp := range parts {
		t.parts[i] = rp.p
		if rp.touched >= 0 {
			touched = append(touched, rp)
		}
	}
	slices.SortFunc(touched, func(a, b *restorePart) int { return int(a.touched - b.touched) })
	t.touched = t.touched[:0]
	for _, rp := range touched {
		rp.p.touched = true
		t.touched = append(t.touched, rp.p.id)
	}
	return nil
}

// entries is the number of distinct rows p holds.
func (p *partition) entries() int64 {
	n := int64(p.rows.ent)
	if p.rest != nil {
		n += int64(p.rest.n)
	}
	return n
}

// eachRow calls fn with every distinct row key of p and its count, in
// order; the key is valid during the call.
func (t *TopN) eachRow(p *partition, fn func(k []byte, c uint32) error) error {
	for _, b := range p.rows.blocks {
		for i := 0; i < b.len(); i++ {
			if err := fn(b.key(i), b.cnt[i]); err != nil {
				return err
			}
		}
	}
	r := p.rest
	if r == nil {
		return nil
	}
	t.heap = r.sorted(t.heap)
	for _, i := range t.heap {
		t.ebuf = r.expand(t.ebuf[:0], int(i))
		if err := fn(t.ebuf, r.count(int(i))); err != nil {
			return err
		}
	}
	return nil
}

// appendSorted appends key k with count c after every key held (a bulk
// load in order); it fails if k is not above the last key.
func (t *tree) appendSorted(k []byte, c uint32) error {
	if t.w > 0 && len(k) != t.w {
		return fmt.Errorf("key of %d bytes, want %d", len(k), t.w)
	}
	var b *block
	if n := len(t.blocks); n > 0 {
		b = t.blocks[n-1]
		if compareKeys(b.key(b.len()-1), k) >= 0 {
			return errors.New("rows out of order or repeated")
		}
		// Fill blocks to 3/4 so that inserts after the restore do not
		// split them at once.
		if b.len() >= maxEntries*3/4 || len(b.data)+len(k) > maxBytes*3/4 {
			b = nil
		}
	}
	if b == nil {
		capData := maxBytes * 3 / 4
		if t.w > 0 {
			capData = maxEntries * 3 / 4 * t.w
		}
		b = &block{w: t.w, data: make([]byte, 0, capData), cnt: make([]uint32, 0, maxEntries*3/4)}
		if t.w == 0 {
			b.ends = make([]uint32, 0, maxEntries*3/4)
		}
		t.blocks = append(t.blocks, b)
	}
	b.data = append(b.data, k...)
	if t.w == 0 {
		b.ends = append(b.ends, uint32(len(b.data)))
	}
	b.cnt = append(b.cnt, c)
	if t.rows > math.MaxInt64-int64(c) {
		return errors.New("row count overflow")
	}
	t.rows += int64(c)
	t.ent++
	return nil
}

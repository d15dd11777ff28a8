package agg

import (
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
)

// batch is one input chunk resolved to group ids.
type batch struct {
	gids  []uint32          // group of each row
	signs []int64           // +1/-1 per row; nil when every row adds
	rec   arrow.RecordBatch // the input rows
}

// emitRow is one output row being built at a barrier: group g's current
// result, or (old) the result snapshotted at dirty position d.
type emitRow struct {
	g   uint32
	d   int32
	old bool
	op  operators.Op
}

// accumulator is the per-spec state of a hash aggregate, held columnar by
// group id. Every method works on a whole batch or group list, so the
// interface is crossed once per batch, never per row.
type accumulator interface {
	// grow makes state for group ids < n (new groups hold the empty state).
	grow(n int)
	// snapshot appends the current results of groups touched for the first
	// time this epoch, in dirty order.
	snapshot(gs []uint32)
	// update folds a batch into the state.
	update(b *batch) error
	// changed reports whether group g's result differs from snapshot d.
	changed(d int, g uint32) bool
	// appendRows appends the result column of rows to bld.
	appendRows(bld array.Builder, rows []emitRow) error
	// clear resets the state of freed groups to empty.
	clear(gs []uint32)
	// evict resets the state of groups closed by a watermark, which may
	// still hold values, to empty.
	evict(gs []uint32, bits []uint64)
	// endEpoch drops the snapshots; dirty lists the epoch's groups.
	endEpoch(dirty []uint32)
}

func internalErr(format string, args ...any) *sqlerr.Error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, format, args...)
}

func negativeErr(name string) *sqlerr.Error {
	return internalErr("agg: %s: retraction of a row that was never inserted (count went negative)", name)
}

// nnCounter counts the non-NULL values of one input column per group. It
// is shared by COUNT(x), SUM(x), AVG(x) over the same column.
type nnCounter struct {
	col  int
	name string
	n    []int64
	// deltas: n holds the changes of the epoch (a committed-backed
	// aggregate), which may go negative.
	deltas bool
}

func (c *nnCounter) grow(n int) { c.n = extend(c.n, n) }

func (c *nnCounter) update(b *batch) error {
	col := b.rec.Column(c.col)
	bits, off := validity(col)
	n := c.n
	switch {
	case b.signs == nil && bits == nil:
		for _, g := range b.gids {
			n[g]++
		}
		return nil
	case b.signs == nil:
		for i, g := range b.gids {
			if isValid(bits, off+i) {
				n[g]++
			}
		}
		return nil
	case bits == nil:
		for i, g := range b.gids {
			n[g] += b.signs[i]
		}
	default:
		for i, g := range b.gids {
			if isValid(bits, off+i) {
				n[g] += b.signs[i]
			}
		}
	}
	if c.deltas {
		return nil
	}
	for _, g := range b.gids {
		if n[g] < 0 {
			return negativeErr(c.name)
		}
	}
	return nil
}

func (c *nnCounter) clear(gs []uint32) {
	for _, g := range gs {
		c.n[g] = 0
	}
}

// countAcc outputs a count kept elsewhere: the group row count (COUNT(*))
// or a non-NULL counter (COUNT(x)).
type countAcc struct {
	src *[]int64
	// rows (COUNT(*)) reads its snapshot from the aggregate's own
	// first-touch row counts instead of keeping one.
	rows   bool
	oldRef *[]int64
	old    []int64
	buf    []int64 // appendRows's values
}

func (a *countAcc) grow(int) {}

func (a *countAcc) snapshot(gs []uint32) {
	if a.rows {
		return
	}
	src := *a.src
	for _, g := range gs {
		a.old = append(a.old, src[g])
	}
}

func (a *countAcc) update(*batch) error { return nil }

func (a *countAcc) olds() []int64 {
	if a.rows {
		return *a.oldRef
	}
	return a.old
}

func (a *countAcc) changed(d int, g uint32) bool { return a.olds()[d] != (*a.src)[g] }

func (a *countAcc) appendRows(bld array.Builder, rows []emitRow) error {
	b, ok := bld.(*array.Int64Builder)
	if !ok {
		return fmt.Errorf("agg: COUNT output builder is %T", bld)
	}
	src, old := *a.src, a.olds()
	out := growSlice(&a.buf, len(rows))
	for i, r := range rows {
		if r.old {
			out[i] = old[r.d]
		} else {
			out[i] = src[r.g]
		}
	}
	b.AppendValues(out, nil)
	return nil
}

func (a *countAcc) clear([]uint32) {}

func (a *countAcc) endEpoch([]uint32) { a.old = recycle(a.old) }

// sumIntAcc is SUM or AVG over INT/BIGINT, with an exact int64 sum.
type sumIntAcc struct {
	name    string
	col     int
	avg     bool
	nn      *nnCounter
	sum     []int64
	oldSum  []int64
	oldN    []int64
	scratch []int64
}

func (a *sumIntAcc) grow(n int) { a.sum = extend(a.sum, n) }

func (a *sumIntAcc) snapshot(gs []uint32) {
	for _, g := range gs {
		a.oldSum = append(a.oldSum, a.sum[g])
		a.oldN = append(a.oldN, a.nn.n[g])
	}
}

func (a *sumIntAcc) update(b *batch) error {
	col := b.rec.Column(a.col)
	vals, err := readInts(col, &a.scratch)
	if err != nil {
		return fmt.Errorf("agg: %s: %w", a.name, err)
	}
	bits, off := validity(col)
	sum := a.sum
	var ovf int64
	switch {
	case b.signs == nil && bits == nil:
		vals = vals[:len(b.gids)]
		for i, g := range b.gids {
			s0, v := sum[g], vals[i]
			s := s0 + v
			ovf |= (s0 ^ s) & (v ^ s)
			sum[g] = s
		}
	case b.signs == nil:
		for i, g := range b.gids {
			if !isValid(bits, off+i) {
				continue
			}
			s0, v := sum[g], vals[i]
			s := s0 + v
			ovf |= (s0 ^ s) & (v ^ s)
			sum[g] = s
		}
	default:
		for i, g := range b.gids {
			if bits != nil && !isValid(bits, off+i) {
				continue
			}
			s0, v := sum[g], vals[i]
			var s int64
			if b.signs[i] > 0 {
				s = s0 + v
				ovf |= (s0 ^ s) & (v ^ s)
			} else {
				s = s0 - v
				ovf |= (s0 ^ v) & (s0 ^ s)
			}
			sum[g] = s
		}
	}
	if ovf < 0 {
		return sqlerr.Execf(sqlerr.NumericOutOfRange, "bigint out of range in %s", a.name)
	}
	return nil
}

func (a *sumIntAcc) changed(d int, g uint32) bool {
	on, nn := a.oldN[d], a.nn.n[g]
	if (on == 0) != (nn == 0) {
		return true
	}
	if nn == 0 {
		return false
	}
	if a.avg {
		return math.Float64bits(float64(a.oldSum[d])/float64(on)) != math.Float64bits(float64(a.sum[g])/float64(nn))
	}
	return a.oldSum[d] != a.sum[g]
}

func (a *sumIntAcc) appendRows(bld array.Builder, rows []emitRow) error {
	for _, r := range rows {
		s, n := a.sum[r.g], a.nn.n[r.g]
		if r.old {
			s, n = a.oldSum[r.d], a.oldN[r.d]
		}
		if n == 0 {
			bld.AppendNull()
			continue
		}
		if a.avg {
			b, ok := bld.(*array.Float64Builder)
			if !ok {
				return fmt.Errorf("agg: %s output builder is %T", a.name, bld)
			}
			b.Append(float64(s) / float64(n))
		} else {
			b, ok := bld.(*array.Int64Builder)
			if !ok {
				return fmt.Errorf("agg: %s output builder is %T", a.name, bld)
			}
			b.Append(s)
		}
	}
	return nil
}

func (a *sumIntAcc) clear(gs []uint32) {
	for _, g := range gs {
		a.sum[g] = 0
	}
}

func (a *sumIntAcc) endEpoch([]uint32) {
	a.oldSum, a.oldN = recycle(a.oldSum), recycle(a.oldN)
}

// sumFloatAcc is SUM or AVG over DOUBLE. Under retractions the sum may
// drift in the last bits; it is reset to 0 whenever a group has no values.
type sumFloatAcc struct {
	name    string
	col     int
	avg     bool
	nn      *nnCounter
	sum     []float64
	oldSum  []float64
	oldN    []int64
	scratch []float64
}

func (a *sumFloatAcc) grow(n int) { a.sum = extend(a.sum, n) }

func (a *sumFloatAcc) snapshot(gs []uint32) {
	for _, g := range gs {
		a.oldSum = append(a.oldSum, a.sum[g])
		a.oldN = append(a.oldN, a.nn.n[g])
	}
}

func (a *sumFloatAcc) update(b *batch) error {
	col := b.rec.Column(a.col)
	vals, err := floatFamily.read(col, nil)
	if err != nil {
		return fmt.Errorf("agg: %s: %w", a.name, err)
	}
	bits, off := validity(col)
	sum := a.sum
	for i, g := range b.gids {
		if bits != nil && !isValid(bits, off+i) {
			continue
		}
		if b.signs == nil || b.signs[i] > 0 {
			sum[g] += vals[i]
		} else {
			sum[g] -= vals[i]
		}
	}
	return nil
}

func (a *sumFloatAcc) result(s float64, n int64) float64 {
	if a.avg {
		return s / float64(n)
	}
	return s
}

func (a *sumFloatAcc) changed(d int, g uint32) bool {
	on, nn := a.oldN[d], a.nn.n[g]
	if (on == 0) != (nn == 0) {
		return true
	}
	if nn == 0 {
		return false
	}
	return math.Float64bits(a.result(a.oldSum[d], on)) != math.Float64bits(a.result(a.sum[g], nn))
}

func (a *sumFloatAcc) appendRows(bld array.Builder, rows []emitRow) error {
	b, ok := bld.(*array.Float64Builder)
	if !ok {
		return fmt.Errorf("agg: %s output builder is %T", a.name, bld)
	}
	for _, r := range rows {
		s, n := a.sum[r.g], a.nn.n[r.g]
		if r.old {
			s, n = a.oldSum[r.d], a.oldN[r.d]
		}
		if n == 0 {
			b.AppendNull()
		} else {
			b.Append(a.result(s, n))
		}
	}
	return nil
}

func (a *sumFloatAcc) clear(gs []uint32) {
	for _, g := range gs {
		a.sum[g] = 0
	}
}

func (a *sumFloatAcc) endEpoch(dirty []uint32) {
	for _, g := range dirty {
		if a.nn.n[g] == 0 {
			a.sum[g] = 0 // forget the drift of values added and retracted
		}
	}
	a.oldSum, a.oldN = recycle(a.oldSum), recycle(a.oldN)
}

// sumDecAcc is SUM or AVG over DECIMAL(p,s) with a 128-bit exact sum.
// SUM yields DECIMAL(38,s); AVG rescales by up digits (result scale minus
// argument scale) and rounds half away from zero.
type sumDecAcc struct {
	name   string
	col    int
	avg    bool
	up     int32
	scale  int32 // of the argument, and so of the sum
	nn     *nnCounter
	sum    []decimal128.Num
	oldSum []decimal128.Num
	oldN   []int64
}

func (a *sumDecAcc) grow(n int) { a.sum = extend(a.sum, n) }

func (a *sumDecAcc) snapshot(gs []uint32) {
	for _, g := range gs {
		a.oldSum = append(a.oldSum, a.sum[g])
		a.oldN = append(a.oldN, a.nn.n[g])
	}
}

func (a *sumDecAcc) update(b *batch) error {
	col := b.rec.Column(a.col)
	vals, err := decFamily.read(col, nil)
	if err != nil {
		return fmt.Errorf("agg: %s: %w", a.name, err)
	}
	bits, off := validity(col)
	sum := a.sum
	var ovf int64
	for i, g := range b.gids {
		if bits != nil && !isValid(bits, off+i) {
			continue
		}
		s0, v := sum[g], vals[i]
		var s decimal128.Num
		if b.signs == nil || b.signs[i] > 0 {
			s = s0.Add(v)
			ovf |= (s0.HighBits() ^ s.HighBits()) & (v.HighBits() ^ s.HighBits())
		} else {
			s = s0.Sub(v)
			ovf |= (s0.HighBits() ^ v.HighBits()) & (s0.HighBits() ^ s.HighBits())
		}
		sum[g] = s
	}
	if ovf < 0 {
		return sqlerr.Execf(sqlerr.NumericOutOfRange, "numeric field overflow in %s", a.name)
	}
	return nil
}

var maxDec38 = decimal128.GetMaxValue(38)

// result computes the output value of a sum s over n values.
func (a *sumDecAcc) result(s decimal128.Num, n int64) (decimal128.Num, error) {
	if !a.avg {
		if s.Abs().Greater(maxDec38) {
			return s, sqlerr.Execf(sqlerr.NumericOutOfRange, "numeric field overflow in %s: the sum exceeds 38 digits", a.name)
		}
		return s, nil
	}
	v := s.BigInt()
	v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(a.up)), nil))
	den := big.NewInt(n)
	q, r := new(big.Int).QuoRem(v, den, new(big.Int))
	r.Abs(r).Lsh(r, 1)
	if r.Cmp(den) >= 0 {
		q.Add(q, big.NewInt(int64(v.Sign())))
	}
	if q.CmpAbs(maxDec38.BigInt()) > 0 {
		return s, sqlerr.Execf(sqlerr.NumericOutOfRange, "numeric field overflow in %s", a.name)
	}
	return decimal128.FromBigInt(q), nil
}

func (a *sumDecAcc) changed(d int, g uint32) bool {
	on, nn := a.oldN[d], a.nn.n[g]
	if (on == 0) != (nn == 0) {
		return true
	}
	if nn == 0 {
		return false
	}
	if !a.avg {
		return a.oldSum[d] != a.sum[g]
	}
	if on == nn && a.oldSum[d] == a.sum[g] {
		return false
	}
	o, err1 := a.result(a.oldSum[d], on)
	c, err2 := a.result(a.sum[g], nn)
	return err1 != nil || err2 != nil || o != c
}

func (a *sumDecAcc) appendRows(bld array.Builder, rows []emitRow) error {
	b, ok := bld.(*array.Decimal128Builder)
	if !ok {
		return fmt.Errorf("agg: %s output builder is %T", a.name, bld)
	}
	for _, r := range rows {
		s, n := a.sum[r.g], a.nn.n[r.g]
		if r.old {
			s, n = a.oldSum[r.d], a.oldN[r.d]
		}
		if n == 0 {
			b.AppendNull()
			continue
		}
		v, err := a.result(s, n)
		if err != nil {
			return err
		}
		b.Append(v)
	}
	return nil
}

func (a *sumDecAcc) clear(gs []uint32) {
	for _, g := range gs {
		a.sum[g] = decimal128.Num{}
	}
}

func (a *sumDecAcc) endEpoch([]uint32) {
	a.oldSum, a.oldN = recycle(a.oldSum), recycle(a.oldN)
}

func (a *countAcc) evict(gs []uint32, _ []uint64) { a.clear(gs) }

func (a *sumIntAcc) evict(gs []uint32, _ []uint64) { a.clear(gs) }

func (a *sumFloatAcc) evict(gs []uint32, _ []uint64) { a.clear(gs) }

func (a *sumDecAcc) evict(gs []uint32, _ []uint64) { a.clear(gs) }

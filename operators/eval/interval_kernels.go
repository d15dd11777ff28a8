package eval

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// tsIntervalNode is TIMESTAMP ± a constant INTERVAL without a month part:
// the interval is then a fixed number of microseconds, added to the int64
// values of the whole batch. It matches addInterval exactly: a result
// outside years 1..9999 is NULL, as is every row when the interval's
// parts are beyond addInterval's bounds.
type tsIntervalNode struct {
	a       node
	t       types.T
	delta   int64 // µs added to each value
	allNull bool  // the interval is out of addInterval's bounds
}

// buildTsInterval compiles AddInterval/SubInterval of a TIMESTAMP
// argument and a non-NULL constant interval whose month part is zero;
// ok is false for any other shape (left to the row path).
func buildTsInterval(c *expr.Call) (node, bool, error) {
	if len(c.Args) != 2 || c.T.Kind != types.Timestamp || c.Args[0].Type().Kind != types.Timestamp {
		return nil, false, nil
	}
	iv, ok := constOf(c.Args[1])
	if !ok || iv.Null || iv.Kind != types.Interval || iv.Months != 0 {
		return nil, false, nil
	}
	if _, isConst := constOf(c.Args[0]); isConst {
		return nil, false, nil
	}
	dd, us := iv.Days, iv.I
	if c.Func == expr.SubInterval {
		dd, us = -dd, -us // wrapping as the scalar path does
	}
	n := &tsIntervalNode{t: c.T}
	// The bounds of addInterval (months is 0 here).
	if dd > 5000000 || dd < -5000000 || us > 5000000*usPerDay || us < -5000000*usPerDay {
		n.allNull = true
	} else {
		n.delta = int64(dd)*usPerDay + us
	}
	var err error
	if n.a, err = build(c.Args[0]); err != nil {
		return nil, true, err
	}
	return n, true, nil
}

func (n *tsIntervalNode) eval(c *ctx) (arrow.Array, error) {
	a, err := n.a.eval(c)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	dt := n.t.Arrow()
	if n.allNull {
		return array.MakeArrayOfNull(c.mem, dt, c.n), nil
	}
	buf, out := newFixed[int64](c.mem, c.n)
	bad := addDeltaInRange(values[int64](a), n.delta, out)
	valid := andValidity(c.mem, c.n, a)
	if bad {
		if valid == nil {
			valid = newBitmap(c.mem, c.n)
			bitutil.SetBitsTo(valid.Bytes(), 0, int64(c.n), true)
		}
		vb := valid.Bytes()
		for i, r := range out {
			if !tsInRange(r) {
				bitutil.ClearBit(vb, i)
			}
		}
	}
	return finish(dt, c.n, valid, buf), nil
}

// Timestamps (µs) of years 1..9999: [tsLo, tsHi).
const (
	tsLo = minDay * usPerDay
	tsHi = (maxDay + 1) * usPerDay
)

// tsInRange reports whether r falls in years 1..9999.
func tsInRange(r int64) bool { return uint64(r-tsLo) < uint64(tsHi-tsLo) }

// addDeltaInRange sets out[i] = a[i] + d (wrapping, like addInterval's
// arithmetic) and reports whether any result falls outside years
// 1..9999.
func addDeltaInRange(a []int64, d int64, out []int64) bool {
	out = out[:len(a)]
	var bad bool
	for i, v := range a {
		r := v + d
		out[i] = r
		bad = bad || uint64(r-tsLo) >= uint64(tsHi-tsLo)
	}
	return bad
}

package join

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var idxTypes = []types.T{types.BigIntType, types.DoubleType, types.TextType, types.DecimalType(10, 2),
	types.BoolType, types.TimestampType(6), types.IntType}

// idxSchema is the schema of idxTypes.
var idxSchema = typesSchema(idxTypes)

// idxTsCol is the time column of idxTypes.
const idxTsCol = 5

// randIdxRow draws a row of idxTypes with small domains, NULLs outside
// the key and time columns, and doubles that include -0 and NaN.
func randIdxRow(r *rand.Rand) row {
	out := make(row, len(idxTypes))
	for i, t := range idxTypes {
		if i != 0 && i != idxTsCol && r.IntN(6) == 0 {
			out[i] = types.NewNull(t)
			continue
		}
		v := r.IntN(3)
		switch i {
		case 0:
			out[i] = types.NewBigInt(int64(r.IntN(4)))
		case 1:
			out[i] = types.NewDouble([]float64{0, math.Copysign(0, -1), math.NaN()}[v])
		case 2:
			out[i] = types.NewText([]string{"", "x", "yy"}[v])
		case 3:
			out[i] = types.NewDecimal(decimal128.FromI64(int64(v)*125), 2)
		case 4:
			out[i] = types.NewBool(v == 0)
		case 5:
			out[i] = types.NewTimestamp(int64(r.IntN(100)))
		case 6:
			out[i] = types.NewInt(int32(v))
		}
	}
	return out
}

// canon is a row's identity as Columns.Equal sees it.
func canon(r row) string {
	var b strings.Builder
	for _, d := range r {
		switch {
		case d.Null:
			b.WriteString("N|")
		case d.Kind == types.Double:
			b.WriteString(strconv.FormatUint(keyFloatBits(d.F), 16) + "|")
		default:
			b.WriteString(d.String() + "|")
		}
	}
	return b.String()
}

func slotRow(s *side, x uint32) row {
	r := make(row, len(s.types))
	for c := range s.types {
		r[c] = s.rows.Datum(x, c)
	}
	return r
}

// checkIndex checks the row index of s (single integer key) against its
// key chains: identical rows form one run per chain, the same bits mark
// the runs, and exactly the first slot of each run is in the table,
// reachable from its home position.
func checkIndex(t *testing.T, s *side) {
	t.Helper()
	inTab := map[uint32]int{}
	for p, x := range s.tab {
		if x != end {
			if _, dup := inTab[x]; dup {
				t.Fatalf("slot %d twice in the table", x)
			}
			inTab[x] = p
		}
	}
	if len(inTab) != s.tabN {
		t.Fatalf("table holds %d entries, tabN %d", len(inTab), s.tabN)
	}
	if s.tabN*4 > len(s.tab)*3 {
		t.Fatalf("table load %d/%d", s.tabN, len(s.tab))
	}
	linked, runs := 0, 0
	var chains []uint32
	s.ihead.each(func(_ int64, h uint32) error {
		chains = append(chains, h)
		return nil
	})
	for _, h := range chains {
		seen := map[string]bool{}
		prev := ""
		for x := h; x != end; x = s.link[x].next {
			linked++
			c := canon(slotRow(s, x))
			first := c != prev
			if first {
				if seen[c] {
					t.Fatalf("copies of %s are not adjacent in their key chain", c)
				}
				seen[c] = true
				runs++
				p, ok := inTab[x]
				if !ok {
					t.Fatalf("first copy %d of %s is not in the table", x, c)
				}
				if got := s.slotPos(x); got != p {
					t.Fatalf("slot %d at table position %d is found at %d", x, p, got)
				}
			} else if _, ok := inTab[x]; ok {
				t.Fatalf("non-first copy %d of %s is in the table", x, c)
			}
			nx := s.link[x].next
			want := nx != end && canon(slotRow(s, nx)) == c
			if s.isSame(x) != want {
				t.Fatalf("same bit of slot %d is %v, want %v", x, s.isSame(x), want)
			}
			if nx != end && s.isSame(x) && s.rhash[nx] != s.rhash[x] {
				t.Fatalf("identical slots %d and %d hash differently", x, nx)
			}
			prev = c
		}
	}
	if linked != s.rows.Len() {
		t.Fatalf("%d slots linked, %d stored", linked, s.rows.Len())
	}
	if runs != s.tabN {
		t.Fatalf("%d runs of identical rows, %d table entries", runs, s.tabN)
	}
}

// TestRowIndexRandom feeds random inserts and deletes (exact duplicates,
// -0 for 0, NULLs) to the left side of a time-bounded join whose right
// watermarks evict rows, checks the row index after every chunk, and
// round-trips the state through a checkpoint, then deletes every row of
// the restored join. With a hash mask of 3 every row collides with many
// others, exercising verification and backward-shift deletion.
func TestRowIndexRandom(t *testing.T) {
	for _, mask := range []uint32{^uint32(0), 3} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("mask%x/seed%d", mask, seed), func(t *testing.T) {
				defer func(m uint32) { rowHashMask = m }(rowHashMask)
				rowHashMask = mask
				testRowIndex(t, seed)
			})
		}
	}
}

func testRowIndex(t *testing.T, seed uint64) {
	mem := optest.CheckedMem(t)
	r := rand.New(rand.NewPCG(seed, 7))
	rt := []types.T{types.BigIntType, types.BigIntType}
	const hi = 10
	opts := Options{Time: &TimeBound{LeftCol: idxTsCol, RightCol: 1, Lo: -hi, Hi: hi}}
	sch := outSchema(idxTypes, rt)
	newJoin := func() *HashJoin {
		return NewWithOptions(mem, Inner, idxTypes, rt, []int{0}, []int{0}, nil, sch, opts, operators.OutputFunc(func(operators.Message) error { return nil }))
	}
	j := newJoin()
	optest.CloseAtEnd(t, closeFunc(func() error { return j.Close() }), mem)
	var ref []row
	wm := int64(0)
	for step := 0; step < 300; step++ {
		n := 1 + r.IntN(8)
		if r.IntN(8) == 0 {
			n = 100
		}
		var rows []row
		var ops []operators.Op
		for range n {
			if len(ref) > 0 && r.IntN(5) < 2 {
				k := r.IntN(len(ref))
				d := slices.Clone(ref[k])
				if !d[1].Null && d[1].F == 0 && r.IntN(2) == 0 {
					d[1] = types.NewDouble(-d[1].F) // the other zero
				}
				ref = slices.Delete(ref, k, k+1)
				rows, ops = append(rows, d), append(ops, operators.Delete)
				continue
			}
			nr := randIdxRow(r)
			if len(ref) > 0 && r.IntN(3) == 0 {
				nr = slices.Clone(ref[r.IntN(len(ref))])
			}
			if nr[idxTsCol].I >= wm-hi {
				ref = append(ref, nr) // stored: not below the horizon
			}
			rows, ops = append(rows, nr), append(ops, operators.Insert)
		}
		if err := optest.Feed(mem, j.Left(), idxSchema, rows, ops, 0); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if r.IntN(20) == 0 {
			wm += int64(r.IntN(6))
			if err := j.Right().Push(operators.Watermark{Column: 1, Time: wm}); err != nil {
				t.Fatal(err)
			}
			ref = slices.DeleteFunc(ref, func(x row) bool { return x[idxTsCol].I < wm-hi })
		}
		if got := j.StateRows(); got != len(ref) {
			t.Fatalf("step %d: %d rows stored, want %d", step, got, len(ref))
		}
		checkIndex(t, j.sides[0])
		if step%100 == 99 {
			restored := newJoin()
			if _, err := optest.RoundTrip(j, restored); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			j = restored
			checkIndex(t, j.sides[0])
		}
	}
	// A row that is not stored cannot be deleted.
	absent := randIdxRow(r)
	absent[2] = types.NewText("absent")
	absent[idxTsCol] = types.NewTimestamp(wm + 100) // above the horizon
	err := optest.Feed(mem, j.Left(), idxSchema, []row{absent}, []operators.Op{operators.Delete}, 0)
	if err == nil {
		t.Fatal("deleting an absent row succeeded")
	}
	if err := optest.Feed(mem, j.Left(), idxSchema, ref, optest.OpsOf(operators.Delete, len(ref)), 0); err != nil {
		t.Fatal(err)
	}
	if n := j.StateRows(); n != 0 || j.sides[0].tabN != 0 {
		t.Fatalf("after deleting every row: %d rows, %d table entries", n, j.sides[0].tabN)
	}
}

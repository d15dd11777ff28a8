package state

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicedb/sluice/types"
)

// TestIntIndexRandom drives the open-addressing index with random inserts
// and removes against a map, on key sets chosen to collide (multiples of
// a large power of two share a home under Fibonacci hashing) and to wrap
// around the table's end.
func TestIntIndexRandom(t *testing.T) {
	for _, spread := range []int64{1, 1 << 40, -3} {
		col, _ := newColumn(types.BigIntType)
		x := intIndex{col: &col}
		ref := map[int64]uint32{}
		var free []uint32
		r := rand.New(rand.NewPCG(uint64(spread), 1))
		for step := 0; step < 20000; step++ {
			k := int64(r.IntN(300)) * spread
			slot, ok := x.find(k)
			rs, rok := ref[k]
			if ok != rok || (ok && slot != rs) {
				t.Fatalf("find(%d) = %d %v, want %d %v", k, slot, ok, rs, rok)
			}
			if ok {
				if !x.remove(k) {
					t.Fatalf("remove(%d) failed", k)
				}
				delete(ref, k)
				free = append(free, slot)
				continue
			}
			if x.remove(k) {
				t.Fatalf("remove(%d) of an absent key succeeded", k)
			}
			var s uint32
			if n := len(free); n > 0 {
				s, free = free[n-1], free[:n-1]
			} else {
				s = uint32(col.grow())
			}
			col.i64[s] = k
			x.insert(s)
			ref[k] = s
			if x.n != len(ref) {
				t.Fatalf("n = %d, want %d", x.n, len(ref))
			}
		}
		for k, s := range ref {
			if got, ok := x.find(k); !ok || got != s {
				t.Fatalf("final find(%d) = %d %v", k, got, ok)
			}
		}
	}
}

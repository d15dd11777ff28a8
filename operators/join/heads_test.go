package join

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestHeadsAgainstMap applies random swaps, sets and deletions to a heads
// table and a Go map and compares every key after each step: over many
// keys (negatives, extremes, multiples of a power of two), and over a few
// keys whose homes in a 16-entry table are at its end or start, so probe
// runs wrap around and deletions shift entries across the wrap.
func TestHeadsAgainstMap(t *testing.T) {
	big := []int64{0, -1, math.MinInt64, math.MaxInt64}
	for i := range 300 {
		big = append(big, int64(i)*1024, int64(i)-150)
	}
	var small []int64
	for k := int64(0); len(small) < 11; k++ {
		if home := (uint64(k) * fib) >> 60; home >= 14 || home == 0 && len(small) >= 6 {
			small = append(small, k)
		}
	}
	for _, keys := range [][]int64{big, small} {
		testHeads(t, keys)
	}
}

func testHeads(t *testing.T, keys []int64) {
	r := rand.New(rand.NewPCG(5, uint64(len(keys))))
	var h heads
	ref := map[int64]uint32{}
	for step := range 20000 {
		k := keys[r.IntN(len(keys))]
		switch r.IntN(4) {
		case 0, 1:
			v := uint32(r.IntN(1000))
			old, ok := ref[k]
			if !ok {
				old = end
			}
			if got := h.swap(k, v); got != old {
				t.Fatalf("step %d: swap(%d) returned %d, want %d", step, k, got, old)
			}
			ref[k] = v
		case 2:
			if _, ok := ref[k]; ok {
				v := uint32(r.IntN(1000))
				h.swap(k, v)
				ref[k] = v
			}
		default:
			h.del(k)
			delete(ref, k)
		}
		if h.len() != len(ref) {
			t.Fatalf("step %d: %d keys, want %d", step, h.len(), len(ref))
		}
		if step%50 == 0 || len(keys) < 20 {
			for _, k := range keys {
				want, ok := ref[k]
				if !ok {
					want = end
				}
				if got := h.get(k); got != want {
					t.Fatalf("step %d: get(%d) = %d, want %d", step, k, got, want)
				}
			}
			n := 0
			h.each(func(k int64, v uint32) error {
				if ref[k] != v {
					t.Fatalf("step %d: each gave %d → %d, want %d", step, k, v, ref[k])
				}
				n++
				return nil
			})
			if n != len(ref) {
				t.Fatalf("step %d: each gave %d keys, want %d", step, n, len(ref))
			}
		}
	}
}

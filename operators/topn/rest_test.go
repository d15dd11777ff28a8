package topn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// restKeyGen makes random keys: fixed-width (w > 0) keys that mostly share
// their bytes and differ in a few positions that vary more over time (so
// the compression widens), or variable-width ones.
type restKeyGen struct {
	r *rand.Rand
	w int
}

func (g *restKeyGen) key(step int) []byte {
	if g.w == 0 {
		n := g.r.IntN(12)
		k := make([]byte, n)
		for i := range k {
			k[i] = byte(g.r.IntN(3))
		}
		return k
	}
	k := make([]byte, g.w)
	for i := range k {
		k[i] = 0x7F
	}
	// The last 2 bytes vary from the start, earlier ones later on (up to
	// 7 in 6000 steps).
	spread := min(g.w, 2+step/1000)
	for i := g.w - spread; i < g.w; i++ {
		if g.r.IntN(3) > 0 || i >= g.w-2 {
			k[i] = byte(g.r.IntN(4))
		}
	}
	return k
}

// TestRestSetAgainstMap checks the hash set against a map under random
// adds (with counts), removals of one or all copies, and absent keys:
// counts, sizes, the sorted order and partial selection.
func TestRestSetAgainstMap(t *testing.T) {
	for _, w := range []int{0, 3, 9, 18, 20} {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			g := &restKeyGen{r: r, w: w}
			s := newRestSet(w)
			ref := map[string]uint32{}
			var rows int64
			var heap []int32
			var hx []uint64
			for step := range 6000 {
				k := g.key(step)
				switch op := r.IntN(10); {
				case op < 5:
					c := uint32(1)
					if r.IntN(8) == 0 {
						c = uint32(2 + r.IntN(3))
					}
					if !s.add(k, c) {
						t.Fatalf("step %d: add failed", step)
					}
					ref[string(k)] += c
					rows += int64(c)
				case op < 9:
					all := r.IntN(4) == 0
					got := s.remove(k, all)
					want := uint32(0)
					if c := ref[string(k)]; c > 0 {
						want = 1
						if all {
							want = c
						}
						if ref[string(k)] -= want; ref[string(k)] == 0 {
							delete(ref, string(k))
						}
					}
					if got != want {
						t.Fatalf("step %d: remove(%x, all=%v) = %d, want %d", step, k, all, got, want)
					}
					rows -= int64(want)
				default:
					checkRest(t, s, ref, rows, step)
					m := r.IntN(20)
					heap = s.smallest(m, heap, &hx)
					keys := sortedRefKeys(ref)
					if len(heap) != min(m, len(keys)) {
						t.Fatalf("step %d: smallest(%d) gave %d keys of %d", step, m, len(heap), len(keys))
					}
					for j, i := range heap {
						if got := s.expand(nil, int(i)); !bytes.Equal(got, []byte(keys[j])) {
							t.Fatalf("step %d: smallest[%d] = %x, want %x", step, j, got, keys[j])
						}
					}
				}
			}
			checkRest(t, s, ref, rows, -1)
			if w > 7 && s.sw >= w {
				t.Errorf("keys of %d bytes stored in %d", w, s.sw)
			}
			// Empty it.
			for k := range ref {
				if got := s.remove([]byte(k), true); got != ref[k] {
					t.Fatalf("final remove of %x: %d, want %d", k, got, ref[k])
				}
			}
			if s.n != 0 || s.rows != 0 || len(s.counts) != 0 {
				t.Fatalf("empty set holds n=%d rows=%d counts=%d", s.n, s.rows, len(s.counts))
			}
		})
	}
}

func sortedRefKeys(ref map[string]uint32) []string {
	keys := make([]string, 0, len(ref))
	for k := range ref {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkRest compares s with ref: every key with its count, in order, and
// the table's invariants (load, every key reachable from its home slot).
func checkRest(t *testing.T, s *restSet, ref map[string]uint32, rows int64, step int) {
	t.Helper()
	if s.n != len(ref) || s.rows != rows {
		t.Fatalf("step %d: n=%d rows=%d, want %d and %d", step, s.n, s.rows, len(ref), rows)
	}
	if len(ref) == 0 {
		return
	}
	if s.n*5 > s.size*4 {
		t.Fatalf("step %d: %d keys in %d slots", step, s.n, s.size)
	}
	keys := sortedRefKeys(ref)
	idx := s.sorted(nil)
	if len(idx) != len(keys) {
		t.Fatalf("step %d: sorted gave %d keys, want %d", step, len(idx), len(keys))
	}
	for j, i := range idx {
		got := s.expand(nil, int(i))
		if !bytes.Equal(got, []byte(keys[j])) {
			t.Fatalf("step %d: key %d is %x, want %x", step, j, got, keys[j])
		}
		if c := s.count(int(i)); c != ref[keys[j]] {
			t.Fatalf("step %d: count of %x is %d, want %d", step, got, c, ref[keys[j]])
		}
		// Linear probing: no empty slot between a key's home and its slot.
		for h := s.home(int(i)); h != int(i); h = (h + 1) % s.size {
			if !s.isUsed(h) {
				t.Fatalf("step %d: empty slot %d between key %x's home and slot %d", step, h, got, i)
			}
		}
	}
}

// TestRestSetCompression checks keys that share most bytes are stored in
// few, and still round-trip after the stored positions widen.
func TestRestSetCompression(t *testing.T) {
	s := newRestSet(18)
	key := func(n, other int64) []byte {
		k := []byte{flagValue}
		k = binary.BigEndian.AppendUint64(k, ^(uint64(n) ^ 1<<63))
		k = append(k, flagValue)
		return binary.BigEndian.AppendUint64(k, uint64(other)^1<<63)
	}
	var keys [][]byte
	for o := int64(0); o < 1000; o++ {
		k := key(1+o%7, o)
		keys = append(keys, k)
		if !s.add(k, 1) {
			t.Fatal("add failed")
		}
	}
	if s.sw > 3 || !s.packed {
		t.Errorf("n < 256 and other < 1000: %d bytes per slot (packed %v), want ≤ 3", s.sw, s.packed)
	}
	// A count past 255 and an other past 65535 widen the slots.
	for _, k := range [][]byte{key(300, 5), key(2, 70000)} {
		keys = append(keys, k)
		if !s.add(k, 1) {
			t.Fatal("add failed")
		}
	}
	if s.sw != 5 {
		t.Errorf("after widening: %d bytes per slot, want 5", s.sw)
	}
	slices.SortFunc(keys, bytes.Compare)
	for j, i := range s.sorted(nil) {
		if got := s.expand(nil, int(i)); !bytes.Equal(got, keys[j]) {
			t.Fatalf("key %d: %x, want %x", j, got, keys[j])
		}
	}
	if s.remove(key(300, 6), false) != 0 || s.remove(key(1, 1<<40), false) != 0 {
		t.Error("removed a key not held")
	}
}

package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// findOneByOne is the reference for Find: it resolves each key of keys
// on its own, with the index's single-key probe (keyIndex.findRow, or the
// int index's find and the NULL key's slot).
func findOneByOne(s *Store, keys arrow.RecordBatch) []uint32 {
	n := int(keys.NumRows())
	rd := make([]reader, len(s.cols))
	for k, col := range s.key {
		rd[col].reset(keys.Column(k))
	}
	out := make([]uint32, n)
	if s.intKey {
		r := &rd[s.key[0]]
		for i := range out {
			out[i] = NoSlot
			switch {
			case r.nulls && r.arr.IsNull(i):
				if s.nullSlot >= 0 {
					out[i] = uint32(s.nullSlot)
				}
			case r.i64 != nil:
				if slot, ok := s.iidx.find(r.i64[i]); ok {
					out[i] = slot
				}
			default:
				if slot, ok := s.iidx.find(int64(r.i32[i])); ok {
					out[i] = slot
				}
			}
		}
		return out
	}
	x := s.kidx
	x.vals = nil // not the store's scratch
	hs := make([]uint64, n)
	x.hashRows(rd, hs)
	for i, h := range hs {
		out[i] = NoSlot
		if _, slot, ok := x.findRow(h, rd, i); ok {
			out[i] = slot
		}
	}
	return out
}

// TestStoreFindBlocks fills keyed stores of several key shapes (two
// BIGINTs, text and DECIMAL, BOOLEAN and DATE, DOUBLE with -0 and NaN,
// one BIGINT or INT on the int index) with random inserts and deletes,
// NULL key values among them, then checks Find on batches of sizes around
// multiples of findBlock, mixing present, absent and NULL-holding keys,
// against findOneByOne and against a model of the live rows. It runs
// each store with the index's slot field widened so that entries keep
// few or no tag bits, so that most probes meet entries whose tag matches
// but whose key differs. touchBytes is 0, so that Find takes its block
// path on these small stores.
func TestStoreFindBlocks(t *testing.T) {
	touchBytes = 0
	defer func() { touchBytes = defaultTouchBytes }()
	cases := []struct {
		name string
		key  []int
	}{
		{"big,int", []int{0, 1}},
		{"big,ts", []int{0, 6}},
		{"txt,dec", []int{5, 4}},
		{"bool,date", []int{2, 7}},
		{"dbl", []int{3}},
		{"txt", []int{5}},
		{"bigint", []int{0}},
		{"int", []int{1}},
	}
	for _, tc := range cases {
		for _, slotBits := range []int{0, 27, 32} {
			if slotBits > 0 && len(tc.key) == 1 && tc.key[0] <= 1 {
				continue // the int index has no tags
			}
			t.Run(fmt.Sprintf("%s/slotbits=%d", tc.name, slotBits), func(t *testing.T) {
				runFindBlocks(t, tc.key, slotBits)
			})
		}
	}
}

func runFindBlocks(t *testing.T, key []int, slotBits int) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(uint64(len(key)*100+slotBits), uint64(key[0])))
	s := NewStore(allTypes, key, true)
	live := map[string][]types.Datum{}
	const domain = 40
	for round := 0; round < 12; round++ {
		var rows [][]types.Datum
		var ops []operators.Op
		seen := map[string]bool{}
		for range 400 {
			row := randRow(r, allTypes, 0.1, domain)
			k := encodeRow(row, allTypes, key)
			if seen[k] {
				continue
			}
			seen[k] = true
			if old, ok := live[k]; ok {
				if r.IntN(3) == 0 {
					rows, ops = append(rows, old), append(ops, operators.Delete)
					delete(live, k)
				}
				continue
			}
			rows, ops = append(rows, row), append(ops, operators.Insert)
			live[k] = row
		}
		if err := apply(t, mem, s, rows, ops); err != nil {
			t.Fatal(err)
		}
		if slotBits > 0 && !s.intKey {
			s.kidx.reserve(1<<slotBits - 1)
		}
		present := make([][]types.Datum, 0, len(live))
		for _, row := range live {
			present = append(present, row)
		}
		slices.SortFunc(present, func(a, b []types.Datum) int { return strings.Compare(fmtRow(a), fmtRow(b)) })
		for _, n := range []int{1, 7, findBlock - 1, findBlock, findBlock + 1, 2*findBlock + 37, 700} {
			probes := make([][]types.Datum, n)
			for i := range probes {
				switch {
				case len(present) > 0 && r.IntN(2) == 0:
					probes[i] = present[r.IntN(len(present))]
				default: // present or absent, NULLs among the values
					probes[i] = randRow(r, allTypes, 0.2, domain+10)
				}
			}
			keys := keyRecord(t, mem, allTypes, key, probes)
			slots := make([]uint32, n)
			var p KeyProbe
			if err := s.Find(&p, keys, slots); err != nil {
				t.Fatal(err)
			}
			want := findOneByOne(s, keys)
			keys.Release()
			for i, pr := range probes {
				if slots[i] != want[i] {
					t.Fatalf("round %d, batch of %d: key of %s: Find gave slot %d, one at a time %d", round, n, fmtRow(pr), slots[i], want[i])
				}
				row, ok := live[encodeRow(pr, allTypes, key)]
				if !ok {
					if slots[i] != NoSlot {
						t.Fatalf("round %d: key of %s absent but Find gave slot %d", round, fmtRow(pr), slots[i])
					}
					continue
				}
				got := make([]types.Datum, len(allTypes))
				for c := range got {
					got[c] = s.cols[c].datum(int(slots[i]))
				}
				if slots[i] == NoSlot || fmtRow(got) != fmtRow(row) {
					t.Fatalf("round %d: key of %s: slot %d, want the slot of %s", round, fmtRow(pr), slots[i], fmtRow(row))
				}
			}
		}
	}
}

// TestStoreApplyHintedRandom applies random chunks mixing inserts,
// deletes and update pairs, with SlotHints from Find in which some pairs'
// slots are dropped (so those pairs, and every other row, are probed),
// to stores keyed on two BIGINTs, on text and BOOLEAN (NULLs among them)
// and on one BIGINT, with and without the touching pass, and compares
// the store with a model after each chunk. Some chunks end in an insert
// of a present key, which must fail and leave the store as it was.
func TestStoreApplyHintedRandom(t *testing.T) {
	defer func() { touchBytes = defaultTouchBytes }()
	for _, key := range [][]int{{0, 1}, {5, 2}, {0}} {
		for _, touch := range []bool{false, true} {
			t.Run(fmt.Sprintf("key=%v/touch=%v", key, touch), func(t *testing.T) {
				touchBytes = defaultTouchBytes
				if touch {
					touchBytes = 0
				}
				runApplyHinted(t, key)
			})
		}
	}
}

func runApplyHinted(t *testing.T, key []int) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(uint64(len(key)), uint64(key[0]+7)))
	s := NewStore(allTypes, key, true)
	live := map[string][]types.Datum{}
	lines := func() string {
		var out []string
		for _, row := range live {
			out = append(out, fmtRow(row))
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	const domain = 30
	for round := 0; round < 60; round++ {
		var rows [][]types.Datum
		var ops []operators.Op
		next := map[string][]types.Datum{}
		for k, row := range live {
			next[k] = row
		}
		seen := map[string]bool{}
		for range 1 + r.IntN(300) {
			row := randRow(r, allTypes, 0.1, domain)
			k := encodeRow(row, allTypes, key)
			if seen[k] {
				continue
			}
			seen[k] = true
			old, ok := live[k]
			switch {
			case !ok:
				rows, ops = append(rows, row), append(ops, operators.Insert)
				next[k] = row
			case r.IntN(4) == 0:
				rows, ops = append(rows, old), append(ops, operators.Delete)
				delete(next, k)
			default:
				// The new row keeps the key's values as held.
				upd := slices.Clone(row)
				for _, c := range key {
					upd[c] = old[c]
				}
				rows, ops = append(rows, old, upd), append(ops, operators.UpdateBefore, operators.UpdateAfter)
				next[k] = upd
			}
		}
		bad := len(next) > 0 && r.IntN(8) == 0
		if bad { // a key present once the chunk's rows before are applied
			for _, row := range next {
				rows, ops = append(rows, row), append(ops, operators.Insert)
				break
			}
		}
		h := hintFor(t, mem, s, rows)
		for i := range h.Slots {
			if r.IntN(5) == 0 {
				h.Slots[i] = NoSlot
			}
		}
		err := applyHinted(t, mem, s, rows, ops, h)
		if bad {
			if err == nil {
				t.Fatalf("round %d: insert of a present key applied", round)
			}
		} else {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			live = next
		}
		if got, want := storeLines(t, s), lines(); got != want {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
		}
	}
}

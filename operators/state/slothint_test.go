package state

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// pairCounts is a view of counts per (a, b), as the co-occurrence view.
var pairCounts = types.Schema{
	{Name: "a", Type: types.BigIntType},
	{Name: "b", Type: types.BigIntType},
	{Name: "n", Type: types.BigIntType},
}

func pcRow(a, b, n int64) []types.Datum {
	return []types.Datum{types.NewBigInt(a), types.NewBigInt(b), types.NewBigInt(n)}
}

// hintFor finds rows' keys in s and returns the hint Find's slots make.
func hintFor(t *testing.T, mem memory.Allocator, s *Store, rows [][]types.Datum) *operators.SlotHint {
	t.Helper()
	keys := keyRecord(t, mem, s.Schema(), s.key, rows)
	defer keys.Release()
	var p KeyProbe
	slots := make([]uint32, len(rows))
	if err := s.Find(&p, keys, slots); err != nil {
		t.Fatal(err)
	}
	id, gen := s.SlotStamp()
	return &operators.SlotHint{Store: id, Gen: gen, Slots: slots}
}

// applyHinted applies rows with ops and hint.
func applyHinted(t *testing.T, mem memory.Allocator, s *Store, rows [][]types.Datum, ops []operators.Op, hint *operators.SlotHint) error {
	t.Helper()
	c := mkChunk(t, mem, s.Schema(), rows, ops)
	defer c.Rec.Release()
	c.Slots = hint
	return s.Apply(c)
}

func storeLines(t *testing.T, s *Store) string {
	t.Helper()
	var lines []string
	if err := s.Rows(func(r []types.Datum) error { lines = append(lines, fmtRow(r)); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, " ")
}

// TestStoreSlotHint checks that Apply writes hinted update pairs in
// place at the hinted slot, comparing only the first pair of a chunk with
// the slot's key (a wrong first hint is an error; a hint naming another
// row's slot later in the chunk overwrites that row, which is how the
// test sees hints are used), and ignores a hint of another store, of an
// older slot generation (a slot was freed since), or for a key that may
// be held in more than one way (DOUBLE); that a hint to a slot holding no
// row is an error; and that a failing Apply undoes hinted writes.
func TestStoreSlotHint(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := NewStore(pairCounts, []int{0, 1}, true)
	var rows [][]types.Datum
	for i := range int64(6) {
		rows = append(rows, pcRow(i, i+10, 1))
	}
	if err := apply(t, mem, s, rows, nil); err != nil {
		t.Fatal(err)
	}
	upd := []operators.Op{operators.UpdateBefore, operators.UpdateAfter}
	pair := func(a, b, from, to int64) [][]types.Datum { return [][]types.Datum{pcRow(a, b, from), pcRow(a, b, to)} }

	// A valid hint: the pair is written in place.
	h := hintFor(t, mem, s, pair(2, 12, 1, 5))
	if err := applyHinted(t, mem, s, pair(2, 12, 1, 5), upd, h); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Row([]types.Datum{types.NewBigInt(2), types.NewBigInt(12)}); r[2].I != 5 {
		t.Fatalf("hinted update: row %v", r)
	}

	// The first hinted pair of a chunk is checked against its key: a
	// hint naming row (3, 13)'s slot for (4, 14) is an error.
	want := "(0, 10, 1) (1, 11, 1) (2, 12, 5) (3, 13, 1) (4, 14, 1) (5, 15, 1)"
	h = hintFor(t, mem, s, pair(3, 13, 1, 1))
	if err := applyHinted(t, mem, s, pair(4, 14, 1, 7), upd, h); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("a wrong first hint: %v", err)
	}
	if got := storeLines(t, s); got != want {
		t.Fatalf("after a wrong first hint: %s, want %s", got, want)
	}
	// Later pairs are trusted: the same wrong hint second in its chunk
	// writes (3, 13)'s values (the key stays), which shows hints are used.
	two := append(pair(5, 15, 1, 2), pair(4, 14, 1, 7)...)
	h = hintFor(t, mem, s, append(pair(5, 15, 1, 1), pair(3, 13, 1, 1)...))
	if err := applyHinted(t, mem, s, two, append(slices.Clone(upd), upd...), h); err != nil {
		t.Fatal(err)
	}
	want = "(0, 10, 1) (1, 11, 1) (2, 12, 5) (3, 13, 7) (4, 14, 1) (5, 15, 2)"
	if got := storeLines(t, s); got != want {
		t.Fatalf("a trusted hint: %s, want %s", got, want)
	}

	// A hint naming a slot that holds no row is an error, not a write.
	id, gen := s.SlotStamp()
	err := applyHinted(t, mem, s, pair(4, 14, 1, 9), upd, &operators.SlotHint{Store: id, Gen: gen, Slots: []uint32{999, 999}})
	if err == nil || !strings.Contains(err.Error(), "holds no row") {
		t.Fatalf("a hint to slot 999: %v", err)
	}
	if got := storeLines(t, s); got != want {
		t.Fatalf("after a bad hint: %s, want %s", got, want)
	}

	// Stale hints are looked up instead: another store's, and one from
	// before a slot was freed.
	other := NewStore(pairCounts, []int{0, 1}, true)
	id, gen = other.SlotStamp()
	bad := &operators.SlotHint{Store: id, Gen: gen, Slots: h.Slots}
	if err := applyHinted(t, mem, s, pair(4, 14, 1, 8), upd, bad); err != nil {
		t.Fatal(err)
	}
	h = hintFor(t, mem, s, pair(3, 13, 7, 7))
	if err := apply(t, mem, s, [][]types.Datum{pcRow(0, 10, 1)}, []operators.Op{operators.Delete}); err != nil {
		t.Fatal(err)
	}
	if err := applyHinted(t, mem, s, pair(5, 15, 1, 9), upd, h); err != nil {
		t.Fatal(err)
	}
	want = "(1, 11, 1) (2, 12, 5) (3, 13, 7) (4, 14, 8) (5, 15, 9)"
	if got := storeLines(t, s); got != want {
		t.Fatalf("stale hints: %s, want %s", got, want)
	}

	// A failing Apply undoes the hinted writes before it.
	h = hintFor(t, mem, s, [][]types.Datum{pcRow(1, 11, 1), pcRow(1, 11, 2), pcRow(9, 9, 1)})
	err = applyHinted(t, mem, s, [][]types.Datum{pcRow(1, 11, 1), pcRow(1, 11, 2), pcRow(9, 9, 1)},
		[]operators.Op{operators.UpdateBefore, operators.UpdateAfter, operators.Delete}, h)
	if err == nil {
		t.Fatal("a delete of an absent row was applied")
	}
	if got := storeLines(t, s); got != want {
		t.Fatalf("after a failed Apply: %s, want %s", got, want)
	}

	// Nor are hints from before a Restore, which may move every slot:
	// the same misplaced second hint as above is looked up instead.
	h = hintFor(t, mem, s, append(pair(5, 15, 9, 9), pair(3, 13, 7, 7)...))
	var snap bytes.Buffer
	if err := s.SnapshotWith(mem, &snap); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreWith(mem, &snap); err != nil {
		t.Fatal(err)
	}
	if err := applyHinted(t, mem, s, append(pair(5, 15, 9, 10), pair(4, 14, 8, 11)...), append(slices.Clone(upd), upd...), h); err != nil {
		t.Fatal(err)
	}
	want = "(1, 11, 1) (2, 12, 5) (3, 13, 7) (4, 14, 11) (5, 15, 10)"
	if got := storeLines(t, s); got != want {
		t.Fatalf("a hint from before a Restore: %s, want %s", got, want)
	}

	// DOUBLE keys (-0 and 0 are one key held two ways) take no hints.
	dk := types.Schema{{Name: "k", Type: types.DoubleType}, {Name: "n", Type: types.BigIntType}}
	ds := NewStore(dk, []int{0}, true)
	drow := func(k float64, n int64) []types.Datum { return []types.Datum{types.NewDouble(k), types.NewBigInt(n)} }
	if err := apply(t, mem, ds, [][]types.Datum{drow(1, 1), drow(2, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	h = hintFor(t, mem, ds, [][]types.Datum{drow(1, 1), drow(1, 1)})
	if err := applyHinted(t, mem, ds, [][]types.Datum{drow(2, 1), drow(2, 3)}, upd, h); err != nil {
		t.Fatal(err)
	}
	if got := storeLines(t, ds); got != fmt.Sprint("(1, 1) (2, 3)") {
		t.Fatalf("DOUBLE key: %s", got)
	}
}

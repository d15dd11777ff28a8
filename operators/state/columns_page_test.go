package state

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// pagedModel is what a paged Columns must hold: the row at each live
// slot.
type pagedModel map[uint32][]types.Datum

// checkPaged checks c holds exactly the rows of m, and that every page
// either holds a row or is free (listed once).
func checkPaged(t *testing.T, c *Columns, m pagedModel) {
	t.Helper()
	if c.Len() != len(m) {
		t.Fatalf("Len %d, want %d", c.Len(), len(m))
	}
	var live []uint32
	c.ForEachLive(func(s uint32) { live = append(live, s) })
	want := make([]uint32, 0, len(m))
	for s := range m {
		want = append(want, s)
	}
	slices.Sort(want)
	if !slices.Equal(live, want) {
		t.Fatalf("live slots %v, want %v", live, want)
	}
	for s, row := range m {
		for k, d := range row {
			if got := c.Datum(s, k); got.String() != d.String() || got.Null != d.Null {
				t.Fatalf("slot %d column %d: %v, want %v", s, k, got, d)
			}
		}
	}
	if c.Slots()%int(c.page) != 0 {
		t.Fatalf("%d slots: not whole pages of %d", c.Slots(), c.page)
	}
	held := map[uint32]bool{}
	for s := range m {
		held[s&^(c.page-1)] = true
	}
	free := map[uint32]bool{}
	for _, f := range c.free {
		if f%c.page != 0 || held[f] || free[f] {
			t.Fatalf("free page %d: not a page's first slot, holds a row, or listed twice", f)
		}
		free[f] = true
	}
	if got, want := len(held)+len(free), c.Slots()/int(c.page); got != want {
		t.Fatalf("%d pages hold rows and %d are free, of %d", len(held), len(free), want)
	}
}

// TestColumnsPagesPackLoneRows checks rows without a neighbour (keys with
// one row) share pages: n of them take n slots rounded up to pages, and a
// chain's row whose page is full starts a page of its own.
func TestColumnsPagesPackLoneRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{{Name: "a", Type: types.BigIntType}}
	ch := mkChunk(t, mem, schema, [][]types.Datum{{types.NewBigInt(7)}}, nil)
	defer ch.Rec.Release()
	c, _ := NewColumns([]types.T{types.BigIntType})
	if err := c.Paginate(4); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(ch.Rec); err != nil {
		t.Fatal(err)
	}
	var lone []uint32
	for range 1001 {
		lone = append(lone, c.AddAfter(0, NoSlot))
	}
	if got, want := c.Slots(), 1004; got != want {
		t.Fatalf("1001 lone rows take %d slots, want %d", got, want)
	}
	// lone[1000] is alone on its page: the chain goes on beside it.
	if got := c.AddAfter(0, lone[1000]); got != lone[1000]+1 {
		t.Fatalf("beside %d: slot %d, want %d", lone[1000], got, lone[1000]+1)
	}
	// lone[3] ends a full page: a page of its own, not the loose one's.
	got := c.AddAfter(0, lone[3])
	if got != 1004 {
		t.Fatalf("beside %d (page full): slot %d, want a new page at 1004", lone[3], got)
	}
	if next := c.AddAfter(0, NoSlot); next == got+1 {
		t.Fatalf("a lone row went onto a chain's new page (slot %d)", next)
	}
	c.Unbind()
}

// TestColumnsPagesRandomized drives a paged Columns with random adds
// (beside a random live row, beside a free slot, or loose) and removes,
// checking its rows against a model after every step: AddAfter puts a row
// right after its neighbour whenever that slot is on the same page and
// free, never hands out a live slot, takes a wholly free page before it
// grows, and a snapshot restores (into paged and unpaged stores) every
// row at its slot, after which the restored store goes on correctly.
func TestColumnsPagesRandomized(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ts := make([]types.T, len(allTypes))
	for i, c := range allTypes {
		ts[i] = c.Type
	}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 77))
		page := []int{2, 4, 8, 64}[seed%4]
		c, _ := NewColumns(ts)
		if err := c.Paginate(page); err != nil {
			t.Fatal(err)
		}
		m := pagedModel{}
		run := func(steps int) {
			for range steps {
				if len(m) > 0 && r.IntN(5) < 2 {
					live := make([]uint32, 0, len(m))
					for s := range m {
						live = append(live, s)
					}
					slices.Sort(live)
					s := live[r.IntN(len(live))]
					c.Remove(s)
					delete(m, s)
					continue
				}
				row := randRow(r, allTypes, 0.2, 40)
				ch := mkChunk(t, mem, allTypes, [][]types.Datum{row}, nil)
				if err := c.Bind(ch.Rec); err != nil {
					t.Fatal(err)
				}
				prev := NoSlot
				switch r.IntN(3) {
				case 0: // beside a live row
					for s := range m {
						prev = s
						break
					}
				case 1: // beside any slot, maybe free or beyond the end
					prev = uint32(r.IntN(c.Slots() + 3))
				}
				slotsBefore, freePages := c.Slots(), len(c.free)
				var got uint32
				if prev == NoSlot && r.IntN(2) == 0 {
					got = c.Add(0)
				} else {
					got = c.AddAfter(0, prev)
				}
				c.Unbind()
				ch.Rec.Release()
				if _, taken := m[got]; taken {
					t.Fatalf("seed %d: slot %d handed out while live", seed, got)
				}
				_, prevLive := m[prev]
				next := prev + 1
				if _, nextLive := m[next]; prevLive && next%uint32(page) != 0 && !nextLive && got != next {
					t.Fatalf("seed %d: AddAfter(%d) gave %d, want %d (same page, free)", seed, prev, got, next)
				}
				if c.Slots() > slotsBefore && freePages > 0 {
					t.Fatalf("seed %d: grew to %d slots with %d free pages", seed, c.Slots(), freePages)
				}
				m[got] = row
			}
			checkPaged(t, c, m)
		}
		run(300)
		for range 3 {
			var buf bytes.Buffer
			sw := NewSnapshotWriter(&buf, mem)
			if err := sw.Header("test.columns", 1, "cfg"); err != nil {
				t.Fatal(err)
			}
			if err := c.SnapshotTo(sw, "rows"); err != nil {
				t.Fatal(err)
			}
			sw.Close()
			restore := func(paged bool) *Columns {
				d, _ := NewColumns(ts)
				if paged {
					if err := d.Paginate(page); err != nil {
						t.Fatal(err)
					}
				}
				sr := NewSnapshotReader(bytes.NewReader(buf.Bytes()), mem)
				if err := sr.Header("test.columns", 1, "cfg"); err != nil {
					t.Fatal(err)
				}
				if err := d.RestoreFrom(sr, "rows"); err != nil {
					t.Fatal(err)
				}
				return d
			}
			plain := restore(false)
			if plain.Len() != len(m) {
				t.Fatalf("seed %d: unpaged restore holds %d rows, want %d", seed, plain.Len(), len(m))
			}
			for s, row := range m {
				if got := plain.Datum(s, 0); got.String() != row[0].String() {
					t.Fatalf("seed %d: unpaged restore slot %d: %v, want %v", seed, s, got, row[0])
				}
			}
			c = restore(true)
			checkPaged(t, c, m)
			run(200)
		}
		// Emptied, every page is free, and is taken before the store grows.
		for s := range m {
			c.Remove(s)
			delete(m, s)
		}
		checkPaged(t, c, m)
		if got, want := len(c.free), c.Slots()/page; got != want {
			t.Fatalf("seed %d: %d free pages of %d, all empty", seed, got, want)
		}
		n := c.Slots()
		run(min(n/2, 100))
		if c.Slots() != n {
			t.Fatalf("seed %d: grew from %d to %d slots with free pages left", seed, n, c.Slots())
		}
	}
}

// TestColumnsPaginate checks Paginate's arguments and that it refuses a
// store that already holds rows.
func TestColumnsPaginate(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, n := range []int{-1, 0, 1, 3, 6, 128} {
		c, _ := NewColumns([]types.T{types.BigIntType})
		if err := c.Paginate(n); err == nil {
			t.Errorf("Paginate(%d) succeeded", n)
		}
	}
	c, _ := NewColumns([]types.T{types.BigIntType})
	ch := mkChunk(t, mem, types.Schema{{Name: "a", Type: types.BigIntType}}, [][]types.Datum{{types.NewBigInt(1)}}, nil)
	defer ch.Rec.Release()
	if err := c.Bind(ch.Rec); err != nil {
		t.Fatal(err)
	}
	c.Add(0)
	if err := c.Paginate(4); err == nil {
		t.Error("Paginate of a store holding rows succeeded")
	}
}

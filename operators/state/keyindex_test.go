package state

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// TestKeyIndexHashAgree checks the three ways of hashing a key agree
// (from a chunk's rows, from the stored slots, from lookup Datums), and
// that values equal under key identity but held differently (-0 and 0,
// NaNs of other payloads, a DECIMAL looked up at another scale, an INT
// looked up as BIGINT) hash and compare equal.
func TestKeyIndexHashAgree(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	all := make([]int, len(allTypes))
	for i := range all {
		all[i] = i
	}
	r := rand.New(rand.NewPCG(3, 4))
	s := NewStore(allTypes, nil, false) // multiset: every column is key
	var rows [][]types.Datum
	for range 300 {
		rows = append(rows, randRow(r, allTypes, 0.15, 50))
	}
	c := mkChunk(t, mem, allTypes, rows, nil)
	defer c.Rec.Release()
	for i := range s.rd {
		s.rd[i].reset(c.Rec.Column(i))
	}
	fromRows := make([]uint64, len(rows))
	s.kidx.hashRows(s.rd, fromRows)
	if err := s.Apply(c); err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		pos, slot, ok := s.kidx.findRow(fromRows[i], s.rd, i)
		if !ok {
			t.Fatalf("row %d %s not found by its own hash", i, fmtRow(row))
		}
		if h := s.kidx.hashSlot(slot); h != fromRows[i] {
			t.Fatalf("row %d %s: hash from rows %x, from slot %x", i, fmtRow(row), fromRows[i], h)
		}
		if s.kidx.tab[pos]&s.kidx.smask != slot+1 {
			t.Fatalf("row %d: entry at %d is %x, not slot %d", i, pos, s.kidx.tab[pos], slot)
		}
		if slices.ContainsFunc(row, func(d types.Datum) bool { return d.Null }) {
			continue
		}
		if h := s.kidx.hashDatums(row); h != fromRows[i] {
			t.Fatalf("row %d %s: hash from rows %x, from datums %x", i, fmtRow(row), fromRows[i], h)
		}
	}
	ss := make([]uint32, 0, s.slots)
	for slot := range s.slots {
		if setBitOf(s.live, slot) {
			ss = append(ss, uint32(slot))
		}
	}
	hs := make([]uint64, len(ss))
	s.kidx.hashSlots(ss, hs)
	for j, slot := range ss {
		if h := s.kidx.hashSlot(slot); h != hs[j] {
			t.Fatalf("slot %d: hashSlots %x, hashSlot %x", slot, hs[j], h)
		}
	}

	// Equal values held differently.
	schema := types.Schema{
		{Name: "d", Type: types.DoubleType},
		{Name: "dec", Type: types.DecimalType(12, 2)},
		{Name: "i", Type: types.IntType},
		{Name: "t", Type: types.TextType},
	}
	ks := NewStore(schema, []int{0, 1, 2, 3}, true)
	negZero := []types.Datum{types.NewDouble(math.Copysign(0, -1)), types.NewDecimal(decimal128.FromI64(150), 2), types.NewInt(-7), types.NewText("x")}
	nan := []types.Datum{types.NewDouble(math.NaN()), types.NewDecimal(decimal128.FromI64(-5), 2), types.NewInt(0), types.NewText("")}
	if err := apply(t, mem, ks, [][]types.Datum{negZero, nan}, nil); err != nil {
		t.Fatal(err)
	}
	otherNaN := math.Float64frombits(math.Float64bits(math.NaN()) ^ 1)
	for _, key := range [][]types.Datum{
		{types.NewDouble(0), types.NewDecimal(decimal128.FromI64(15), 1), types.NewBigInt(-7), types.NewText("x")},
		{types.NewBigInt(0), types.NewDecimal(decimal128.FromI64(1500), 3), types.NewInt(-7), types.NewText("x")},
		{types.NewDouble(otherNaN), types.NewDecimal(decimal128.FromI64(-50), 3), types.NewBigInt(0), types.NewText("")},
	} {
		if _, ok := ks.Row(key); !ok {
			t.Fatalf("Row(%s) missed", fmtRow(key))
		}
	}
	// The same rows as a chunk: inserts of present keys.
	dup := [][]types.Datum{
		{types.NewDouble(0), types.NewDecimal(decimal128.FromI64(150), 2), types.NewInt(-7), types.NewText("x")},
		{types.NewDouble(otherNaN), types.NewDecimal(decimal128.FromI64(-5), 2), types.NewInt(0), types.NewText("")},
	}
	for _, row := range dup {
		err := apply(t, mem, ks, [][]types.Datum{row}, nil)
		if err == nil || !strings.Contains(err.Error(), "insert of a key that is present") {
			t.Fatalf("insert of %s: %v", fmtRow(row), err)
		}
	}
	if err := apply(t, mem, ks, dup, []operators.Op{operators.Delete, operators.Delete}); err != nil || ks.Len() != 0 {
		t.Fatalf("delete by equal keys: %v, %d rows left", err, ks.Len())
	}
}

// diffCase is a store shape for TestStoreDifferential.
type diffCase struct {
	name   string
	schema types.Schema
	key    []int
	keyed  bool
	nullP  float64
	domain int
}

// TestStoreDifferential runs stores of the shapes the key index serves
// (and the int index, for the update-pair path) against a model through
// long random sequences: big chunks (the index grows and widens inside an
// Apply), update pairs with the same key and with a changed key, multiset
// duplicates, and chunks that fail part way (an insert of a present key,
// a delete of an absent row) and must leave the store as it was. It
// snapshots and restores along the way.
func TestStoreDifferential(t *testing.T) {
	twoBig := types.Schema{
		{Name: "a", Type: types.BigIntType},
		{Name: "b", Type: types.BigIntType},
		{Name: "n", Type: types.BigIntType},
	}
	text := types.Schema{{Name: "k", Type: types.TextType}, {Name: "v", Type: types.IntType}}
	cases := []diffCase{
		{"2bigint", twoBig, []int{0, 1}, true, 0, 60},
		{"2bigint-nulls", twoBig, []int{0, 1}, true, 0.3, 12},
		{"varchar", text, []int{0}, true, 0.05, 400},
		{"mixed-nulls", allTypes, []int{3, 4, 5, 2, 7}, true, 0.35, 4},
		{"multiset-dups", twoBig, nil, false, 0.2, 4},
		{"multiset-all", allTypes, nil, false, 0.3, 3},
		{"bigint-key", twoBig, []int{0}, true, 0.02, 3000},
		{"int-key", text[1:], []int{0}, true, 0.02, 3000},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runDifferential(t, tc, uint64(ci))
		})
	}
}

var defaultTouchBytes = touchBytes

func runDifferential(t *testing.T, tc diffCase, seed uint64) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(seed, 11))
	keyCols := tc.key
	if !tc.keyed {
		keyCols = make([]int, len(tc.schema))
		for i := range keyCols {
			keyCols[i] = i
		}
	}
	s := NewStore(tc.schema, tc.key, tc.keyed)
	m := &model{rows: map[string][]types.Datum{}, count: map[string]int{}}
	failures, pairs, moved := 0, 0, 0
	for step := range 150 {
		next := &model{rows: maps(m.rows), count: mapsInt(m.count)}
		live := keysOf(next)
		var rows [][]types.Datum
		var ops []operators.Op
		n := 1 + r.IntN(40)
		if r.IntN(6) == 0 {
			n = 200 + r.IntN(1500)
		}
		pick := func() string {
			for {
				k := live[r.IntN(len(live))]
				if next.count[k] > 0 {
					return k
				}
			}
		}
		fresh := func() ([]types.Datum, string) {
			row := randRow(r, tc.schema, tc.nullP, tc.domain)
			return row, encodeRow(row, tc.schema, keyCols)
		}
		bad := r.IntN(5) == 0
		badAt, badDone := r.IntN(n), false
		for len(rows) < n || bad && !badDone {
			if bad && !badDone && len(rows) >= badAt {
				before := len(rows)
				// An inconsistent row: an insert of a present key or a
				// delete of an absent row, with ops already applied
				// before it in the chunk.
				switch {
				case tc.keyed && len(next.count) > 0 && r.IntN(2) == 0:
					row := slices.Clone(next.rows[pick()])
					rows, ops = append(rows, row), append(ops, operators.Insert)
				case !tc.keyed && len(next.count) > 0 && r.IntN(2) == 0:
					// One delete more than the row has copies.
					k := pick()
					for range next.count[k] + 1 {
						rows, ops = append(rows, next.rows[k]), append(ops, operators.Delete)
					}
				default:
					row, k := fresh()
					if next.count[k] > 0 {
						continue
					}
					op := operators.Delete
					if tc.keyed && r.IntN(2) == 0 {
						op = operators.UpdateBefore
						rows = append(rows, row, row)
						ops = append(ops, op, operators.UpdateAfter)
						badDone = true
						continue
					}
					rows, ops = append(rows, row), append(ops, op)
				}
				badDone = len(rows) > before
				continue
			}
			x := r.IntN(10)
			switch {
			case x < 3 && len(next.count) > 0: // delete
				k := pick()
				row := next.rows[k]
				if tc.keyed { // other columns need not match
					row = slices.Clone(row)
					for c := range row {
						if !slices.Contains(keyCols, c) {
							row[c] = randDatum(r, tc.schema[c].Type, tc.nullP, tc.domain)
						}
					}
				}
				rows, ops = append(rows, row), append(ops, operators.Delete)
				if next.count[k]--; next.count[k] == 0 {
					delete(next.count, k)
					delete(next.rows, k)
				}
			case x < 6 && tc.keyed && len(next.count) > 0: // update pair
				k := pick()
				old := next.rows[k]
				nw, nk := fresh()
				if r.IntN(4) != 0 {
					for _, c := range keyCols {
						nw[c] = old[c]
					}
					nk = k
				} else if next.count[nk] > 0 {
					continue // the key would change to a present one
				}
				rows = append(rows, old, nw)
				ops = append(ops, operators.UpdateBefore, operators.UpdateAfter)
				delete(next.rows, k)
				delete(next.count, k)
				next.rows[nk] = nw
				next.count[nk] = 1
				pairs++
				if nk != k {
					moved++
					live = append(live, nk)
				}
			case x < 8 && !tc.keyed && len(next.count) > 0: // multiset duplicate
				k := pick()
				rows, ops = append(rows, next.rows[k]), append(ops, operators.Insert)
				next.count[k]++
			default:
				row, k := fresh()
				if tc.keyed && next.count[k] > 0 {
					continue
				}
				rows, ops = append(rows, row), append(ops, operators.Insert)
				if next.count[k] == 0 {
					next.rows[k] = row
					live = append(live, k)
				}
				next.count[k]++
			}
		}
		if r.IntN(2) == 0 {
			touchBytes = 0 // touch before every probe: reads only
		}
		err := apply(t, mem, s, rows, ops)
		touchBytes = defaultTouchBytes
		switch {
		case bad && err == nil:
			t.Fatalf("step %d: inconsistent chunk accepted", step)
		case bad:
			if !strings.Contains(err.Error(), "state inconsistency") {
				t.Fatalf("step %d: error %v", step, err)
			}
			failures++
		case err != nil:
			t.Fatalf("step %d: %v", step, err)
		default:
			m = next
		}
		checkDifferential(t, mem, r, s, m, tc, keyCols, bad || step%4 == 0)
		if r.IntN(10) == 0 {
			var buf bytes.Buffer
			if err := s.SnapshotWith(mem, &buf); err != nil {
				t.Fatal(err)
			}
			b := NewStore(tc.schema, tc.key, tc.keyed)
			if err := b.RestoreWith(mem, &buf); err != nil {
				t.Fatalf("step %d: restore: %v", step, err)
			}
			if got, want := storeOrder(t, mem, b), storeOrder(t, mem, s); !slices.Equal(got, want) {
				t.Fatalf("step %d: restored rows differ", step)
			}
			s = b
		}
	}
	if failures < 10 || (tc.keyed && (pairs < 100 || moved < 10)) {
		t.Fatalf("weak run: %d failed chunks, %d update pairs (%d moved a key)", failures, pairs, moved)
	}
}

// checkDifferential compares s with m: Len, a lookup of every key in m,
// lookups of keys not in m, and with full, Scan and Rows.
func checkDifferential(t *testing.T, mem memory.Allocator, r *rand.Rand, s *Store, m *model, tc diffCase, keyCols []int, full bool) {
	t.Helper()
	n := 0
	for _, c := range m.count {
		n += c
	}
	if int(s.Len()) != n {
		t.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	if full {
		all := make([]int, len(tc.schema))
		for i := range all {
			all[i] = i
		}
		want := m.sorted(all)
		if got := scanRows(t, mem, s, all, 1024); !slices.Equal(got, want) {
			t.Fatalf("scan:\n got %v\nwant %v", got, want)
		}
		var rows []string
		if err := s.Rows(func(row []types.Datum) error { rows = append(rows, fmtRow(row)); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(rows)
		if !slices.Equal(rows, want) {
			t.Fatalf("Rows:\n got %v\nwant %v", rows, want)
		}
	}
	keyOf := func(row []types.Datum) ([]types.Datum, bool) {
		key := make([]types.Datum, len(keyCols))
		null := false
		for i, c := range keyCols {
			key[i] = row[c]
			null = null || row[c].Null
		}
		return key, null
	}
	for _, row := range m.rows {
		key, null := keyOf(row)
		got, ok := s.Row(key)
		if null {
			if ok {
				t.Fatalf("lookup with a NULL key %s found %s", fmtRow(key), fmtRow(got))
			}
			continue
		}
		if !ok || fmtRow(got) != fmtRow(row) {
			t.Fatalf("Row(%s) = %s, %v; want %s", fmtRow(key), fmtRow(got), ok, fmtRow(row))
		}
	}
	for range 20 {
		row := randRow(r, tc.schema, 0, tc.domain*2)
		key, _ := keyOf(row)
		_, present := m.rows[encodeRow(row, tc.schema, keyCols)]
		if got, ok := s.Row(key); ok != present {
			t.Fatalf("Row(%s) = %s, %v; present %v", fmtRow(key), fmtRow(got), ok, present)
		}
	}
}

// TestKeyIndexWidens fills a store in chunks of growing size, so that the
// slot field widens in place (over entries already in the table) and the
// table grows inside an Apply, then empties it again, checking lookups.
func TestKeyIndexWidens(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.TextType}}
	s := NewStore(schema, []int{0, 1}, true)
	row := func(i int) []types.Datum {
		return []types.Datum{types.NewBigInt(int64(i / 3)), types.NewText(strings.Repeat("k", i%3))}
	}
	total := 0
	for _, n := range []int{3, 20, 100, 1000, 5000, 70000} {
		var rows [][]types.Datum
		for i := total; i < total+n; i++ {
			rows = append(rows, row(i))
		}
		if err := apply(t, mem, s, rows, nil); err != nil {
			t.Fatal(err)
		}
		total += n
		if s.kidx.n != total || uint64(s.kidx.smask) < uint64(total) {
			t.Fatalf("after %d rows: index holds %d, slot mask %x", total, s.kidx.n, s.kidx.smask)
		}
		for i := 0; i < total; i += 1 + i/50 {
			if got, ok := s.Row(row(i)[:2]); !ok || fmtRow(got) != fmtRow(row(i)) {
				t.Fatalf("after %d rows: Row(%d) = %v %v", total, i, got, ok)
			}
		}
	}
	var rows [][]types.Datum
	var ops []operators.Op
	for i := range total {
		rows = append(rows, row(i))
		ops = append(ops, operators.Delete)
	}
	if err := apply(t, mem, s, rows, ops); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || s.kidx.n != 0 || slices.ContainsFunc(s.kidx.tab, func(e uint32) bool { return e != 0 }) {
		t.Fatalf("after deleting all: %d rows, index %d", s.Len(), s.kidx.n)
	}
}

// setBitOf reports whether bit i of b is set.
func setBitOf(b []uint64, i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

// TestStoreLiveBits checks that a keyed store keeps no counts, only a bit
// per slot set exactly for the slots holding a row, through deletes, a
// rolled-back Apply and a Snapshot/Restore, and that a multiset keeps its
// counts alongside the bits.
func TestStoreLiveBits(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	check := func(t *testing.T, s *Store, want map[int64]bool) {
		t.Helper()
		if s.keyed != (s.count == nil) {
			t.Fatalf("keyed=%v but count has %d entries", s.keyed, len(s.count))
		}
		if len(s.live) != (s.slots+63)/64 {
			t.Fatalf("%d words of live bits for %d slots", len(s.live), s.slots)
		}
		var rows int64
		for slot := range len(s.live) * 64 {
			live := setBitOf(s.live, slot)
			if slot >= s.slots {
				if live {
					t.Fatalf("bit of slot %d set past %d slots", slot, s.slots)
				}
				continue
			}
			if !s.keyed && live != (s.count[slot] > 0) {
				t.Fatalf("slot %d: live bit %v, count %d", slot, live, s.count[slot])
			}
			if !live {
				continue
			}
			k := s.cols[0].datum(slot).I
			if !want[k] {
				t.Fatalf("slot %d holds key %d, which is not present", slot, k)
			}
			if s.keyed {
				rows++
			} else {
				rows += int64(s.count[slot])
			}
		}
		if rows != int64(len(want)) || s.Len() != rows {
			t.Fatalf("%d live rows, Len %d; want %d", rows, s.Len(), len(want))
		}
	}
	for _, tc := range []struct {
		name  string
		key   []int
		keyed bool
	}{{"int", []int{0}, true}, {"2col", []int{0, 1}, true}, {"multiset", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(kv, tc.key, tc.keyed)
			want := map[int64]bool{}
			var rows [][]types.Datum
			for i := range 200 {
				rows = append(rows, kvRow(int64(i), "v"))
				want[int64(i)] = true
			}
			if err := apply(t, mem, s, rows, nil); err != nil {
				t.Fatal(err)
			}
			var del [][]types.Datum
			for i := 1; i < 200; i += 2 {
				del = append(del, kvRow(int64(i), "v"))
				delete(want, int64(i))
			}
			ops := make([]operators.Op, len(del))
			for i := range ops {
				ops[i] = operators.Delete
			}
			if err := apply(t, mem, s, del, ops); err != nil {
				t.Fatal(err)
			}
			check(t, s, want)
			// Deletes and inserts, then a delete of an absent row: all undone.
			bad := [][]types.Datum{kvRow(0, "v"), kvRow(1001, "v"), kvRow(2, "v"), kvRow(1, "v")}
			if err := apply(t, mem, s, bad, []operators.Op{operators.Delete, operators.Insert, operators.Delete, operators.Delete}); err == nil {
				t.Fatal("delete of an absent row applied")
			}
			check(t, s, want)
			var buf bytes.Buffer
			if err := s.Snapshot(&buf); err != nil {
				t.Fatal(err)
			}
			r := NewStore(kv, tc.key, tc.keyed)
			if err := r.Restore(&buf); err != nil {
				t.Fatal(err)
			}
			check(t, r, want)
			if !slices.Equal(r.free, s.free) || r.slots != s.slots {
				t.Fatalf("restored %d slots, free %v; want %d, %v", r.slots, r.free, s.slots, s.free)
			}
		})
	}
}

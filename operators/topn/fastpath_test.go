package topn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// TestTopNMonotoneIntKeys is TestTopNMonotoneDifferential over
// monoIntCols, whose keys are all BIGINT: the monotone fast paths (rows
// compared with a head's last key without encoding them, updates moved
// within a head, partitions found through the dense index) must give the
// reference's tops. Partition values are small, negative, huge and NULL.
// It checks the fast paths were taken (moves need both rows of an update
// in one chunk and in the top, compares of values chunks without NULLs).
func TestTopNMonotoneIntKeys(t *testing.T) {
	for _, desc := range []bool{true, false} {
		for _, partitioned := range []bool{true, false} {
			var moves, cmps int64
			for _, n := range []int64{1, 3, 20} {
				for _, offset := range []int64{0, 2} {
					for _, emit := range []bool{false, true} {
						spec := monoSpec(partitioned, desc, n, offset, emit)
						for bx, batch := range []int{1, 5, 64} {
							name := fmt.Sprintf("desc=%v/part=%v/n%d/off%d/rank=%v/batch%d", desc, partitioned, n, offset, emit, batch)
							seed := uint64(len(name)*1000 + int(n)*10 + int(offset) + bx)
							t.Run(name, func(t *testing.T) {
								m, c := runMonotoneInt(t, spec, batch, seed, false)
								moves, cmps = moves+m, cmps+c
							})
						}
					}
				}
			}
			if moves < 10 || cmps < 100 {
				t.Errorf("desc=%v, part=%v: fast paths not taken: %d moves, %d compares of values", desc, partitioned, moves, cmps)
			}
		}
	}
}

// TestTopNMonotoneIntKeysDups is TestTopNMonotoneIntKeys over an input
// that repeats rows: a head then holds keys past the emitted top's bound
// (its keys are counted, its top's rows with multiplicity), so that a
// move within the head may or may not touch the top.
func TestTopNMonotoneIntKeysDups(t *testing.T) {
	var moves int64
	for _, desc := range []bool{true, false} {
		for _, n := range []int64{1, 3, 20} {
			for _, offset := range []int64{0, 2} {
				for bx, batch := range []int{5, 64} {
					spec := monoSpec(true, desc, n, offset, bx == 0)
					name := fmt.Sprintf("desc=%v/n%d/off%d/batch%d", desc, n, offset, batch)
					seed := uint64(len(name)*1000+int(n)*10+int(offset)+bx) + 7
					t.Run(name, func(t *testing.T) {
						m, _ := runMonotoneInt(t, spec, batch, seed, true)
						moves += m
					})
				}
			}
		}
	}
	if moves < 10 {
		t.Errorf("fast paths not taken: %d moves", moves)
	}
}

// runMonotoneInt runs one case of TestTopNMonotoneIntKeys; it returns the
// Top-N's moves and compares of values.
func runMonotoneInt(t *testing.T, spec Spec, batch int, seed uint64, dups bool) (moves, cmps int64) {
	r := rand.New(rand.NewPCG(seed, 78))
	g := newMonoGen(r, spec.Order[0].Desc, "")
	g.noX, g.dups = true, dups
	g.parts[1].p, g.parts[2].p = bi(-1), bi(1<<40)
	f := newFixture(t, monoIntCols, spec, batch)
	if !f.op.intSort {
		t.Fatal("all-BIGINT keys, but intSort is off")
	}
	feedMonoEpochs(t, f, g, r, spec, batch, dups)
	return f.op.moves, f.op.intCmps
}

// TestBehindTopRow checks behindTopRow, which compares a row's BIGINT
// values with the head's last key, against behindTop over the row's
// encoded key, for sort fields in both directions, heads whose last key
// holds NULLs (first or last) and rows equal to it, before it and after
// it.
func TestBehindTopRow(t *testing.T) {
	mem := optest.CheckedMem(t)
	cols := append(slices.Clone(monoIntCols), types.Column{Name: "y", Type: tBig})
	schema := types.Schema(cols).Arrow()
	for c := range 16 {
		r := rand.New(rand.NewPCG(uint64(c), 9))
		spec := Spec{PartitionCols: []int{0}, N: 3, Monotone: true, Order: []OrderKey{
			{Col: 2, Desc: c&1 != 0, NullsFirst: c&2 != 0},
			{Col: 3, Desc: c&4 != 0, NullsFirst: c&8 != 0},
		}}
		op, err := New(mem, schema, optest.ColumnTypes(cols), spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		val := func(nulls bool) types.Datum {
			if nulls && r.IntN(4) == 0 {
				return null(tBig)
			}
			// Small values tie often; extremes check the sign flip.
			return bi([]int64{math.MinInt64, -1, 0, 1, 2, math.MaxInt64}[r.IntN(6)])
		}
		mkRows := func(m int, nulls bool) [][]types.Datum {
			var rows [][]types.Datum
			for range m {
				rows = append(rows, row(bi(0), val(nulls), val(nulls), val(nulls)))
			}
			return rows
		}
		var before, after int
		for range 40 {
			// A head of 3 to 5 keys, NULLs allowed.
			p := &partition{keep: math.MaxInt32, rows: tree{w: op.keyWidth}}
			headRows := mkRows(3+r.IntN(3), true)
			head := optest.BuildRecord(mem, schema, headRows)
			if err := op.readChunk(head); err != nil {
				t.Fatal(err)
			}
			for i := range int(head.NumRows()) {
				p.rows.add(op.rowKey(i))
			}
			op.endChunk()
			head.Release()
			p.syncLast()
			if !p.lastOK {
				t.Fatal("the head's last key is not cached")
			}
			rows := mkRows(30, false)
			// Rows equal to the head's keys (those without NULLs).
			for _, h := range headRows {
				if !slices.ContainsFunc(h, func(d types.Datum) bool { return d.Null }) {
					rows = append(rows, h)
				}
			}
			rec := optest.BuildRecord(mem, schema, rows)
			if err := op.readChunk(rec); err != nil {
				t.Fatal(err)
			}
			if len(op.isort) != len(op.sortFields) {
				t.Fatalf("a chunk without NULLs, but %d columns read as values", len(op.isort))
			}
			for i := range rows {
				got := op.behindTopRow(p, i)
				want := op.behindTop(p, op.rowKey(i))
				if got != want {
					op.endChunk()
					rec.Release()
					t.Fatalf("case %d: row %v, head's last key %x: behindTopRow %v, behindTop %v", c, rows[i], p.lastBuf[:p.lastN], got, want)
				}
				if want {
					after++
				} else {
					before++
				}
			}
			op.endChunk()
			rec.Release()
		}
		if before == 0 || after == 0 {
			t.Errorf("case %d: %d rows before the head's end, %d after: vacuous", c, before, after)
		}
		op.Close()
	}
}

// dumpTree renders a tree's counts and keys, block by block.
func dumpTree(tr *tree) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "rows %d ent %d:", tr.rows, tr.ent)
	for _, bl := range tr.blocks {
		for i := range bl.len() {
			fmt.Fprintf(&b, " %x*%d", bl.key(i), bl.cnt[i])
		}
		b.WriteString(" |")
	}
	return b.String()
}

// TestTreeMove checks tree.move against a remove and an add on trees of
// one block of fixed-width keys, for moves up, down and in place, and that
// it changes nothing when it declines (old absent or held twice, the new
// key held, a tree of several blocks or of keys of varying width).
func TestTreeMove(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const w = 2
	key := func(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
	var moved, declined int
	for c := range 2000 {
		a, b := &tree{w: w}, &tree{w: w}
		if c%10 == 0 {
			a.w, b.w = 0, 0 // keys of varying width: declined
		}
		size := 1 + r.IntN(20)
		if c%17 == 0 {
			size = maxEntries + 10 // several blocks: declined
		}
		for range size {
			k := key(r.IntN(64))
			a.add(k)
			b.add(k)
			if r.IntN(8) == 0 {
				a.add(k) // held twice
				b.add(k)
			}
		}
		old, nw := key(r.IntN(64)), key(r.IntN(64))
		if bl := a.blocks[r.IntN(len(a.blocks))]; r.IntN(4) != 0 {
			old = slices.Clone(bl.key(r.IntN(bl.len()))) // held
		}
		before := dumpTree(a)
		if a.move(old, nw) {
			moved++
			if !b.remove(old) || !b.add(nw) {
				t.Fatalf("case %d: moved %x to %x in %s, but a remove or add failed", c, old, nw, before)
			}
			if got, want := dumpTree(a), dumpTree(b); got != want {
				t.Fatalf("case %d: move %x to %x in %s:\n got %s\nwant %s", c, old, nw, before, got, want)
			}
			continue
		}
		declined++
		if got := dumpTree(a); got != before {
			t.Fatalf("case %d: declined move %x to %x changed %s to %s", c, old, nw, before, got)
		}
		// It declines only what it must.
		if len(a.blocks) == 1 && a.w > 0 {
			bl := a.blocks[0]
			i, ok := bl.search(old)
			_, found := bl.search(nw)
			if ok && bl.cnt[i] == 1 && !found {
				t.Fatalf("case %d: declined move %x to %x in %s", c, old, nw, before)
			}
		}
	}
	if moved < 500 || declined < 500 {
		t.Errorf("%d moves, %d declined: too few", moved, declined)
	}
}

// TestIntPartitionIndex checks the index of BIGINT partition values
// (dense slots for small values, a map for the others, values moving
// from the map to the slots as they grow) against a map.
func TestIntPartitionIndex(t *testing.T) {
	mem := optest.CheckedMem(t)
	op, err := New(mem, types.Schema(monoIntCols).Arrow(), optest.ColumnTypes(monoIntCols), monoSpec(true, true, 3, 0, false), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	r := rand.New(rand.NewPCG(4, 4))
	ref := map[int64]int32{}
	var migrated bool
	for step := range 20000 {
		var v int64
		switch r.IntN(4) {
		case 0:
			v = r.Int64N(3000) // beyond the first slots
		case 1:
			v = r.Int64N(1024)
		case 2:
			v = -1 - r.Int64N(10)
		default:
			v = 1<<40 + r.Int64N(10)
		}
		if id, ok := ref[v]; ok && r.IntN(3) == 0 {
			op.intDelete(v)
			delete(ref, v)
			delete(op.index, fmt.Sprint(id))
		} else if !ok {
			id := int32(step)
			inMap := len(op.intParts)
			n := len(op.dense)
			op.index[fmt.Sprint(id)] = id // the slots grow with the partitions
			op.intStore(v, id)
			ref[v] = id
			if len(op.dense) > n && len(op.intParts) < inMap {
				migrated = true
			}
		}
		x := r.Int64N(3000)
		if r.IntN(2) == 0 {
			x = v
		}
		id, ok := op.intLookup(x)
		if wid, wok := ref[x]; ok != wok || (ok && id != wid) {
			t.Fatalf("step %d: lookup of %d: %d, %v; want %d, %v", step, x, id, ok, wid, wok)
		}
	}
	for v, want := range ref {
		if id, ok := op.intLookup(v); !ok || id != want {
			t.Fatalf("at the end: lookup of %d: %d, %v; want %d", v, id, ok, want)
		}
	}
	if !migrated || len(op.dense) == 0 || len(op.intParts) == 0 {
		t.Errorf("vacuous: migrated %v, %d slots, %d in the map", migrated, len(op.dense), len(op.intParts))
	}
}

// TestTreeMoveWords checks tree.moveWords, which compares keys of BIGINT
// fields as their encoded words, against tree.move over the encoded keys:
// the same decision and the same tree after it, for keys of 1 to 3
// fields, blocks holding NULLs (first and last) and keys held twice, olds
// held or not and new keys held or not, moving up, down and in place.
func TestTreeMoveWords(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	vals := []uint64{0, 1, 2, 3, 1 << 63, math.MaxUint64}
	words := func(n int) []uint64 {
		ws := make([]uint64, n)
		for k := range ws {
			ws[k] = vals[r.IntN(len(vals))]
		}
		return ws
	}
	var moved, declined int
	for c := range 4000 {
		n := 1 + c%3
		a, b := &tree{w: 9 * n}, &tree{w: 9 * n}
		for range 1 + r.IntN(24) {
			k := appendWords(nil, words(n))
			if r.IntN(5) == 0 {
				f := 9 * r.IntN(n) // a NULL field
				k[f] = []byte{flagNullFirst, flagNullLast}[r.IntN(2)]
				clear(k[f+1 : f+9])
			}
			for range 1 + r.IntN(2)*r.IntN(2) { // held twice at times
				a.add(k)
				b.add(k)
			}
		}
		old, nw := words(n), words(n)
		if r.IntN(3) != 0 {
			// An old key held (when it holds no NULL).
			bl := a.blocks[0]
			k := bl.key(r.IntN(bl.len()))
			for f := range n {
				if k[9*f] == flagValue {
					old[f] = binary.BigEndian.Uint64(k[9*f+1:])
				}
			}
		}
		before := dumpTree(a)
		got := a.moveWords(old, nw)
		want := b.move(appendWords(nil, old), appendWords(nil, nw))
		if got != want {
			t.Fatalf("case %d: move %x to %x in %s: moveWords %v, move %v", c, old, nw, before, got, want)
		}
		if ga, gb := dumpTree(a), dumpTree(b); ga != gb {
			t.Fatalf("case %d: move %x to %x in %s:\n got %s\nwant %s", c, old, nw, before, ga, gb)
		}
		if got {
			moved++
		} else {
			declined++
		}
	}
	if moved < 1000 || declined < 1000 {
		t.Errorf("%d moves, %d declined: too few", moved, declined)
	}
	// Keys of another width: declined.
	a := &tree{w: 18}
	a.add(appendWords(nil, []uint64{1, 2}))
	if a.moveWords([]uint64{1, 2, 3}, []uint64{0, 0, 0}) {
		t.Error("moveWords moved in a tree of keys of 2 fields with words of 3")
	}
}

// TestCompareKeys checks compareKeys against bytes.Compare on keys of
// equal and unequal lengths, sharing long prefixes.
func TestCompareKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	key := func(n int) []byte {
		k := make([]byte, n)
		for i := range k {
			k[i] = byte(r.IntN(3)) // few values: long common prefixes
		}
		return k
	}
	seen := map[int]int{}
	for c := range 200000 {
		n := r.IntN(40)
		a, b := key(n), key(n)
		if c%3 == 0 {
			b = key(r.IntN(40))
		}
		if c%4 == 0 && len(b) >= len(a) {
			copy(b, a) // a prefix of b, or equal
		}
		got, want := compareKeys(a, b), bytes.Compare(a, b)
		if got != want {
			t.Fatalf("compareKeys(%x, %x) = %d, want %d", a, b, got, want)
		}
		if len(a) == len(b) && len(a)%8 != 0 && len(a) > 8 {
			seen[want]++
		}
	}
	if len(seen) != 3 {
		t.Errorf("keys of one length with a tail: outcomes %v, want all three", seen)
	}
}

// TestTopNMonotoneMovePastBound checks a move within a head whose keys
// reach past the emitted top (a row held twice fills the top with fewer
// keys): an update of the key past the top's bound to one before it, the
// first change of the epoch to the partition, must touch the top (its
// new key does; its old key does not).
func TestTopNMonotoneMovePastBound(t *testing.T) {
	for _, desc := range []bool{true, false} {
		for _, emit := range []bool{false, true} {
			t.Run(fmt.Sprintf("desc=%v/rank=%v", desc, emit), func(t *testing.T) {
				spec := monoSpec(true, desc, 3, 0, emit)
				f := newFixture(t, monoIntCols, spec, 64)
				n := func(v int64) types.Datum {
					if !desc {
						v = -v
					}
					return bi(v)
				}
				a, b, c := row(bi(0), bi(1), n(10)), row(bi(0), bi(2), n(9)), row(bi(0), bi(3), n(8))
				// In this order the head keeps c: it is in the top when
				// it comes, and a's second copy adds no key.
				cur := [][]types.Datum{b, c, a, a}
				folded := optest.Fold{}
				if err := f.Feed(cur, nil, 64); err != nil {
					t.Fatal(err)
				}
				endMonoEpoch(t, f, folded, spec, cur, true, 0)
				c2 := row(bi(0), bi(3), n(11))
				cur[1] = c2
				moves := f.op.moves
				if err := f.Feed([][]types.Datum{c, c2}, []operators.Op{operators.UpdateBefore, operators.UpdateAfter}, 64); err != nil {
					t.Fatal(err)
				}
				if f.op.moves != moves+1 {
					t.Fatalf("the update was not a move (%d moves)", f.op.moves-moves)
				}
				endMonoEpoch(t, f, folded, spec, cur, true, 1)
			})
		}
	}
}

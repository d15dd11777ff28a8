package agg

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/types"
)

// msEntry is one distinct value of a multiset with its multiplicity.
type msEntry[V any] struct {
	v V
	n int64
}

// msBlockMax bounds a block of a multiset, so an insert moves at most this
// many entries plus the block headers.
const msBlockMax = 256

// multiset is an ordered multiset of values kept as a list of sorted,
// non-empty blocks (a two-level sorted list): compact for the common small
// group (one block), O(sqrt n)-ish for large ones. The first entry of the
// first block is the minimum, the last of the last block the maximum.
type multiset[V any] [][]msEntry[V]

// locate finds v: the block index, the entry index in it and whether the
// entry holds v. With no blocks it returns 0, 0, false.
func (m multiset[V]) locate(v V, cmp func(a, b V) int) (int, int, bool) {
	if len(m) == 0 {
		return 0, 0, false
	}
	// First block whose last value is >= v.
	lo, hi := 0, len(m)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		blk := m[mid]
		if cmp(blk[len(blk)-1].v, v) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(m) {
		return lo - 1, len(m[lo-1]), false
	}
	blk := m[lo]
	i, j := 0, len(blk)
	for i < j {
		mid := int(uint(i+j) >> 1)
		if cmp(blk[mid].v, v) < 0 {
			i = mid + 1
		} else {
			j = mid
		}
	}
	return lo, i, i < len(blk) && cmp(blk[i].v, v) == 0
}

// add inserts one occurrence of v (copied with keep when new).
func (m *multiset[V]) add(v V, cmp func(a, b V) int, keep func(V) V) {
	bi, ei, found := m.locate(v, cmp)
	if found {
		(*m)[bi][ei].n++
		return
	}
	if len(*m) == 0 {
		*m = append(*m, []msEntry[V]{{v: keep(v), n: 1}})
		return
	}
	blk := (*m)[bi]
	blk = append(blk, msEntry[V]{})
	copy(blk[ei+1:], blk[ei:])
	blk[ei] = msEntry[V]{v: keep(v), n: 1}
	if len(blk) <= msBlockMax {
		(*m)[bi] = blk
		return
	}
	// Split the full block in two.
	half := len(blk) / 2
	right := make([]msEntry[V], len(blk)-half, msBlockMax)
	copy(right, blk[half:])
	clear(blk[half:])
	(*m)[bi] = blk[:half]
	*m = append(*m, nil)
	copy((*m)[bi+2:], (*m)[bi+1:])
	(*m)[bi+1] = right
}

// remove deletes one occurrence of v; false when v is not there.
func (m *multiset[V]) remove(v V, cmp func(a, b V) int) bool {
	bi, ei, found := m.locate(v, cmp)
	if !found {
		return false
	}
	blk := (*m)[bi]
	if blk[ei].n--; blk[ei].n > 0 {
		return true
	}
	copy(blk[ei:], blk[ei+1:])
	var zero msEntry[V]
	blk[len(blk)-1] = zero
	blk = blk[:len(blk)-1]
	if len(blk) > 0 {
		(*m)[bi] = blk
		return true
	}
	copy((*m)[bi:], (*m)[bi+1:])
	(*m)[len(*m)-1] = nil
	*m = (*m)[:len(*m)-1]
	if len(*m) == 0 {
		*m = nil
	}
	return true
}

// extreme returns the minimum (or maximum) value, false when empty.
func (m multiset[V]) extreme(max bool) (V, bool) {
	var zero V
	if len(m) == 0 {
		return zero, false
	}
	if max {
		last := m[len(m)-1]
		return last[len(last)-1].v, true
	}
	return m[0][0].v, true
}

// minMaxAcc is MIN or MAX over values of family f. Append-only it keeps
// the current extreme per group; otherwise a multiset per group, so the
// next extreme is known after the current one is retracted.
type minMaxAcc[V any] struct {
	f          *family[V]
	name       string
	col        int
	argType    types.T
	max        bool
	appendOnly bool
	val        []V           // append-only: the extreme
	has        []bool        // append-only: whether val is set
	sets       []multiset[V] // retractable
	oldV       []V
	oldHas     []bool
	scratch    []V
}

func (a *minMaxAcc[V]) grow(n int) {
	if a.appendOnly {
		a.val = extend(a.val, n)
		a.has = extend(a.has, n)
	} else {
		a.sets = extend(a.sets, n)
	}
}

func (a *minMaxAcc[V]) result(g uint32) (V, bool) {
	if a.appendOnly {
		return a.val[g], a.has[g]
	}
	return a.sets[g].extreme(a.max)
}

func (a *minMaxAcc[V]) snapshot(gs []uint32) {
	for _, g := range gs {
		v, ok := a.result(g)
		a.oldV = append(a.oldV, v)
		a.oldHas = append(a.oldHas, ok)
	}
}

func (a *minMaxAcc[V]) update(b *batch) error {
	col := b.rec.Column(a.col)
	vals, err := a.f.read(col, &a.scratch)
	if err != nil {
		return fmt.Errorf("agg: %s: %w", a.name, err)
	}
	bits, off := validity(col)
	cmp := a.f.cmp
	if a.appendOnly {
		if b.signs != nil {
			return internalErr("agg: %s: retraction on an append-only aggregate", a.name)
		}
		want := -1
		if a.max {
			want = 1
		}
		for i, g := range b.gids {
			if bits != nil && !isValid(bits, off+i) {
				continue
			}
			v := vals[i]
			if !a.has[g] {
				a.val[g], a.has[g] = a.f.keep(v), true
			} else if c := cmp(v, a.val[g]); c == want {
				a.val[g] = a.f.keep(v)
			}
		}
		return nil
	}
	for i, g := range b.gids {
		if bits != nil && !isValid(bits, off+i) {
			continue
		}
		if b.signs == nil || b.signs[i] > 0 {
			a.sets[g].add(vals[i], cmp, a.f.keep)
		} else if !a.sets[g].remove(vals[i], cmp) {
			return internalErr("agg: %s: retraction of a value that was never inserted", a.name)
		}
	}
	return nil
}

func (a *minMaxAcc[V]) changed(d int, g uint32) bool {
	v, ok := a.result(g)
	if ok != a.oldHas[d] {
		return true
	}
	return ok && a.f.cmp(v, a.oldV[d]) != 0
}

func (a *minMaxAcc[V]) appendRows(bld array.Builder, rows []emitRow) error {
	app, err := a.f.appender(bld)
	if err != nil {
		return fmt.Errorf("agg: %s: %w", a.name, err)
	}
	for _, r := range rows {
		var v V
		var ok bool
		if r.old {
			v, ok = a.oldV[r.d], a.oldHas[r.d]
		} else {
			v, ok = a.result(r.g)
		}
		if ok {
			app(v)
		} else {
			bld.AppendNull()
		}
	}
	return nil
}

func (a *minMaxAcc[V]) clear(gs []uint32) {
	var zero V
	for _, g := range gs {
		if a.appendOnly {
			a.val[g], a.has[g] = zero, false
		} else {
			a.sets[g] = nil
		}
	}
}

func (a *minMaxAcc[V]) endEpoch([]uint32) {
	clear(a.oldV) // drop references to strings
	a.oldV, a.oldHas = recycle(a.oldV), recycle(a.oldHas)
}

func (a *minMaxAcc[V]) evict(gs []uint32, _ []uint64) { a.clear(gs) }

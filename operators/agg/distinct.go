package agg

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/types"
)

// dkey is a (group, value) pair: COUNT(DISTINCT) keeps one map per
// aggregate keyed by it rather than a map per group.
type dkey[K comparable] struct {
	g uint32
	v K
}

// distinctAcc is COUNT(DISTINCT x). Append-only it keeps only the set of
// (group, value) pairs; otherwise each pair maps to a slot of cnt holding
// its multiplicity (counts are bumped through the slot, so a stored key is
// never overwritten by one aliasing Arrow memory).
type distinctAcc[K comparable] struct {
	f          *family[K]
	name       string
	col        int
	argType    types.T
	appendOnly bool
	set        map[dkey[K]]struct{}
	idx        map[dkey[K]]uint32
	cnt        []int64
	freeSlots  []uint32
	n          []int64 // distinct non-NULL values per group
	old        []int64
	scratch    []K
}

func (a *distinctAcc[K]) grow(n int) { a.n = extend(a.n, n) }

func (a *distinctAcc[K]) snapshot(gs []uint32) {
	for _, g := range gs {
		a.old = append(a.old, a.n[g])
	}
}

func (a *distinctAcc[K]) update(b *batch) error {
	col := b.rec.Column(a.col)
	vals, err := a.f.read(col, &a.scratch)
	if err != nil {
		return fmt.Errorf("agg: %s: %w", a.name, err)
	}
	bits, off := validity(col)
	if a.appendOnly {
		if b.signs != nil {
			return internalErr("agg: %s: retraction on an append-only aggregate", a.name)
		}
		for i, g := range b.gids {
			if bits != nil && !isValid(bits, off+i) {
				continue
			}
			k := dkey[K]{g, vals[i]}
			if _, ok := a.set[k]; !ok {
				k.v = a.f.keep(k.v)
				a.set[k] = struct{}{}
				a.n[g]++
			}
		}
		return nil
	}
	for i, g := range b.gids {
		if bits != nil && !isValid(bits, off+i) {
			continue
		}
		k := dkey[K]{g, vals[i]}
		slot, ok := a.idx[k]
		if b.signs == nil || b.signs[i] > 0 {
			if ok {
				a.cnt[slot]++
				continue
			}
			if l := len(a.freeSlots); l > 0 {
				slot = a.freeSlots[l-1]
				a.freeSlots = a.freeSlots[:l-1]
				a.cnt[slot] = 1
			} else {
				slot = uint32(len(a.cnt))
				a.cnt = append(a.cnt, 1)
			}
			k.v = a.f.keep(k.v)
			a.idx[k] = slot
			a.n[g]++
			continue
		}
		if !ok {
			return internalErr("agg: %s: retraction of a value that was never inserted", a.name)
		}
		if a.cnt[slot]--; a.cnt[slot] == 0 {
			delete(a.idx, k)
			a.freeSlots = append(a.freeSlots, slot)
			a.n[g]--
		}
	}
	return nil
}

func (a *distinctAcc[K]) changed(d int, g uint32) bool { return a.old[d] != a.n[g] }

func (a *distinctAcc[K]) appendRows(bld array.Builder, rows []emitRow) error {
	b, ok := bld.(*array.Int64Builder)
	if !ok {
		return fmt.Errorf("agg: %s output builder is %T", a.name, bld)
	}
	for _, r := range rows {
		if r.old {
			b.Append(a.old[r.d])
		} else {
			b.Append(a.n[r.g])
		}
	}
	return nil
}

// clear resets freed groups. A group is freed only when all its rows were
// retracted, so its pairs are already gone from the map.
func (a *distinctAcc[K]) clear(gs []uint32) {
	for _, g := range gs {
		a.n[g] = 0
	}
}

func (a *distinctAcc[K]) endEpoch([]uint32) { a.old = recycle(a.old) }

// evict drops every (group, value) pair of the groups in gs (whose bits
// are set in bits): one pass over the pairs, once per barrier that closes
// groups.
func (a *distinctAcc[K]) evict(gs []uint32, bits []uint64) {
	in := func(g uint32) bool { return bits[g>>6]&(1<<(g&63)) != 0 }
	if a.appendOnly {
		for k := range a.set {
			if in(k.g) {
				delete(a.set, k)
			}
		}
	} else {
		for k, slot := range a.idx {
			if in(k.g) {
				delete(a.idx, k)
				a.cnt[slot] = 0
				a.freeSlots = append(a.freeSlots, slot)
			}
		}
	}
	a.clear(gs)
}

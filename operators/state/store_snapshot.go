package state

import (
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// Store snapshots: a header (format "sluice.state.Store", version, the
// column types and key), then the rows as a slot section "rows" in the
// store's schema (see slot sections) with a "copies" column for a
// multiset store, then "rows.free". Restore rebuilds the index. An
// append-only store (config "append-only") writes no "copies" column:
// every live slot holds one row.

const (
	storeFormat  = "sluice.state.Store"
	storeVersion = 1
)

// config is the store's configuration fingerprint.
func (s *Store) config() string {
	var b strings.Builder
	b.WriteString("columns=(")
	for i, c := range s.schema {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Type.String())
	}
	switch {
	case s.appendOnly:
		b.WriteString(") append-only")
	case s.keyed:
		fmt.Fprintf(&b, ") keyed key=%v", s.key)
	default:
		b.WriteString(") multiset")
	}
	return b.String()
}

// multiset reports whether the snapshot's rows carry a copies column.
func (s *Store) multiset() bool { return !s.keyed && !s.appendOnly }

func (s *Store) names() []string {
	names := make([]string, len(s.schema))
	for i, c := range s.schema {
		names[i] = c.Name
	}
	return names
}

func (s *Store) colTypes() []types.T {
	ts := make([]types.T, len(s.schema))
	for i, c := range s.schema {
		ts[i] = c.Type
	}
	return ts
}

// Snapshot writes the store's rows to w (see SnapshotWith), building Arrow
// data with the default allocator. It implements the checkpoint of a
// table or view.
func (s *Store) Snapshot(w io.Writer) error {
	return s.SnapshotWith(memory.DefaultAllocator, w)
}

// SnapshotWith writes the store's rows to w as Arrow IPC sections, Arrow
// data built with mem. It only reads the store, so it may run alongside
// Lookup and Scan (under the owner's read lock).
func (s *Store) SnapshotWith(mem memory.Allocator, w io.Writer) error {
	if s.bad != nil {
		return s.bad
	}
	sw := NewSnapshotWriter(w, mem)
	defer sw.Close()
	if err := sw.Header(storeFormat, storeVersion, s.config()); err != nil {
		return err
	}
	var live []uint32
	if s.appendOnly {
		live = make([]uint32, s.rows)
		for slot := range live {
			live[slot] = uint32(slot)
		}
	} else {
		live = make([]uint32, 0, s.slots-len(s.free))
		for w, word := range s.live {
			for ; word != 0; word &= word - 1 {
				live = append(live, uint32(w<<6+bits.TrailingZeros64(word)))
			}
		}
	}
	var copies []uint32
	if s.multiset() {
		copies = s.count
	}
	return writeSlots(sw, "rows", slotSchema(s.names(), s.colTypes(), s.multiset()), s.cols, live, copies, s.free)
}

// Restore replaces the store's rows with a snapshot's (see RestoreWith),
// using the default allocator.
func (s *Store) Restore(r io.Reader) error {
	return s.RestoreWith(memory.DefaultAllocator, r)
}

// RestoreWith replaces the store's rows with those of a snapshot that
// SnapshotWith wrote from a store of the same column types and key, and
// rebuilds the index. On any error (a snapshot of another configuration,
// damaged data: errors.Is(err, ErrCorrupt)) the store is left unchanged.
func (s *Store) RestoreWith(mem memory.Allocator, r io.Reader) error {
	if s.bad != nil {
		return s.bad
	}
	sr := NewSnapshotReader(r, mem)
	if err := sr.Header(storeFormat, storeVersion, s.config()); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	ts := s.colTypes()
	m, err := readSlots(sr, "rows", slotSchema(s.names(), ts, s.multiset()), ts, s.multiset())
	if err == nil {
		err = sr.ExpectEnd()
	}
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	var n *Store
	if s.appendOnly {
		n = NewAppendStore(s.schema)
	} else {
		n = NewStore(s.schema, s.key, s.keyed)
	}
	if n.bad != nil {
		return n.bad
	}
	// The same store, whose every slot may have moved (see SlotStamp).
	n.id, n.gen = s.id, s.gen+1
	copy(n.cols, m.cols) // in place: the int index points at n.cols[key]
	if n.appendOnly {
		// Every slot of an append-only store is live, one row each.
		if len(m.free) > 0 || m.nLive != m.n {
			return fmt.Errorf("store: restore: append-only store with %d free of %d slots: %w", m.n-m.nLive, m.n, ErrCorrupt)
		}
		n.rows = int64(m.n)
		*s = *n
		return nil
	}
	n.free = m.free
	n.slots = m.n
	n.live = m.live
	if n.keyed {
		n.rows = int64(m.nLive)
	} else {
		n.count = m.copies
		for _, c := range n.count {
			n.rows += int64(c)
		}
	}
	if err := n.buildIndex(m.nLive); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if n.keyed && len(n.key) == 0 && n.rows > 1 {
		return fmt.Errorf("store: restore: %d rows in a store with an empty key: %w", n.rows, ErrCorrupt)
	}
	*s = *n
	return nil
}

// Package planner binds parsed statements against the catalog, builds
// logical plans, rewrites them with small named rules, and describes them
// for EXPLAIN. Plans are immutable trees of nodes; the executor turns them
// into running operators.
package planner

import (
	"strings"

	"github.com/sluicedb/sluice/types"
)

// RelationKind says what kind of object a Relation is.
type RelationKind uint8

// The relation kinds.
const (
	TableRelation RelationKind = iota + 1
	ViewRelation
	// SystemRelation is a read-only table the engine computes on demand
	// (late-row counts, later source lag and errors).
	SystemRelation
	// SourceRelation is an external event stream (CREATE SOURCE): views
	// read it; it keeps no rows, so queries cannot.
	SourceRelation
)

// String names the kind as SQL does.
func (k RelationKind) String() string {
	switch k {
	case TableRelation:
		return "table"
	case ViewRelation:
		return "materialized view"
	case SystemRelation:
		return "system table"
	case SourceRelation:
		return "source"
	}
	return "relation"
}

// Relation is a table or materialized view as the planner sees it.
type Relation struct {
	ID     uint64
	Name   string
	Kind   RelationKind
	Schema types.Schema
	// Key lists the columns that identify a row (a table's primary key or a
	// view's derived key) when Keyed is set. A keyed relation with an empty
	// Key holds at most one row (a global aggregate).
	Key []int
	// Keyed says Key identifies rows; otherwise rows are a multiset (an
	// append-only table, or a view without a derivable key).
	Keyed bool
	// AppendOnly says rows are only ever inserted.
	AppendOnly bool
	// Growth, when not nil, says the relation never deletes a row for
	// good (its changes are inserts and in-epoch updates) and how each
	// column can change under updates; see RowGrowth.
	Growth []Growth
	// Definition is the SQL text that created the relation.
	Definition string
	// Watermark is the table's event-time watermark, or nil.
	Watermark *WatermarkDef
}

// WatermarkDef says rows of a table older than the largest value of
// column Col seen so far minus Delay (microseconds) are late.
type WatermarkDef struct {
	Col   int
	Delay int64
}

// Catalog resolves names to relations. Names are compared case-insensitively.
type Catalog interface {
	Relation(name string) (*Relation, bool)
}

// NormalizeName returns the catalog form of an identifier: lower case.
func NormalizeName(s string) string { return strings.ToLower(s) }

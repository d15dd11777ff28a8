package parser

import (
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicedb/sluice/types"
)

// Statement is a parsed statement.
type Statement interface {
	// Text returns the statement's own source text (trimmed, without the
	// ';').
	Text() string
	statement()
}

// stmtText carries a statement's source text; embedded in every statement.
type stmtText struct{ text string }

// Text implements Statement.
func (s stmtText) Text() string { return s.text }
func (stmtText) statement()     {}

// setText sets the source text (used by tests building expected values).
func (s *stmtText) setText(t string) { s.text = t }

// ColumnDef is one column of a CREATE TABLE.
type ColumnDef struct {
	// Name is the column name as written (backquotes stripped).
	Name string
	// Type is the column's SQL type.
	Type types.T
	// NotNull is set by NOT NULL or by membership in the primary key.
	NotNull bool
}

// CreateTable is CREATE TABLE [IF NOT EXISTS] name (columns...) [APPEND ONLY].
type CreateTable struct {
	stmtText
	Name        string
	IfNotExists bool
	Columns     []ColumnDef
	// PrimaryKey lists the key columns (from an inline PRIMARY KEY or a
	// table constraint), nil if none.
	PrimaryKey []string
	// AppendOnly is set by a trailing APPEND ONLY: the table accepts inserts
	// only.
	AppendOnly bool
	// Watermark is the table's event-time watermark, or nil.
	Watermark *Watermark
}

// CreateMaterializedView is CREATE MATERIALIZED VIEW [IF NOT EXISTS] name AS query.
type CreateMaterializedView struct {
	stmtText
	Name        string
	IfNotExists bool
	// Query is the view's query: *ast.SelectStmt or *ast.SetOprStmt.
	Query ast.ResultSetNode
	// QueryText is the query's source text.
	QueryText string
	// Windows are the window table functions of the query's FROM clauses,
	// which the query's AST names by their placeholders.
	Windows []*WindowTVF
	// EmitOnWindowClose is set by a trailing EMIT ON WINDOW CLOSE: windowed
	// results appear once, when the watermark passes the window's end.
	EmitOnWindowClose bool
}

// ObjectKind is the kind of a catalog object named by DROP and SHOW.
type ObjectKind uint8

// The object kinds.
const (
	KindTable ObjectKind = iota + 1
	KindMaterializedView
	KindSource
	KindSink
)

// String returns the SQL spelling of k ("TABLE", "MATERIALIZED VIEW", ...).
func (k ObjectKind) String() string {
	switch k {
	case KindTable:
		return "TABLE"
	case KindMaterializedView:
		return "MATERIALIZED VIEW"
	case KindSource:
		return "SOURCE"
	case KindSink:
		return "SINK"
	}
	return "UNKNOWN"
}

// Drop is DROP TABLE|MATERIALIZED VIEW|SOURCE|SINK [IF EXISTS] name[, name...].
type Drop struct {
	stmtText
	Kind     ObjectKind
	Names    []string
	IfExists bool
}

// ShowObjects is SHOW TABLES | MATERIALIZED VIEWS | SOURCES | SINKS.
type ShowObjects struct {
	stmtText
	Kind ObjectKind
}

// ShowVariable is SHOW name (a run-time setting) or SHOW ALL (Name "all").
// Name is lower-cased; several words are joined by one space
// ("transaction isolation level").
type ShowVariable struct {
	stmtText
	Name string
}

// Describe is DESCRIBE name, DESC name or SHOW COLUMNS FROM name.
type Describe struct {
	stmtText
	Name string
}

// Explain is EXPLAIN statement (or DESCRIBE/DESC statement).
type Explain struct {
	stmtText
	Stmt Statement
}

// Flush is FLUSH: wait until every change so far is visible in every view.
type Flush struct{ stmtText }

// Select is a query: SELECT, UNION/EXCEPT/INTERSECT, WITH ... SELECT.
type Select struct {
	stmtText
	// Node is *ast.SelectStmt or *ast.SetOprStmt.
	Node ast.ResultSetNode
	// Windows are the window table functions of the FROM clauses.
	Windows []*WindowTVF
}

// Insert is INSERT ... VALUES (one or many rows) or INSERT ... SELECT.
type Insert struct {
	stmtText
	Node *ast.InsertStmt
}

// Update is UPDATE.
type Update struct {
	stmtText
	Node *ast.UpdateStmt
}

// Delete is DELETE.
type Delete struct {
	stmtText
	Node *ast.DeleteStmt
}

// Other is any other statement TiDB parses (SET, BEGIN, COMMIT, ROLLBACK...),
// for later layers to accept or refuse.
type Other struct {
	stmtText
	Node ast.StmtNode
}

// Checkpoint is CHECKPOINT: end the epoch with a checkpoint of all state.
type Checkpoint struct{ stmtText }

package executor

import (
	"github.com/sluicedb/sluice/types"
)

// ResultColumn describes one column of a result set.
type ResultColumn struct {
	Name string
	Type types.T
}

// Result is the outcome of one statement: a row set (Columns set, Rows
// possibly empty) or just a command tag.
type Result struct {
	// Tag is the Postgres command tag: "SELECT 3", "INSERT 0 5",
	// "CREATE TABLE", "FLUSH"...
	Tag     string
	Columns []ResultColumn
	Rows    [][]types.Datum
	// Notices are warnings for the client (NoticeResponse).
	Notices []string
}

// HasRows reports whether the statement returns a row set.
func (r *Result) HasRows() bool { return r.Columns != nil }

package window

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/types"
)

const minute = int64(60_000_000)

// newCollector returns a collector of chunks of schema that also folds
// the net output (its Net), checking no retraction outruns it.
func newCollector(t testing.TB, schema *arrow.Schema) *optest.Collector {
	c := optest.NewCollector(t, schema, optest.SchemaTypes(t, schema))
	c.Net = optest.Fold{}
	return c
}

// opLines renders rows as sorted "op row" lines.
func opLines(rows []optest.OutRow) []string { return optest.OpLines(rows, nil) }

// Datum shorthands.
var bi, ts, row = optest.BigInt, optest.Timestamp, optest.Row

// tsStr formats µs as a TIMESTAMP prints.
func tsStr(us int64) string { return types.NewTimestamp(us).String() }

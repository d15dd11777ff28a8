package temporal

import (
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var (
	tBig = types.T{Kind: types.BigInt}
	tTS  = types.TimestampType(6)
	tTxt = types.T{Kind: types.Varchar}
	cols = []types.Column{{Name: "id", Type: tBig}, {Name: "ts", Type: tTS}, {Name: "s", Type: tTxt}}
)

// Datum shorthands.
var bi, ts, txt, null = optest.BigInt, optest.Timestamp, optest.Text, optest.Null

// r is the input row (id, t, "v<id>").
func r(id, t int64) []types.Datum {
	return []types.Datum{bi(id), ts(t), txt("v" + strconv.FormatInt(id, 10))}
}

// fixture is a filter over cols (ts: column 1) under test, driven by the
// harness (whose Out collects its output, timestamps printed as µs).
type fixture struct {
	*optest.Harness
	f *Filter
}

func newFixture(t *testing.T, window int64, inclusive bool, batch int) *fixture {
	t.Helper()
	x := newFiltered(t, optest.CheckedMem(t), window, inclusive, nil)
	optest.CloseAtEnd(t, x.f, nil)
	x.Batch = batch
	return x
}

// newFiltered builds a filter over cols whose output the harness's
// collector checks, sent through wrap when it is not nil.
func newFiltered(t *testing.T, mem memory.Allocator, window int64, inclusive bool, wrap func(*optest.Collector) operators.Output) *fixture {
	t.Helper()
	schema := types.Schema(cols).Arrow()
	c := &optest.Collector{T: t, Schema: schema, Types: optest.ColumnTypes(cols), Format: optest.FormatRowMicros}
	var out operators.Output = c
	if wrap != nil {
		out = wrap(c)
	}
	f, err := NewFilter(mem, schema, []types.T{tBig, tTS, tTxt}, 1, window, inclusive, out)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Harness: &optest.Harness{T: t, Mem: mem, Input: f, InSchema: schema, Out: c}, f: f}
}

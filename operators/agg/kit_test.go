package agg

import (
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/types"
)

// fixture is an aggregate under test, driven by the harness (whose Out
// collects its output).
type fixture struct {
	*optest.Harness
	h *HashAgg
}

func newFixture(t *testing.T, cols []types.Column, groupCols []int, specs []Spec, appendOnly bool, batch int) *fixture {
	t.Helper()
	return newFixtureOpts(t, cols, groupCols, specs, appendOnly, Options{WatermarkGroupCol: -1}, batch)
}

func newFixtureOpts(t *testing.T, cols []types.Column, groupCols []int, specs []Spec, appendOnly bool, opts Options, batch int) *fixture {
	t.Helper()
	mem := optest.CheckedMem(t)
	schema := types.Schema(cols).Arrow()
	inTypes := optest.ColumnTypes(cols)
	c := &optest.Collector{T: t, Types: outTypes(inTypes, groupCols, specs), MaxChunkRows: MaxChunkRows}
	h, err := NewWithOptions(mem, schema, inTypes, groupCols, specs, appendOnly, opts, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.Schema = h.Schema()
	optest.CloseAtEnd(t, h, nil)
	return &fixture{Harness: &optest.Harness{T: t, Mem: mem, Input: h, InSchema: schema, Out: c, Batch: batch}, h: h}
}

// outTypes returns the types of an aggregate's output columns: the group
// columns', then the aggregates'.
func outTypes(inTypes []types.T, groupCols []int, specs []Spec) []types.T {
	var ts []types.T
	for _, g := range groupCols {
		ts = append(ts, inTypes[g])
	}
	for _, s := range specs {
		ts = append(ts, s.Result)
	}
	return ts
}

// Datum shorthands.
var bi, i32, dbl, txt, null, row = optest.BigInt, optest.Int, optest.Double, optest.Text, optest.Null, optest.Row

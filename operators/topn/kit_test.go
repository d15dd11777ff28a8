package topn

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// fixture is a Top-N under test, driven by the harness (whose Out
// collects its output).
type fixture struct {
	*optest.Harness
	op *TopN
}

func newFixture(t *testing.T, cols []types.Column, spec Spec, batch int) *fixture {
	t.Helper()
	mem := optest.CheckedMem(t)
	f := newTopN(t, mem, spec, cols, nil)
	optest.CloseAtEnd(t, f.op, nil)
	f.Batch = batch
	return f
}

// newTopN builds a Top-N of spec over input columns cols whose output
// the harness's collector checks, sent through wrap when it is not nil.
func newTopN(t *testing.T, mem memory.Allocator, spec Spec, cols []types.Column, wrap func(*optest.Collector) operators.Output) *fixture {
	t.Helper()
	schema := types.Schema(cols).Arrow()
	inTypes := optest.ColumnTypes(cols)
	outTypes := slices.Clone(inTypes)
	if spec.EmitRank {
		outTypes = append(outTypes, tBig)
	}
	c := &optest.Collector{T: t, Types: outTypes, MaxChunkRows: MaxChunkRows}
	var out operators.Output = c
	if wrap != nil {
		out = wrap(c)
	}
	op, err := New(mem, schema, inTypes, spec, out)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.Schema = op.Schema()
	return &fixture{Harness: &optest.Harness{T: t, Mem: mem, Input: op, InSchema: schema, Out: c}, op: op}
}

// update feeds update pairs: before, after, before, after, ...
func (f *fixture) update(pairs ...[]types.Datum) {
	f.T.Helper()
	ops := make([]operators.Op, len(pairs))
	for i := range ops {
		ops[i] = operators.UpdateBefore + operators.Op(i%2)
	}
	f.PushOps(ops, pairs...)
}

// Datum shorthands.
var bi, dbl, txt, null, row = optest.BigInt, optest.Double, optest.Text, optest.Null, optest.Row

var (
	tBig = types.T{Kind: types.BigInt}
	tDbl = types.T{Kind: types.Double}
	tTxt = types.T{Kind: types.Varchar}
)

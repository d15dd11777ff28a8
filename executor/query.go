package executor

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

type arrowRecord = arrow.RecordBatch

// scanBatch is the number of rows per batch when reading a store.
const scanBatch = 4096

func newStore(rel *planner.Relation) *state.Store {
	// An APPEND ONLY table without a key is only ever inserted into (the
	// planner refuses UPDATE and DELETE on it), so its store needs no
	// index. A keyed one keeps its index: Insert of a present key must
	// fail and point lookups read it.
	if rel.Kind == planner.TableRelation && rel.AppendOnly && !rel.Keyed {
		return state.NewAppendStore(rel.Schema)
	}
	return state.NewStore(rel.Schema, rel.Key, rel.Keyed)
}

func allColumns(n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = i
	}
	return c
}

// query runs a batch plan against the committed snapshot.
func (e *Engine) query(ctx context.Context, root planner.Node, params []types.Datum) (*Result, error) {
	if l, cols, ok := lookupQuery(root); ok {
		return e.runLookup(l, cols, root.Schema(), params)
	}
	chunks, schema, err := e.runBounded(ctx, root, params)
	if err != nil {
		return nil, err
	}
	defer releaseChunks(chunks)
	r := &Result{Columns: make([]ResultColumn, len(schema))}
	for i, c := range schema {
		r.Columns[i] = ResultColumn{Name: c.Name, Type: c.Type}
	}
	r.Rows = chunksToRows(chunks, schema)
	r.Tag = fmt.Sprintf("SELECT %d", len(r.Rows))
	return r, nil
}

func releaseChunks(cs []*operators.Chunk) {
	for _, c := range cs {
		c.Rec.Release()
	}
}

func chunksToRows(chunks []*operators.Chunk, schema types.Schema) [][]types.Datum {
	var rows [][]types.Datum
	for _, c := range chunks {
		n := c.Len()
		flat := make([]types.Datum, n*len(schema))
		for col, sc := range schema {
			arr := c.Rec.Column(col)
			for i := 0; i < n; i++ {
				flat[i*len(schema)+col] = types.DatumAt(arr, i, sc.Type)
			}
		}
		for i := 0; i < n; i++ {
			rows = append(rows, flat[i*len(schema):(i+1)*len(schema):(i+1)*len(schema)])
		}
	}
	return rows
}

// runBounded executes a plan over the committed snapshot and returns the
// result chunks (owned by the caller).
func (e *Engine) runBounded(ctx context.Context, root planner.Node, params []types.Datum) ([]*operators.Chunk, types.Schema, error) {
	root, err := prepare(root, params)
	if err != nil {
		return nil, nil, err
	}
	schema := root.Schema()
	coll := operators.NewCollector(schema.Arrow())
	b := &builder{mem: e.mem, mode: bounded}
	defer b.closeAll()
	if err := b.build(root, coll); err != nil {
		coll.Close()
		return nil, nil, err
	}
	// Read every leaf under one snapshot, then run the pipeline outside
	// the lock.
	inputs := make([][]*operators.Chunk, len(b.leaves))
	e.snapMu.RLock()
	for i, l := range b.leaves {
		inputs[i], err = e.readLeaf(l.node)
		if err != nil {
			break
		}
	}
	e.snapMu.RUnlock()
	defer func() {
		for _, in := range inputs {
			releaseChunks(in)
		}
	}()
	if err != nil {
		coll.Close()
		return nil, nil, err
	}
	for i, l := range b.leaves {
		for _, c := range inputs[i] {
			if err := ctx.Err(); err != nil {
				coll.Close()
				return nil, nil, sqlerr.Execf(sqlerr.QueryCanceled, "canceling statement due to user request")
			}
			if err := l.entry.Push(c); err != nil {
				coll.Close()
				return nil, nil, err
			}
		}
	}
	for _, l := range b.leaves {
		if err := l.entry.Push(operators.Barrier{}); err != nil {
			coll.Close()
			return nil, nil, err
		}
	}
	return coll.Chunks, schema, nil
}

// readLeaf reads a leaf's rows from the snapshot. Called under snapMu.
func (e *Engine) readLeaf(n planner.Node) ([]*operators.Chunk, error) {
	var out []*operators.Chunk
	switch x := n.(type) {
	case *planner.Scan:
		if st := systemByID(x.Rel.ID); st != nil {
			rows := st.rows(e)
			proj := make([][]types.Datum, len(rows))
			for i, r := range rows {
				proj[i] = make([]types.Datum, len(x.Cols))
				for j, c := range x.Cols {
					proj[i][j] = r[c]
				}
			}
			if len(proj) == 0 {
				return nil, nil
			}
			return []*operators.Chunk{{Rec: rowsToRecord(e, x.Schema(), proj)}}, nil
		}
		o := e.cat.byID(x.Rel.ID)
		if o == nil {
			return nil, errDropped(x.Rel.Name)
		}
		if o.failed != nil {
			return nil, o.failed
		}
		err := o.store.Scan(e.mem, x.Cols, scanBatch, func(rec arrow.RecordBatch) error {
			rec.Retain()
			out = append(out, &operators.Chunk{Rec: rec})
			return nil
		})
		return out, err
	case *planner.Lookup:
		o := e.cat.byID(x.Rel.ID)
		if o == nil {
			return nil, errDropped(x.Rel.Name)
		}
		if o.failed != nil {
			return nil, o.failed
		}
		key := make([]types.Datum, len(x.Key))
		for i, k := range x.Key {
			lit, ok := k.(*expr.Literal)
			if !ok {
				return nil, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "lookup key %s is not constant", k)
			}
			key[i] = lit.Value
		}
		row, found := o.store.Lookup(key, x.Cols, nil)
		if !found {
			return nil, nil
		}
		rec := rowsToRecord(e, x.Schema(), [][]types.Datum{row})
		return []*operators.Chunk{{Rec: rec}}, nil
	case *planner.Values:
		rows := make([][]types.Datum, len(x.Rows))
		for r, exprs := range x.Rows {
			rows[r] = make([]types.Datum, len(exprs))
			for i, ex := range exprs {
				v, err := eval.EvalScalar(ex, nil)
				if err != nil {
					return nil, err
				}
				rows[r][i] = v
			}
		}
		if len(x.Out) == 0 {
			// SELECT without FROM: one row with no columns.
			rec := array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, int64(len(rows)))
			return []*operators.Chunk{{Rec: rec}}, nil
		}
		return []*operators.Chunk{{Rec: rowsToRecord(e, x.Out, rows)}}, nil
	}
	return nil, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "no reader for leaf %T", n)
}

// rowsToRecord builds an Arrow record from Datum rows.
func rowsToRecord(e *Engine, schema types.Schema, rows [][]types.Datum) arrow.RecordBatch {
	b := array.NewRecordBuilder(e.mem, schema.Arrow())
	defer b.Release()
	for _, row := range rows {
		for i, d := range row {
			types.AppendDatum(b.Field(i), d)
		}
	}
	return b.NewRecordBatch()
}

func errDropped(name string) error {
	return sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", name)
}

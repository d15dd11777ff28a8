package executor

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Prepared is a statement planned once and executed many times with
// different parameter values (the extended query protocol's prepared
// statements). It is re-planned when the catalog changes.
type Prepared struct {
	stmt    parser.Statement
	plan    planner.Plan
	version uint64
	// Params are the inferred types of $1..$n (Unknown where unconstrained).
	Params []types.T
	// Columns describes the rows the statement returns, or nil.
	Columns []ResultColumn
}

// Prepare plans a statement for repeated execution.
func (e *Engine) Prepare(stmt parser.Statement) (*Prepared, error) {
	p := &Prepared{stmt: stmt}
	if err := e.plan(p); err != nil {
		return nil, err
	}
	return p, nil
}

func (e *Engine) plan(p *Prepared) error {
	p.version = e.catVersion.Load()
	switch p.stmt.(type) {
	case *parser.Flush, *parser.ShowObjects, *parser.Describe:
		p.plan = nil
		return nil
	}
	pl, err := planner.Build(&e.cat, p.stmt)
	if err != nil {
		return err
	}
	p.plan = pl
	p.Columns = nil
	switch x := pl.(type) {
	case *planner.QueryPlan:
		p.Params = x.Params
		for _, c := range x.Root.Schema() {
			p.Columns = append(p.Columns, ResultColumn{Name: c.Name, Type: c.Type})
		}
	case *planner.InsertPlan:
		p.Params = x.Params
	case *planner.UpdatePlan:
		p.Params = x.Params
	case *planner.DeletePlan:
		p.Params = x.Params
	case *planner.ExplainPlan:
		p.Columns = []ResultColumn{{Name: "QUERY PLAN", Type: types.TextType}}
	}
	return nil
}

// ExecutePrepared runs a prepared statement with parameter values.
func (e *Engine) ExecutePrepared(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	if p.plan == nil {
		return e.ExecuteStatement(ctx, p.stmt, params)
	}
	if p.version != e.catVersion.Load() {
		if err := e.plan(p); err != nil {
			return nil, err
		}
	}
	if len(params) < len(p.Params) {
		return nil, sqlerr.Execf(sqlerr.InvalidParameter, "statement needs %d parameters, got %d", len(p.Params), len(params))
	}
	return e.executePlan(ctx, p.plan, params)
}

// Append adds the rows of rec to a table as one INSERT does (atomically,
// in one epoch; on a keyed table a row replaces the row with its key).
// The columns must match the table's columns in order and type. The
// caller keeps its reference to rec.
func (e *Engine) Append(ctx context.Context, table string, rec arrow.RecordBatch) error {
	return e.AppendAll(ctx, table, []arrow.RecordBatch{rec})
}

// AppendAll adds several batches to a table as ONE statement: they are
// logged as one record and enter the same epoch, so after a crash they
// are there whole or not at all (a COPY uses it). The caller keeps its
// references to the records.
func (e *Engine) AppendAll(ctx context.Context, table string, recs []arrow.RecordBatch) error {
	o, ok := e.cat.get(table)
	if !ok || !o.isTable() {
		if ok {
			return sqlerr.Planf(sqlerr.WrongObjectType, "%q is a %s, not a table", table, o.rel.Kind)
		}
		return sqlerr.Planf(sqlerr.UndefinedTable, "table %q does not exist", table)
	}
	want := o.rel.Schema.Arrow()
	chunks := make([]*operators.Chunk, 0, len(recs))
	for _, rec := range recs {
		if rec.NumRows() == 0 {
			continue
		}
		if int(rec.NumCols()) != len(want.Fields()) {
			return sqlerr.Execf(sqlerr.DatatypeMismatch, "table %q has %d columns, the batch %d", table, len(want.Fields()), rec.NumCols())
		}
		for i, f := range want.Fields() {
			if !arrow.TypeEqual(f.Type, rec.Column(i).DataType()) {
				return sqlerr.Execf(sqlerr.DatatypeMismatch, "column %q of table %q is %s, the batch has %s", f.Name, table, f.Type, rec.Column(i).DataType())
			}
		}
		c := &operators.Chunk{Rec: rec}
		if err := checkChunk(o.rel, c); err != nil {
			return err
		}
		chunks = append(chunks, c)
	}
	if len(chunks) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	o.dmlMu.Lock()
	defer o.dmlMu.Unlock()
	if e.closed.Load() {
		return errClosed
	}
	if o.rel.Keyed {
		ch := newChangeSet(o)
		for _, row := range chunksToRows(chunks, o.rel.Schema) {
			ch.upsert(row)
		}
		return ch.commit(e)
	}
	if err := e.logChange(ctx, o, chunks...); err != nil {
		return err
	}
	for _, c := range chunks {
		c.Rec.Retain()
		if err := o.ingest(e.mem, c); err != nil {
			return err
		}
	}
	return nil
}

// Relations lists every table and materialized view, by name.
func (e *Engine) Relations() []*planner.Relation {
	objs := e.cat.all()
	out := make([]*planner.Relation, len(objs))
	for i, o := range objs {
		out[i] = o.rel
	}
	return out
}

// Table describes a table or view by name, for clients that need its
// columns (COPY, DESCRIBE).
func (e *Engine) Table(name string) (*planner.Relation, error) {
	o, ok := e.cat.get(name)
	if !ok {
		return nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	return o.rel, nil
}

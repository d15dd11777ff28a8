package executor

import (
	"fmt"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/types"
)

// lookupQuery matches the plans of point lookups (a Lookup, possibly under
// a projection of plain columns) so they can run without building
// operators: the serving path for "WHERE key = $1".
func lookupQuery(root planner.Node) (*planner.Lookup, []int, bool) {
	if l, ok := root.(*planner.Lookup); ok {
		return l, nil, true
	}
	p, ok := root.(*planner.Project)
	if !ok {
		return nil, nil, false
	}
	l, ok := p.Input.(*planner.Lookup)
	if !ok {
		return nil, nil, false
	}
	cols := make([]int, len(p.Exprs))
	for i, e := range p.Exprs {
		c, ok := e.(*expr.ColumnRef)
		if !ok {
			return nil, nil, false
		}
		cols[i] = l.Cols[c.Index]
	}
	return l, cols, true
}

// runLookup answers a point lookup directly from the view's index.
func (e *Engine) runLookup(l *planner.Lookup, cols []int, schema types.Schema, params []types.Datum) (*Result, error) {
	key := make([]types.Datum, len(l.Key))
	for i, k := range l.Key {
		v, err := prepareExpr(k, params)
		if err != nil {
			return nil, err
		}
		lit, ok := v.(*expr.Literal)
		if !ok {
			return nil, fmt.Errorf("lookup key %s is not constant", k)
		}
		key[i] = lit.Value
	}
	if cols == nil {
		cols = l.Cols
	}
	o := e.cat.byID(l.Rel.ID)
	if o == nil {
		return nil, errDropped(l.Rel.Name)
	}
	r := &Result{Columns: make([]ResultColumn, len(schema))}
	for i, c := range schema {
		r.Columns[i] = ResultColumn{Name: c.Name, Type: c.Type}
	}
	e.snapMu.RLock()
	failed := o.failed
	row, found := o.store.Lookup(key, cols, nil)
	e.snapMu.RUnlock()
	if failed != nil {
		return nil, failed
	}
	if found {
		r.Rows = [][]types.Datum{row}
		r.Tag = "SELECT 1"
	} else {
		r.Tag = "SELECT 0"
	}
	return r, nil
}

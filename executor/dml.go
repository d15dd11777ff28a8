package executor

import (
	"context"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

func (e *Engine) tableObject(rel *planner.Relation) (*object, error) {
	o := e.cat.byID(rel.ID)
	if o == nil {
		return nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", rel.Name)
	}
	return o, nil
}

// checkChunk enforces NOT NULL and VARCHAR(n) on rows about to be stored.
func checkChunk(rel *planner.Relation, c *operators.Chunk) error {
	for i, col := range rel.Schema {
		arr := c.Rec.Column(i)
		if !col.Nullable && arr.NullN() > 0 {
			return sqlerr.Execf(sqlerr.NotNullViolation, "null value in column %q of relation %q violates not-null constraint", col.Name, rel.Name)
		}
		if col.Type.Kind == types.Varchar && col.Type.Width > 0 {
			for r := 0; r < c.Len(); r++ {
				if arr.IsNull(r) {
					continue
				}
				if s := arr.ValueStr(r); utf8.RuneCountInString(s) > int(col.Type.Width) {
					return sqlerr.Execf(sqlerr.StringTooLong, "value too long for type character varying(%d)", col.Type.Width)
				}
			}
		}
	}
	return nil
}

func checkRow(rel *planner.Relation, row []types.Datum) error {
	for i, col := range rel.Schema {
		d := row[i]
		if d.Null {
			if !col.Nullable {
				return sqlerr.Execf(sqlerr.NotNullViolation, "null value in column %q of relation %q violates not-null constraint", col.Name, rel.Name)
			}
			continue
		}
		if col.Type.Kind == types.Varchar && col.Type.Width > 0 && utf8.RuneCountInString(d.S) > int(col.Type.Width) {
			return sqlerr.Execf(sqlerr.StringTooLong, "value too long for type character varying(%d)", col.Type.Width)
		}
	}
	return nil
}

// ingest admits an append-only batch into a table: with a WATERMARK, rows
// older than the watermark are dropped and counted as late, the largest
// event time advances the watermark, and a Watermark message follows the
// rows to every reader. The chunk's record is taken over. The caller holds
// ingestMu (read) and o.dmlMu.
func (o *object) ingest(mem memory.Allocator, c *operators.Chunk) error {
	def := o.rel.Watermark
	if def == nil {
		o.publish(c)
		return nil
	}
	col, ok := c.Rec.Column(def.Col).(*array.Timestamp)
	if !ok {
		c.Rec.Release()
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "watermark column of %q is not a timestamp", o.rel.Name)
	}
	cur := o.wm.current.Load()
	maxSeen := o.wm.maxSeen
	n := c.Len()
	keep := make([]int32, 0, n)
	for i := 0; i < n; i++ {
		if col.IsNull(i) {
			keep = append(keep, int32(i))
			continue
		}
		ts := int64(col.Value(i))
		if ts < cur {
			continue
		}
		keep = append(keep, int32(i))
		maxSeen = max(maxSeen, ts)
	}
	if late := n - len(keep); late > 0 {
		o.wm.late.Add(int64(late))
		if len(keep) == 0 {
			c.Rec.Release()
			return nil
		}
		rec, err := eval.TakeRecord(mem, c.Rec, keep)
		c.Rec.Release()
		if err != nil {
			return err
		}
		c = &operators.Chunk{Rec: rec}
	}
	o.publish(c)
	o.wm.maxSeen = maxSeen
	if maxSeen != math.MinInt64 {
		if next := maxSeen - def.Delay; next > cur {
			o.wm.current.Store(next)
			for _, s := range o.subs {
				s.frag.inbox <- envelope{input: s.input, msg: operators.Watermark{Column: def.Col, Time: next}}
			}
		}
	}
	return nil
}

// publish hands a table's changes to the open epoch and to every view
// reading the table. The caller holds ingestMu (read) and o.dmlMu; the
// chunk's record is taken over.
func (o *object) publish(c *operators.Chunk) {
	operators.SettleNullCounts(c.Rec)
	for _, s := range o.subs {
		c.Rec.Retain()
		s.frag.inbox <- envelope{input: s.input, msg: &operators.Chunk{Rec: c.Rec, Ops: c.Ops}}
	}
	o.pending = append(o.pending, c)
}

func (e *Engine) insert(ctx context.Context, p *planner.InsertPlan, params []types.Datum) (*Result, error) {
	o, err := e.tableObject(p.Table)
	if err != nil {
		return nil, err
	}
	chunks, _, err := e.runBounded(ctx, p.Source, params)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, c := range chunks {
		n += c.Len()
		if err := checkChunk(o.rel, c); err != nil {
			releaseChunks(chunks)
			return nil, err
		}
	}
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	o.dmlMu.Lock()
	defer o.dmlMu.Unlock()
	if !o.rel.Keyed {
		if err := e.logChange(ctx, o, chunks...); err != nil {
			releaseChunks(chunks)
			return nil, err
		}
		for i, c := range chunks {
			if err := o.ingest(e.mem, c); err != nil {
				releaseChunks(chunks[i+1:])
				return nil, err
			}
		}
		return &Result{Tag: fmt.Sprintf("INSERT 0 %d", n)}, nil
	}
	defer releaseChunks(chunks)
	ch := newChangeSet(o)
	for _, row := range chunksToRows(chunks, o.rel.Schema) {
		ch.upsert(row)
	}
	if err := ch.commit(e); err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("INSERT 0 %d", n)}, nil
}

// changeSet builds the changes of one DML statement on a keyed table,
// seeing its own earlier rows.
type changeSet struct {
	o     *object
	local map[string][]types.Datum // key → row after this statement so far (nil: deleted)
	ops   []operators.Op
	rows  [][]types.Datum
	kbuf  []byte
}

func newChangeSet(o *object) *changeSet {
	return &changeSet{o: o, local: map[string][]types.Datum{}}
}

func (c *changeSet) keyOf(row []types.Datum) (string, []types.Datum) {
	c.kbuf = c.kbuf[:0]
	key := make([]types.Datum, len(c.o.rel.Key))
	for i, k := range c.o.rel.Key {
		key[i] = row[k]
		c.kbuf = state.AppendDatum(c.kbuf, row[k], c.o.rel.Schema[k].Type)
	}
	return string(c.kbuf), key
}

// get returns the row with the key as this statement currently sees it.
func (c *changeSet) get(k string, key []types.Datum) ([]types.Datum, bool) {
	if row, ok := c.local[k]; ok {
		return row, row != nil
	}
	return c.o.current.Row(key)
}

func (c *changeSet) upsert(row []types.Datum) {
	k, key := c.keyOf(row)
	old, exists := c.get(k, key)
	if exists {
		if rowsEqual(old, row) {
			return
		}
		c.add(operators.UpdateBefore, old)
		c.add(operators.UpdateAfter, row)
	} else {
		c.add(operators.Insert, row)
	}
	c.local[k] = row
}

func (c *changeSet) remove(row []types.Datum) {
	k, _ := c.keyOf(row)
	c.add(operators.Delete, row)
	c.local[k] = nil
}

func (c *changeSet) add(op operators.Op, row []types.Datum) {
	c.ops = append(c.ops, op)
	c.rows = append(c.rows, row)
}

// commit applies the changes to the table's current state and publishes
// them. The caller holds ingestMu (read) and o.dmlMu.
func (c *changeSet) commit(e *Engine) error {
	if len(c.rows) == 0 {
		return nil
	}
	rec := rowsToRecord(e, c.o.rel.Schema, c.rows)
	chunk := &operators.Chunk{Rec: rec, Ops: c.ops}
	if err := e.logChange(context.Background(), c.o, chunk); err != nil {
		rec.Release()
		return err
	}
	if err := c.o.current.Apply(chunk); err != nil {
		rec.Release()
		return err
	}
	c.o.publish(chunk)
	return nil
}

func rowsEqual(a, b []types.Datum) bool {
	for i := range a {
		if a[i].Null != b[i].Null {
			return false
		}
		if !a[i].Null && types.Compare(a[i], b[i]) != 0 {
			return false
		}
	}
	return true
}

func copyRow(r []types.Datum) []types.Datum { return append([]types.Datum(nil), r...) }

// matching lists the current rows of a keyed table for which where holds.
// When where fixes every key column to a constant, it reads one row by key
// instead of scanning.
func matching(o *object, where expr.Expr) ([][]types.Datum, error) {
	var out [][]types.Datum
	if key, ok := pinnedKey(o.rel, where); ok {
		row, found := o.current.Row(key)
		if !found {
			return nil, nil
		}
		v, err := eval.EvalScalar(where, row)
		if err != nil || !v.Bool() {
			return nil, err
		}
		return [][]types.Datum{row}, nil
	}
	err := o.current.Rows(func(row []types.Datum) error {
		if where != nil {
			v, err := eval.EvalScalar(where, row)
			if err != nil {
				return err
			}
			if !v.Bool() {
				return nil
			}
		}
		out = append(out, copyRow(row))
		return nil
	})
	return out, err
}

func prepareExprs(params []types.Datum, es ...*expr.Expr) error {
	for _, p := range es {
		if *p == nil {
			continue
		}
		v, err := prepareExpr(*p, params)
		if err != nil {
			return err
		}
		*p = v
	}
	return nil
}

func (e *Engine) update(_ context.Context, p *planner.UpdatePlan, params []types.Datum) (*Result, error) {
	o, err := e.tableObject(p.Table)
	if err != nil {
		return nil, err
	}
	where := p.Where
	set := append([]expr.Expr(nil), p.Set...)
	ptrs := []*expr.Expr{&where}
	for i := range set {
		ptrs = append(ptrs, &set[i])
	}
	if err := prepareExprs(params, ptrs...); err != nil {
		return nil, err
	}
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	o.dmlMu.Lock()
	defer o.dmlMu.Unlock()
	olds, err := matching(o, where)
	if err != nil {
		return nil, err
	}
	ch := newChangeSet(o)
	var moved [][2][]types.Datum
	for _, old := range olds {
		row := copyRow(old)
		for i, s := range set {
			if s == nil {
				continue
			}
			v, err := eval.EvalScalar(s, old)
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		if err := checkRow(o.rel, row); err != nil {
			return nil, err
		}
		ko, _ := ch.keyOf(old)
		kn, _ := ch.keyOf(row)
		if ko == kn {
			ch.upsert(row)
		} else {
			moved = append(moved, [2][]types.Datum{old, row})
		}
	}
	// Rows whose key changes: remove all old rows first, then insert the
	// new ones, refusing a key that is still taken.
	for _, m := range moved {
		ch.remove(m[0])
	}
	for _, m := range moved {
		k, key := ch.keyOf(m[1])
		if _, taken := ch.get(k, key); taken {
			return nil, sqlerr.Execf(sqlerr.UniqueViolation, "duplicate key value violates primary key of %q", o.rel.Name)
		}
		ch.upsert(m[1])
	}
	if err := ch.commit(e); err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("UPDATE %d", len(olds))}, nil
}

func (e *Engine) delete(_ context.Context, p *planner.DeletePlan, params []types.Datum) (*Result, error) {
	o, err := e.tableObject(p.Table)
	if err != nil {
		return nil, err
	}
	where := p.Where
	if err := prepareExprs(params, &where); err != nil {
		return nil, err
	}
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	o.dmlMu.Lock()
	defer o.dmlMu.Unlock()
	olds, err := matching(o, where)
	if err != nil {
		return nil, err
	}
	ch := newChangeSet(o)
	for _, old := range olds {
		ch.remove(old)
	}
	if err := ch.commit(e); err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("DELETE %d", len(olds))}, nil
}

// pinnedKey finds `keycol = constant` conjuncts in where for every key
// column of rel and returns the key values, cast to the key types.
func pinnedKey(rel *planner.Relation, where expr.Expr) ([]types.Datum, bool) {
	if where == nil || !rel.Keyed || len(rel.Key) == 0 {
		return nil, false
	}
	var conj []expr.Expr
	var split func(expr.Expr)
	split = func(e expr.Expr) {
		if c, ok := e.(*expr.Call); ok && c.Func == expr.And {
			split(c.Args[0])
			split(c.Args[1])
			return
		}
		conj = append(conj, e)
	}
	split(where)
	key := make([]types.Datum, len(rel.Key))
	for i, k := range rel.Key {
		found := false
		for _, c := range conj {
			call, ok := c.(*expr.Call)
			if !ok || call.Func != expr.Eq {
				continue
			}
			for a := 0; a < 2 && !found; a++ {
				col, ok1 := call.Args[a].(*expr.ColumnRef)
				lit, ok2 := call.Args[1-a].(*expr.Literal)
				if !ok1 || !ok2 || col.Index != k || lit.Value.Null || col.T != rel.Schema[k].Type {
					continue
				}
				key[i], found = lit.Value, true
			}
			if found {
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return key, true
}

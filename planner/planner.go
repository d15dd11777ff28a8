package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Plan is a planned statement: one of the *...Plan types below.
type Plan interface{ isPlan() }

// QueryPlan is a SELECT: a batch plan over snapshots.
type QueryPlan struct {
	Root Node
	// Params are the inferred types of the placeholders, by ordinal - 1
	// (Unknown where nothing constrains one).
	Params []types.T
}

// CreateTablePlan creates a table.
type CreateTablePlan struct {
	Watermark   *WatermarkDef
	Name        string
	Schema      types.Schema
	Key         []int
	AppendOnly  bool
	IfNotExists bool
	Definition  string
}

// CreateViewPlan creates a materialized view over Query.
type CreateViewPlan struct {
	Name        string
	IfNotExists bool
	Query       Node
	// Key identifies the view's rows when Keyed; otherwise rows are a
	// multiset.
	Key        []int
	Keyed      bool
	AppendOnly bool
	// Growth is the view's RowGrowth, nil when it may delete rows.
	Growth     []Growth
	Deps       []*Relation
	Definition string
	// Notices warn about the plan, e.g. state that is never freed.
	Notices []string
}

// CreateSourcePlan creates an external event stream.
type CreateSourcePlan struct {
	Name        string
	Schema      types.Schema
	Watermark   *WatermarkDef
	Options     map[string]string
	IfNotExists bool
	Definition  string
}

// CreateSinkPlan writes a view's (or table's) changes to an external
// system.
type CreateSinkPlan struct {
	Name        string
	From        *Relation
	Options     map[string]string
	IfNotExists bool
	Definition  string
}

// DropPlan drops objects.
type DropPlan struct {
	Kind     parser.ObjectKind
	Names    []string
	IfExists bool
}

// InsertPlan inserts the rows of Source (already cast to the table's
// column types, in the table's column order) into Table.
type InsertPlan struct {
	Table  *Relation
	Source Node
	Params []types.T
}

// UpdatePlan sets columns of the rows of a keyed table matching Where.
// Set holds, per table column, the new value's expression over the old
// row, or nil to keep it.
type UpdatePlan struct {
	Table  *Relation
	Where  expr.Expr // nil: every row
	Set    []expr.Expr
	Params []types.T
}

// DeletePlan deletes the rows of a keyed table matching Where.
type DeletePlan struct {
	Table  *Relation
	Where  expr.Expr
	Params []types.T
}

// ExplainPlan describes the plan of another statement.
type ExplainPlan struct {
	Inner Plan
}

func (*QueryPlan) isPlan()        {}
func (*CreateTablePlan) isPlan()  {}
func (*CreateViewPlan) isPlan()   {}
func (*DropPlan) isPlan()         {}
func (*InsertPlan) isPlan()       {}
func (*UpdatePlan) isPlan()       {}
func (*DeletePlan) isPlan()       {}
func (*ExplainPlan) isPlan()      {}
func (*CreateSourcePlan) isPlan() {}
func (*CreateSinkPlan) isPlan()   {}

// Build plans a statement. Statements the planner has no plan for
// (SHOW, FLUSH, DESCRIBE...) are the executor's to run directly; Build
// returns an error for them.
func Build(cat Catalog, stmt parser.Statement) (Plan, error) {
	b := &binder{cat: cat}
	switch s := stmt.(type) {
	case *parser.Select:
		b.windows = windowMap(s.Windows)
		root, err := b.bindQuery(s.Node)
		if err != nil {
			return nil, err
		}
		root = Optimize(root, batchQuery)
		if err := checkStreaming(root, batchQuery); err != nil {
			return nil, err
		}
		return &QueryPlan{Root: root, Params: b.params}, nil
	case *parser.CreateTable:
		return planCreateTable(s)
	case *parser.CreateMaterializedView:
		return b.planCreateView(s)
	case *parser.CreateSource:
		return planCreateSource(s)
	case *parser.CreateSink:
		rel, ok := cat.Relation(s.From)
		if !ok {
			return nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", s.From)
		}
		if rel.Kind != ViewRelation && rel.Kind != TableRelation {
			return nil, sqlerr.Planf(sqlerr.WrongObjectType, "a sink reads a materialized view or a table, and %q is a %s", rel.Name, rel.Kind)
		}
		return &CreateSinkPlan{Name: NormalizeName(s.Name), From: rel, Options: s.Options, IfNotExists: s.IfNotExists, Definition: s.Text()}, nil
	case *parser.Drop:
		names := make([]string, len(s.Names))
		for i, n := range s.Names {
			names[i] = NormalizeName(n)
		}
		return &DropPlan{Kind: s.Kind, Names: names, IfExists: s.IfExists}, nil
	case *parser.Insert:
		return b.planInsert(s.Node)
	case *parser.Update:
		return b.planUpdate(s.Node)
	case *parser.Delete:
		return b.planDelete(s.Node)
	case *parser.Explain:
		inner, err := Build(cat, s.Stmt)
		if err != nil {
			return nil, err
		}
		return &ExplainPlan{Inner: inner}, nil
	}
	return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "statement %T has no plan", stmt)
}

func planCreateSource(s *parser.CreateSource) (Plan, error) {
	t, err := planCreateTable(&parser.CreateTable{Name: s.Name, IfNotExists: s.IfNotExists, Columns: s.Columns,
		AppendOnly: true, Watermark: s.Watermark})
	if err != nil {
		return nil, err
	}
	tp := t.(*CreateTablePlan)
	return &CreateSourcePlan{Name: tp.Name, Schema: tp.Schema, Watermark: tp.Watermark, Options: s.Options,
		IfNotExists: s.IfNotExists, Definition: s.Text()}, nil
}

func planCreateTable(s *parser.CreateTable) (Plan, error) {
	p := &CreateTablePlan{Name: NormalizeName(s.Name), AppendOnly: s.AppendOnly, IfNotExists: s.IfNotExists, Definition: s.Text()}
	seen := map[string]bool{}
	for _, c := range s.Columns {
		key := strings.ToLower(c.Name)
		if seen[key] {
			return nil, sqlerr.Planf(sqlerr.DuplicateObject, "column %q specified more than once", c.Name)
		}
		seen[key] = true
		if c.Type.Kind == types.Interval || c.Type.Kind == types.Unknown {
			return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "column %q cannot have type %s", c.Name, c.Type)
		}
		p.Schema = append(p.Schema, types.Column{Name: c.Name, Type: c.Type, Nullable: !c.NotNull})
	}
	for _, k := range s.PrimaryKey {
		i := p.Schema.Index(k)
		if i < 0 {
			return nil, sqlerr.Planf(sqlerr.UndefinedColumn, "column %q named in key does not exist", k)
		}
		p.Schema[i].Nullable = false
		p.Key = append(p.Key, i)
	}
	if wm := s.Watermark; wm != nil {
		i := p.Schema.Index(wm.Column)
		if i < 0 {
			return nil, sqlerr.Planf(sqlerr.UndefinedColumn, "watermark column %q does not exist", wm.Column)
		}
		if p.Schema[i].Type.Kind != types.Timestamp {
			return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "watermark column %q must be a TIMESTAMP, not %s", wm.Column, p.Schema[i].Type.Name())
		}
		if !s.AppendOnly {
			return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "a WATERMARK needs an APPEND ONLY table: rows of a keyed table can change after their time has passed")
		}
		if wm.Delay < 0 {
			return nil, sqlerr.Planf(sqlerr.InvalidParameter, "watermark delay must not be negative")
		}
		p.Watermark = &WatermarkDef{Col: i, Delay: wm.Delay}
	}
	if len(p.Key) == 0 && !p.AppendOnly {
		return nil, sqlerr.Planf(sqlerr.InvalidParameter, "table %q needs a PRIMARY KEY, or APPEND ONLY for an event stream", s.Name)
	}
	return p, nil
}

func windowMap(ws []*parser.WindowTVF) map[string]*parser.WindowTVF {
	m := make(map[string]*parser.WindowTVF, len(ws))
	for _, w := range ws {
		m[strings.ToLower(w.Placeholder)] = w
	}
	return m
}

func (b *binder) planCreateView(s *parser.CreateMaterializedView) (Plan, error) {
	b.mode = continuousQuery
	b.windows = windowMap(s.Windows)
	root, err := b.bindQuery(s.Query)
	if err != nil {
		return nil, err
	}
	if len(b.params) > 0 {
		return nil, sqlerr.Planf(sqlerr.SyntaxError, "a materialized view cannot have parameters")
	}
	root = Optimize(root, continuousQuery)
	if err := checkStreaming(root, continuousQuery); err != nil {
		return nil, err
	}
	root, notices, err := markWindows(root, s.EmitOnWindowClose)
	if err != nil {
		return nil, err
	}
	root, _ = bottomUp(symmetricPairs)(root, continuousQuery)
	seen := map[string]bool{}
	for _, c := range root.Schema() {
		k := strings.ToLower(c.Name)
		if seen[k] {
			return nil, sqlerr.Planf(sqlerr.DuplicateObject, "column %q specified more than once in the view; name the columns with AS", c.Name)
		}
		if c.Name == "?column?" {
			return nil, sqlerr.Planf(sqlerr.InvalidParameter, "every column of a materialized view needs a name: add AS name to expressions")
		}
		seen[k] = true
	}
	key, keyed := DeriveKey(root)
	growth, _ := RowGrowth(root)
	return &CreateViewPlan{
		Name: NormalizeName(s.Name), IfNotExists: s.IfNotExists, Query: root,
		Key: key, Keyed: keyed, AppendOnly: IsAppendOnly(root), Growth: growth, Deps: dedupe(b.deps), Definition: s.Text(),
		Notices: notices,
	}, nil
}

func dedupe(rels []*Relation) []*Relation {
	var out []*Relation
	seen := map[uint64]bool{}
	for _, r := range rels {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

// DeriveKey finds the columns that identify the rows a plan emits.
func DeriveKey(n Node) ([]int, bool) {
	switch x := n.(type) {
	case *Scan:
		if !x.Rel.Keyed {
			return nil, false
		}
		return remapCols(x.Rel.Key, x.Cols)
	case *Filter:
		return DeriveKey(x.Input)
	case *Project:
		in, ok := DeriveKey(x.Input)
		if !ok {
			return nil, false
		}
		out := make([]int, len(in))
		for i, k := range in {
			out[i] = -1
			for j, e := range x.Exprs {
				if c, ok := e.(*expr.ColumnRef); ok && c.Index == k {
					out[i] = j
					break
				}
			}
			if out[i] < 0 {
				return nil, false
			}
		}
		return out, true
	case *Aggregate:
		return seq(len(x.GroupBy)), true
	case *TemporalFilter:
		return DeriveKey(x.Input)
	case *Mirror:
		// The mirrored rows are other rows than the input's (A and B
		// never equal), and a key holding both A and B identifies them
		// as it does the input's.
		k, ok := DeriveKey(x.Input)
		if !ok || !slices.Contains(k, x.A) || !slices.Contains(k, x.B) {
			return nil, false
		}
		return k, true
	case *TopN:
		// The rows are a subset of the input's: the input key still
		// identifies them (the rank does not: it moves).
		return DeriveKey(x.Input)
	case *Window:
		k, ok := DeriveKey(x.Input)
		if !ok {
			return nil, false
		}
		return append(append([]int{}, k...), x.StartCol()), true
	case *Join:
		l, ok1 := DeriveKey(x.Left)
		r, ok2 := DeriveKey(x.Right)
		// When the equi-join pins the whole key of the right side, each
		// left row meets at most one right row: the left key identifies
		// the output rows (also for a left join). And symmetrically.
		if ok1 && ok2 && covers(x.RightKeys, r) {
			return l, true
		}
		if x.Kind != InnerJoin || !ok1 || !ok2 {
			return nil, false
		}
		nl := len(x.Left.Schema())
		if covers(x.LeftKeys, l) {
			out := make([]int, len(r))
			for i, k := range r {
				out[i] = k + nl
			}
			return out, true
		}
		out := append([]int{}, l...)
		for _, k := range r {
			out = append(out, k+nl)
		}
		return out, true
	}
	return nil, false
}

// covers reports whether every column of key is among cols. An empty key
// (a relation of at most one row) is covered by anything.
func covers(cols, key []int) bool {
	for _, k := range key {
		found := false
		for _, c := range cols {
			found = found || c == k
		}
		if !found {
			return false
		}
	}
	return true
}

func remapCols(key, cols []int) ([]int, bool) {
	out := make([]int, len(key))
	for i, k := range key {
		out[i] = -1
		for j, c := range cols {
			if c == k {
				out[i] = j
			}
		}
		if out[i] < 0 {
			return nil, false
		}
	}
	return out, true
}

// IsAppendOnly reports whether a continuous plan only ever inserts rows.
func IsAppendOnly(n Node) bool {
	switch x := n.(type) {
	case *Scan:
		return x.Rel.AppendOnly || x.Rel.Kind == SourceRelation
	case *Filter, *Project, *Mirror:
		return IsAppendOnly(n.Children()[0])
	case *Join:
		return x.Kind == InnerJoin && IsAppendOnly(x.Left) && IsAppendOnly(x.Right)
	case *Values:
		return true
	case *Aggregate:
		return x.EmitOnClose
	case *Window:
		return IsAppendOnly(x.Input) && (x.Kind != parser.Session || x.EmitOnClose)
	}
	return false
}

func (b *binder) table(tn *ast.TableName, verb string) (*Relation, error) {
	rel, ok := b.cat.Relation(tn.Name.O)
	if !ok {
		return nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", tn.Name.O)
	}
	if rel.Kind != TableRelation {
		return nil, sqlerr.Planf(sqlerr.WrongObjectType, "cannot %s %s %q: it is not a table", verb, rel.Kind, rel.Name)
	}
	return rel, nil
}

func singleTable(refs *ast.TableRefsClause) (*ast.TableName, string, error) {
	if refs == nil || refs.TableRefs == nil || refs.TableRefs.Right != nil {
		return nil, "", sqlerr.Planf(sqlerr.FeatureNotSupported, "statements over several tables are not supported")
	}
	ts, ok := refs.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return nil, "", sqlerr.Planf(sqlerr.FeatureNotSupported, "unsupported table reference")
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil, "", sqlerr.Planf(sqlerr.FeatureNotSupported, "unsupported table reference")
	}
	alias := tn.Name.L
	if ts.AsName.L != "" {
		alias = ts.AsName.L
	}
	return tn, alias, nil
}

func (b *binder) planInsert(s *ast.InsertStmt) (Plan, error) {
	if s.IsReplace || len(s.OnDuplicate) > 0 || s.Setlist {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "REPLACE, INSERT ... SET and ON DUPLICATE KEY are not supported: INSERT into a keyed table already replaces the row with the same key")
	}
	tn, _, err := singleTable(s.Table)
	if err != nil {
		return nil, err
	}
	rel, err := b.table(tn, "INSERT into")
	if err != nil {
		return nil, err
	}
	// Target columns.
	target := seq(len(rel.Schema))
	if len(s.Columns) > 0 {
		target = target[:0]
		seen := map[int]bool{}
		for _, c := range s.Columns {
			i := rel.Schema.Index(c.Name.O)
			if i < 0 {
				return nil, sqlerr.Planf(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", c.Name.O, rel.Name)
			}
			if seen[i] {
				return nil, sqlerr.Planf(sqlerr.DuplicateObject, "column %q specified more than once", c.Name.O)
			}
			seen[i] = true
			target = append(target, i)
		}
	}
	var src Node
	if s.Select != nil {
		if src, err = b.bindInsertSource(s.Select); err != nil {
			return nil, err
		}
	} else {
		eb := b.exprBinder(&scope{}, "VALUES")
		rows := make([][]expr.Expr, len(s.Lists))
		for r, list := range s.Lists {
			if len(list) != len(target) {
				return nil, sqlerr.Planf(sqlerr.SyntaxError, "INSERT has %d target columns but row %d has %d values", len(target), r+1, len(list))
			}
			rows[r] = make([]expr.Expr, len(list))
			for i, n := range list {
				e, err := eb.bind(n)
				if err != nil {
					return nil, err
				}
				rows[r][i] = eb.typeParam(e, rel.Schema[target[i]].Type)
			}
		}
		out := make(types.Schema, len(target))
		for i, t := range target {
			out[i] = rel.Schema[t]
		}
		for i := range out {
			// Values of mixed types in one column are cast per row below.
			out[i].Type = storeType(rel.Schema[target[i]].Type)
		}
		for r := range rows {
			for i, e := range rows[r] {
				if !assignable(e.Type(), out[i].Type) {
					return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "column %q is of type %s but expression is of type %s", out[i].Name, out[i].Type.Name(), e.Type().Name())
				}
				rows[r][i] = castTo(e, out[i].Type)
			}
		}
		src = &Values{Rows: rows, Out: out}
	}
	in := src.Schema()
	if len(in) != len(target) {
		return nil, sqlerr.Planf(sqlerr.SyntaxError, "INSERT has %d target columns but the query gives %d", len(target), len(in))
	}
	// Reorder into the table's column order, filling NULL for the rest.
	exprs := make([]expr.Expr, len(rel.Schema))
	names := make([]string, len(rel.Schema))
	for i, c := range rel.Schema {
		names[i] = c.Name
		exprs[i] = &expr.Literal{Value: types.NewNull(c.Type), T: c.Type}
	}
	for j, t := range target {
		col := rel.Schema[t]
		if !assignable(in[j].Type, col.Type) {
			return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "column %q is of type %s but expression is of type %s", col.Name, col.Type.Name(), in[j].Type.Name())
		}
		exprs[t] = castTo(&expr.ColumnRef{Index: j, Name: in[j].Name, T: in[j].Type}, storeType(col.Type))
	}
	var root Node = &Project{Input: src, Exprs: exprs, Names: names}
	if isIdentity(exprs, in) && typesEqual(in, storeSchema(rel.Schema)) {
		root = src
	}
	return &InsertPlan{Table: rel, Source: Optimize(root, batchQuery), Params: b.params}, nil
}

// storeType is the type a value is converted to before it is stored in a
// column of type t: VARCHAR(n) values keep their full length, so that the
// store can refuse a value that is too long instead of truncating it.
func storeType(t types.T) types.T {
	if t.Kind == types.Varchar {
		t.Width = 0
	}
	return t
}

func storeSchema(s types.Schema) types.Schema {
	out := make(types.Schema, len(s))
	for i, c := range s {
		out[i] = c
		out[i].Type = storeType(c.Type)
	}
	return out
}

func typesEqual(a, b types.Schema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type {
			return false
		}
	}
	return true
}

func (b *binder) bindInsertSource(n ast.ResultSetNode) (Node, error) {
	return b.bindQuery(n)
}

func (b *binder) planUpdate(s *ast.UpdateStmt) (Plan, error) {
	if s.MultipleTable || s.Order != nil || s.Limit != nil {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "UPDATE with several tables, ORDER BY or LIMIT is not supported")
	}
	tn, alias, err := singleTable(s.TableRefs)
	if err != nil {
		return nil, err
	}
	rel, err := b.table(tn, "UPDATE")
	if err != nil {
		return nil, err
	}
	if rel.AppendOnly {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "cannot UPDATE append-only table %q", rel.Name)
	}
	sc := scopeFor(alias, rel.Schema)
	eb := b.exprBinder(sc, "UPDATE")
	p := &UpdatePlan{Table: rel, Set: make([]expr.Expr, len(rel.Schema))}
	for _, a := range s.List {
		i := rel.Schema.Index(a.Column.Name.O)
		if i < 0 {
			return nil, sqlerr.Planf(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", a.Column.Name.O, rel.Name)
		}
		e, err := eb.bind(a.Expr)
		if err != nil {
			return nil, err
		}
		e = eb.typeParam(e, rel.Schema[i].Type)
		if !assignable(e.Type(), rel.Schema[i].Type) {
			return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "column %q is of type %s but expression is of type %s", rel.Schema[i].Name, rel.Schema[i].Type.Name(), e.Type().Name())
		}
		p.Set[i] = castTo(e, storeType(rel.Schema[i].Type))
	}
	if s.Where != nil {
		if p.Where, err = eb.boolArg(s.Where, "WHERE"); err != nil {
			return nil, err
		}
	}
	p.Params = b.params
	return p, nil
}

func (b *binder) planDelete(s *ast.DeleteStmt) (Plan, error) {
	if s.IsMultiTable || s.Order != nil || s.Limit != nil {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "DELETE with several tables, ORDER BY or LIMIT is not supported")
	}
	tn, alias, err := singleTable(s.TableRefs)
	if err != nil {
		return nil, err
	}
	rel, err := b.table(tn, "DELETE from")
	if err != nil {
		return nil, err
	}
	if rel.AppendOnly {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "cannot DELETE from append-only table %q", rel.Name)
	}
	p := &DeletePlan{Table: rel}
	if s.Where != nil {
		eb := b.exprBinder(scopeFor(alias, rel.Schema), "WHERE")
		if p.Where, err = eb.boolArg(s.Where, "WHERE"); err != nil {
			return nil, err
		}
	}
	p.Params = b.params
	return p, nil
}

// Explain renders a plan for EXPLAIN, one line per row.
func Explain(p Plan) []string {
	var s string
	switch x := p.(type) {
	case *QueryPlan:
		s = ExplainTree(x.Root)
	case *CreateViewPlan:
		key := "none (rows are a multiset)"
		if x.Keyed {
			key = "[" + colNames(x.Query.Schema(), x.Key) + "]"
		}
		s = fmt.Sprintf("Materialize %s key=%s\n%s", x.Name, key, indent(ExplainTree(x.Query)))
	case *InsertPlan:
		s = fmt.Sprintf("Insert %s\n%s", x.Table.Name, indent(ExplainTree(x.Source)))
	case *UpdatePlan:
		s = "Update " + x.Table.Name + dmlSource(x.Table, x.Where)
	case *DeletePlan:
		s = "Delete " + x.Table.Name + dmlSource(x.Table, x.Where)
	case *CreateTablePlan:
		s = fmt.Sprintf("CreateTable %s", x.Name)
	case *DropPlan:
		s = fmt.Sprintf("Drop %s %s", x.Kind, strings.Join(x.Names, ", "))
	default:
		s = fmt.Sprintf("%T", p)
	}
	return strings.Split(s, "\n")
}

// dmlSource describes the rows an UPDATE or DELETE reads.
func dmlSource(rel *Relation, where expr.Expr) string {
	scan := "Scan " + rel.Name
	if where == nil {
		return "\n  " + scan
	}
	return "\n  Filter " + where.String() + "\n    " + scan
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

package operators

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators/eval"
)

// Project computes a list of expressions over every chunk; ops pass
// through. An output that is a plain column reference reuses the input
// array without a copy. A Watermark is forwarded with its column remapped
// to the first output that is a plain reference to the watermark column,
// and dropped when no output is. Barriers pass through.
type Project struct {
	mem    memory.Allocator
	schema *arrow.Schema
	evals  []*eval.Evaluator
	// srcCol[i] is the input column output i copies, or -1.
	srcCol []int
	out    Output
}

// NewProject returns a Project computing exprs, named names, over its
// input. The output schema comes from names and the expressions' types.
func NewProject(mem memory.Allocator, exprs []expr.Expr, names []string, out Output) (*Project, error) {
	if len(exprs) != len(names) {
		return nil, fmt.Errorf("project: %d expressions but %d names", len(exprs), len(names))
	}
	p := &Project{mem: mem, out: out}
	fields := make([]arrow.Field, len(exprs))
	for i, e := range exprs {
		ev, err := eval.Compile(e)
		if err != nil {
			return nil, fmt.Errorf("project column %q: %w", names[i], err)
		}
		p.evals = append(p.evals, ev)
		src := -1
		if c, ok := e.(*expr.ColumnRef); ok {
			src = c.Index
		}
		p.srcCol = append(p.srcCol, src)
		fields[i] = arrow.Field{Name: names[i], Type: e.Type().Arrow(), Nullable: true}
	}
	p.schema = arrow.NewSchema(fields, nil)
	return p, nil
}

// Schema implements Operator.
func (p *Project) Schema() *arrow.Schema { return p.schema }

// Close implements Operator. A Project holds nothing between batches.
func (p *Project) Close() error { return nil }

// Push implements Output.
func (p *Project) Push(msg Message) error {
	switch m := msg.(type) {
	case *Chunk:
		return p.pushChunk(m)
	case Watermark:
		for i, src := range p.srcCol {
			if src == m.Column {
				return p.out.Push(Watermark{Column: i, Time: m.Time})
			}
		}
		return nil
	}
	return p.out.Push(msg)
}

func (p *Project) pushChunk(c *Chunk) error {
	cols := make([]arrow.Array, len(p.evals))
	defer func() {
		for _, a := range cols {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i, ev := range p.evals {
		a, err := ev.Eval(p.mem, c.Rec)
		if err != nil {
			return fmt.Errorf("project %s: %w", p.schema.Field(i).Name, err)
		}
		cols[i] = a
		if want := p.schema.Field(i).Type; !arrow.TypeEqual(a.DataType(), want) {
			return fmt.Errorf("project %s: input has Arrow type %s, want %s", p.schema.Field(i).Name, a.DataType(), want)
		}
	}
	rec := array.NewRecordBatch(p.schema, cols, c.Rec.NumRows())
	defer rec.Release()
	return p.out.Push(&Chunk{Rec: rec, Ops: c.Ops, Slots: c.Slots})
}

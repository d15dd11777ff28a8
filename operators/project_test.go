package operators

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

func TestProject(t *testing.T) {
	for _, size := range []int{1, 3, 1024} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rows, ops := fpRows(100)
			// SELECT ts AS t, k * 2 + 1 AS k2, UPPER(s) AS u, k AS k
			exprs := []expr.Expr{
				colRef(3),
				&expr.Call{Func: expr.Add, T: types.BigIntType, Args: []expr.Expr{
					&expr.Call{Func: expr.Mul, T: types.BigIntType, Args: []expr.Expr{colRef(0), &expr.Literal{Value: types.NewBigInt(2), T: types.BigIntType}}},
					&expr.Literal{Value: types.NewBigInt(1), T: types.BigIntType}}},
				&expr.Call{Func: expr.Upper, T: types.TextType, Args: []expr.Expr{colRef(2)}},
				colRef(0),
			}
			outSchema := types.Schema{{Name: "t", Type: types.TimestampType(6)}, {Name: "k2", Type: types.BigIntType}, {Name: "u", Type: types.TextType}, {Name: "k", Type: types.BigIntType}}
			col := &collector{t: t, schema: outSchema}
			p, err := NewProject(mem, exprs, []string{"t", "k2", "u", "k"}, col)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if !p.Schema().Equal(outSchema.Arrow()) {
				t.Fatalf("schema %s", p.Schema())
			}
			for _, ch := range chunksOf(mem, fpSchema, rows, ops, size) {
				before := len(col.records)
				if err := p.Push(ch); err != nil {
					t.Fatal(err)
				}
				if len(col.records) != before+1 {
					t.Fatal("no chunk emitted")
				}
				ch.Rec.Release()
			}
			for _, m := range []Message{Watermark{Column: 3, Time: 7}, Watermark{Column: 1, Time: 8}, Barrier{Epoch: 2}} {
				if err := p.Push(m); err != nil {
					t.Fatal(err)
				}
			}
			var want [][]types.Datum
			for _, r := range rows {
				k2 := types.NewNull(types.BigIntType)
				if !r[0].Null {
					k2 = types.NewBigInt(r[0].I*2 + 1)
				}
				u := types.NewText("S" + r[2].S[1:])
				want = append(want, []types.Datum{r[3], k2, u, r[0]})
			}
			if !reflect.DeepEqual(col.rows, want) {
				t.Fatalf("rows differ:\n got %v\nwant %v", col.rows[:3], want[:3])
			}
			if !reflect.DeepEqual(col.ops, ops) {
				t.Fatal("ops were not passed through")
			}
			// ts (input 3) is output 0; the watermark on v (input 1) is dropped.
			if !reflect.DeepEqual(col.msgs, []Message{Watermark{Column: 0, Time: 7}, Barrier{Epoch: 2}}) {
				t.Fatalf("messages %v", col.msgs)
			}
		})
	}
}

func TestProjectReusesColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows, _ := fpRows(10)
	ch := chunksOf(mem, fpSchema, rows, nil, 10)[0]
	defer ch.Rec.Release()
	var same bool
	p, err := NewProject(mem, []expr.Expr{colRef(2), colRef(0)}, []string{"s", "k"}, OutputFunc(func(m Message) error {
		c := m.(*Chunk)
		same = c.Rec.Column(0) == ch.Rec.Column(2) && c.Rec.Column(1) == ch.Rec.Column(0) && c.Ops == nil
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Push(ch); err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Fatal("ColumnRef outputs were copied")
	}
	if _, err := NewProject(mem, []expr.Expr{colRef(0)}, nil, OutputFunc(func(Message) error { return nil })); err == nil {
		t.Fatal("mismatched names accepted")
	}
	if _, err := NewProject(mem, []expr.Expr{&expr.Param{Ordinal: 1, T: types.BigIntType}}, []string{"p"}, OutputFunc(func(Message) error { return nil })); err == nil {
		t.Fatal("unbound parameter accepted")
	}
}

package executor

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/slt"
	"github.com/sluicedb/sluice/sqlerr"
)

// sltExec runs slt records against an in-process engine.
type sltExec struct{ e *Engine }

func (s sltExec) Exec(sql string) error {
	_, err := s.e.Execute(context.Background(), sql)
	return err
}

func (s sltExec) Query(sql string) ([][]string, error) {
	res, err := s.e.Execute(context.Background(), sql)
	if err != nil {
		return nil, err
	}
	if len(res) != 1 || !res[0].HasRows() {
		return nil, fmt.Errorf("query did not return one row set")
	}
	out := make([][]string, len(res[0].Rows))
	for i, row := range res[0].Rows {
		out[i] = make([]string, len(row))
		for j, d := range row {
			out[i][j] = d.String()
			if !d.Null && d.String() == "" {
				out[i][j] = ""
			}
		}
	}
	return out, nil
}

func errText(err error) string {
	if e, ok := sqlerr.As(err); ok {
		return e.Code + ": " + err.Error()
	}
	return "XX000: " + err.Error()
}

// TestSLT runs every testdata/*.slt file in a fresh engine whose epochs
// end only on FLUSH, so streaming results are deterministic.
func TestSLT(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.slt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .slt files found under testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			recs, err := slt.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			e, err := Open(Options{BarrierInterval: -1, Allocator: mem})
			if err != nil {
				t.Fatal(err)
			}
			runErr := slt.Run(f, recs, sltExec{e}, errText)
			e.Close()
			if runErr != nil {
				t.Fatal(runErr)
			}
		})
	}
}

package executor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/slt"
)

// TEMPORARY (planner engineer): runs each record separately, reporting all failures.
func TestSLTAll(t *testing.T) {
	pat := os.Getenv("SLTALL")
	if pat == "" {
		t.Skip()
	}
	files, _ := filepath.Glob("../testdata/" + pat)
	for _, f := range files {
		recs, err := slt.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		e, err := Open(Options{BarrierInterval: -1, Allocator: mem})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := slt.Run(f, []slt.Record{r}, sltExec{e}, errText); err != nil {
				t.Error(err)
			}
		}
		e.Close()
	}
}

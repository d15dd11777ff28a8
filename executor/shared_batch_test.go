package executor

import (
	"fmt"
	"strings"
	"testing"
)

// TestSharedBatchNulls feeds batches with NULLs, some of whose rows are
// late (so the table filters them out of the batch before publishing),
// to several views at once: every view reads the same Arrow record from
// its own goroutine, which must not write to it (run with -race; an
// array's lazily computed null count is such a write).
func TestSharedBatchNulls(t *testing.T) {
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL 1 SECOND) APPEND ONLY")
	for i := 0; i < 4; i++ {
		mustExec(t, e, fmt.Sprintf("CREATE MATERIALIZED VIEW v%d AS SELECT k, COUNT(v) AS n, COUNT(*) AS c FROM ev GROUP BY k", i))
		// A join reads the null count of its key column.
		mustExec(t, e, fmt.Sprintf("CREATE MATERIALIZED VIEW j%d AS SELECT a.k, COUNT(*) AS n FROM ev a JOIN ev b ON a.v = b.v + %d AND b.ts BETWEEN a.ts - INTERVAL 1 SECOND AND a.ts + INTERVAL 1 SECOND GROUP BY a.k", i, i))
	}
	for b := 0; b < 20; b++ {
		var rows []string
		for i := 0; i < 50; i++ {
			v := "NULL"
			if i%3 != 0 {
				v = fmt.Sprint(i)
			}
			sec := 10*b + i%10
			if i%7 == 0 {
				sec = 0 // late after the first batch
			}
			rows = append(rows, fmt.Sprintf("(%d, %s, TIMESTAMP '2026-11-26 00:00:00' + INTERVAL %d SECOND)", i%5, v, sec))
		}
		mustExec(t, e, "INSERT INTO ev VALUES "+strings.Join(rows, ", "))
	}
	mustExec(t, e, "FLUSH")
	want := queryRows(t, e, "SELECT k, COUNT(v), COUNT(*) FROM ev GROUP BY k ORDER BY k")
	for i := 0; i < 4; i++ {
		got := queryRows(t, e, fmt.Sprintf("SELECT k, n, c FROM v%d ORDER BY k", i))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("v%d: %v, want %v", i, got, want)
		}
		wantJ := queryRows(t, e, fmt.Sprintf("SELECT a.k, COUNT(*) FROM ev a JOIN ev b ON a.v = b.v + %d AND b.ts BETWEEN a.ts - INTERVAL 1 SECOND AND a.ts + INTERVAL 1 SECOND GROUP BY a.k ORDER BY a.k", i))
		if got := queryRows(t, e, fmt.Sprintf("SELECT k, n FROM j%d ORDER BY k", i)); fmt.Sprint(got) != fmt.Sprint(wantJ) {
			t.Errorf("j%d: %v, want %v", i, got, wantJ)
		}
	}
}

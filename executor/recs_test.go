package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/internal/slt"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// runSQLFile executes every statement of a .sql file.
func runSQLFile(t *testing.T, e *Engine, path string) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parser.Split(string(text)) {
		if p.Empty {
			continue
		}
		if _, err := e.Execute(context.Background(), p.Text); err != nil {
			t.Fatalf("%s:%d: %v", path, p.Line, err)
		}
	}
}

// TestRecommendationFiles loads every view of testdata/recs, replays the
// fixed event log and checks each view's expected rows, then runs the
// personalised query with a parameter.
func TestRecommendationFiles(t *testing.T) {
	e := openManual(t)
	defer e.Close()
	files, _ := filepath.Glob("../testdata/recs/*.sql")
	n := 0
	for _, f := range files {
		base := filepath.Base(f)
		if base == "events.sql" || strings.HasSuffix(base, "_query.sql") {
			continue
		}
		runSQLFile(t, e, f)
		n++
	}
	if n < 6 {
		t.Fatalf("only %d view files", n)
	}
	runSQLFile(t, e, "../testdata/recs/events.sql")
	recs, err := slt.ParseFile("../testdata/recs/expected.slt")
	if err != nil {
		t.Fatal(err)
	}
	if err := slt.Run("expected.slt", recs, sltExec{e}, errText); err != nil {
		t.Fatal(err)
	}

	// d. User 2 has seen 101, 102 and 105. Candidates: 103, similar to
	// 101 (0.7071) and 102 (0.8165): 1.5236; 104, similar to 101 (0.3536)
	// and 105 (0.5): 0.8536.
	q, err := os.ReadFile("../testdata/recs/d_personalised_query.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := parser.ParseOne(string(q))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Prepare(stmt)
	if err != nil {
		t.Fatal(err)
	}
	for user, want := range map[int64]string{2: "103 1.5236; 104 0.8536", 3: "104 0.3536; 105 0.3536", 9: ""} {
		res, err := e.ExecutePrepared(context.Background(), p, []types.Datum{types.NewBigInt(user)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Rows {
			got = append(got, r[0].String()+" "+r[1].String())
		}
		if strings.Join(got, "; ") != want {
			t.Errorf("recommendations for user %d: %q, want %q", user, strings.Join(got, "; "), want)
		}
	}
}

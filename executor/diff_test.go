package executor

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/types"
)

// The differential test: random inserts, updates and deletes on keyed
// tables under views with GROUP BY, every aggregate, a filter, a join and
// a view on a view. After every FLUSH each view must equal a batch SELECT
// of its query over the tables at the same epoch.

const viewAggs = `g, COUNT(*) AS c, COUNT(v) AS cv, COUNT(DISTINCT v) AS cdv, SUM(v) AS sv,
	AVG(v) AS av, MIN(v) AS mn, MAX(v) AS mx, MIN(s) AS smin, MAX(s) AS smax,
	SUM(d) AS sd, AVG(d) AS ad, SUM(m) AS sm, MIN(ts) AS tmin, MAX(ts) AS tmax, MAX(b) AS bmax`

const viewWhere = `v IS NULL OR v % 3 <> 0 OR s LIKE 'a%'`

var diffViews = []struct{ name, query string }{
	{"agg", "SELECT " + viewAggs + " FROM t WHERE " + viewWhere + " GROUP BY g"},
	{"global", "SELECT COUNT(*) AS c, SUM(v) AS sv, MIN(v) AS mn, MAX(s) AS mx, COUNT(DISTINCT g) AS gs FROM t"},
	{"proj", "SELECT k, g, v * 2 + 1 AS v2, UPPER(s) AS su FROM t WHERE g <> 3"},
	{"joined", "SELECT t.g, COUNT(*) AS c, SUM(u.w) AS sw, MAX(t.v) AS mv FROM t JOIN u ON t.g = u.g WHERE u.w > 0 GROUP BY t.g"},
	{"onview", "SELECT c, COUNT(*) AS ngroups, SUM(cv) AS total FROM agg GROUP BY c"},
}

// batchQuery is a view's query rewritten to read the tables only.
func batchQuery(name, query string) string {
	if name == "onview" {
		return "SELECT c, COUNT(*) AS ngroups, SUM(cv) AS total FROM (SELECT " + viewAggs + " FROM t WHERE " + viewWhere + " GROUP BY g) x GROUP BY c"
	}
	return query
}

func TestDifferentialViews(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("SLUICE_DIFF_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	ops := 10000
	if testing.Short() {
		ops = 2000
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	e := openManual(t)
	defer e.Close()
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := e.Execute(ctx, sql); err != nil {
			t.Fatalf("seed %d: %s: %v", seed, sql, err)
		}
	}
	exec(`CREATE TABLE t (k BIGINT PRIMARY KEY, g INT, v BIGINT, d DOUBLE, s VARCHAR(8), m DECIMAL(10,2), ts TIMESTAMP(3), b BOOLEAN)`)
	exec(`CREATE TABLE u (g INT PRIMARY KEY, w BIGINT)`)
	// Some rows exist before the views: they must be backfilled.
	exec(`INSERT INTO t VALUES (1, 1, 5, 0.5, 'abc', 1.25, '2026-01-01 00:00:00', true), (2, 2, NULL, NULL, NULL, NULL, NULL, NULL)`)
	exec(`INSERT INTO u VALUES (1, 10), (2, -1)`)
	for _, v := range diffViews {
		exec("CREATE MATERIALIZED VIEW " + v.name + " AS " + v.query)
	}
	maybeNull := func(s string) string {
		if rng.IntN(8) == 0 {
			return "NULL"
		}
		return s
	}
	row := func(k int) string {
		return fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s, %s)", k,
			maybeNull(strconv.Itoa(rng.IntN(6))),
			maybeNull(strconv.Itoa(rng.IntN(40)-10)),
			maybeNull(strconv.FormatFloat(float64(rng.IntN(1000))/8, 'f', -1, 64)),
			maybeNull("'"+[]string{"a", "ab", "b", "ba", "c", "abc", ""}[rng.IntN(7)]+"'"),
			maybeNull(fmt.Sprintf("%d.%02d", rng.IntN(100)-50, rng.IntN(100))),
			maybeNull(fmt.Sprintf("'2026-01-%02d 10:%02d:00.%03d'", 1+rng.IntN(28), rng.IntN(60), rng.IntN(1000))),
			maybeNull([]string{"true", "false"}[rng.IntN(2)]))
	}
	const keys = 300
	flushes := 0
	for i := 0; i < ops; i++ {
		k := rng.IntN(keys)
		switch r := rng.IntN(100); {
		case r < 45:
			n := 1 + rng.IntN(4)
			vals := make([]string, n)
			for j := range vals {
				vals[j] = row(rng.IntN(keys))
			}
			exec("INSERT INTO t VALUES " + strings.Join(vals, ", "))
		case r < 65:
			exec(fmt.Sprintf("UPDATE t SET v = %s, s = %s WHERE k = %d", maybeNull(strconv.Itoa(rng.IntN(40))), maybeNull("'b'"), k))
		case r < 70:
			exec(fmt.Sprintf("UPDATE t SET g = g + 1 WHERE v > %d AND g < 5", rng.IntN(40)))
		case r < 88:
			exec(fmt.Sprintf("DELETE FROM t WHERE k = %d", k))
		case r < 90:
			exec(fmt.Sprintf("DELETE FROM t WHERE v < %d", rng.IntN(5)-8))
		case r < 95:
			exec(fmt.Sprintf("INSERT INTO u VALUES (%d, %d)", rng.IntN(7), rng.IntN(10)-3))
		default:
			exec(fmt.Sprintf("DELETE FROM u WHERE g = %d", rng.IntN(7)))
		}
		if rng.IntN(60) == 0 || i == ops-1 {
			exec("FLUSH")
			flushes++
			for _, v := range diffViews {
				got := queryRows(t, e, "SELECT * FROM "+v.name)
				want := queryRows(t, e, batchQuery(v.name, v.query))
				if err := sameRows(got, want); err != nil {
					t.Fatalf("seed %d, op %d: view %s differs from its batch query: %v", seed, i, v.name, err)
				}
			}
		}
	}
	if flushes < 50 {
		t.Fatalf("only %d flushes: the test checked too little", flushes)
	}
	// The views are not trivially empty.
	if n := len(queryRows(t, e, "SELECT * FROM agg")); n == 0 {
		t.Fatal("view agg is empty at the end")
	}
}

func queryRows(t *testing.T, e *Engine, sql string) [][]types.Datum {
	t.Helper()
	res, err := e.Execute(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res[0].Rows
}

// sameRows compares row multisets; DOUBLE values may differ in the last
// bits (sums maintained under retraction are not reassociated exactly).
func sameRows(got, want [][]types.Datum) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d rows, want %d\ngot:  %v\nwant: %v", len(got), len(want), render(got), render(want))
	}
	g, w := render(got), render(want)
	sortRows(got, g)
	sortRows(want, w)
	for i := range got {
		for j := range got[i] {
			a, b := got[i][j], want[i][j]
			if a.Null != b.Null {
				return fmt.Errorf("row %d col %d: %v, want %v", i, j, a, b)
			}
			if a.Null {
				continue
			}
			if a.Kind == types.Double {
				if math.Abs(a.F-b.F) > 1e-9*math.Max(1, math.Abs(b.F)) {
					return fmt.Errorf("row %d col %d: %v, want %v", i, j, a, b)
				}
				continue
			}
			if types.Compare(a, b) != 0 {
				return fmt.Errorf("row %d col %d: %v, want %v\ngot:  %v\nwant: %v", i, j, a, b, render(got), render(want))
			}
		}
	}
	return nil
}

// render prints rows with doubles rounded, for sorting and messages.
func render(rows [][]types.Datum) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, d := range r {
			if d.Kind == types.Double && !d.Null {
				parts[j] = strconv.FormatFloat(d.F, 'f', 6, 64)
			} else {
				parts[j] = d.String()
			}
		}
		out[i] = strings.Join(parts, "|")
	}
	return out
}

func sortRows(rows [][]types.Datum, keys []string) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	cp := make([][]types.Datum, len(rows))
	for i, j := range idx {
		cp[i] = rows[j]
	}
	copy(rows, cp)
}

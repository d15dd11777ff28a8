package pgcatalog

import (
	"bufio"
	"context"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/sqlerr"
)

// mapSettings is a Settings for tests.
type mapSettings struct{ m map[string][2]string }

func newMapSettings() *mapSettings {
	s := &mapSettings{m: map[string][2]string{}}
	for _, kv := range Defaults() {
		_ = s.Set(kv[0], kv[1])
	}
	return s
}

func (s *mapSettings) Get(name string) (string, bool) {
	v, ok := s.m[strings.ToLower(name)]
	return v[1], ok
}

func (s *mapSettings) Set(name, value string) error {
	s.m[strings.ToLower(name)] = [2]string{name, value}
	return nil
}

func (s *mapSettings) All() [][2]string {
	var out [][2]string
	for _, v := range s.m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// testSchema is the catalog the tests look at: a keyed table, an
// append-only table, a keyed materialized view and an unkeyed one.
const testSchema = `
CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT, amount DECIMAL(10,2), ts TIMESTAMP(3), note VARCHAR(20), flag BOOLEAN, score DOUBLE, cnt INT, d DATE, body TEXT);
CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY;
CREATE MATERIALIZED VIEW totals AS SELECT user_id, SUM(amount) AS total, COUNT(*) AS n FROM events GROUP BY user_id;
CREATE MATERIALIZED VIEW big_clicks AS SELECT user_id, item_id FROM clicks WHERE item_id > 100;
`

func testEngine(t testing.TB) *executor.Engine {
	t.Helper()
	eng, err := executor.Open(executor.Options{BarrierInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if _, err := eng.Execute(context.Background(), testSchema); err != nil {
		t.Fatal(err)
	}
	return eng
}

// oidOf returns the OID the catalog gives a relation.
func oidOf(t testing.TB, eng *executor.Engine, name string) string {
	t.Helper()
	r, err := eng.Table(name)
	if err != nil {
		t.Fatal(err)
	}
	return itoa(firstUserOID + int64(r.ID))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// refQuery is one query of the captured reference.
type refQuery struct {
	section string
	sql     string
}

var reSection = regexp.MustCompile(`^-- ===== (.*?)  \[`)

// loadPsqlQueries reads testdata/psql15-queries.sql: sections headed
// "-- ===== name [...]", queries ended by a line ";" or a line ending in ";".
func loadPsqlQueries(t testing.TB) []refQuery {
	t.Helper()
	f, err := os.Open("testdata/psql15-queries.sql")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []refQuery
	section := ""
	var cur []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := reSection.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		if strings.HasPrefix(line, "--") || (len(cur) == 0 && strings.TrimSpace(line) == "") {
			continue
		}
		cur = append(cur, line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, refQuery{section, strings.Join(cur, "\n")})
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// loadJdbcQueries reads testdata/pgjdbc-queries.txt.
func loadJdbcQueries(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/pgjdbc-queries.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, part := range strings.Split(string(b), "\n-----\n") {
		var lines []string
		for _, l := range strings.Split(part, "\n") {
			if !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if q := strings.TrimSpace(strings.Join(lines, "\n")); q != "" {
			out = append(out, q)
		}
	}
	return out
}

// rewriteRef points a reference query at the test catalog: the captured
// OIDs and names become those of our objects.
func rewriteRef(t testing.TB, eng *executor.Engine, sql string) string {
	r := strings.NewReplacer(
		"'16384'", "'"+oidOf(t, eng, "events")+"'",
		"'16396'", "'"+oidOf(t, eng, "totals")+"'",
		"'16392'", "'"+oidOf(t, eng, "big_clicks")+"'",
		"^(big_events)$", "^(big_clicks)$",
	)
	return r.Replace(sql)
}

// answer runs Answer and fails the test on an error or when unhandled.
func answer(t testing.TB, eng *executor.Engine, s Settings, sql string) *executor.Result {
	t.Helper()
	res, ok, err := Answer(context.Background(), eng, s, sql)
	if err != nil {
		t.Fatalf("Answer(%q): %v", sql, err)
	}
	if !ok {
		t.Fatalf("Answer(%q): not handled", sql)
	}
	return res
}

// table renders a result as lines "col|col" (header first), NULL as ∅.
func table(res *executor.Result) []string {
	var h []string
	for _, c := range res.Columns {
		h = append(h, c.Name)
	}
	out := []string{strings.Join(h, "|")}
	for _, r := range res.Rows {
		var cells []string
		for _, d := range r {
			if d.Null {
				cells = append(cells, "∅")
			} else {
				cells = append(cells, d.String())
			}
		}
		out = append(out, strings.Join(cells, "|"))
	}
	return out
}

func errCode(err error) string {
	if e, ok := sqlerr.As(err); ok {
		return e.Code
	}
	return ""
}

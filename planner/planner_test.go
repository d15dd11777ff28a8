package planner

import (
	"strings"
	"testing"

	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// testCatalog is a fixed catalog for planner tests.
type testCatalog map[string]*Relation

func (c testCatalog) Relation(name string) (*Relation, bool) {
	r, ok := c[NormalizeName(name)]
	return r, ok
}

func newTestCatalog() testCatalog {
	col := func(name string, t types.T, nullable bool) types.Column {
		return types.Column{Name: name, Type: t, Nullable: nullable}
	}
	return testCatalog{
		"users": {ID: 1, Name: "users", Kind: TableRelation, Keyed: true, Key: []int{0}, Schema: types.Schema{
			col("id", types.BigIntType, false), col("name", types.TextType, true),
			col("city_id", types.IntType, true), col("age", types.IntType, true)}},
		"cities": {ID: 2, Name: "cities", Kind: TableRelation, Keyed: true, Key: []int{0}, Schema: types.Schema{
			col("id", types.IntType, false), col("city", types.TextType, true)}},
		"clicks": {ID: 3, Name: "clicks", Kind: TableRelation, AppendOnly: true, Schema: types.Schema{
			col("user_id", types.BigIntType, true), col("item_id", types.BigIntType, true), col("ts", types.TimestampType(3), true)}},
		"ck": {ID: 4, Name: "ck", Kind: TableRelation, Keyed: true, Key: []int{0, 1}, Schema: types.Schema{
			col("a", types.IntType, false), col("b", types.TextType, false), col("v", types.IntType, true)}},
	}
}

func plan(t *testing.T, sql string) Plan {
	t.Helper()
	stmt, err := parser.ParseOne(sql)
	if err != nil {
		t.Fatalf("parse %q: %v", sql, err)
	}
	p, err := Build(newTestCatalog(), stmt)
	if err != nil {
		t.Fatalf("plan %q: %v", sql, err)
	}
	return p
}

func explain(t *testing.T, sql string) string {
	t.Helper()
	return strings.Join(Explain(plan(t, sql)), "\n")
}

func TestFilterPushDown(t *testing.T) {
	cases := []struct{ sql, want string }{
		// Each side's conjunct moves below the join; the filter is gone.
		{"SELECT u.name FROM users u JOIN cities c ON u.city_id = c.id WHERE c.city = 'Oslo' AND u.age > 1",
			"Project name\n" +
				"  HashJoin Inner on=[city_id = id]\n" +
				"    Filter (CAST(age AS BIGINT) > 1)\n" +
				"      Scan users columns=[name, city_id, age]\n" +
				"    Filter (city = 'Oslo')\n" +
				"      Scan cities columns=[id, city]"},
		// A conjunct reading both sides stays above the join.
		{"SELECT u.name FROM users u JOIN cities c ON u.city_id = c.id WHERE u.name = c.city",
			"Project name\n" +
				"  Filter (name = city)\n" +
				"    HashJoin Inner on=[city_id = id]\n" +
				"      Scan users columns=[name, city_id]\n" +
				"      Scan cities columns=[id, city]"},
		// The right side of a left join keeps its filter above the join.
		{"SELECT u.name FROM users u LEFT JOIN cities c ON u.city_id = c.id WHERE c.city = 'Oslo'",
			"Project name\n" +
				"  Filter (city = 'Oslo')\n" +
				"    HashJoin Left on=[city_id = id]\n" +
				"      Scan users columns=[name, city_id]\n" +
				"      Scan cities columns=[id, city]"},
		// Through a subquery's projection of plain columns.
		{"SELECT n FROM (SELECT name AS n, age FROM users) t WHERE t.age = 3",
			"Project name AS n\n" +
				"  Filter (CAST(age AS BIGINT) = 3)\n" +
				"    Scan users columns=[name, age]"},
		// A HAVING conjunct on a group column goes below the aggregate.
		{"SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id HAVING item_id > 7 AND COUNT(*) > 2",
			"Project item_id, count AS n\n" +
				"  Filter (count > 2)\n" +
				"    HashAggregate group=[item_id] aggs=[count(*)]\n" +
				"      Filter (item_id > 7)\n" +
				"        Scan clicks columns=[item_id]"},
	}
	for _, c := range cases {
		if got := explain(t, c.sql); got != c.want {
			t.Errorf("%s\n--- got\n%s\n--- want\n%s", c.sql, got, c.want)
		}
	}
}

func TestColumnPruning(t *testing.T) {
	cases := []struct{ sql, want string }{
		{"SELECT item_id FROM clicks", "Scan clicks columns=[item_id]"},
		// COUNT(*) reads no column, but a scan keeps one so rows are counted.
		{"SELECT COUNT(*) AS n FROM clicks",
			"Project count AS n\n" +
				"  HashAggregate group=[] aggs=[count(*)]\n" +
				"    Project\n" +
				"      Scan clicks columns=[user_id]"},
		// Columns used only by a filter are read, then dropped.
		{"SELECT name FROM users WHERE age > 1",
			"Project name\n" +
				"  Filter (CAST(age AS BIGINT) > 1)\n" +
				"    Scan users columns=[name, age]"},
		// Join keys are read even when not selected.
		{"SELECT c.city FROM users u JOIN cities c ON u.city_id = c.id",
			"Project city\n" +
				"  HashJoin Inner on=[city_id = id]\n" +
				"    Scan users columns=[city_id]\n" +
				"    Scan cities columns=[id, city]"},
		// ORDER BY on an unselected column reads it, sorts, then drops it.
		{"SELECT name FROM users ORDER BY age DESC",
			"Project name\n" +
				"  Sort age DESC\n" +
				"    Scan users columns=[name, age]"},
	}
	for _, c := range cases {
		if got := explain(t, c.sql); got != c.want {
			t.Errorf("%s\n--- got\n%s\n--- want\n%s", c.sql, got, c.want)
		}
	}
}

func TestPointLookup(t *testing.T) {
	lookup := []string{
		"SELECT name FROM users WHERE id = 1",
		"SELECT name FROM users WHERE 1 = id",
		"SELECT name FROM users WHERE id = ?",
		"SELECT name FROM users WHERE id = 1 AND age = 2",
		"SELECT v FROM ck WHERE a = 1 AND b = 'x'",
		"SELECT v FROM ck WHERE b = 'x' AND a = ? AND v > 0",
	}
	for _, sql := range lookup {
		if got := explain(t, sql); !strings.Contains(got, "Lookup ") || strings.Contains(got, "Scan ") {
			t.Errorf("%s: want a lookup, got\n%s", sql, got)
		}
	}
	scan := []string{
		"SELECT name FROM users WHERE id > 1",
		"SELECT name FROM users WHERE id = 1 OR id = 2",
		"SELECT name FROM users WHERE id = age",
		"SELECT name FROM users WHERE id + 1 = 2",
		"SELECT name FROM users WHERE name = 'x'",
		"SELECT v FROM ck WHERE a = 1",
		"SELECT v FROM ck WHERE b = 'x'",
		// Compared as DOUBLE or DECIMAL: not an index probe.
		"SELECT name FROM users WHERE id = '1'",
		"SELECT name FROM users WHERE id = 1.5",
		// Out of the INT key's range: matches nothing, must not fail.
		"SELECT city FROM cities WHERE id = 3000000000",
		// Append-only tables have no key.
		"SELECT item_id FROM clicks WHERE user_id = 1",
	}
	for _, sql := range scan {
		if got := explain(t, sql); strings.Contains(got, "Lookup ") {
			t.Errorf("%s: want a scan, got\n%s", sql, got)
		}
	}
	// Lookups are for queries only: a view reads the whole stream.
	if got := explain(t, "CREATE MATERIALIZED VIEW v AS SELECT name FROM users WHERE id = 1"); strings.Contains(got, "Lookup") {
		t.Errorf("view plan uses a lookup:\n%s", got)
	}
	// The lookup key is converted to the key column's type.
	if got := explain(t, "SELECT city FROM cities WHERE id = 7"); got != "Lookup cities key=[id = 7] columns=[city]" {
		t.Errorf("got %s", got)
	}
}

func TestDeriveKey(t *testing.T) {
	cases := []struct{ sql, key string }{
		{"SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id", "key=[item_id]"},
		{"SELECT COUNT(*) AS n FROM clicks", "key=[]"},
		{"SELECT id, name FROM users WHERE age > 3", "key=[id]"},
		{"SELECT name FROM users", "key=none"},
		{"SELECT user_id FROM clicks", "key=none"},
		// The join pins cities' key: each user meets one city at most.
		{"SELECT u.id, c.city FROM users u JOIN cities c ON u.city_id = c.id", "key=[id]"},
		// No key pinned on either side: both keys together.
		{"SELECT u.id AS uid, c.id AS cid FROM users u JOIN cities c ON u.name = c.city", "key=[uid, cid]"},
		{"SELECT u.id FROM users u JOIN cities c ON u.name = c.city", "key=none"},
		{"SELECT a, b, COUNT(*) AS n FROM ck GROUP BY b, a", "key=[b, a]"},
	}
	for _, c := range cases {
		got := explain(t, "CREATE MATERIALIZED VIEW v AS "+c.sql)
		first := strings.SplitN(got, "\n", 2)[0]
		if !strings.Contains(first, c.key) {
			t.Errorf("%s: got %q, want %s", c.sql, first, c.key)
		}
	}
}

func TestComputedJoinKeys(t *testing.T) {
	got := explain(t, "SELECT c.city FROM users u JOIN cities c ON u.id = c.id")
	want := "Project city\n" +
		"  HashJoin Inner on=[id = CAST(id AS BIGINT)]\n" +
		"    Scan users columns=[id]\n" +
		"    Project city, CAST(id AS BIGINT)\n" +
		"      Scan cities columns=[id, city]"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The output columns are the written ones, in order.
	p := plan(t, "SELECT * FROM cities c RIGHT JOIN users u ON u.id + 0 = c.id").(*QueryPlan)
	var names []string
	for _, c := range p.Root.Schema() {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "id,city,id,name,city_id,age" {
		t.Errorf("columns %v", names)
	}
}

func TestOutputNames(t *testing.T) {
	p := plan(t, "SELECT id, COUNT(*), CAST(id AS CHAR), CAST(age AS DECIMAL(5,2)), DATE '2026-01-01', UPPER(name), id + 1 FROM users GROUP BY id, name, age").(*QueryPlan)
	var names []string
	for _, c := range p.Root.Schema() {
		names = append(names, c.Name)
	}
	want := "id,count,text,decimal,date,upper,?column?"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("names %s, want %s", got, want)
	}
}

func TestRoundDecimalType(t *testing.T) {
	cases := []struct{ sql, want string }{
		{"SELECT ROUND(2.345, 2)", "DECIMAL(4,2)"},
		{"SELECT ROUND(2.345)", "DECIMAL(2,0)"},
		{"SELECT ROUND(2.345, 9)", "DECIMAL(5,3)"},
		{"SELECT ROUND(1234.5, -2)", "DECIMAL(5,0)"},
		{"SELECT ROUND(7)", "BIGINT"},
	}
	for _, c := range cases {
		p := plan(t, c.sql).(*QueryPlan)
		if got := p.Root.Schema()[0].Type.String(); got != c.want {
			t.Errorf("%s: type %s, want %s", c.sql, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct{ sql, code string }{
		{"SELECT * FROM nosuch", sqlerr.UndefinedTable},
		{"SELECT nope FROM users", sqlerr.UndefinedColumn},
		{"SELECT id FROM users u JOIN cities c ON u.city_id = c.id", sqlerr.AmbiguousColumn},
		{"SELECT name, COUNT(*) FROM users", sqlerr.GroupingError},
		{"SELECT id FROM users WHERE COUNT(*) > 1", sqlerr.GroupingError},
		{"SELECT id FROM users WHERE name", sqlerr.DatatypeMismatch},
		{"SELECT ts * 2 FROM clicks", sqlerr.UndefinedFunction},
		{"INSERT INTO users (id) VALUES (DATE '2026-01-01')", sqlerr.DatatypeMismatch},
		{"UPDATE clicks SET user_id = 1", sqlerr.FeatureNotSupported},
		{"CREATE TABLE t (a INT)", sqlerr.InvalidParameter},
		{"CREATE MATERIALIZED VIEW v AS SELECT id + 1 FROM users", sqlerr.InvalidParameter},
	}
	for _, c := range cases {
		stmt, err := parser.ParseOne(c.sql)
		if err != nil {
			t.Fatalf("parse %q: %v", c.sql, err)
		}
		_, err = Build(newTestCatalog(), stmt)
		if got := sqlerr.Code(err); got != c.code {
			t.Errorf("%s: error %v (code %s), want code %s", c.sql, err, got, c.code)
		}
	}
}

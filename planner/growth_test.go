package planner

import (
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// TestRowGrowth checks how views' columns are found to change: constant
// group keys, rising counts (and MAX of a NOT NULL column), falling MIN,
// unknown SUM, and which plans may delete rows.
func TestRowGrowth(t *testing.T) {
	cat := newTestCatalog()
	cat["ev"] = &Relation{ID: 9, Name: "ev", Kind: TableRelation, AppendOnly: true, Schema: types.Schema{
		{Name: "k", Type: types.BigIntType, Nullable: true},
		{Name: "v", Type: types.BigIntType},
		{Name: "w", Type: types.BigIntType, Nullable: true}}}
	cases := []struct{ sql, want string }{
		{"SELECT k, COUNT(*) AS n, COUNT(w) AS c, MAX(v) AS hi, MIN(v) AS lo, MAX(w) AS hw, SUM(v) AS s FROM ev GROUP BY k",
			"[constant rising rising rising falling unknown unknown]"},
		// A global aggregate's row holds NULL before any input.
		{"SELECT COUNT(*) AS n, MAX(v) AS hi, MIN(v) AS lo FROM ev", "[rising unknown unknown]"},
		{"SELECT n, k, 7 AS seven, n + 1 AS m FROM (SELECT k, COUNT(*) AS n FROM ev GROUP BY k) a", "[rising constant constant unknown]"},
		{"SELECT k, n FROM (SELECT k, COUNT(*) AS n FROM ev GROUP BY k) a WHERE k > 3", "[constant rising]"},
		{"SELECT k, v FROM ev WHERE v > 3", "[constant constant]"},
		// A filter on a changing column could drop an updated row's new
		// version only: the row would be deleted.
		{"SELECT k, n FROM (SELECT k, COUNT(*) AS n FROM ev GROUP BY k) a WHERE n > 3", "may delete"},
		// An aggregate over rows that change may lose groups.
		{"SELECT city_id, COUNT(*) AS n FROM users GROUP BY city_id", "may delete"},
		{"SELECT id, age FROM users", "may delete"},
	}
	for _, c := range cases {
		stmt, err := parser.ParseOne("CREATE MATERIALIZED VIEW v AS " + c.sql)
		if err != nil {
			t.Fatalf("parse %s: %v", c.sql, err)
		}
		p, err := Build(cat, stmt)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		v := p.(*CreateViewPlan)
		got := "may delete"
		if v.Growth != nil {
			got = fmt.Sprint(v.Growth)
		}
		if g, ok := RowGrowth(v.Query); ok != (v.Growth != nil) || (ok && fmt.Sprint(g) != got) {
			t.Errorf("%s: the plan's growth %v, %v differs from RowGrowth's %v, %v", c.sql, v.Growth, v.Growth != nil, g, ok)
		}
		if got != c.want {
			t.Errorf("%s: growth %s, want %s", c.sql, got, c.want)
		}
	}
}

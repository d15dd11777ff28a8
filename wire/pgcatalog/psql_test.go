package pgcatalog_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/wire"
)

// TestPsqlMetaCommands drives the real psql against a server and checks
// what its \d family prints for a keyed table, an append-only table and
// materialized views.
func TestPsqlMetaCommands(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("psql is missing (apt-get install -y postgresql-client)")
		}
		t.Skip("psql is not installed")
	}
	eng, err := executor.Open(executor.Options{BarrierInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.Execute(context.Background(), `
		CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, price DECIMAL(10,2));
		CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY;
		CREATE MATERIALIZED VIEW item_counts AS SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id;`); err != nil {
		t.Fatal(err)
	}
	srv, err := wire.NewServer(eng, wire.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	run := func(cmd string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, psql, "-X", "-h", "127.0.0.1", "-p", port, "-U", "sluice", "-d", "sluice",
			"-P", "pager=off", "-c", cmd)
		c.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5", "PGSSLMODE=disable", "PGPASSWORD=", "PSQLRC=/dev/null")
		out, err := c.CombinedOutput()
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatalf("psql %s: %v", cmd, err)
		}
		return string(out)
	}
	expect := func(cmd, out string, patterns ...string) {
		t.Helper()
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(out) {
				t.Errorf("psql -c %q: output lacks %q:\n%s", cmd, p, out)
			}
		}
	}
	check := func(cmd string, patterns ...string) {
		t.Helper()
		expect(cmd, run(cmd), patterns...)
	}

	row := func(cells ...string) string {
		p := `(?m)^ `
		for i, c := range cells {
			if i > 0 {
				p += `\s*\| `
			}
			p += regexp.QuoteMeta(c)
		}
		return p + `\s*$`
	}
	check(`\d`, `List of relations`,
		row("public", "clicks", "table", "sluice"),
		row("public", "item_counts", "materialized view", "sluice"),
		row("public", "items", "table", "sluice"), `\(3 rows\)`)
	check(`\dt`, row("public", "clicks", "table", "sluice"), row("public", "items", "table", "sluice"), `\(2 rows\)`)
	check(`\dv`, `Did not find any relations`)
	check(`\dm`, row("public", "item_counts", "materialized view", "sluice"), `\(1 row\)`)
	check(`\d clicks`, `Table "public.clicks"`,
		row("user_id", "bigint", "", "", ""), row("item_id", "bigint", "", "", ""),
		row("ts", "timestamp(3) without time zone", "", "", ""))
	out := run(`\d clicks`)
	if regexp.MustCompile(`Indexes:`).MatchString(out) {
		t.Errorf(`\d clicks shows indexes:\n%s`, out)
	}
	check(`\d items`, `Table "public.items"`,
		row("id", "bigint", "", "not null", ""), row("name", "character varying(40)", "", "not null", ""),
		row("price", "numeric(10,2)", "", "", ""), `Indexes:`, `"items_pkey" PRIMARY KEY, btree \(id\)`)
	check(`\d item_counts`, `Materialized view "public.item_counts"`,
		row("item_id", "bigint", "", "", ""), row("n", "bigint", "", "", ""),
		`"item_counts_key" UNIQUE, btree \(item_id\)`)
	check(`\d+ item_counts`, `Materialized view "public.item_counts"`, `View definition:`,
		`SELECT item_id, COUNT\(\*\) AS n FROM clicks GROUP BY item_id;`)
	check(`\d nosuch`, `Did not find any relation named "nosuch"`)
	check(`\l`, `List of databases`, `(?m)^ sluice\s*\| sluice\s*\| UTF8\s*\| C\s*\| C`)
	check(`\dn`, row("public", "sluice"))
	check(`\du`, `(?m)^ sluice\s*\| Superuser`)
	check(`\conninfo`, `You are connected to database "sluice" as user "sluice" on host "127.0.0.1" at port "`+port+`"`)
	check(`\dconfig`, row("application_name", "psql"))
	check(`\dconfig date*`, row("DateStyle", "ISO, MDY"), `\(1 row\)`)
	check(`SHOW server_version`, `(?m)^ 15\.0`)
	check(`SELECT version()`, `PostgreSQL 15\.0 \(Sluice`)
	check(`SELECT current_database(), current_schema()`, row("sluice", "public"))
	check(`SELECT table_name, table_type FROM information_schema.tables ORDER BY table_name`,
		row("clicks", "BASE TABLE"), row("item_counts", "MATERIALIZED VIEW"), row("items", "BASE TABLE"))
}

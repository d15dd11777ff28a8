package parser

import (
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

func TestWatermarkClause(t *testing.T) {
	st, err := ParseOne(`CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3),
		WATERMARK FOR ts AS ts - INTERVAL 5 SECOND) APPEND ONLY`)
	if err != nil {
		t.Fatal(err)
	}
	ct := st.(*CreateTable)
	if ct.Watermark == nil || ct.Watermark.Column != "ts" || ct.Watermark.Delay != 5e6 || !ct.AppendOnly || len(ct.Columns) != 2 {
		t.Fatalf("got %+v %+v", ct, ct.Watermark)
	}
	for _, c := range []struct {
		sql   string
		delay int64
	}{
		{"CREATE TABLE t (WATERMARK FOR ts AS ts, ts TIMESTAMP) APPEND ONLY", 0},
		{"CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '2' MINUTE) APPEND ONLY", 120e6},
		{"CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1.5 seconds') APPEND ONLY", 1.5e6},
	} {
		st, err := ParseOne(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if wm := st.(*CreateTable).Watermark; wm == nil || wm.Delay != c.delay {
			t.Fatalf("%s: watermark %+v", c.sql, wm)
		}
	}
	for _, c := range []struct{ sql, near string }{
		{"CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS other - INTERVAL 1 SECOND) APPEND ONLY", "WATERMARK FOR ts AS ts"},
		{"CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL 1 MONTH) APPEND ONLY", "not a fixed duration"},
		{"CREATE TABLE t (ts TIMESTAMP, WATERMARK ts AS ts) APPEND ONLY", "syntax error"},
	} {
		_, err := ParseOne(c.sql)
		if err == nil || !strings.Contains(err.Error(), c.near) {
			t.Fatalf("%s: error %v, want %q", c.sql, err, c.near)
		}
	}
}

func TestWindowTableFunctions(t *testing.T) {
	st, err := ParseOne(`CREATE MATERIALIZED VIEW trending AS
		SELECT window_start, item_id, COUNT(*) AS views
		FROM HOP(clicks, ts, INTERVAL 1 MINUTE, INTERVAL 10 MINUTE)
		GROUP BY window_start, item_id EMIT ON WINDOW CLOSE`)
	if err != nil {
		t.Fatal(err)
	}
	mv := st.(*CreateMaterializedView)
	if !mv.EmitOnWindowClose || len(mv.Windows) != 1 {
		t.Fatalf("got %+v", mv)
	}
	w := mv.Windows[0]
	if w.Kind != Hop || w.Table != "clicks" || w.TimeCol != "ts" || w.Slide != 60e6 || w.Size != 600e6 {
		t.Fatalf("window %+v", w)
	}
	from := mv.Query.(*ast.SelectStmt).From.TableRefs.Left.(*ast.TableSource).Source.(*ast.TableName)
	if from.Name.O != w.Placeholder {
		t.Fatalf("FROM names %q, want placeholder %q", from.Name.O, w.Placeholder)
	}
	if strings.Contains(mv.QueryText, "EMIT") {
		t.Fatalf("query text keeps EMIT: %q", mv.QueryText)
	}

	st, err = ParseOne(`SELECT a.window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '5' MINUTE) a
		JOIN SESSION(views, ts, INTERVAL 30 MINUTE, user_id) AS b ON a.user_id = b.user_id GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	sel := st.(*Select)
	if len(sel.Windows) != 2 || sel.Windows[0].Kind != Tumble || sel.Windows[0].Size != 300e6 ||
		sel.Windows[1].Kind != Session || sel.Windows[1].Gap != 1800e6 || len(sel.Windows[1].Keys) != 1 {
		t.Fatalf("windows %+v %+v", sel.Windows[0], sel.Windows[1])
	}
	// A function named like a window in the select list is not a window.
	st, err = ParseOne(`SELECT hop(1) FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.(*Select).Windows) != 0 {
		t.Fatal("hop() in the select list taken for a window")
	}
	for _, c := range []struct{ sql, want string }{
		{"SELECT * FROM TUMBLE(clicks, ts)", "TUMBLE takes 3 arguments"},
		{"SELECT * FROM HOP(clicks, ts, INTERVAL 7 SECOND, INTERVAL 10 SECOND)", "multiple of the slide"},
		{"SELECT * FROM TUMBLE(clicks, ts, 5)", "syntax error"},
		{"SELECT * FROM TUMBLE(clicks, ts + 1, INTERVAL 1 SECOND)", "must be a name"},
	} {
		_, err := ParseOne(c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: error %v, want %q", c.sql, err, c.want)
		}
	}
}

func TestCreateSourceAndSink(t *testing.T) {
	st, err := ParseOne(`CREATE SOURCE views (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3),
		WATERMARK FOR ts AS ts - INTERVAL 5 SECOND)
		WITH (connector = 'kafka', brokers = '127.0.0.1:9092', topic = "views", format = 'json', properties.fetch.max = 10)`)
	if err != nil {
		t.Fatal(err)
	}
	cs := st.(*CreateSource)
	if cs.Name != "views" || len(cs.Columns) != 3 || cs.Watermark == nil || cs.Watermark.Delay != 5e6 {
		t.Fatalf("got %+v", cs)
	}
	want := map[string]string{"connector": "kafka", "brokers": "127.0.0.1:9092", "topic": "views", "format": "json", "properties.fetch.max": "10"}
	for k, v := range want {
		if cs.Options[k] != v {
			t.Fatalf("option %s = %q, want %q (all %v)", k, cs.Options[k], v, cs.Options)
		}
	}
	st, err = ParseOne(`CREATE SINK IF NOT EXISTS recs FROM similar WITH (connector = 'kafka', topic = 'recs', mode = 'upsert')`)
	if err != nil {
		t.Fatal(err)
	}
	sk := st.(*CreateSink)
	if sk.Name != "recs" || sk.From != "similar" || !sk.IfNotExists || sk.Options["mode"] != "upsert" {
		t.Fatalf("got %+v", sk)
	}
	for _, c := range []struct{ sql, want string }{
		{"CREATE SOURCE s (a BIGINT)", "needs WITH"},
		{"CREATE SOURCE s (a BIGINT) WITH (topic = 't')", "needs a connector"},
		{"CREATE SOURCE s (a BIGINT PRIMARY KEY) WITH (connector = 'kafka')", "cannot have a primary key"},
		{"CREATE SOURCE s (a BIGINT) WITH (connector = 'kafka', connector = 'x')", "given twice"},
		{"CREATE SOURCE s (a BIGINT) WITH (connector 'kafka')", "syntax error"},
		{"CREATE SINK k FROM v", "syntax error"},
	} {
		_, err := ParseOne(c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want %q", c.sql, err, c.want)
		}
	}
}

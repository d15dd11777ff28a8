package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestExtendedProtocol drives Parse/Bind/Describe/Execute with row limits
// and the error-until-Sync rule at the message level.
func TestExtendedProtocol(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	mustExec(t, c, "CREATE TABLE e (k BIGINT, v TEXT) APPEND ONLY; INSERT INTO e VALUES (1,'a'),(2,'b'),(3,'c'),(4,'d'),(5,'e'); FLUSH")
	rc := ts.dialRaw(t)
	rc.send(
		&pgproto3.Parse{Name: "q", Query: "SELECT k, v FROM e WHERE k > $1 ORDER BY k"},
		&pgproto3.Describe{ObjectType: 'S', Name: "q"},
		&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "q", Parameters: [][]byte{[]byte("1")}, ResultFormatCodes: []int16{1, 0}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p"},
		&pgproto3.Execute{Portal: "p", MaxRows: 2},
		&pgproto3.Execute{Portal: "p", MaxRows: 2},
		&pgproto3.Execute{Portal: "p", MaxRows: 2},
		&pgproto3.Sync{},
	)
	kinds, msgs := rc.until('Z')
	if kinds != "1tT2TDDsDDsCZ" {
		t.Fatalf("messages %q", kinds)
	}
	pd := msgs[1].(*pgproto3.ParameterDescription)
	if len(pd.ParameterOIDs) != 1 || pd.ParameterOIDs[0] != oidInt8 {
		t.Errorf("parameter OIDs %v", pd.ParameterOIDs)
	}
	if v := msgs[5].(*pgproto3.DataRow).Values; binary.BigEndian.Uint64(v[0]) != 2 || string(v[1]) != "b" {
		t.Errorf("first row %q", v)
	}
	if tag := string(msgs[11].(*pgproto3.CommandComplete).CommandTag); tag != "SELECT 0" {
		t.Errorf("final tag %q", tag)
	}

	// An error skips the rest of the batch up to Sync; Close and unnamed
	// statements work after it.
	rc.send(
		&pgproto3.Parse{Query: "SELECT nope FROM e"},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
		&pgproto3.Parse{Query: "SELECT COUNT(*) FROM e", ParameterOIDs: nil},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Close{ObjectType: 'S', Name: "q"},
		&pgproto3.Sync{},
	)
	kinds, msgs = rc.until('Z')
	if kinds != "EZ" || msgs[0].(*pgproto3.ErrorResponse).Code != "42703" {
		t.Fatalf("error batch %q %v", kinds, msgs[0])
	}
	kinds, msgs = rc.until('Z')
	if kinds != "12DC3Z" || string(msgs[2].(*pgproto3.DataRow).Values[0]) != "5" {
		t.Fatalf("after error %q", kinds)
	}
	// A client-declared parameter type is honoured: int4 sent in binary.
	rc.send(
		&pgproto3.Parse{Name: "d", Query: "SELECT v FROM e WHERE k = $1", ParameterOIDs: []uint32{oidInt4}},
		&pgproto3.Describe{ObjectType: 'S', Name: "d"},
		&pgproto3.Bind{PreparedStatement: "d", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 3}}},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	)
	kinds, msgs = rc.until('Z')
	if kinds != "1tT2DCZ" || msgs[1].(*pgproto3.ParameterDescription).ParameterOIDs[0] != oidInt4 || string(msgs[4].(*pgproto3.DataRow).Values[0]) != "c" {
		t.Fatalf("declared parameter: %q", kinds)
	}
	// Statements without rows describe as NoData; empty ones run as
	// EmptyQueryResponse.
	rc.send(
		&pgproto3.Parse{Query: "INSERT INTO e VALUES ($1, $2)"},
		&pgproto3.Describe{ObjectType: 'S'},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("9"), nil}},
		&pgproto3.Execute{},
		&pgproto3.Parse{Name: "empty", Query: " -- nothing"},
		&pgproto3.Bind{PreparedStatement: "empty"},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	)
	kinds, msgs = rc.until('Z')
	if kinds != "1tn2C12IZ" || string(msgs[4].(*pgproto3.CommandComplete).CommandTag) != "INSERT 0 1" {
		t.Fatalf("insert batch %q", kinds)
	}
}

// TestPgconnRowLimit uses pgconn's Execute-with-limit path through
// pgx's prepared statements and checks resumption.
func TestPreparedReuse(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()
	mustExec(t, c, "CREATE TABLE pr (k BIGINT PRIMARY KEY, v BIGINT); INSERT INTO pr VALUES (1, 10), (2, 20); FLUSH")
	if _, err := c.Prepare(ctx, "get", "SELECT v FROM pr WHERE k = $1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		var v int64
		if err := c.QueryRow(ctx, "get", int64(i%2+1)).Scan(&v); err != nil || v != int64(10*(i%2+1)) {
			t.Fatalf("lookup %d: %d %v", i, v, err)
		}
	}
	// The catalog changes under a prepared statement: it is re-planned.
	mustExec(t, c, "CREATE TABLE other (x BIGINT) APPEND ONLY")
	var v int64
	if err := c.QueryRow(ctx, "get", int64(2)).Scan(&v); err != nil || v != 20 {
		t.Fatalf("after DDL: %d %v", v, err)
	}
}

// TestCancelSubscribe subscribes with pgx, sees live changes, cancels with
// a CancelRequest and goes on using the session.
func TestCancelSubscribe(t *testing.T) {
	ts := startServer(t, Config{})
	writer := ts.connect(t, "")
	mustExec(t, writer, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY; CREATE MATERIALIZED VIEW agg AS SELECT k, SUM(v) AS s FROM ev GROUP BY k; INSERT INTO ev VALUES (1, 5); FLUSH")
	for _, mode := range []string{"cache_statement", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			c := ts.connect(t, "default_query_exec_mode="+mode)
			ctx := context.Background()
			var sum int64
			if err := writer.QueryRow(ctx, "SELECT s FROM agg WHERE k = 1").Scan(&sum); err != nil {
				t.Fatal(err)
			}
			rows, err := c.Query(ctx, "SUBSCRIBE agg")
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, fd := range rows.FieldDescriptions() {
				names = append(names, fd.Name)
			}
			if strings.Join(names, ",") != "epoch,op,k,s" {
				t.Fatalf("columns %v", names)
			}
			next := func() []any {
				if !rows.Next() {
					t.Fatalf("no row: %v", rows.Err())
				}
				v, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			if v := next(); v[1] != "insert" || v[2] != int64(1) || v[3] != sum {
				t.Fatalf("snapshot row %v", v)
			}
			mustExec(t, writer, "INSERT INTO ev VALUES (1, 2); FLUSH")
			got := []string{fmt.Sprint(next()[1:]), fmt.Sprint(next()[1:])}
			a, b := fmt.Sprintf("[delete 1 %d];[insert 1 %d]", sum, sum+2), fmt.Sprintf("[update_before 1 %d];[update_after 1 %d]", sum, sum+2)
			if g := strings.Join(got, ";"); g != a && g != b {
				t.Fatalf("changes %v", got)
			}
			if err := c.PgConn().CancelRequest(ctx); err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
			}
			if pe := pgErr(t, rows.Err()); pe.Code != "57014" {
				t.Fatalf("after cancel: %v", pe)
			}
			var n int64
			if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM agg").Scan(&n); err != nil || n != 1 {
				t.Fatalf("session after cancel: %d %v", n, err)
			}
		})
	}
}

// TestSubscribeDisconnect checks a subscriber that disconnects is cleaned
// up (the server closes without waiting on it).
func TestSubscribeDisconnect(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	mustExec(t, c, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY; CREATE MATERIALIZED VIEW agg AS SELECT k, COUNT(*) AS n FROM ev GROUP BY k")
	rc := ts.dialRaw(t)
	rc.send(&pgproto3.Query{String: "SUBSCRIBE agg WITH (snapshot = false)"})
	if m := rc.recv(); msgType(m) != 'T' {
		t.Fatalf("got %T", m)
	}
	rc.c.Close()
	mustExec(t, c, "INSERT INTO ev VALUES (1, 1); FLUSH")
}

// TestCopyFrom loads CSV and text data with pgconn, with options and bad
// rows.
func TestCopyFrom(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()
	mustExec(t, c, "CREATE TABLE cp (id BIGINT, name VARCHAR(10), score DOUBLE, d DATE, n DECIMAL(6,2), ok BOOLEAN) APPEND ONLY")
	csv := "id,name,score,d,n,ok\n1,\"a,b\",1.5,2026-01-02,1.25,t\n2,\"multi\nline\",,2026-01-03,-3,false\r\n3,\"q\"\"x\",2e3,2026-01-04,0.5,1"
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(csv), "COPY cp FROM STDIN WITH (FORMAT csv, HEADER true)")
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("csv: %v %v", tag, err)
	}
	text := "4\ttab\\there\t\\N\t2026-01-05\t7\tf\n5\tb\\\\s\t1\t2026-01-06\t\\N\tt\n\\.\nignored\n"
	tag, err = c.PgConn().CopyFrom(ctx, strings.NewReader(text), "COPY cp FROM STDIN")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("text: %v %v", tag, err)
	}
	tag, err = c.PgConn().CopyFrom(ctx, strings.NewReader("6;x\n7;NA\n"), "COPY cp (id, name) FROM STDIN WITH DELIMITER ';' NULL 'NA'")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("columns: %v %v", tag, err)
	}
	// A bad row: an error naming its line; rows before it are kept.
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader("8,ok\n9,ok\nten,bad\n11,late\n"), "COPY cp (id, name) FROM STDIN (FORMAT csv)")
	pe := pgErr(t, err)
	if pe.Code != "22P02" || !strings.Contains(pe.Where, "line 3") {
		t.Fatalf("bad row: %s %s / %s", pe.Code, pe.Message, pe.Where)
	}
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader("12,waytoolongname\n"), "COPY cp (id, name) FROM STDIN (FORMAT csv)")
	if pe := pgErr(t, err); pe.Code != "22001" {
		t.Fatalf("long value: %v", pe)
	}
	mustExec(t, c, "FLUSH")
	got := queryText(t, c, "SELECT id, name, score, d, n, ok FROM cp ORDER BY id")
	want := []string{
		"1|a,b|1.5|2026-01-02|1.25|t", "2|multi\nline|NULL|2026-01-03|-3.00|f", "3|q\"x|2000|2026-01-04|0.50|t",
		"4|tab\there|NULL|2026-01-05|7.00|f", "5|b\\s|1|2026-01-06|NULL|t", "6|x|NULL|NULL|NULL|NULL", "7|NULL|NULL|NULL|NULL|NULL",
		"8|ok|NULL|NULL|NULL|NULL", "9|ok|NULL|NULL|NULL|NULL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// COPY into a view or an unknown table.
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader(""), "COPY nope FROM STDIN")
	if pe := pgErr(t, err); pe.Code != "42P01" {
		t.Fatalf("unknown table: %v", pe)
	}
}

// TestCopyFail checks CopyFail ends the COPY with an error and the session
// goes on.
func TestCopyFail(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	mustExec(t, c, "CREATE TABLE cf (k BIGINT) APPEND ONLY")
	rc := ts.dialRaw(t)
	rc.send(&pgproto3.Query{String: "COPY cf FROM STDIN"})
	if m := rc.recv(); msgType(m) != 'G' {
		t.Fatalf("got %T", m)
	}
	rc.send(&pgproto3.CopyData{Data: []byte("1\n")}, &pgproto3.Flush{}, &pgproto3.Sync{}, &pgproto3.CopyFail{Message: "client gave up"})
	kinds, msgs := rc.until('Z')
	if kinds != "EZ" || msgs[0].(*pgproto3.ErrorResponse).Code != "57014" {
		t.Fatalf("copy fail: %q %v", kinds, msgs[0])
	}
	rc.send(&pgproto3.Query{String: "SELECT 1"})
	if kinds, _ := rc.until('Z'); kinds != "TDCZ" {
		t.Fatalf("after copy fail: %q", kinds)
	}
}

// TestStatementTimeout checks the timeout cancels with 57014 and the
// session stays usable.
func TestStatementTimeout(t *testing.T) {
	ts := startServer(t, Config{StatementTimeout: time.Nanosecond})
	c := ts.connect(t, "")
	_, err := c.Exec(context.Background(), "SELECT 1")
	pe := pgErr(t, err)
	if pe.Code != "57014" || !strings.Contains(pe.Message, "statement timeout") {
		t.Fatalf("timeout: %v", pe)
	}
	// The session is still usable: the next statement times out too.
	_, err = c.Exec(context.Background(), "SELECT 2", pgx.QueryExecModeSimpleProtocol)
	if pe := pgErr(t, err); pe.Code != "57014" {
		t.Fatalf("second statement: %v", pe)
	}
}

// TestIdleSessionTimeout checks an idle session is closed with 57P05.
func TestIdleSessionTimeout(t *testing.T) {
	ts := startServer(t, Config{IdleSessionTimeout: 50 * time.Millisecond})
	rc := ts.dialRaw(t)
	m := rc.recv()
	e, ok := m.(*pgproto3.ErrorResponse)
	if !ok || e.Code != "57P05" || e.Severity != "FATAL" {
		t.Fatalf("got %#v", m)
	}
	if _, err := rc.fe.Receive(); err == nil {
		t.Fatal("connection still open")
	}
}

// TestMaxConnections checks the connection limit.
func TestMaxConnections(t *testing.T) {
	ts := startServer(t, Config{MaxConnections: 2})
	a := ts.connect(t, "")
	_ = ts.connect(t, "")
	_, err := pgx.Connect(context.Background(), ts.url(""))
	if pe := pgErr(t, err); pe.Code != "53300" {
		t.Fatalf("third connection: %v", pe)
	}
	a.Close(context.Background())
	// The slot frees once the server has seen the first client leave.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := pgx.Connect(context.Background(), ts.url(""))
		if err == nil {
			c.Close(context.Background())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed: %v", err)
		}
		runtime.Gosched()
	}
}

// TestMaxMessageSize checks an oversized message gets 54000 and a close.
func TestMaxMessageSize(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1024})
	c := ts.connect(t, "")
	_, err := c.Exec(context.Background(), "SELECT '"+strings.Repeat("x", 2000)+"'")
	if pe := pgErr(t, err); pe.Code != "54000" || pe.Severity != "FATAL" {
		t.Fatalf("oversized: %v", pe)
	}
	other := ts.connect(t, "")
	if err := other.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRobustness sends malformed bytes and stalls, and checks the server
// goes on serving a normal client after each.
func TestRobustness(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1 << 20})
	startup := func() []byte {
		b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "x"}}).Encode(nil)
		return b
	}
	hdr := func(typ byte, n int32) []byte {
		b := []byte{typ, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(n))
		return b
	}
	cases := []struct {
		name  string
		bytes []byte
		stall bool
	}{
		{"garbage after startup", append(startup(), []byte("\x00\xff garbage \x13\x37 more garbage")...), false},
		{"bad startup packet", []byte{0, 0, 0, 8, 0, 9, 9, 9}, false},
		{"huge startup length", []byte{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0}, false},
		{"negative length", append(startup(), hdr('Q', -5)...), false},
		{"huge length", append(startup(), hdr('Q', 0x7ffffff0)...), false},
		{"oversized message", append(append(startup(), hdr('Q', 2<<20)...), make([]byte, 4096)...), false},
		{"half a message then stall", append(append(startup(), hdr('Q', 100)...), []byte("SELECT")...), true},
		{"half a startup then stall", []byte{0, 0, 0, 40, 0, 3}, true},
	}
	var stalled []net.Conn
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	for _, tc := range cases {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(tc.bytes); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		if tc.stall {
			stalled = append(stalled, conn)
		} else {
			// The server answers with an error and closes.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 4096)
			for {
				if _, err := conn.Read(buf); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Errorf("%s: server did not close the connection", tc.name)
					}
					break
				}
			}
			conn.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := pgx.Connect(ctx, ts.url(""))
		if err != nil {
			cancel()
			t.Fatalf("after %s: %v", tc.name, err)
		}
		var one int64
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("after %s: %v", tc.name, err)
		}
		c.Close(ctx)
		cancel()
	}
}

// TestCancelUnknown checks a cancel request with a wrong key is ignored.
func TestCancelUnknown(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := (&pgproto3.CancelRequest{ProcessID: c.PgConn().PID(), SecretKey: []byte{1, 2, 3, 4}}).Encode(nil)
	conn.Write(b)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, errTimeoutSentinel) {
		t.Fatalf("cancel connection not closed: %v", err)
	}
	conn.Close()
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	var _ = pgconn.PgError{}
}

var errTimeoutSentinel = errors.New("timeout")

// TestSessionPanic checks a panic in one session ends only that session.
func TestSessionPanic(t *testing.T) {
	ts := startServer(t, Config{})
	hook := func(sql string) {
		if sql == "panic please" {
			panic("test panic")
		}
	}
	queryHook.Store(&hook)
	defer queryHook.Store(nil)
	c := ts.connect(t, "")
	if _, err := c.Exec(context.Background(), "panic please", pgx.QueryExecModeSimpleProtocol); err == nil {
		t.Fatal("want a broken connection")
	}
	other := ts.connect(t, "")
	if err := other.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSettings checks SET/SHOW through the catalog emulation and the
// ParameterStatus sent at startup and on change.
func TestSettings(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "application_name=wiretest")
	pc := c.PgConn()
	for k, want := range map[string]string{"server_encoding": "UTF8", "client_encoding": "UTF8", "DateStyle": "ISO, MDY",
		"integer_datetimes": "on", "standard_conforming_strings": "on", "TimeZone": "UTC", "application_name": "wiretest",
		"IntervalStyle": "postgres", "is_superuser": "on", "session_authorization": "tester", "server_version_num": "150000"} {
		if got := pc.ParameterStatus(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if v := pc.ParameterStatus("server_version"); !strings.HasPrefix(v, "15") {
		t.Errorf("server_version %q", v)
	}
	mustExec(t, c, "SET application_name = 'renamed'")
	if got := pc.ParameterStatus("application_name"); got != "renamed" {
		t.Errorf("after SET: %q", got)
	}
	var v string
	if err := c.QueryRow(context.Background(), "SHOW application_name").Scan(&v); err != nil || v != "renamed" {
		t.Fatalf("SHOW: %q %v", v, err)
	}
	// statement_timeout set per session applies to its statements.
	mustExec(t, c, "SET statement_timeout = 1")
	_, err := c.Exec(context.Background(), "SUBSCRIBE nothing_here")
	if pe := pgErr(t, err); pe.Code != "42P01" {
		t.Fatalf("subscribe is exempt from the timeout: %v", pe)
	}
}

// TestCloseDuringSubscribe checks Close ends streaming sessions and waits
// for them.
func TestCloseDuringSubscribe(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	mustExec(t, c, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY; CREATE MATERIALIZED VIEW agg AS SELECT k, COUNT(*) AS n FROM ev GROUP BY k")
	rc := ts.dialRaw(t)
	rc.send(&pgproto3.Query{String: "SUBSCRIBE agg"})
	if m := rc.recv(); msgType(m) != 'T' {
		t.Fatalf("got %T", m)
	}
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	m := rc.recv()
	if e, ok := m.(*pgproto3.ErrorResponse); !ok || e.Code != "57P01" {
		t.Fatalf("got %#v", m)
	}
}

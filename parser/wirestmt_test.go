package parser

import (
	"reflect"
	"testing"

	"github.com/sluicedb/sluice/sqlerr"
)

func TestWireStatements(t *testing.T) {
	cases := []struct {
		sql  string
		want Statement
	}{
		{"SUBSCRIBE v", &Subscribe{Name: "v", Snapshot: true}},
		{"subscribe to public.v with (snapshot = false)", &Subscribe{Name: "v", Snapshot: false}},
		{"SUBSCRIBE v WITH (SNAPSHOT true)", &Subscribe{Name: "v", Snapshot: true}},
		{"COPY t FROM STDIN", &CopyFrom{Table: "t", Delimiter: '\t', Null: `\N`, Quote: '"', Escape: '"'}},
		{"COPY  t FROM STDIN WITH (FORMAT csv)", &CopyFrom{Table: "t", Format: CopyCSV, Delimiter: ',', Quote: '"', Escape: '"'}},
		{"COPY t (a, \"B\") FROM STDIN (FORMAT csv, HEADER true, DELIMITER ';', NULL 'NA')",
			&CopyFrom{Table: "t", Columns: []string{"a", "B"}, Format: CopyCSV, Header: true, Delimiter: ';', Null: "NA", Quote: '"', Escape: '"'}},
		{"COPY t FROM STDIN WITH CSV HEADER", &CopyFrom{Table: "t", Format: CopyCSV, Header: true, Delimiter: ',', Quote: '"', Escape: '"'}},
		{"COPY t FROM STDIN DELIMITER AS E'\\t' NULL AS ''", &CopyFrom{Table: "t", Delimiter: '\t', Quote: '"', Escape: '"'}},
		{`copy "t" ( "a", "b" ) from stdin binary`, &CopyFrom{Table: "t", Columns: []string{"a", "b"}, Format: CopyBinary, Delimiter: '\t', Null: `\N`, Quote: '"', Escape: '"'}},
		{"COPY (SUBSCRIBE v WITH (snapshot = false)) TO STDOUT", &CopySubscribe{Subscribe: &Subscribe{Name: "v"}}},
		{"COPY (SUBSCRIBE v) TO STDOUT WITH (FORMAT text)", &CopySubscribe{Subscribe: &Subscribe{Name: "v", Snapshot: true}}},
		{"BEGIN", &Transaction{Kind: TxBegin}},
		{"begin transaction isolation level read committed, read write", &Transaction{Kind: TxBegin}},
		{"START TRANSACTION READ ONLY", &Transaction{Kind: TxBegin}},
		{"COMMIT", &Transaction{Kind: TxCommit}},
		{"END WORK", &Transaction{Kind: TxCommit}},
		{"ROLLBACK", &Transaction{Kind: TxRollback}},
		{"ABORT TRANSACTION", &Transaction{Kind: TxRollback}},
	}
	for _, c := range cases {
		st, err := ParseOne(c.sql)
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		clearText(st)
		if !reflect.DeepEqual(st, c.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", c.sql, st, c.want)
		}
	}
}

// clearText zeroes the source text of the statements built here.
func clearText(st Statement) {
	switch s := st.(type) {
	case *Subscribe:
		s.setText("")
	case *CopyFrom:
		s.setText("")
	case *CopySubscribe:
		s.setText("")
		s.Subscribe.setText("")
	case *Transaction:
		s.setText("")
	}
}

func TestWireStatementErrors(t *testing.T) {
	cases := []struct {
		sql, code string
		pos       int
	}{
		{"SUBSCRIBE", sqlerr.SyntaxError, 10},
		{"SUBSCRIBE v WITH (bogus = 1)", sqlerr.SyntaxError, 19},
		{"COPY t FROM '/etc/passwd'", sqlerr.FeatureNotSupported, 13},
		{"COPY t TO STDOUT", sqlerr.FeatureNotSupported, 8},
		{"COPY t FROM STDIN (FORMAT xml)", sqlerr.InvalidParameter, 20},
		{"COPY t FROM STDIN (DELIMITER ';;')", sqlerr.InvalidParameter, 20},
		{"COPY (SELECT 1) TO STDOUT", sqlerr.FeatureNotSupported, 7},
		{"COPY (SUBSCRIBE v) TO '/tmp/x'", sqlerr.FeatureNotSupported, 23},
		{"ROLLBACK TO SAVEPOINT a", sqlerr.FeatureNotSupported, 10},
		{"BEGIN nonsense", sqlerr.SyntaxError, 7},
	}
	for _, c := range cases {
		_, err := ParseOne(c.sql)
		e, ok := sqlerr.As(err)
		if !ok {
			t.Errorf("%s: want error %s, got %v", c.sql, c.code, err)
			continue
		}
		if e.Code != c.code || e.Position != c.pos {
			t.Errorf("%s: got %s at %d (%s), want %s at %d", c.sql, e.Code, e.Position, e.Msg, c.code, c.pos)
		}
	}
}

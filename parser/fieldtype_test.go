package parser

import (
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// castTargets parses a SELECT of CAST expressions and returns their types.
func castTargets(t *testing.T, sql string) []*ast.FuncCastExpr {
	t.Helper()
	sel := mustParseOne(t, sql).(*Select).Node.(*ast.SelectStmt)
	var out []*ast.FuncCastExpr
	for _, f := range sel.Fields.Fields {
		c, ok := f.Expr.(*ast.FuncCastExpr)
		if !ok {
			t.Fatalf("%q: field %T is not a cast", sql, f.Expr)
		}
		out = append(out, c)
	}
	return out
}

func TestConvertFieldTypeCasts(t *testing.T) {
	tests := []struct {
		target string
		want   types.T
	}{
		{"SIGNED", types.BigIntType},
		{"SIGNED INTEGER", types.BigIntType},
		{"UNSIGNED", types.BigIntType},
		{"CHAR", types.TextType},
		{"CHAR(5)", types.T{Kind: types.Varchar, Width: 5}},
		{"DOUBLE", types.DoubleType},
		{"FLOAT", types.DoubleType},
		{"REAL", types.DoubleType},
		{"DECIMAL", types.DecimalType(10, 0)},
		{"DECIMAL(20)", types.DecimalType(20, 0)},
		{"DECIMAL(12,4)", types.DecimalType(12, 4)},
		{"DATE", types.DateType},
		{"DATETIME", types.TimestampType(0)},
		{"DATETIME(6)", types.TimestampType(6)},
	}
	for _, tt := range tests {
		c := castTargets(t, "SELECT CAST(x AS "+tt.target+")")[0]
		got, err := ConvertFieldType(c.Tp)
		if err != nil || got != tt.want {
			t.Errorf("CAST AS %s: got %v, %v; want %v", tt.target, got, err, tt.want)
		}
	}
	for _, bad := range []string{"BINARY", "JSON", "TIME", "YEAR"} {
		c := castTargets(t, "SELECT CAST(x AS "+bad+")")[0]
		_, err := ConvertFieldType(c.Tp)
		if e, ok := sqlerr.As(err); !ok || e.Code != sqlerr.FeatureNotSupported {
			t.Errorf("CAST AS %s: want FeatureNotSupported, got %v", bad, err)
		}
	}
	if _, err := ConvertFieldType(nil); err == nil {
		t.Error("nil type: no error")
	}
}

func TestConvertFieldTypeColumns(t *testing.T) {
	tests := []struct {
		typ  string
		want types.T
	}{
		{"BOOLEAN", types.BoolType},
		{"BOOL", types.BoolType},
		{"TINYINT(1)", types.BoolType},
		{"TINYINT", types.IntType},
		{"TINYINT(4)", types.IntType},
		{"SMALLINT", types.IntType},
		{"MEDIUMINT", types.IntType},
		{"INT", types.IntType},
		{"INTEGER", types.IntType},
		{"INT UNSIGNED", types.BigIntType},
		{"BIGINT", types.BigIntType},
		{"DOUBLE", types.DoubleType},
		{"DOUBLE PRECISION", types.DoubleType},
		{"FLOAT", types.DoubleType},
		{"REAL", types.DoubleType},
		{"DECIMAL", types.DecimalType(10, 0)},
		{"NUMERIC(38,10)", types.DecimalType(38, 10)},
		{"VARCHAR(255)", types.T{Kind: types.Varchar, Width: 255}},
		{"CHAR", types.T{Kind: types.Varchar, Width: 1}},
		{"TEXT", types.TextType},
		{"MEDIUMTEXT", types.TextType},
		{"STRING", types.TextType},
		{"TIMESTAMP", types.TimestampType(0)},
		{"TIMESTAMP(3)", types.TimestampType(3)},
		{"DATETIME(6)", types.TimestampType(6)},
		{"DATE", types.DateType},
	}
	for _, tt := range tests {
		st, err := ParseOne("CREATE TABLE t (c " + tt.typ + ")")
		if err != nil {
			t.Errorf("%s: %v", tt.typ, err)
			continue
		}
		if got := st.(*CreateTable).Columns[0].Type; got != tt.want {
			t.Errorf("%s: got %v want %v", tt.typ, got, tt.want)
		}
	}
	for _, bad := range []string{"BLOB", "BINARY(3)", "VARBINARY(3)", "JSON", "TIME", "YEAR", "ENUM('a')", "SET('a')", "BIT(3)", "DECIMAL(39,0)"} {
		_, err := ParseOne("CREATE TABLE t (c " + bad + ")")
		if e, ok := sqlerr.As(err); !ok || e.Code != sqlerr.FeatureNotSupported || e.Position != 19 {
			t.Errorf("%s: want FeatureNotSupported at 19, got %#v", bad, err)
		}
	}
}

package parser

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"

	"github.com/sluicedb/sluice/sqlerr"
	sqltypes "github.com/sluicedb/sluice/types"
)

// ConvertFieldType converts a TiDB column or CAST target type to a Sluice
// type. The mapping:
//
//	BOOLEAN, BOOL, TINYINT(1)                  → BOOLEAN
//	TINYINT, SMALLINT, MEDIUMINT, INT, INTEGER → INT (INT UNSIGNED → BIGINT)
//	BIGINT, CAST AS SIGNED / UNSIGNED          → BIGINT (unsigned values above
//	                                             2^63-1 fail at run time)
//	DOUBLE, FLOAT, REAL                        → DOUBLE
//	DECIMAL/NUMERIC(p,s)                       → DECIMAL(p,s), default (10,0), p <= 38
//	VARCHAR(n), CHAR(n), TEXT, CAST AS CHAR    → VARCHAR with Width n (0 = unbounded)
//	TIMESTAMP(p), DATETIME(p)                  → TIMESTAMP(p), default p = 0
//	DATE                                       → DATE
//
// A cast target keeps MySQL's meaning: CAST(x AS DATETIME) is TIMESTAMP(0)
// (fractional seconds are dropped, as in MySQL); write DATETIME(6) to keep
// them (the Postgres ::timestamp rewrite does). Binary strings, TIME, YEAR,
// JSON, ENUM, SET, BIT and spatial types are refused with a
// FeatureNotSupported error naming the type.
func ConvertFieldType(ft *types.FieldType) (sqltypes.T, error) {
	if ft == nil {
		return sqltypes.T{}, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError, "missing type")
	}
	unsigned := mysql.HasUnsignedFlag(ft.GetFlag())
	flen, dec := ft.GetFlen(), ft.GetDecimal()
	switch tp := ft.GetType(); tp {
	case mysql.TypeTiny:
		if flen == 1 && !unsigned {
			return sqltypes.BoolType, nil
		}
		return sqltypes.IntType, nil
	case mysql.TypeShort, mysql.TypeInt24:
		return sqltypes.IntType, nil
	case mysql.TypeLong:
		if unsigned {
			return sqltypes.BigIntType, nil
		}
		return sqltypes.IntType, nil
	case mysql.TypeLonglong:
		return sqltypes.BigIntType, nil
	case mysql.TypeFloat, mysql.TypeDouble:
		return sqltypes.DoubleType, nil
	case mysql.TypeNewDecimal:
		p, s := int32(flen), int32(dec)
		if flen < 0 {
			p = 10
		}
		if dec < 0 {
			s = 0
		}
		if p > sqltypes.MaxDecimalPrecision {
			return sqltypes.T{}, sqlerr.New(sqlerr.Parse, sqlerr.FeatureNotSupported,
				"DECIMAL precision %d is out of range (at most %d)", p, sqltypes.MaxDecimalPrecision)
		}
		if p < 1 || s > p {
			return sqltypes.T{}, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError,
				"invalid DECIMAL(%d,%d): scale must be at most the precision", p, s)
		}
		return sqltypes.DecimalType(p, s), nil
	case mysql.TypeVarchar, mysql.TypeVarString, mysql.TypeString,
		mysql.TypeTinyBlob, mysql.TypeBlob, mysql.TypeMediumBlob, mysql.TypeLongBlob:
		if ft.GetCharset() == "binary" {
			return sqltypes.T{}, unsupportedType(ft)
		}
		w := int32(flen)
		switch {
		case tp == mysql.TypeString && flen < 0: // CHAR is CHAR(1)
			w = 1
		case flen < 0 || tp == mysql.TypeTinyBlob || tp == mysql.TypeBlob ||
			tp == mysql.TypeMediumBlob || tp == mysql.TypeLongBlob:
			w = 0
		}
		return sqltypes.T{Kind: sqltypes.Varchar, Width: w}, nil
	case mysql.TypeTimestamp, mysql.TypeDatetime:
		p := int32(dec)
		if dec < 0 {
			p = 0
		}
		if p > 6 {
			return sqltypes.T{}, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError,
				"TIMESTAMP precision %d is out of range (0 to 6)", p)
		}
		return sqltypes.TimestampType(p), nil
	case mysql.TypeDate:
		return sqltypes.DateType, nil
	}
	return sqltypes.T{}, unsupportedType(ft)
}

func unsupportedType(ft *types.FieldType) *sqlerr.Error {
	name := strings.ToUpper(types.TypeToStr(ft.GetType(), ft.GetCharset()))
	if ft.GetCharset() == "binary" {
		switch ft.GetType() {
		case mysql.TypeVarString, mysql.TypeVarchar:
			name = "VARBINARY"
		case mysql.TypeString:
			name = "BINARY"
		}
	}
	return sqlerr.New(sqlerr.Parse, sqlerr.FeatureNotSupported, "type %s is not supported", name)
}

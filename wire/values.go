package wire

import (
	"encoding/binary"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Postgres type OIDs.
const (
	oidBool        = 16
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidFloat4      = 700
	oidFloat8      = 701
	oidUnknown     = 705
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidInterval    = 1186
	oidNumeric     = 1700
)

// Seconds and days between the Unix epoch and Postgres' (2000-01-01).
const (
	pgEpochMicros = 946684800 * 1_000_000
	pgEpochDays   = 10957
)

// typeInfo is a column type as RowDescription reports it.
type typeInfo struct {
	oid    uint32
	size   int16
	typmod int32
}

// pgType maps a SQL type to its Postgres OID, size and modifier.
func pgType(t types.T) typeInfo {
	switch t.Kind {
	case types.Boolean:
		return typeInfo{oidBool, 1, -1}
	case types.Int:
		return typeInfo{oidInt4, 4, -1}
	case types.BigInt:
		return typeInfo{oidInt8, 8, -1}
	case types.Double:
		return typeInfo{oidFloat8, 8, -1}
	case types.Decimal:
		return typeInfo{oidNumeric, -1, (t.Precision<<16 | t.Scale) + 4}
	case types.Varchar:
		if t.Width > 0 {
			return typeInfo{oidVarchar, -1, t.Width + 4}
		}
		return typeInfo{oidText, -1, -1}
	case types.Timestamp:
		return typeInfo{oidTimestamp, 8, t.Precision}
	case types.Date:
		return typeInfo{oidDate, 4, -1}
	case types.Interval:
		return typeInfo{oidInterval, 16, -1}
	}
	return typeInfo{oidText, -1, -1}
}

// typeOfOID maps a client-declared parameter OID to a SQL type; ok is
// false for OIDs we do not know (0 = unspecified).
func typeOfOID(oid uint32) (types.T, bool) {
	switch oid {
	case oidBool:
		return types.BoolType, true
	case oidInt2, oidInt4:
		return types.IntType, true
	case oidInt8, oidOID:
		return types.BigIntType, true
	case oidFloat4, oidFloat8:
		return types.DoubleType, true
	case oidNumeric:
		return types.DecimalType(types.MaxDecimalPrecision, 0), true
	case oidText, oidVarchar, oidBPChar, oidName, oidUnknown:
		return types.TextType, true
	case oidTimestamp, oidTimestampTZ:
		return types.TimestampType(6), true
	case oidDate:
		return types.DateType, true
	case oidInterval:
		return types.IntervalType, true
	}
	return types.T{}, false
}

// appendValue appends the wire form of d (a value of column type t) in
// text (binary=false) or binary format, without the length prefix.
func appendValue(buf []byte, d types.Datum, t types.T, bin bool) []byte {
	if !bin {
		return d.AppendText(buf)
	}
	switch t.Kind {
	case types.Boolean:
		if d.I != 0 {
			return append(buf, 1)
		}
		return append(buf, 0)
	case types.Int:
		return binary.BigEndian.AppendUint32(buf, uint32(int32(d.I)))
	case types.BigInt:
		return binary.BigEndian.AppendUint64(buf, uint64(d.I))
	case types.Double:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(d.F))
	case types.Decimal:
		return appendNumeric(buf, d.Dec, d.Scale)
	case types.Timestamp:
		return binary.BigEndian.AppendUint64(buf, uint64(d.I-pgEpochMicros))
	case types.Date:
		return binary.BigEndian.AppendUint32(buf, uint32(int32(d.I-pgEpochDays)))
	case types.Interval:
		buf = binary.BigEndian.AppendUint64(buf, uint64(d.I))
		buf = binary.BigEndian.AppendUint32(buf, uint32(d.Days))
		return binary.BigEndian.AppendUint32(buf, uint32(d.Months))
	}
	return d.AppendText(buf)
}

// appendNumeric appends Postgres' binary numeric form of n scaled by
// scale: ndigits, weight, sign, dscale, then base-10000 digits.
func appendNumeric(buf []byte, n decimal128.Num, scale int32) []byte {
	neg := n.Sign() < 0
	if neg {
		n = n.Negate()
	}
	var digitsBuf [48]byte
	var s []byte
	if n.HighBits() == 0 {
		s = strconv.AppendUint(digitsBuf[:0], n.LowBits(), 10)
	} else {
		s = append(digitsBuf[:0], n.BigInt().String()...)
	}
	sc := int(max(scale, 0))
	// Split into integer and fraction digits, padding to whole groups of 4.
	var intPart, frac []byte
	if len(s) > sc {
		intPart, frac = s[:len(s)-sc], s[len(s)-sc:]
	} else {
		frac = append([]byte(strings.Repeat("0", sc-len(s))), s...)
	}
	if len(intPart) == 1 && intPart[0] == '0' {
		intPart = nil
	}
	var groups [16]int16
	g := groups[:0]
	lead := (4 - len(intPart)%4) % 4
	intGroups := (len(intPart) + lead) / 4
	acc, k := 0, lead
	for _, c := range intPart {
		acc = acc*10 + int(c-'0')
		if k++; k == 4 {
			g = append(g, int16(acc))
			acc, k = 0, 0
		}
	}
	for i := 0; i < len(frac); i++ {
		acc = acc*10 + int(frac[i]-'0')
		if k++; k == 4 {
			g = append(g, int16(acc))
			acc, k = 0, 0
		}
	}
	if k > 0 {
		for ; k < 4; k++ {
			acc *= 10
		}
		g = append(g, int16(acc))
	}
	weight := intGroups - 1
	for len(g) > 0 && g[0] == 0 {
		g = g[1:]
		weight--
	}
	for len(g) > 0 && g[len(g)-1] == 0 {
		g = g[:len(g)-1]
	}
	if len(g) == 0 {
		weight = 0
	}
	sign := uint16(0)
	if neg && len(g) > 0 {
		sign = 0x4000
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(g)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, uint16(sc))
	for _, d := range g {
		buf = binary.BigEndian.AppendUint16(buf, uint16(d))
	}
	return buf
}

// decodeNumeric turns Postgres' binary numeric into its decimal text.
func decodeNumeric(b []byte) (string, bool) {
	if len(b) < 8 {
		return "", false
	}
	n := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(int16(binary.BigEndian.Uint16(b[6:])))
	if len(b) != 8+2*n || sign == 0xC000 || dscale < 0 {
		return "", false
	}
	v := new(big.Int)
	tenK := big.NewInt(10000)
	for i := 0; i < n; i++ {
		d := binary.BigEndian.Uint16(b[8+2*i:])
		if d >= 10000 {
			return "", false
		}
		v.Mul(v, tenK).Add(v, big.NewInt(int64(d)))
	}
	// v × 10000^(weight-n+1): as a decimal with exp10 = 4*(weight-n+1).
	exp10 := 4 * (weight - n + 1)
	s := v.String()
	if exp10 >= 0 {
		s += strings.Repeat("0", exp10)
	} else {
		fd := -exp10
		if len(s) <= fd {
			s = strings.Repeat("0", fd-len(s)+1) + s
		}
		s = s[:len(s)-fd] + "." + s[len(s)-fd:]
	}
	if sign == 0x4000 {
		s = "-" + s
	}
	return s, true
}

// decodeParam converts one Bind parameter to a datum of type want. wire is
// the type the value is encoded as (the declared or inferred OID); bin
// selects binary format. n is the 1-based parameter number for errors.
func decodeParam(v []byte, bin bool, wire, want types.T, n int) (types.Datum, error) {
	if v == nil {
		if want.Kind == types.Unknown {
			return types.NullDatum, nil
		}
		return types.NewNull(want), nil
	}
	var d types.Datum
	if !bin {
		s := string(v)
		target := want
		if target.Kind == types.Unknown {
			target = wire
		}
		switch target.Kind {
		case types.Unknown, types.Varchar:
			return types.NewText(s), nil
		case types.Interval:
			return types.Datum{}, sqlerr.Execf(sqlerr.FeatureNotSupported, "INTERVAL parameters are not supported (parameter $%d)", n)
		}
		if target.Kind == types.Timestamp {
			us, err := eval.ParseTimestamp(trimZone(s))
			if err != nil {
				return types.Datum{}, err
			}
			return types.NewTimestamp(us), nil
		}
		return eval.CastDatum(types.NewText(s), target)
	}
	bad := func() (types.Datum, error) {
		return types.Datum{}, sqlerr.Execf("22P03", "incorrect binary data format in bind parameter %d", n)
	}
	switch wire.Kind {
	case types.Boolean:
		if len(v) != 1 {
			return bad()
		}
		d = types.NewBool(v[0] != 0)
	case types.Int, types.BigInt:
		switch len(v) {
		case 2:
			d = types.NewBigInt(int64(int16(binary.BigEndian.Uint16(v))))
		case 4:
			d = types.NewBigInt(int64(int32(binary.BigEndian.Uint32(v))))
		case 8:
			d = types.NewBigInt(int64(binary.BigEndian.Uint64(v)))
		default:
			return bad()
		}
		if wire.Kind == types.Int && d.I >= math.MinInt32 && d.I <= math.MaxInt32 {
			d.Kind = types.Int
		}
	case types.Double:
		switch len(v) {
		case 4:
			d = types.NewDouble(float64(math.Float32frombits(binary.BigEndian.Uint32(v))))
		case 8:
			d = types.NewDouble(math.Float64frombits(binary.BigEndian.Uint64(v)))
		default:
			return bad()
		}
	case types.Decimal:
		s, ok := decodeNumeric(v)
		if !ok {
			return bad()
		}
		target := want
		if target.Kind != types.Decimal {
			target = types.DecimalType(types.MaxDecimalPrecision, int32(max(0, len(s)-strings.IndexByte(s+".", '.')-1)))
		}
		var err error
		if d, err = eval.CastDatum(types.NewText(s), target); err != nil {
			return types.Datum{}, err
		}
	case types.Varchar, types.Unknown:
		d = types.NewText(string(v))
	case types.Timestamp:
		if len(v) != 8 {
			return bad()
		}
		d = types.NewTimestamp(int64(binary.BigEndian.Uint64(v)) + pgEpochMicros)
	case types.Date:
		if len(v) != 4 {
			return bad()
		}
		d = types.NewDate(int32(binary.BigEndian.Uint32(v)) + pgEpochDays)
	case types.Interval:
		if len(v) != 16 {
			return bad()
		}
		d = types.NewInterval(int32(binary.BigEndian.Uint32(v[12:])), int32(binary.BigEndian.Uint32(v[8:])), int64(binary.BigEndian.Uint64(v)))
	default:
		return bad()
	}
	if want.Kind == types.Unknown || (d.Kind == want.Kind && want.Kind != types.Decimal && want.Kind != types.Varchar) {
		return d, nil
	}
	return eval.CastDatum(d, want)
}

// trimZone drops a trailing "+00"/"+00:00"/"Z" zone that some drivers add
// to timestamps (ParseTimestamp handles other offsets).
func trimZone(s string) string {
	s = strings.TrimSpace(s)
	for _, z := range []string{"+00:00", "+00", "Z"} {
		if strings.HasSuffix(s, z) {
			return strings.TrimSpace(s[:len(s)-len(z)])
		}
	}
	return s
}

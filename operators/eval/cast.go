package eval

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicedb/sluice/internal/pgtext"
	"github.com/sluicedb/sluice/types"
)

// castSupported reports whether CAST(from AS to) is defined.
func castSupported(from, to types.Kind) bool {
	if from == types.Unknown || from == to {
		return true
	}
	numeric := func(k types.Kind) bool {
		return k == types.Int || k == types.BigInt || k == types.Double || k == types.Decimal
	}
	switch {
	case to == types.Varchar:
		return from != types.Unknown
	case from == types.Varchar:
		return to != types.Interval && to != types.Unknown
	case numeric(from) && (numeric(to) || to == types.Boolean):
		return true
	case from == types.Boolean && numeric(to):
		return true
	case (from == types.Timestamp || from == types.Date) && (to == types.Timestamp || to == types.Date):
		return true
	}
	return false
}

// CastDatum converts d to type to with the same rules as expr.Cast: numeric
// conversions round half away from zero and fail with 22003 when out of
// range; text is trimmed and parsed (22P02 or 22007 on bad input); CAST to
// VARCHAR(n) truncates to n characters; TIMESTAMP(p) rounds to p digits.
// A NULL converts to a NULL of type to.
func CastDatum(d types.Datum, to types.T) (types.Datum, error) {
	if d.Null {
		return types.NewNull(to), nil
	}
	if !castSupported(d.Kind, to.Kind) {
		return types.Datum{}, errUnsupported("cannot cast %s to %s", kindName(d.Kind), to)
	}
	switch to.Kind {
	case types.Int, types.BigInt:
		v, err := castToInt(d, to)
		if err != nil {
			return types.Datum{}, err
		}
		if to.Kind == types.Int && (v < math.MinInt32 || v > math.MaxInt32) {
			return types.Datum{}, errOutOfRange(to)
		}
		return types.Datum{Kind: to.Kind, I: v}, nil
	case types.Double:
		switch d.Kind {
		case types.Varchar:
			f, isNum, fits := pgtext.Float64(textBytes(d.S))
			switch {
			case !isNum:
				return types.Datum{}, errSyntax(to, d.S)
			case !fits:
				return types.Datum{}, errDoubleRange
			}
			return types.NewDouble(f), nil
		default:
			return types.NewDouble(d.Float()), nil
		}
	case types.Decimal:
		switch d.Kind {
		case types.Varchar:
			n, isNum, fits := pgtext.Decimal(textBytes(d.S), to.DecimalPrecision(), to.Scale)
			switch {
			case !isNum:
				return types.Datum{}, errSyntax(to, d.S)
			case !fits:
				return types.Datum{}, errOutOfRange(to)
			}
			return types.NewDecimal(n, to.Scale), nil
		case types.Double:
			r, err := decFromFloat(d.F, to.Scale)
			if err != nil {
				return r, err
			}
			return decWithPrecision(r.Dec.BigInt(), to)
		default:
			v, s := bigOf(d)
			return decWithPrecision(rescaleBig(v, s, to.Scale), to)
		}
	case types.Boolean:
		switch d.Kind {
		case types.Varchar:
			b, ok := pgtext.Bool(textBytes(d.S))
			if !ok {
				return types.Datum{}, errSyntax(to, d.S)
			}
			return types.NewBool(b), nil
		case types.Double:
			return types.NewBool(d.F != 0), nil
		case types.Decimal:
			return types.NewBool(d.Dec.Sign() != 0), nil
		default:
			return types.NewBool(d.I != 0), nil
		}
	case types.Varchar:
		var s string
		switch d.Kind {
		case types.Varchar:
			s = d.S
		case types.Boolean:
			s = "false"
			if d.I != 0 {
				s = "true"
			}
		default:
			s = d.String()
		}
		return types.NewText(truncateChars(s, to.Width)), nil
	case types.Timestamp:
		if d.Kind == types.Varchar {
			us, err := parseTimestamp(d.S, to.Precision)
			if err != nil {
				return types.Datum{}, err
			}
			return types.NewTimestamp(us), nil
		}
		return types.NewTimestamp(pgtext.RoundMicros(timestampOf(d), to.Precision)), nil
	case types.Date:
		switch d.Kind {
		case types.Varchar:
			v, err := ParseDate(d.S)
			if err != nil {
				return types.Datum{}, err
			}
			return types.NewDate(v), nil
		case types.Timestamp:
			return types.NewDate(int32(floorDiv(d.I, usPerDay))), nil
		default:
			return types.NewDate(int32(d.I)), nil
		}
	case types.Interval:
		return d, nil
	}
	return types.Datum{}, errUnsupported("cannot cast %s to %s", kindName(d.Kind), to)
}

func kindName(k types.Kind) string { return types.T{Kind: k, Precision: 6, Scale: 0}.Name() }

// castToInt converts a numeric, boolean or text datum to int64.
func castToInt(d types.Datum, to types.T) (int64, error) {
	switch d.Kind {
	case types.Double:
		return floatToInt(d.F)
	case types.Decimal:
		v, s := bigOf(d)
		return bigToInt64(rescaleBig(v, s, 0))
	case types.Varchar:
		s := strings.TrimSpace(d.S)
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
				return 0, errOutOfRange(to)
			}
			return 0, errSyntax(to, d.S)
		}
		return v, nil
	default:
		return d.I, nil
	}
}

// floatToInt rounds f half away from zero to int64, or fails with 22003.
func floatToInt(f float64) (int64, error) {
	r := math.Round(f)
	if !(r >= -9223372036854775808.0 && r < 9223372036854775808.0) {
		return 0, errBigIntRange
	}
	return int64(r), nil
}

func decWithPrecision(v *big.Int, to types.T) (types.Datum, error) {
	p := to.Precision
	if p <= 0 || p > types.MaxDecimalPrecision {
		p = types.MaxDecimalPrecision
	}
	if v.CmpAbs(pow10Big(p)) >= 0 {
		return types.Datum{}, errOutOfRange(to)
	}
	return decFromBig(v, to.Scale)
}

// truncateChars cuts s to at most n characters (n <= 0: no limit).
func truncateChars(s string, n int32) string {
	if n <= 0 || len(s) <= int(n) {
		return s
	}
	i, c := 0, int32(0)
	for i < len(s) {
		if c == n {
			return s[:i]
		}
		_, sz := utf8.DecodeRuneInString(s[i:])
		i += sz
		c++
	}
	return s
}

package format

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/internal/pgtext"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Value is one scalar parsed by ParseText, in the form its Arrow column
// stores it. Only the field of the value's type means anything.
type Value struct {
	// I is a BOOLEAN (0 or 1), INT or BIGINT, TIMESTAMP (microseconds since
	// the Unix epoch, UTC) or DATE (days since the epoch).
	I int64
	// F is a DOUBLE.
	F float64
	// Dec is a DECIMAL(p,s), unscaled (the value times 10^s).
	Dec decimal128.Num
	// S is a VARCHAR: the parsed text itself, not a copy.
	S []byte
}

// codeBadEncoding is Postgres's character_not_in_repertoire, which it
// reports for input that is not valid in the server encoding.
const codeBadEncoding = "22021"

// ParseText parses b, the text form of a value of type t, into v without
// allocating. It is the one text-to-value conversion for external input
// (COPY FROM, and the fields of CSV and JSON events), with Postgres's
// input syntax and errors. Accepted, with ASCII white space around the
// value ignored for every type but VARCHAR:
//
//   - BOOLEAN: true/false, yes/no, on/off, 1/0 or a prefix of true, false,
//     yes or no (pgtext.Bool), in any case.
//   - INT, BIGINT: an optionally signed decimal integer.
//   - DOUBLE: what pgtext.Float64 takes (the parser CAST uses too): a
//     decimal number with an optional exponent, NaN, or [+-]Inf or
//     [+-]Infinity, in any case; not hex floats or '_' between digits. A
//     magnitude too large, or nonzero but too small for a float64, is out
//     of range.
//   - DECIMAL(p,s): [sign]digits[.digits][e[sign]digits], rounded half
//     away from zero to s fractional digits.
//   - VARCHAR(n): valid UTF-8 of at most n characters, taken as it is.
//   - DATE, TIMESTAMP(p): what pgtext.Date and pgtext.Timestamp take (the
//     parsers CAST uses too): YYYY-M[M]-D[D], years 0001 to 9999, then
//     optionally 'T' or white space, H[H]:MM[:SS[.f]] and a zone, Z or
//     ±H[H][[:]MM[:SS]] up to ±15:59:59, converted to UTC (DATE keeps the
//     date as written); fractional seconds round half up to p digits.
//
// A bad value is a *sqlerr.Error with Postgres's SQLSTATE and message:
// 22P02 invalid syntax (22007 for DATE and TIMESTAMP), 22003 out of range
// (22008 for a TIMESTAMP outside years 0001 to 9999, or a DATE or
// TIMESTAMP with a field out of range, as 2021-02-29 or 25:00; 22009 for
// one with a zone offset out of range, as +16), 22001 too long for
// VARCHAR(n), 22021 not UTF-8, and 0A000 for a type no text can fill
// (INTERVAL).
func ParseText(v *Value, b []byte, t types.T) error {
	var s slot
	c := types.Column{Type: t}
	if err := parseSlot(&s, &c, b, postgresErrors); err != nil {
		return err
	}
	v.I, v.F, v.Dec, v.S = s.i, s.f, s.dec, s.s
	return nil
}

// setText converts the text form of a value into s for column c, for the
// event decoders.
func setText(s *slot, c *types.Column, b []byte) error {
	return parseSlot(s, c, b, decoderErrors)
}

// errStyle says how parseSlot words a bad value.
type errStyle uint8

// The errStyle values.
const (
	decoderErrors  errStyle = iota // the decoders': column, SQL type, value
	postgresErrors                 // Postgres's SQLSTATE and message
)

// textFault says why text is not a value of a type.
type textFault uint8

// The textFault values.
const (
	textOK         textFault = iota
	textSyntax               // not the syntax of the type
	textRange                // a number out of the type's range
	textTooLong              // longer than VARCHAR(n)
	textEncoding             // not valid UTF-8
	textType                 // a type text cannot fill
	textFieldRange           // a date/time field out of range
	textZoneRange            // a zone offset out of range
)

// parseSlot is the conversion behind ParseText and setText: it parses b as
// a value of column c's type into s (the decoders' hot path, so writing
// into their slot directly) and words a bad value in the given style.
func parseSlot(s *slot, c *types.Column, b []byte, style errStyle) error {
	t := &c.Type
	f := textOK
	if t.Kind == types.Varchar {
		switch {
		case !utf8.Valid(b):
			f = textEncoding
		case t.Width > 0 && len(b) > int(t.Width) && utf8.RuneCount(b) > int(t.Width):
			f = textTooLong
		default:
			s.s = b
		}
	} else {
		// The pgtext parsers skip white space themselves.
		ok := false
		switch t.Kind {
		case types.Boolean:
			var bv bool
			bv, ok = pgtext.Bool(b)
			s.i = 0
			if bv {
				s.i = 1
			}
		case types.Int, types.BigInt:
			var fits bool
			s.i, ok, fits = parseInt64(pgtext.TrimSpace(b))
			if ok && (!fits || (t.Kind == types.Int && (s.i < math.MinInt32 || s.i > math.MaxInt32))) {
				f = textRange
			}
		case types.Double:
			var fits bool
			s.f, ok, fits = pgtext.Float64(b)
			if ok && !fits {
				f = textRange
			}
		case types.Decimal:
			var fits bool
			s.dec, ok, fits = pgtext.Decimal(b, t.DecimalPrecision(), t.Scale)
			if ok && !fits {
				f = textRange
			}
		case types.Timestamp:
			var pf pgtext.Fault
			s.i, pf = pgtext.Timestamp(b, t.Precision)
			ok = pf == pgtext.OK
			f = dateTimeFault(pf)
		case types.Date:
			var d int32
			var pf pgtext.Fault
			d, pf = pgtext.Date(b)
			s.i = int64(d)
			ok = pf == pgtext.OK
			f = dateTimeFault(pf)
		default:
			f = textType
		}
		if f == textOK && !ok {
			f = textSyntax
		}
	}
	if f != textOK {
		if style == decoderErrors {
			return decoderError(f, c, b)
		}
		return postgresError(f, b, *t)
	}
	s.state = slotValue
	return nil
}

// dateTimeFault is the textFault of a pgtext DATE or TIMESTAMP fault, but
// textOK for pgtext.Syntax: parseSlot's !ok makes that textSyntax.
func dateTimeFault(pf pgtext.Fault) textFault {
	switch pf {
	case pgtext.Range:
		return textRange
	case pgtext.FieldRange:
		return textFieldRange
	case pgtext.ZoneRange:
		return textZoneRange
	}
	return textOK
}

// decoderError words fault f of text b in column c the way the decoders
// report a bad field (naming the column and its SQL type); a date/time
// field or zone out of range reads as a value it cannot read.
func decoderError(f textFault, c *types.Column, b []byte) error {
	switch f {
	case textEncoding:
		return fmt.Errorf("column %s: value is not valid UTF-8", c.Name)
	case textTooLong:
		return checkWidth(b, *c)
	case textRange:
		return fmt.Errorf("column %s: %s is out of range for %s", c.Name, quote(pgtext.TrimSpace(b)), c.Type)
	}
	return fmt.Errorf("column %s: cannot read %s as %s", c.Name, quote(b), c.Type)
}

// postgresError is Postgres's error for fault f of text b read as type t.
func postgresError(f textFault, b []byte, t types.T) error {
	switch f {
	case textSyntax:
		switch t.Kind {
		case types.Timestamp, types.Date:
			return sqlerr.Execf(sqlerr.InvalidDatetime, "invalid input syntax for type %s: %q", pgName(t), b)
		}
		return sqlerr.Execf(sqlerr.InvalidTextRep, "invalid input syntax for type %s: %q", pgName(t), b)
	case textRange:
		switch t.Kind {
		case types.Double:
			return sqlerr.Execf(sqlerr.NumericOutOfRange, "%q is out of range for type double precision", b)
		case types.Decimal:
			return errNumericOverflow(t)
		case types.Timestamp:
			return sqlerr.Execf(sqlerr.DatetimeOverflow, "timestamp out of range: %q", b)
		}
		return sqlerr.Execf(sqlerr.NumericOutOfRange, "value %q is out of range for type %s", b, pgName(t))
	case textFieldRange:
		return sqlerr.Execf(sqlerr.DatetimeOverflow, "date/time field value out of range: %q", b)
	case textZoneRange:
		return sqlerr.Execf(sqlerr.InvalidZoneDisplacement, "time zone displacement out of range: %q", b)
	case textTooLong:
		return sqlerr.Execf(sqlerr.StringTooLong, "value too long for type character varying(%d)", t.Width)
	case textEncoding:
		return errEncoding(b)
	}
	return sqlerr.Execf(sqlerr.FeatureNotSupported, "type %s cannot be read from text", t)
}

// pgName is the Postgres name of a type ParseText reads, for messages.
func pgName(t types.T) string {
	switch t.Kind {
	case types.Boolean:
		return "boolean"
	case types.Int:
		return "integer"
	case types.BigInt:
		return "bigint"
	case types.Double:
		return "double precision"
	case types.Decimal:
		return "numeric"
	case types.Timestamp:
		return "timestamp"
	case types.Date:
		return "date"
	}
	return t.Name()
}

// errNumericOverflow is Postgres's error for a value that does not fit
// DECIMAL(p,s).
func errNumericOverflow(t types.T) error {
	p, s := t.DecimalPrecision(), t.Scale
	e := sqlerr.Execf(sqlerr.NumericOutOfRange, "numeric field overflow")
	if d := p - s; d > 0 {
		e.Detail = fmt.Sprintf("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", p, s, d)
	} else {
		e.Detail = fmt.Sprintf("A field with precision %d, scale %d must round to an absolute value less than 1.", p, s)
	}
	return e
}

// errEncoding is Postgres's error for text that is not valid UTF-8,
// naming the first bad byte.
func errEncoding(b []byte) error {
	i := 0
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	if i == len(b) {
		return sqlerr.Execf(codeBadEncoding, "invalid byte sequence for encoding \"UTF8\"")
	}
	return sqlerr.Execf(codeBadEncoding, "invalid byte sequence for encoding \"UTF8\": 0x%02x", b[i])
}

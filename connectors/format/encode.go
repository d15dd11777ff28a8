package format

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sluicedb/sluice/types"
)

// JSONEncoder writes a view's rows as JSON objects, fields named after
// the columns in column order: numbers (INT, BIGINT, DOUBLE, DECIMAL) as
// JSON numbers, BOOLEAN as true/false, TIMESTAMP as "2026-11-25
// 10:00:00.123", DATE as "2026-11-25", VARCHAR and INTERVAL as strings,
// NULL as null. A DOUBLE that is NaN or infinite is written as the string
// "NaN", "Infinity" or "-Infinity", which JSON has no numbers for.
type JSONEncoder struct {
	fields [][]byte // `"name":` per column, pre-escaped
}

// NewJSONEncoder returns an encoder for rows of schema.
func NewJSONEncoder(schema types.Schema) *JSONEncoder {
	e := &JSONEncoder{fields: make([][]byte, len(schema))}
	for i, c := range schema {
		f := AppendJSONString(nil, c.Name)
		e.fields[i] = append(f, ':')
	}
	return e
}

// AppendRow appends row as a JSON object.
func (e *JSONEncoder) AppendRow(buf []byte, row []types.Datum) []byte {
	buf = append(buf, '{')
	buf = e.appendFields(buf, row)
	return append(buf, '}')
}

// AppendChange appends row as a JSON object with two more fields, "op"
// (insert, delete, update_before or update_after) and "epoch".
func (e *JSONEncoder) AppendChange(buf []byte, row []types.Datum, op string, epoch uint64) []byte {
	buf = append(buf, '{')
	buf = e.appendFields(buf, row)
	if len(row) > 0 {
		buf = append(buf, ',')
	}
	buf = append(buf, `"op":`...)
	buf = AppendJSONString(buf, op)
	buf = append(buf, `,"epoch":`...)
	buf = strconv.AppendUint(buf, epoch, 10)
	return append(buf, '}')
}

// AppendKey appends the key columns of row as a JSON object.
func (e *JSONEncoder) AppendKey(buf []byte, row []types.Datum, key []int) []byte {
	buf = append(buf, '{')
	for n, i := range key {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e.fields[i]...)
		buf = AppendJSONValue(buf, row[i])
	}
	return append(buf, '}')
}

func (e *JSONEncoder) appendFields(buf []byte, row []types.Datum) []byte {
	for i, d := range row {
		if i > 0 {
			buf = append(buf, ',')
		}
		if i < len(e.fields) {
			buf = append(buf, e.fields[i]...)
		} else {
			buf = append(AppendJSONString(buf, "col"+strconv.Itoa(i+1)), ':')
		}
		buf = AppendJSONValue(buf, d)
	}
	return buf
}

// AppendJSONValue appends d as a JSON value (see JSONEncoder).
func AppendJSONValue(buf []byte, d types.Datum) []byte {
	if d.Null {
		return append(buf, "null"...)
	}
	switch d.Kind {
	case types.Boolean:
		if d.I != 0 {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case types.Int, types.BigInt:
		return strconv.AppendInt(buf, d.I, 10)
	case types.Double:
		if math.IsNaN(d.F) || math.IsInf(d.F, 0) {
			buf = append(buf, '"')
			buf = types.AppendFloat(buf, d.F)
			return append(buf, '"')
		}
		return types.AppendFloat(buf, d.F)
	case types.Decimal:
		return append(buf, types.FormatDecimal(d.Dec, d.Scale)...)
	case types.Varchar:
		return AppendJSONString(buf, d.S)
	case types.Timestamp, types.Date, types.Interval:
		buf = append(buf, '"')
		buf = d.AppendText(buf)
		return append(buf, '"')
	}
	return append(buf, "null"...)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD.
func AppendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

package format

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicedb/sluice/internal/pgtext"
	"github.com/sluicedb/sluice/types"
)

// JSONDecoder decodes events that are one JSON object each. Fields are
// matched to columns by name, exactly first and then ignoring case;
// fields without a column are skipped (but must be valid JSON); a missing
// field or null is NULL. Numeric columns also accept numbers written as
// strings ("42"); TIMESTAMP columns accept 'YYYY-MM-DD HH:MM:SS[.f]' or
// RFC 3339 strings, or a number of milliseconds since the epoch; VARCHAR
// columns take strings, and numbers and booleans as their JSON text. Any
// other mismatch (an object for a number, "abc" for BIGINT) makes the
// event bad. When a field appears twice, the last one wins.
type JSONDecoder struct {
	schema  types.Schema
	meta    []MetaField
	names   [][]byte // column names, nil for metadata columns
	row     []slot
	scratch []byte // unescaped strings of the current event
	next    int    // the column expected to come next (field order guess)
}

// maxDepth bounds the nesting of skipped JSON values.
const maxDepth = 1000

// NewJSONDecoder returns a JSON decoder for schema.
func NewJSONDecoder(schema types.Schema) (*JSONDecoder, error) {
	if err := checkSchema(schema); err != nil {
		return nil, err
	}
	meta, err := MetaFields(schema)
	if err != nil {
		return nil, err
	}
	d := &JSONDecoder{schema: schema, meta: meta, names: make([][]byte, len(schema)), row: make([]slot, len(schema))}
	for i, c := range schema {
		if meta[i] == MetaNone {
			d.names[i] = []byte(c.Name)
		}
	}
	return d, nil
}

// jsonError is a syntax error at a byte offset.
func jsonError(pos int, format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", pos, fmt.Sprintf(format, args...))
}

// errEOF reports a truncated event.
func errEOF(pos int) error { return jsonError(pos, "unexpected end of input") }

// Decode implements Decoder.
func (d *JSONDecoder) Decode(dst *Batch, v []byte, m *Meta) error {
	for i := range d.row {
		d.row[i].state = slotNull
		d.row[i].exact = false
	}
	d.scratch = d.scratch[:0]
	if m != nil {
		if err := fillMeta(d.row, d.meta, d.schema, m); err != nil {
			return err
		}
	}
	i := skipWS(v, 0)
	if i >= len(v) {
		return errors.New("empty message: expected a JSON object")
	}
	if v[i] != '{' {
		return fmt.Errorf("expected a JSON object, got %s", describe(v[i]))
	}
	i = skipWS(v, i+1)
	if i >= len(v) {
		return errEOF(i)
	}
	if v[i] == '}' {
		i++
	} else {
		for {
			if v[i] != '"' {
				return jsonError(i, "expected a field name, found %s", describe(v[i]))
			}
			key, j, err := d.str(v, i)
			if err != nil {
				return err
			}
			i = skipWS(v, j)
			if i >= len(v) {
				return errEOF(i)
			}
			if v[i] != ':' {
				return jsonError(i, "expected ':' after field name, found %s", describe(v[i]))
			}
			i = skipWS(v, i+1)
			if i >= len(v) {
				return errEOF(i)
			}
			col, exact := d.lookup(key)
			if col >= 0 && (exact || !d.row[col].exact) {
				i, err = d.value(v, i, col, exact)
			} else {
				i, err = skipValue(v, i, 0)
			}
			if err != nil {
				return err
			}
			i = skipWS(v, i)
			if i >= len(v) {
				return errEOF(i)
			}
			if v[i] == '}' {
				i++
				break
			}
			if v[i] != ',' {
				return jsonError(i, "expected ',' or '}' after a field, found %s", describe(v[i]))
			}
			i = skipWS(v, i+1)
			if i >= len(v) {
				return errEOF(i)
			}
		}
	}
	if i = skipWS(v, i); i != len(v) {
		return jsonError(i, "unexpected data after the object")
	}
	dst.appendRow(d.row)
	return nil
}

// lookup finds the column of a field name: exactly, then ignoring case.
func (d *JSONDecoder) lookup(key []byte) (int, bool) {
	n := len(d.names)
	if g := d.next; g < n && d.names[g] != nil && bytes.Equal(d.names[g], key) {
		d.next = g + 1
		return g, true
	}
	for c := 0; c < n; c++ {
		if d.names[c] != nil && bytes.Equal(d.names[c], key) {
			d.next = c + 1
			return c, true
		}
	}
	for c := 0; c < n; c++ {
		if d.names[c] != nil && bytes.EqualFold(d.names[c], key) {
			return c, false
		}
	}
	return -1, false
}

// describe names the JSON value starting with byte c, for errors.
func describe(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	case c >= 0x20 && c < 0x7f:
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// value decodes the value at v[i] into column col's slot.
func (d *JSONDecoder) value(v []byte, i, col int, exact bool) (int, error) {
	s := &d.row[col]
	c := &d.schema[col]
	k := c.Type.Kind
	switch b := v[i]; {
	case b == '"':
		str, j, err := d.str(v, i)
		if err != nil {
			return j, err
		}
		if err := setText(s, c, str); err != nil {
			return j, err
		}
		s.exact = exact
		return j, nil
	case b == '-' || (b >= '0' && b <= '9'):
		j, isInt, err := scanNumber(v, i)
		if err != nil {
			return j, err
		}
		if err := setNumber(s, c, v[i:j], isInt); err != nil {
			return j, err
		}
		s.exact = exact
		return j, nil
	case b == 't' || b == 'f':
		lit := "true"
		if b == 'f' {
			lit = "false"
		}
		if !bytes.HasPrefix(v[i:], []byte(lit)) {
			return i, jsonError(i, "invalid literal")
		}
		j := i + len(lit)
		switch k {
		case types.Boolean:
			s.i = 0
			if b == 't' {
				s.i = 1
			}
		case types.Varchar:
			s.s = v[i:j]
		default:
			return j, fmt.Errorf("column %s: expected %s, got %s", c.Name, c.Type, lit)
		}
		s.state = slotValue
		s.exact = exact
		return j, nil
	case b == 'n':
		if !bytes.HasPrefix(v[i:], []byte("null")) {
			return i, jsonError(i, "invalid literal")
		}
		s.state = slotNull
		s.exact = exact
		return i + 4, nil
	case b == '{' || b == '[':
		return i, fmt.Errorf("column %s: expected %s, got %s", c.Name, c.Type, describe(b))
	default:
		return i, jsonError(i, "unexpected %s", describe(b))
	}
}

// setNumber stores a JSON number (text num) in slot s for column c.
func setNumber(s *slot, c *types.Column, num []byte, isInt bool) error {
	t := c.Type
	ok := true
	switch t.Kind {
	case types.Int, types.BigInt:
		if !isInt {
			return fmt.Errorf("column %s: %s is not an integer", c.Name, quote(num))
		}
		s.i, ok = parseInt(num)
		if !ok || (t.Kind == types.Int && (s.i < math.MinInt32 || s.i > math.MaxInt32)) {
			return fmt.Errorf("column %s: %s is out of range for %s", c.Name, quote(num), t)
		}
	case types.Double:
		var fits bool
		s.f, ok, fits = pgtext.Float64(num)
		if ok && !fits {
			return fmt.Errorf("column %s: %s is out of range for %s", c.Name, quote(num), t)
		}
	case types.Decimal:
		var fits bool
		s.dec, ok, fits = pgtext.Decimal(num, t.DecimalPrecision(), t.Scale)
		if ok && !fits {
			return fmt.Errorf("column %s: %s is out of range for %s", c.Name, quote(num), t)
		}
	case types.Timestamp:
		// Milliseconds since the epoch.
		if isInt {
			var ms int64
			if ms, ok = parseInt(num); ok {
				s.i, ok = msToMicros(ms)
			}
		} else {
			var f float64
			if f, ok = parseFloat(num); ok {
				f = math.Round(f * 1000)
				ok = f > math.MinInt64 && f < math.MaxInt64
				s.i = int64(f)
			}
		}
		if !ok {
			return fmt.Errorf("column %s: %s milliseconds is out of range for TIMESTAMP", c.Name, quote(num))
		}
		s.i = pgtext.RoundMicros(s.i, t.Precision)
	case types.Varchar:
		if err := checkWidth(num, *c); err != nil {
			return err
		}
		s.s = num
	default:
		return fmt.Errorf("column %s: expected %s, got a number", c.Name, t)
	}
	if !ok {
		return fmt.Errorf("column %s: cannot read %s as %s", c.Name, quote(num), t)
	}
	s.state = slotValue
	return nil
}

// skipWS skips JSON whitespace.
func skipWS(v []byte, i int) int {
	for i < len(v) {
		switch v[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// strStop marks the bytes that end the fast scan of a string.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// str reads the string starting at v[i] (a quote). The result is a view
// of v when the string has no escapes, else of the scratch buffer.
func (d *JSONDecoder) str(v []byte, i int) ([]byte, int, error) {
	start := i + 1
	j := start
	for j < len(v) && !strStop[v[j]] {
		j++
	}
	if j >= len(v) {
		return nil, j, errEOF(j)
	}
	if v[j] == '"' {
		return v[start:j], j + 1, nil
	}
	return d.unescape(v, start, j)
}

// unescape decodes a string with escapes into the scratch buffer; j is
// the first byte that is not plain.
func (d *JSONDecoder) unescape(v []byte, start, j int) ([]byte, int, error) {
	out := len(d.scratch)
	d.scratch = append(d.scratch, v[start:j]...)
	for j < len(v) {
		c := v[j]
		switch {
		case c == '"':
			return d.scratch[out:], j + 1, nil
		case c < 0x20:
			return nil, j, jsonError(j, "control character 0x%02x in string", c)
		case c != '\\':
			d.scratch = append(d.scratch, c)
			j++
			continue
		}
		if j+1 >= len(v) {
			return nil, j + 1, errEOF(j + 1)
		}
		e := v[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			d.scratch = append(d.scratch, e)
		case 'b':
			d.scratch = append(d.scratch, '\b')
		case 'f':
			d.scratch = append(d.scratch, '\f')
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'u':
			r, ok := hex4(v, j)
			if !ok {
				return nil, j, jsonError(j-2, "invalid \\u escape")
			}
			j += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if j+6 <= len(v) && v[j] == '\\' && v[j+1] == 'u' {
					r2, ok = hex4(v, j+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					j += 6
				} else {
					r = utf8.RuneError
				}
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
		default:
			return nil, j, jsonError(j-2, "invalid escape \\%c", e)
		}
	}
	return nil, j, errEOF(j)
}

// hex4 reads four hex digits at v[i:].
func hex4(v []byte, i int) (rune, bool) {
	if i+4 > len(v) {
		return 0, false
	}
	var r rune
	for _, c := range v[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanNumber checks the JSON number at v[i] and returns its end and
// whether it has neither fraction nor exponent.
func scanNumber(v []byte, i int) (int, bool, error) {
	j := i
	if v[j] == '-' {
		j++
	}
	if j >= len(v) {
		return j, false, errEOF(j)
	}
	switch c := v[j]; {
	case c == '0':
		j++
	case c >= '1' && c <= '9':
		for j++; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
		}
	default:
		return j, false, jsonError(j, "invalid number")
	}
	isInt := true
	if j < len(v) && v[j] == '.' {
		isInt = false
		j++
		k := j
		for ; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
		}
		if j == k {
			return j, false, jsonError(j, "invalid number: no digits after '.'")
		}
	}
	if j < len(v) && (v[j] == 'e' || v[j] == 'E') {
		isInt = false
		j++
		if j < len(v) && (v[j] == '+' || v[j] == '-') {
			j++
		}
		k := j
		for ; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
		}
		if j == k {
			return j, false, jsonError(j, "invalid number: no digits in exponent")
		}
	}
	return j, isInt, nil
}

// skipValue checks and skips the JSON value at v[i].
func skipValue(v []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, jsonError(i, "nested too deeply")
	}
	switch c := v[i]; {
	case c == '"':
		j := i + 1
		for j < len(v) {
			switch b := v[j]; {
			case b == '"':
				return j + 1, nil
			case b == '\\':
				if j+1 >= len(v) {
					return j + 1, errEOF(j + 1)
				}
				switch v[j+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					j += 2
				case 'u':
					if _, ok := hex4(v, j+2); !ok {
						return j, jsonError(j, "invalid \\u escape")
					}
					j += 6
				default:
					return j, jsonError(j, "invalid escape \\%c", v[j+1])
				}
			case b < 0x20:
				return j, jsonError(j, "control character 0x%02x in string", b)
			default:
				j++
			}
		}
		return j, errEOF(j)
	case c == '-' || (c >= '0' && c <= '9'):
		j, _, err := scanNumber(v, i)
		return j, err
	case c == 't':
		return literal(v, i, "true")
	case c == 'f':
		return literal(v, i, "false")
	case c == 'n':
		return literal(v, i, "null")
	case c == '[' || c == '{':
		obj := c == '{'
		closer := byte(']')
		if obj {
			closer = '}'
		}
		j := skipWS(v, i+1)
		if j < len(v) && v[j] == closer {
			return j + 1, nil
		}
		for {
			if j >= len(v) {
				return j, errEOF(j)
			}
			var err error
			if obj {
				if v[j] != '"' {
					return j, jsonError(j, "expected a field name, found %s", describe(v[j]))
				}
				if j, err = skipValue(v, j, depth+1); err != nil {
					return j, err
				}
				if j = skipWS(v, j); j >= len(v) {
					return j, errEOF(j)
				}
				if v[j] != ':' {
					return j, jsonError(j, "expected ':' after field name, found %s", describe(v[j]))
				}
				if j = skipWS(v, j+1); j >= len(v) {
					return j, errEOF(j)
				}
			}
			if j, err = skipValue(v, j, depth+1); err != nil {
				return j, err
			}
			if j = skipWS(v, j); j >= len(v) {
				return j, errEOF(j)
			}
			if v[j] == closer {
				return j + 1, nil
			}
			if v[j] != ',' {
				return j, jsonError(j, "expected ',' or '%c', found %s", closer, describe(v[j]))
			}
			j = skipWS(v, j+1)
		}
	}
	return i, jsonError(i, "unexpected %s", describe(v[i]))
}

func literal(v []byte, i int, lit string) (int, error) {
	if !bytes.HasPrefix(v[i:], []byte(lit)) {
		return i, jsonError(i, "invalid literal")
	}
	return i + len(lit), nil
}

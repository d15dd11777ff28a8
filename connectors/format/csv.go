package format

import (
	"bytes"
	"fmt"

	"github.com/sluicedb/sluice/types"
)

// CSVDecoder decodes events that are one CSV line each (RFC 4180): the
// payload columns in declared order (metadata columns excluded), fields
// separated by commas, optionally quoted with '"' ("" inside quotes is a
// quote; quoted fields may hold commas and line breaks). An empty unquoted
// field is NULL; an empty quoted field is the empty string for VARCHAR and
// NULL otherwise. One trailing line break is ignored.
type CSVDecoder struct {
	schema  types.Schema
	meta    []MetaField
	payload []int // payload column indexes in order
	row     []slot
	scratch []byte
}

// NewCSVDecoder returns a CSV decoder for schema.
func NewCSVDecoder(schema types.Schema) (*CSVDecoder, error) {
	if err := checkSchema(schema); err != nil {
		return nil, err
	}
	meta, err := MetaFields(schema)
	if err != nil {
		return nil, err
	}
	d := &CSVDecoder{schema: schema, meta: meta, row: make([]slot, len(schema))}
	for i := range schema {
		if meta[i] == MetaNone {
			d.payload = append(d.payload, i)
		}
	}
	return d, nil
}

// Decode implements Decoder.
func (d *CSVDecoder) Decode(dst *Batch, v []byte, m *Meta) error {
	for i := range d.row {
		d.row[i].state = slotNull
	}
	d.scratch = d.scratch[:0]
	if m != nil {
		if err := fillMeta(d.row, d.meta, d.schema, m); err != nil {
			return err
		}
	}
	// One trailing line break is the line's end, not data.
	if n := len(v); n > 0 && v[n-1] == '\n' {
		v = v[:n-1]
		if n := len(v); n > 0 && v[n-1] == '\r' {
			v = v[:n-1]
		}
	}
	i := 0
	field := 0
	var convErr error // the first bad value, reported if the field count is right
	for {
		var val []byte
		quoted := false
		if i < len(v) && v[i] == '"' {
			quoted = true
			var err error
			if val, i, err = d.quoted(v, i); err != nil {
				return err
			}
			if i < len(v) && v[i] != ',' {
				return fmt.Errorf("field %d: unexpected %q after closing quote", field+1, v[i])
			}
		} else {
			j := i
			for j < len(v) && v[j] != ',' {
				switch v[j] {
				case '"':
					return fmt.Errorf("field %d: quote inside an unquoted field", field+1)
				case '\n', '\r':
					return fmt.Errorf("field %d: line break outside quotes (one line per message)", field+1)
				}
				j++
			}
			val = v[i:j]
			i = j
		}
		if field < len(d.payload) {
			col := d.payload[field]
			c := &d.schema[col]
			if (len(val) > 0 || (quoted && c.Type.Kind == types.Varchar)) && convErr == nil {
				convErr = setText(&d.row[col], c, val)
			}
		}
		field++
		if i >= len(v) {
			break
		}
		i++ // the comma
	}
	if field != len(d.payload) {
		return fmt.Errorf("expected %d fields, got %d", len(d.payload), field)
	}
	if convErr != nil {
		return convErr
	}
	dst.appendRow(d.row)
	return nil
}

// quoted reads the quoted field starting at v[i].
func (d *CSVDecoder) quoted(v []byte, i int) ([]byte, int, error) {
	start := i + 1
	j := bytes.IndexByte(v[start:], '"')
	if j < 0 {
		return nil, len(v), fmt.Errorf("unterminated quoted field")
	}
	j += start
	if j+1 >= len(v) || v[j+1] != '"' {
		return v[start:j], j + 1, nil // no doubled quotes: a view of v
	}
	out := len(d.scratch)
	d.scratch = append(d.scratch, v[start:j+1]...)
	j += 2
	for j < len(v) {
		if v[j] != '"' {
			d.scratch = append(d.scratch, v[j])
			j++
			continue
		}
		if j+1 < len(v) && v[j+1] == '"' {
			d.scratch = append(d.scratch, '"')
			j += 2
			continue
		}
		return d.scratch[out:], j + 1, nil
	}
	return nil, j, fmt.Errorf("unterminated quoted field")
}

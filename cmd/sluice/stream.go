package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// streamer is implemented by backends that show a SUBSCRIBE live: the
// changes are printed as they are committed, until Ctrl-C.
type streamer interface {
	// Stream runs sql when it is a SUBSCRIBE, writing a header and one
	// line per change ("epoch | op | columns...") to w until ctx is
	// cancelled or the subscription fails. handled is false when sql is
	// not a SUBSCRIBE.
	Stream(ctx context.Context, sql string, w io.Writer) (handled bool, err error)
}

// parseSubscribe returns the statement when sql is a SUBSCRIBE.
func parseSubscribe(sql string) (*parser.Subscribe, bool) {
	t := strings.TrimSpace(sql)
	if len(t) < len("SUBSCRIBE") || !strings.EqualFold(t[:len("SUBSCRIBE")], "SUBSCRIBE") {
		return nil, false
	}
	st, err := parser.ParseOne(sql)
	if err != nil {
		return nil, false
	}
	s, ok := st.(*parser.Subscribe)
	return s, ok
}

// writeStreamLine writes one line of a streamed subscription.
func writeStreamLine(w io.Writer, vals []string) {
	fmt.Fprintf(w, " %s\n", strings.Join(vals, " | "))
}

// writeStreamHeader writes the column names and a rule.
func writeStreamHeader(w io.Writer, names []string) {
	writeStreamLine(w, names)
	n := 0
	for _, s := range names {
		n += displayWidth(s) + 3
	}
	fmt.Fprintln(w, strings.Repeat("-", max(0, n-1)))
}

// Stream implements streamer with an engine subscription.
func (b *embedded) Stream(ctx context.Context, sql string, w io.Writer) (bool, error) {
	st, ok := parseSubscribe(sql)
	if !ok {
		return false, nil
	}
	sub, err := b.eng.Subscribe(st.Name, st.Snapshot)
	if err != nil {
		return true, err
	}
	defer sub.Close()
	names := []string{"epoch", "op"}
	for _, c := range sub.Columns {
		names = append(names, c.Name)
	}
	writeStreamHeader(w, names)
	vals := make([]string, len(names))
	for {
		batch, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return true, canceledError()
			}
			return true, err
		}
		for _, c := range batch.Changes {
			vals[0] = fmt.Sprint(c.Epoch)
			vals[1] = c.Op.String()
			for i, d := range c.Row {
				if i+2 < len(vals) {
					vals[i+2] = datumText(d)
				}
			}
			writeStreamLine(w, vals)
		}
	}
}

func datumText(d types.Datum) string {
	if d.Null {
		return ""
	}
	return d.String()
}

// Stream implements streamer with COPY (SUBSCRIBE ...) TO STDOUT, which
// the server streams line by line; Ctrl-C sends a CancelRequest.
func (b *remote) Stream(ctx context.Context, sql string, w io.Writer) (bool, error) {
	st, ok := parseSubscribe(sql)
	if !ok {
		return false, nil
	}
	desc, err := b.Exec(context.Background(), "DESCRIBE "+quoteIdent(st.Name))
	if err != nil {
		return true, err
	}
	names := []string{"epoch", "op"}
	for _, row := range desc.Rows {
		if len(row) > 0 {
			names = append(names, row[0].S)
		}
	}
	writeStreamHeader(w, names)
	done := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-done:
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.conn.CancelRequest(cctx)
		}
	}()
	cw := &copyLineWriter{w: w}
	_, err = b.conn.CopyTo(context.Background(), cw, "COPY ("+strings.TrimSpace(sql)+") TO STDOUT")
	close(done)
	<-watcherDone
	return true, fromPgError(err)
}

// copyLineWriter turns COPY text-format lines into stream lines.
type copyLineWriter struct {
	w       io.Writer
	partial []byte
}

func (c *copyLineWriter) Write(p []byte) (int, error) {
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(c.partial[:i])
		c.partial = c.partial[i+1:]
		fields := strings.Split(line, "\t")
		for j, f := range fields {
			fields[j] = unescapeCopy(f)
		}
		writeStreamLine(c.w, fields)
	}
}

// unescapeCopy decodes one COPY text-format field (\N is NULL, shown
// empty).
func unescapeCopy(f string) string {
	if f == `\N` {
		return ""
	}
	if !strings.Contains(f, `\`) {
		return f
	}
	var sb strings.Builder
	r := bufio.NewReader(strings.NewReader(f))
	for {
		ch, _, err := r.ReadRune()
		if err != nil {
			return sb.String()
		}
		if ch != '\\' {
			sb.WriteRune(ch)
			continue
		}
		nx, _, err := r.ReadRune()
		if err != nil {
			sb.WriteRune('\\')
			return sb.String()
		}
		switch nx {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		default:
			sb.WriteRune(nx)
		}
	}
}

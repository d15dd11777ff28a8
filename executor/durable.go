package executor

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/sluicedb/sluice/executor/wal"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
)

// WAL record kinds.
const (
	recDDL    byte = 1 // payload: the statement's SQL text
	recChange byte = 2 // payload: table name, ops, Arrow IPC stream of the rows
)

// durability is the write-ahead log under Options.DataDir: every DDL
// statement and every acknowledged table change is logged (and fsync'd,
// with group commit) before the client hears "ok"; on start the log is
// replayed, so the catalog and all acknowledged rows survive restarts.
type durability struct {
	log *wal.Log
	// replaying is set while Open replays the log: nothing is logged again.
	replaying bool
	// startLater starts the sources created while recovering.
	startLater []func()
}

// startSources starts the sources created while recovering.
func (d *durability) startSources() {
	for _, start := range d.startLater {
		start()
	}
	d.startLater = nil
}

// openDurability opens the log in dir and replays it into e.
func (e *Engine) openDurability(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	log, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{NoSync: e.opts.NoSync})
	if err != nil {
		return fmt.Errorf("open write-ahead log: %w", err)
	}
	e.dur = &durability{log: log, replaying: true}
	defer func() { e.dur.replaying = false }()
	// Sources start once the whole catalog exists again: a source running
	// before the views that read it would drop the events it reads. (On
	// failure too, so that Close can stop them.)
	defer e.dur.startSources()
	from, err := e.restoreCheckpoint(ctx, dir)
	if err != nil {
		log.Close()
		return err
	}
	n := 0
	err = log.Replay(from, func(lsn wal.LSN, kind byte, payload []byte) error {
		n++
		switch kind {
		case recDDL:
			st, err := parser.ParseOne(string(payload))
			if err != nil {
				return fmt.Errorf("WAL record %d: %w", lsn, err)
			}
			if _, err := e.ExecuteStatement(ctx, st, nil); err != nil {
				// It failed when it first ran too, after being logged.
				slog.Warn("replayed DDL failed", "lsn", lsn, "sql", string(payload), "err", err)
			}
		case recChange:
			if err := e.replayChange(payload); err != nil {
				return fmt.Errorf("WAL record %d: %w", lsn, err)
			}
		default:
			return fmt.Errorf("WAL record %d: unknown kind %d", lsn, kind)
		}
		return nil
	})
	if err != nil {
		log.Close()
		return err
	}
	if n > 0 || from > 0 {
		slog.Info("recovered", "checkpoint_lsn", uint64(from), "log_records", n)
		return e.runEpoch(false)
	}
	return nil
}

// logging reports whether changes must be logged now.
func (e *Engine) logging() bool { return e.dur != nil && !e.dur.replaying }

// logDDL logs a DDL statement that succeeded.
func (e *Engine) logDDL(ctx context.Context, sql string) error {
	if !e.logging() {
		return nil
	}
	if _, err := e.dur.log.AppendSync(ctx, recDDL, []byte(sql)); err != nil {
		return sqlerr.New(sqlerr.Resource, "53100", "could not log the statement durably: %v", err)
	}
	return nil
}

// logChange logs the changes of one statement to a table as one record
// (so a multi-row INSERT is replayed whole or not at all) and waits until
// it is durable. The caller holds ingestMu (read) and the table's dmlMu,
// so log order is publish order.
func (e *Engine) logChange(ctx context.Context, o *object, cs ...*operators.Chunk) error {
	if !e.logging() || len(cs) == 0 {
		return nil
	}
	payload, err := encodeChange(o.rel.Name, cs)
	if err != nil {
		return err
	}
	if _, err := e.dur.log.AppendSync(ctx, recChange, payload); err != nil {
		return sqlerr.New(sqlerr.Resource, "53100", "could not write the change durably, nothing was stored: %v", err)
	}
	return nil
}

// encodeChange writes the table name, then per chunk its ops and rows:
// uvarint(len name) name uvarint(chunks) { uvarint(len ops) ops } and one
// Arrow IPC stream holding the chunks' record batches in order.
func encodeChange(name string, cs []*operators.Chunk) ([]byte, error) {
	var buf bytes.Buffer
	var hdr [binary.MaxVarintLen64]byte
	put := func(v uint64) { buf.Write(hdr[:binary.PutUvarint(hdr[:], v)]) }
	put(uint64(len(name)))
	buf.WriteString(name)
	put(uint64(len(cs)))
	for _, c := range cs {
		put(uint64(len(c.Ops)))
		for _, op := range c.Ops {
			buf.WriteByte(byte(op))
		}
	}
	w := ipc.NewWriter(&buf, ipc.WithSchema(cs[0].Rec.Schema()))
	for _, c := range cs {
		if err := w.Write(c.Rec); err != nil {
			return nil, fmt.Errorf("encode change: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode change: %w", err)
	}
	return buf.Bytes(), nil
}

// replayChange applies a logged change again: a keyed table's current
// state and its readers, or an append-only table's ingestion (late-row
// decisions repeat, since the watermark replays too).
func (e *Engine) replayChange(payload []byte) error {
	r := bytes.NewReader(payload)
	get := func() (uint64, error) {
		v, err := binary.ReadUvarint(r)
		if err != nil || v > uint64(r.Len()) {
			return 0, fmt.Errorf("corrupt change record")
		}
		return v, nil
	}
	n, err := get()
	if err != nil {
		return err
	}
	name := make([]byte, n)
	r.Read(name)
	nchunks, err := get()
	if err != nil {
		return err
	}
	opsOf := make([][]operators.Op, nchunks)
	for i := range opsOf {
		nops, err := get()
		if err != nil {
			return err
		}
		if nops > 0 {
			opsOf[i] = make([]operators.Op, nops)
			for k := range opsOf[i] {
				b, _ := r.ReadByte()
				opsOf[i][k] = operators.Op(b)
			}
		}
	}
	rd, err := ipc.NewReader(r, ipc.WithAllocator(e.mem))
	if err != nil {
		return fmt.Errorf("decode change: %w", err)
	}
	defer rd.Release()
	var chunks []*operators.Chunk
	for i := 0; i < len(opsOf) && rd.Next(); i++ {
		rec := rd.RecordBatch()
		rec.Retain()
		chunks = append(chunks, &operators.Chunk{Rec: rec, Ops: opsOf[i]})
	}
	if len(chunks) != len(opsOf) {
		releaseChunks(chunks)
		return fmt.Errorf("decode change: %d of %d batches: %v", len(chunks), len(opsOf), rd.Err())
	}
	o, ok := e.cat.get(string(name))
	if !ok || !o.isTable() {
		releaseChunks(chunks)
		return fmt.Errorf("change for missing table %q", name)
	}
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	o.dmlMu.Lock()
	defer o.dmlMu.Unlock()
	for i, c := range chunks {
		var err error
		if o.rel.Keyed {
			if err = o.current.Apply(c); err == nil {
				o.publish(c)
			} else {
				c.Rec.Release()
			}
		} else {
			err = o.ingest(e.mem, c)
		}
		if err != nil {
			releaseChunks(chunks[i+1:])
			return err
		}
	}
	return nil
}

// closeDurability closes the log.
func (e *Engine) closeDurability() {
	if e.dur != nil {
		e.dur.log.Close()
	}
}

// Package wal is Sluice's write-ahead log: an append-only sequence of
// records (a kind byte and a payload), each numbered by a log sequence
// number (LSN), written to segment files in one directory and made durable
// with group commit: one writer goroutine writes every frame buffered since
// its last write with one write call and one fsync, and wakes every waiter
// whose record that fsync covered.
//
// On Open the log is scanned and a torn or corrupt tail of the last segment
// (a crash in the middle of a write) is cut; damage anywhere else is an
// error. A write or fsync failure (a full disk) fails every record that was
// not yet durable, truncates the file back to the last durable frame and
// refuses appends until a retry succeeds. The segment format is described
// in segment.go.
package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// LSN is a log sequence number: records are numbered 1, 2, 3, ... in
// append order.
type LSN uint64

// Options configure a Log.
type Options struct {
	// SegmentSize: the log rotates to a new segment file once the current
	// one reaches this size (default 64 MiB). A segment exceeds it by at
	// most one record.
	SegmentSize int64
	// SyncDelay is the group-commit window: how long the writer waits for
	// more records after the first one arrives before it writes and
	// fsyncs (default 0: write as soon as the previous fsync ends;
	// batching happens naturally while an fsync is in progress).
	SyncDelay time.Duration
	// NoSync skips every fsync, of files and of the directory (tests and
	// benchmarks only: records survive a process crash but not a power
	// loss).
	NoSync bool

	// openFile opens segment files; tests replace it to inject faults.
	openFile func(path string, flag int, perm os.FileMode) (file, error)
}

// file is what the log needs of a segment file; *os.File implements it and
// tests wrap it to inject write and fsync failures.
type file interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

func openOSFile(path string, flag int, perm os.FileMode) (file, error) {
	return os.OpenFile(path, flag, perm)
}

const (
	defaultSegmentSize = 64 << 20
	// maxPending bounds the bytes buffered for the writer: Append blocks
	// while more are waiting (a single larger record is still accepted).
	maxPending = 16 << 20
	// maxSpare is the largest buffer the writer keeps for reuse.
	maxSpare = 4 << 20
	// segFlags open a segment for appending.
	segFlags = os.O_WRONLY | os.O_APPEND
)

// ErrClosed is returned by operations on a closed Log.
var ErrClosed = errors.New("wal: log is closed")

// failure is a run of LSNs whose records were not made durable.
type failure struct {
	lo, hi LSN
	err    error
}

// Log is a write-ahead log in one directory. Its methods are safe for
// concurrent use.
type Log struct {
	dir      string
	opts     Options
	lockFile *os.File

	mu       sync.Mutex
	work     *sync.Cond // signals the writer: frames pending or closing
	space    *sync.Cond // signals appenders: pending buffer has room or state changed
	next     LSN        // LSN the next Append gets
	buf      []byte     // frames appended and not yet taken by the writer
	bufFirst LSN        // LSN of the first frame in buf
	spare    []byte     // the writer's previous batch buffer, for reuse
	durable  LSN        // every LSN <= durable is durable or failed
	notify   chan struct{}
	failures []failure // sorted, disjoint: LSNs whose records failed
	broken   error     // non-nil after a write failure until a retry succeeds
	voidHi   LSN       // > durable: failed LSNs durable+1..voidHi still need a void frame
	flushing bool      // the writer is writing a batch (outside mu)
	closed   bool
	exited   bool // the writer goroutine has returned
	segs     []segment
	done     chan struct{}

	// Writer state. Only the writer goroutine touches it while flushing;
	// otherwise (the writer idle because the log is broken, or gone after
	// Close) it is used under mu.
	cur          file
	curName      string // path of cur
	curSize      int64  // bytes of valid frames in cur: the durable boundary
	needTruncate bool   // cur may hold bytes past curSize
	dirDirty     bool   // a created segment's directory entry is not yet fsync'd

	truncMu   sync.Mutex // serializes TruncateBefore
	closeOnce sync.Once
	closeErr  error
	drainErr  error // a write failure while Close flushed

	fsyncs    atomic.Int64 // file fsyncs done (tests and benchmarks)
	maxRecord int          // largest payload Append accepts (maxPayload; lowered by tests)
}

// Open opens (creating if needed) the log in dir, scans it, cuts a torn or
// corrupt tail, and returns the log ready to append after the last good
// record. A partial frame, a CRC mismatch or an out-of-sequence LSN in the
// last segment is a torn tail: the file is truncated to the last good
// frame. The same damage in an earlier segment, a gap in the LSNs between
// segments or an empty earlier segment is an error naming the file and
// offset: data is never skipped silently.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = defaultSegmentSize
	}
	if opts.SyncDelay < 0 {
		opts.SyncDelay = 0
	}
	if opts.openFile == nil {
		opts.openFile = openOSFile
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: create %s: %w", dir, err)
	}
	lockFile, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: opts, lockFile: lockFile, notify: make(chan struct{}), done: make(chan struct{}), maxRecord: maxPayload}
	l.work = sync.NewCond(&l.mu)
	l.space = sync.NewCond(&l.mu)
	if err := l.recover(); err != nil {
		if l.cur != nil {
			l.cur.Close()
		}
		l.unlock()
		return nil, err
	}
	go l.run()
	return l, nil
}

// recover scans the segments, cuts a torn tail and opens the last segment
// for appending.
func (l *Log) recover() error {
	segs, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		s := segment{first: 1, path: filepath.Join(l.dir, segmentName(1))}
		f, err := l.opts.openFile(s.path, segFlags|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("wal: create segment %s: %w", s.path, err)
		}
		l.cur, l.curName = f, s.path
		if err := l.syncDir(); err != nil {
			return err
		}
		l.segs = []segment{s}
		l.next, l.durable = 1, 0
		return nil
	}
	var next LSN
	var last scanResult
	for i, s := range segs {
		if i > 0 && s.first != next {
			return fmt.Errorf("wal: segment %s starts at LSN %d but the previous segment %s ends before LSN %d (records missing)",
				s.path, s.first, segs[i-1].path, next)
		}
		res, err := scanSegment(s.path, s.first, 0, nil)
		if err != nil {
			return err
		}
		if i < len(segs)-1 {
			if res.bad != "" {
				return fmt.Errorf("wal: corrupt segment %s at offset %d: %s (later segments follow, so this is not a torn tail)",
					s.path, res.end, res.bad)
			}
			if res.next == s.first {
				return fmt.Errorf("wal: segment %s at offset 0: empty, but later segments follow", s.path)
			}
		}
		next, last = res.next, res
	}
	s := segs[len(segs)-1]
	f, err := l.opts.openFile(s.path, segFlags, 0)
	if err != nil {
		return fmt.Errorf("wal: open segment %s: %w", s.path, err)
	}
	l.cur, l.curName = f, s.path
	if last.bad != "" {
		// A torn tail: a crash interrupted a write that was never
		// acknowledged. Cut it so appends continue after the last good frame.
		if err := f.Truncate(last.end); err != nil {
			return fmt.Errorf("wal: cut torn tail of %s at offset %d (%s): %w", s.path, last.end, last.bad, err)
		}
		if !l.opts.NoSync {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("wal: cut torn tail of %s: sync: %w", s.path, err)
			}
		}
	}
	l.curSize = last.end
	l.segs = segs
	l.next, l.durable = next, next-1
	return nil
}

// syncDir fsyncs the log directory unless NoSync is set.
func (l *Log) syncDir() error {
	if l.opts.NoSync {
		return nil
	}
	return syncDir(l.dir)
}

func (l *Log) unlock() {
	if l.lockFile != nil {
		l.lockFile.Close()
		l.lockFile = nil
	}
}

// Append adds a record (kind byte + payload) and returns its LSN
// (monotonic, starting at 1). It copies the payload and does not wait for
// durability: call Sync, or use AppendSync. After a write failure the first
// Append retries the disk; while that fails, Append returns an error and
// assigns no LSN.
func (l *Log) Append(kind byte, payload []byte) (LSN, error) {
	if len(payload) > l.maxRecord {
		return 0, fmt.Errorf("wal: record of %d bytes exceeds the %d-byte limit", len(payload), l.maxRecord)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.closed {
			return 0, ErrClosed
		}
		if l.broken != nil {
			if err := l.repairLocked(); err != nil {
				return 0, fmt.Errorf("wal: appends refused after a write failure (%v); retry failed: %w", l.broken, err)
			}
			continue
		}
		if len(l.buf) < maxPending || len(l.buf) == 0 {
			break
		}
		l.space.Wait()
	}
	lsn := l.next
	l.next++
	if len(l.buf) == 0 {
		l.bufFirst = lsn
		l.work.Signal()
	}
	l.buf = appendFrame(l.buf, kind, lsn, payload)
	return lsn, nil
}

// Sync blocks until every record up to lsn is durably on disk (fsync'd),
// or returns the write or fsync error that prevented it (e.g. ENOSPC), or
// the context's error. Many goroutines may wait at once; one fsync covers
// every record written before it (group commit).
func (l *Log) Sync(ctx context.Context, lsn LSN) error {
	for {
		l.mu.Lock()
		if err := l.failedLocked(lsn); err != nil {
			l.mu.Unlock()
			return err
		}
		if lsn <= l.durable {
			l.mu.Unlock()
			return nil
		}
		if lsn >= l.next {
			last := l.next - 1
			l.mu.Unlock()
			return fmt.Errorf("wal: sync LSN %d: not appended (last LSN is %d)", lsn, last)
		}
		if l.exited {
			l.mu.Unlock()
			return ErrClosed
		}
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// failedLocked returns the error that failed lsn's record, or nil.
func (l *Log) failedLocked(lsn LSN) error {
	i := sort.Search(len(l.failures), func(i int) bool { return l.failures[i].hi >= lsn })
	if i < len(l.failures) && l.failures[i].lo <= lsn {
		return fmt.Errorf("wal: record %d is not durable: %w", lsn, l.failures[i].err)
	}
	return nil
}

// AppendSync is Append followed by Sync of the new record.
func (l *Log) AppendSync(ctx context.Context, kind byte, payload []byte) (LSN, error) {
	lsn, err := l.Append(kind, payload)
	if err != nil {
		return 0, err
	}
	if err := l.Sync(ctx, lsn); err != nil {
		return lsn, err
	}
	return lsn, nil
}

// Replay calls fn for every durable record with LSN > after, in order.
// It is meant for a freshly opened log, before appending; records appended
// while it runs may or may not be included. The payload passed to fn is
// only valid during the call. An error from fn stops the replay and is
// returned wrapped. Asking for records that TruncateBefore removed is an
// error.
func (l *Log) Replay(after LSN, fn func(lsn LSN, kind byte, payload []byte) error) error {
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	stop := l.durable
	l.mu.Unlock()
	if stop <= after {
		return nil
	}
	if after+1 < segs[0].first {
		return fmt.Errorf("wal: replay after LSN %d: the log starts at LSN %d (earlier records were truncated)", after, segs[0].first)
	}
	var fnErr error
	cb := func(lsn LSN, kind byte, payload []byte) error {
		if lsn <= after {
			return nil
		}
		if err := fn(lsn, kind, payload); err != nil {
			fnErr = fmt.Errorf("wal: replay of LSN %d: %w", lsn, err)
			return fnErr
		}
		return nil
	}
	next := segs[0].first
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].first <= after+1 {
			next = segs[i+1].first
			continue // every record of s is <= after
		}
		if s.first != next {
			return fmt.Errorf("wal: replay: segment %s starts at LSN %d, expected %d", s.path, s.first, next)
		}
		res, err := scanSegment(s.path, s.first, stop, cb)
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return err
		}
		next = res.next
		if next > stop {
			return nil
		}
		if res.bad != "" {
			return fmt.Errorf("wal: replay: corrupt segment %s at offset %d: %s", s.path, res.end, res.bad)
		}
	}
	return fmt.Errorf("wal: replay: the log ends before LSN %d, but records up to %d are durable", next, stop)
}

// TruncateBefore removes whole segments whose records all have LSN < lsn
// (after a checkpoint covers them). The segment being written is never
// removed.
func (l *Log) TruncateBefore(lsn LSN) error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].first <= lsn {
		n++
	}
	remove := append([]segment(nil), l.segs[:n]...)
	l.segs = append([]segment(nil), l.segs[n:]...)
	l.mu.Unlock()
	if n == 0 {
		return nil
	}
	// Oldest first: a crash part way leaves a contiguous suffix.
	for _, s := range remove {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: remove segment: %w", err)
		}
	}
	return l.syncDir()
}

// LastLSN is the LSN of the last appended record (0 if none). LSNs of
// records that failed to be written are never reused, so they count.
func (l *Log) LastLSN() LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// Close writes and syncs every appended record, stops the writer goroutine
// and closes the files. It returns the error that kept records appended
// before Close from being written, if any (earlier failures were reported
// to Sync). Close is idempotent: later calls return the same result.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.work.Broadcast()
		l.space.Broadcast()
		l.mu.Unlock()
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		var errs []error
		if l.drainErr != nil {
			errs = append(errs, fmt.Errorf("wal: close: records appended before Close were not written: %w", l.drainErr))
		}
		if err := l.cur.Close(); err != nil {
			errs = append(errs, fmt.Errorf("wal: close segment: %w", err))
		}
		l.unlock()
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// run is the writer goroutine: it takes the pending frames, writes and
// fsyncs them, publishes the new durable LSN and wakes the waiters.
func (l *Log) run() {
	l.mu.Lock()
	defer func() {
		l.exited = true
		close(l.notify)
		l.notify = make(chan struct{})
		l.mu.Unlock()
		close(l.done)
	}()
	for {
		for len(l.buf) == 0 && !l.closed {
			l.work.Wait()
		}
		if len(l.buf) == 0 {
			return
		}
		if l.opts.SyncDelay > 0 && !l.closed {
			l.mu.Unlock()
			time.Sleep(l.opts.SyncDelay)
			l.mu.Lock()
		}
		batch, first := l.buf, l.bufFirst
		l.buf, l.spare = l.spare[:0], nil
		l.flushing = true
		l.space.Broadcast()
		l.mu.Unlock()

		good, err := l.flush(batch, first)

		l.mu.Lock()
		l.flushing = false
		if cap(batch) <= maxSpare {
			l.spare = batch[:0]
		}
		if good > l.durable {
			l.durable = good
		}
		if err != nil {
			l.failLocked(err)
			if l.closed {
				l.drainErr = err
			}
		}
		close(l.notify)
		l.notify = make(chan struct{})
		if l.opts.SyncDelay == 0 && !l.closed {
			// Let the writers just woken append their next records, so
			// the next fsync covers them too.
			l.mu.Unlock()
			runtime.Gosched()
			l.mu.Lock()
		}
	}
}

// failLocked records a write failure: every record not yet durable (the
// rest of the batch and everything appended since) fails.
func (l *Log) failLocked(err error) {
	lo, hi := l.durable+1, l.next-1
	if hi >= lo {
		if n := len(l.failures); n > 0 && l.failures[n-1].hi+1 == lo {
			l.failures[n-1].hi, l.failures[n-1].err = hi, err
		} else {
			l.failures = append(l.failures, failure{lo: lo, hi: hi, err: err})
		}
		l.voidHi = hi
	}
	l.buf = l.buf[:0]
	l.broken = err
	l.space.Broadcast()
}

// repairLocked retries the disk after a failure: it finishes cutting the
// failed bytes, syncs a pending directory entry and writes the void frame
// for the failed LSNs. On success the log accepts appends again. The
// writer is idle (nothing can be pending while the log is broken).
func (l *Log) repairLocked() error {
	if l.flushing {
		return errors.New("wal: internal error: repair while the writer is flushing")
	}
	if l.needTruncate {
		if err := l.cur.Truncate(l.curSize); err != nil {
			return fmt.Errorf("wal: cut failed write: %w", err)
		}
		l.needTruncate = false
	}
	if l.dirDirty {
		if err := l.syncDir(); err != nil {
			return err
		}
		l.dirDirty = false
	}
	if l.voidHi > l.durable {
		if err := l.writeSync(voidFrame(l.durable+1, l.voidHi)); err != nil {
			return err
		}
		l.durable = l.voidHi
	}
	l.broken = nil
	return nil
}

// flush writes the frames of batch (the first has LSN first) and fsyncs
// them, rotating segments as they fill. It returns the last LSN made
// durable (first-1 if none) and the error that stopped it.
func (l *Log) flush(batch []byte, first LSN) (LSN, error) {
	good := first - 1
	lsn := first
	off := 0
	for off < len(batch) {
		if l.curSize >= l.opts.SegmentSize {
			if err := l.rotate(lsn); err != nil {
				return good, err
			}
		}
		// Take frames up to and including the one that fills the segment.
		end, n := off, lsn
		for end < len(batch) {
			end += headerSize + int(binary.LittleEndian.Uint32(batch[end:]))
			n++
			if l.curSize+int64(end-off) >= l.opts.SegmentSize {
				break
			}
		}
		if err := l.writeSync(batch[off:end]); err != nil {
			return good, err
		}
		good, lsn, off = n-1, n, end
	}
	return good, nil
}

// writeSync appends whole frames to the current segment and fsyncs it. On
// failure it cuts the segment back to the last durable frame boundary.
func (l *Log) writeSync(p []byte) error {
	n, err := l.cur.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err == nil && !l.opts.NoSync {
		l.fsyncs.Add(1)
		if err = l.cur.Sync(); err != nil {
			err = fmt.Errorf("wal: fsync %s: %w", l.curName, err)
		}
	} else if err != nil {
		err = fmt.Errorf("wal: write %s: %w", l.curName, err)
	}
	if err != nil {
		if terr := l.cur.Truncate(l.curSize); terr != nil {
			l.needTruncate = true
		}
		return err
	}
	l.curSize += int64(len(p))
	return nil
}

// rotate closes the full segment and starts a new one whose first record
// is first.
func (l *Log) rotate(first LSN) error {
	path := filepath.Join(l.dir, segmentName(first))
	f, err := l.opts.openFile(path, segFlags|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("wal: create segment %s: %w", path, err)
	}
	old := l.cur
	l.cur, l.curName, l.curSize = f, path, 0
	l.mu.Lock()
	l.segs = append(l.segs, segment{first: first, path: path})
	l.mu.Unlock()
	old.Close() // already fsync'd: a close error loses nothing
	if err := l.syncDir(); err != nil {
		l.dirDirty = true
		return err
	}
	return nil
}

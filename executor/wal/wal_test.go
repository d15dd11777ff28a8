package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rec is one record as the tests expect it back.
type rec struct {
	lsn     LSN
	kind    byte
	payload []byte
}

// payloadFor makes a deterministic payload of varying length for i.
func payloadFor(i int) []byte {
	n := (i * 37) % 300
	p := make([]byte, n)
	for j := range p {
		p[j] = byte(i*31 + j*7)
	}
	return p
}

func mustOpen(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// replayAll returns every record after `after`.
func replayAll(t testing.TB, l *Log, after LSN) []rec {
	t.Helper()
	var out []rec
	err := l.Replay(after, func(lsn LSN, kind byte, payload []byte) error {
		out = append(out, rec{lsn, kind, bytes.Clone(payload)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%d): %v", after, err)
	}
	return out
}

func checkRecords(t testing.TB, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.lsn != w.lsn || g.kind != w.kind || !bytes.Equal(g.payload, w.payload) {
			t.Fatalf("record %d: got lsn %d kind %d len %d, want lsn %d kind %d len %d",
				i, g.lsn, g.kind, len(g.payload), w.lsn, w.kind, len(w.payload))
		}
	}
}

// appendN appends n records numbered from start with AppendSync.
func appendN(t testing.TB, l *Log, start, n int) []rec {
	t.Helper()
	var out []rec
	for i := start; i < start+n; i++ {
		p := payloadFor(i)
		lsn, err := l.AppendSync(context.Background(), byte(i), p)
		if err != nil {
			t.Fatalf("AppendSync %d: %v", i, err)
		}
		out = append(out, rec{lsn, byte(i), p})
	}
	return out
}

func segFiles(t testing.TB, dir string) []segment {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

func TestRoundTripAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{SegmentSize: 1024})
	var want []rec
	var last LSN
	for i := 0; i < 500; i++ {
		p := payloadFor(i)
		lsn, err := l.Append(byte(i), p)
		if err != nil {
			t.Fatal(err)
		}
		if lsn != LSN(i+1) {
			t.Fatalf("Append %d got LSN %d", i, lsn)
		}
		want = append(want, rec{lsn, byte(i), p})
		last = lsn
	}
	if err := l.Sync(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	if l.LastLSN() != 500 {
		t.Fatalf("LastLSN = %d", l.LastLSN())
	}
	checkRecords(t, replayAll(t, l, 0), want)
	mustClose(t, l)

	segs := segFiles(t, dir)
	if len(segs) < 10 {
		t.Fatalf("expected many segments with 1 KiB segments, got %d", len(segs))
	}
	for i, s := range segs[:len(segs)-1] {
		st, err := os.Stat(s.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() < 1024 || st.Size() >= 1024+headerSize+300 {
			t.Fatalf("segment %d (%s) has size %d; want in [1024, 1024+one record)", i, s.path, st.Size())
		}
	}

	l = mustOpen(t, dir, Options{SegmentSize: 1024})
	if l.LastLSN() != 500 {
		t.Fatalf("LastLSN after reopen = %d", l.LastLSN())
	}
	checkRecords(t, replayAll(t, l, 0), want)
	for _, after := range []LSN{1, 77, 250, 499, 500, 600} {
		var w []rec
		for _, r := range want {
			if r.lsn > after {
				w = append(w, r)
			}
		}
		checkRecords(t, replayAll(t, l, after), w)
	}
	want = append(want, appendN(t, l, 500, 100)...)
	if want[500].lsn != 501 {
		t.Fatalf("append after reopen got LSN %d, want 501", want[500].lsn)
	}
	mustClose(t, l)
	l = mustOpen(t, dir, Options{SegmentSize: 1024})
	checkRecords(t, replayAll(t, l, 0), want)
	mustClose(t, l)
}

func TestReplayStopsOnError(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{NoSync: true})
	defer mustClose(t, l)
	appendN(t, l, 0, 10)
	boom := errors.New("boom")
	n := 0
	err := l.Replay(0, func(lsn LSN, kind byte, payload []byte) error {
		n++
		if lsn == 4 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 4 {
		t.Fatalf("Replay error %v after %d records; want boom after 4", err, n)
	}
}

// slowSync delays every fsync so that concurrent writers pile up behind it
// whatever the speed of the machine's disk.
func slowSync(d time.Duration) func(string, int, os.FileMode) (file, error) {
	return func(path string, flag int, perm os.FileMode) (file, error) {
		f, err := os.OpenFile(path, flag, perm)
		if err != nil {
			return nil, err
		}
		return &faultFile{f: f, faults: &faults{budget: -1, syncDelay: d}}, nil
	}
}

func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{SegmentSize: 64 << 10, openFile: slowSync(time.Millisecond)})
	const writers, per = 64, 20
	var mu sync.Mutex
	got := map[LSN][]byte{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				p := payloadFor(w*per + i)
				lsn, err := l.AppendSync(context.Background(), 1, p)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[lsn] = p
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fsyncs := l.fsyncs.Load()
	mustClose(t, l)
	records := writers * per
	t.Logf("%d records, %d fsyncs (%.1f records per fsync)", records, fsyncs, float64(records)/float64(fsyncs))
	if fsyncs*4 > int64(records) {
		t.Fatalf("%d fsyncs for %d concurrent records: group commit is not batching", fsyncs, records)
	}
	l = mustOpen(t, dir, Options{})
	defer mustClose(t, l)
	var want []rec
	for lsn := LSN(1); lsn <= LSN(records); lsn++ {
		p, ok := got[lsn]
		if !ok {
			t.Fatalf("LSN %d was never acknowledged", lsn)
		}
		want = append(want, rec{lsn, 1, p})
	}
	checkRecords(t, replayAll(t, l, 0), want)
}

func TestSyncDelayBatches(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{SyncDelay: 20 * time.Millisecond})
	defer mustClose(t, l)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.AppendSync(context.Background(), 1, payloadFor(w)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := l.fsyncs.Load(); n > 8 {
		t.Fatalf("%d fsyncs for 16 records in a 20ms window", n)
	}
}

func TestSyncErrors(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{})
	defer mustClose(t, l)
	if err := l.Sync(context.Background(), 0); err != nil {
		t.Fatalf("Sync(0): %v", err)
	}
	if err := l.Sync(context.Background(), 1); err == nil {
		t.Fatal("Sync of an LSN never appended succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lsn, err := l.Append(1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	// Either it is already durable or the cancelled context is reported.
	if err := l.Sync(ctx, lsn); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync with cancelled context: %v", err)
	}
}

// writeLog creates a log of n records in one segment and returns them.
func writeLog(t *testing.T, dir string, n int) []rec {
	l := mustOpen(t, dir, Options{})
	want := appendN(t, l, 0, n)
	mustClose(t, l)
	return want
}

func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// checkRecoveredTail opens a damaged copy of a log whose intact records
// are want, and checks that exactly those replay, that the tail was cut to
// size bytes, and that appending continues at the right LSN.
func checkRecoveredTail(t *testing.T, dir string, want []rec, size int64, what string) {
	t.Helper()
	// NoSync: the many reopens here test recovery logic, not the disk.
	l, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	checkRecords(t, replayAll(t, l, 0), want)
	segs := segFiles(t, dir)
	st, err := os.Stat(segs[len(segs)-1].path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != size {
		t.Fatalf("%s: last segment is %d bytes after Open, want it cut to %d", what, st.Size(), size)
	}
	next := LSN(len(want) + 1)
	if len(want) > 0 {
		next = want[len(want)-1].lsn + 1
	}
	if l.LastLSN() != next-1 {
		t.Fatalf("%s: LastLSN %d, want %d", what, l.LastLSN(), next-1)
	}
	lsn, err := l.AppendSync(context.Background(), 9, []byte("after"))
	if err != nil || lsn != next {
		t.Fatalf("%s: append after recovery: lsn %d err %v, want lsn %d", what, lsn, err, next)
	}
	mustClose(t, l)
	l = mustOpen(t, dir, Options{NoSync: true})
	checkRecords(t, replayAll(t, l, 0), append(append([]rec(nil), want...), rec{next, 9, []byte("after")}))
	mustClose(t, l)
}

func TestTornTail(t *testing.T) {
	src := t.TempDir()
	want := writeLog(t, src, 6)
	seg := segFiles(t, src)[0]
	data, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	lastLen := headerSize + len(want[5].payload)
	lastStart := len(data) - lastLen
	intact := want[:5]
	name := filepath.Base(seg.path)

	// Every cut inside the last frame.
	for cut := lastStart; cut < len(data); cut++ {
		dir := copyDir(t, src)
		if err := os.Truncate(filepath.Join(dir, name), int64(cut)); err != nil {
			t.Fatal(err)
		}
		checkRecoveredTail(t, dir, intact, int64(lastStart), fmt.Sprintf("cut at %d", cut))
	}
	// Every flipped byte of the last frame.
	for pos := lastStart; pos < len(data); pos++ {
		dir := copyDir(t, src)
		d := bytes.Clone(data)
		d[pos] ^= 0x40
		if err := os.WriteFile(filepath.Join(dir, name), d, 0o644); err != nil {
			t.Fatal(err)
		}
		checkRecoveredTail(t, dir, intact, int64(lastStart), fmt.Sprintf("flip at %d", pos))
	}
	// Zeros after the last frame (file grown, data never written).
	dir := copyDir(t, src)
	if err := os.WriteFile(filepath.Join(dir, name), append(bytes.Clone(data), make([]byte, 100)...), 0o644); err != nil {
		t.Fatal(err)
	}
	checkRecoveredTail(t, dir, want, int64(len(data)), "trailing zeros")
	// A valid-looking frame with the wrong LSN (a stale record).
	dir = copyDir(t, src)
	stale := appendFrame(bytes.Clone(data), 1, 3, []byte("stale"))
	if err := os.WriteFile(filepath.Join(dir, name), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	checkRecoveredTail(t, dir, want, int64(len(data)), "stale LSN")
	// The first frame torn: nothing survives, the log starts again at 1.
	dir = copyDir(t, src)
	if err := os.Truncate(filepath.Join(dir, name), 5); err != nil {
		t.Fatal(err)
	}
	checkRecoveredTail(t, dir, nil, 0, "first frame torn")
}

func TestTornTailAfterRotation(t *testing.T) {
	src := t.TempDir()
	l := mustOpen(t, src, Options{SegmentSize: 512})
	want := appendN(t, l, 0, 40)
	mustClose(t, l)
	segs := segFiles(t, src)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	last := segs[len(segs)-1]
	var inLast []rec
	for _, r := range want {
		if r.lsn >= last.first {
			inLast = append(inLast, r)
		}
	}
	// Cut the last segment to nothing: its records are gone, the earlier
	// segments are intact, appends continue in it.
	dir := copyDir(t, src)
	if err := os.Truncate(filepath.Join(dir, filepath.Base(last.path)), 3); err != nil {
		t.Fatal(err)
	}
	checkRecoveredTail(t, dir, want[:len(want)-len(inLast)], 0, "last segment torn to 3 bytes")
}

func TestCorruptEarlierSegment(t *testing.T) {
	src := t.TempDir()
	l := mustOpen(t, src, Options{SegmentSize: 512})
	appendN(t, l, 0, 40)
	mustClose(t, l)
	segs := segFiles(t, src)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	victim := filepath.Base(segs[1].path)

	expectErr := func(dir, what string, wantIn ...string) {
		t.Helper()
		l, err := Open(dir, Options{})
		if err == nil {
			l.Close()
			t.Fatalf("%s: Open succeeded", what)
		}
		for _, w := range wantIn {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s: error %q does not mention %q", what, err, w)
			}
		}
		// Nothing was cut: the damaged file is as it was.
		st, err := os.Stat(filepath.Join(dir, victim))
		if err == nil && st.Size() == 0 && what != "empty" {
			t.Fatalf("%s: Open truncated the corrupt segment", what)
		}
	}

	// A flipped byte in the middle of segment 2.
	dir := copyDir(t, src)
	p := filepath.Join(dir, victim)
	d, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	d[len(d)/2] ^= 1
	if err := os.WriteFile(p, d, 0o644); err != nil {
		t.Fatal(err)
	}
	expectErr(dir, "flip", victim, "offset")

	// Segment 2 torn (as if a write never made it to disk).
	dir = copyDir(t, src)
	if err := os.Truncate(filepath.Join(dir, victim), int64(len(d)-3)); err != nil {
		t.Fatal(err)
	}
	expectErr(dir, "truncated", victim, "offset")

	// Segment 2 missing: a gap in the LSNs.
	dir = copyDir(t, src)
	if err := os.Remove(filepath.Join(dir, victim)); err != nil {
		t.Fatal(err)
	}
	expectErr(dir, "missing", filepath.Base(segs[2].path), "missing")

	// Segment 2 empty.
	dir = copyDir(t, src)
	if err := os.Truncate(filepath.Join(dir, victim), 0); err != nil {
		t.Fatal(err)
	}
	expectErr(dir, "empty", victim, "empty")
}

func TestTruncateBefore(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{SegmentSize: 512})
	want := appendN(t, l, 0, 60)
	before := segFiles(t, dir)
	if len(before) < 4 {
		t.Fatalf("want several segments, got %d", len(before))
	}
	// Checkpoint covers everything up to the middle of segment 3.
	ckpt := before[2].first + 1
	if err := l.TruncateBefore(ckpt + 1); err != nil {
		t.Fatal(err)
	}
	after := segFiles(t, dir)
	if len(after) != len(before)-2 || after[0].first != before[2].first {
		t.Fatalf("after TruncateBefore(%d): segments start at %d (%d left of %d); want the first two removed",
			ckpt+1, after[0].first, len(after), len(before))
	}
	checkRecords(t, replayAll(t, l, ckpt), want[ckpt:])
	if err := l.Replay(0, func(LSN, byte, []byte) error { return nil }); err == nil {
		t.Fatal("Replay of truncated records succeeded")
	}
	// Truncating past everything keeps the segment being written.
	if err := l.TruncateBefore(1 << 40); err != nil {
		t.Fatal(err)
	}
	after = segFiles(t, dir)
	if len(after) != 1 || after[0].first != before[len(before)-1].first {
		t.Fatalf("TruncateBefore(huge) left %v", after)
	}
	more := appendN(t, l, 60, 5)
	mustClose(t, l)

	l = mustOpen(t, dir, Options{SegmentSize: 512})
	defer mustClose(t, l)
	first := after[0].first
	checkRecords(t, replayAll(t, l, first-1), append(want[first-1:], more...))
	if l.LastLSN() != 65 {
		t.Fatalf("LastLSN after reopen = %d", l.LastLSN())
	}
}

func TestCloseIdempotent(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	lsn, err := l.Append(1, []byte("pending"))
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, l) // flushes the pending record
	mustClose(t, l)
	select {
	case <-l.done:
	default:
		t.Fatal("writer goroutine still running after Close")
	}
	if _, err := l.Append(1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := l.Sync(context.Background(), lsn); err != nil {
		t.Fatalf("Sync of a record flushed by Close: %v", err)
	}
	if err := l.TruncateBefore(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("TruncateBefore after Close: %v", err)
	}
	// The directory lock is released: it can be opened again, and the
	// record written at Close is there.
	l2 := mustOpen(t, dir, Options{})
	defer mustClose(t, l2)
	checkRecords(t, replayAll(t, l2, 0), []rec{{1, 1, []byte("pending")}})
}

func TestDirLocked(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	defer mustClose(t, l)
	if l2, err := Open(dir, Options{}); err == nil {
		l2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
}

func TestAppendTooLarge(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{NoSync: true})
	defer mustClose(t, l)
	l.maxRecord = 64
	if _, err := l.Append(1, make([]byte, 65)); err == nil {
		t.Fatal("oversized record accepted")
	}
	if lsn, err := l.Append(1, make([]byte, 64)); err != nil || lsn != 1 {
		t.Fatalf("record at the limit: lsn %d, %v", lsn, err)
	}
}

// faults controls injected failures for faultFile.
type faults struct {
	mu        sync.Mutex
	budget    int64 // bytes that may still be written; < 0 = unlimited
	failSyncs int   // the next failSyncs fsyncs fail
	syncDelay time.Duration
}

func (f *faults) set(budget int64, failSyncs int) {
	f.mu.Lock()
	f.budget, f.failSyncs = budget, failSyncs
	f.mu.Unlock()
}

// faultFile is a segment file whose writes run out of space after a byte
// budget (writing the bytes that fit, as a real full disk does) and whose
// fsyncs can fail.
type faultFile struct {
	f      *os.File
	faults *faults
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.faults.mu.Lock()
	if b := f.faults.budget; b >= 0 && int64(len(p)) > b {
		f.faults.budget = 0
		f.faults.mu.Unlock()
		n, err := f.f.Write(p[:b])
		if err != nil {
			return n, err
		}
		return n, &os.PathError{Op: "write", Path: f.f.Name(), Err: syscall.ENOSPC}
	}
	if f.faults.budget >= 0 {
		f.faults.budget -= int64(len(p))
	}
	f.faults.mu.Unlock()
	return f.f.Write(p)
}

func (f *faultFile) Sync() error {
	f.faults.mu.Lock()
	fail := f.faults.failSyncs > 0
	if fail {
		f.faults.failSyncs--
	}
	d := f.faults.syncDelay
	f.faults.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	if fail {
		return &os.PathError{Op: "sync", Path: f.f.Name(), Err: syscall.EIO}
	}
	return f.f.Sync()
}

func (f *faultFile) Truncate(size int64) error { return f.f.Truncate(size) }
func (f *faultFile) Close() error              { return f.f.Close() }

func faultyOpen(fs *faults) func(string, int, os.FileMode) (file, error) {
	return func(path string, flag int, perm os.FileMode) (file, error) {
		f, err := os.OpenFile(path, flag, perm)
		if err != nil {
			return nil, err
		}
		return &faultFile{f: f, faults: fs}, nil
	}
}

// checkNoTorn scans the segment being written and fails if anything but
// whole valid frames is in it.
func checkNoTorn(t *testing.T, l *Log) {
	t.Helper()
	l.mu.Lock()
	s := l.segs[len(l.segs)-1]
	size := l.curSize
	l.mu.Unlock()
	res, err := scanSegment(s.path, s.first, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if res.bad != "" || res.end != st.Size() || res.end != size {
		t.Fatalf("after a failed write %s has %d bytes, valid up to %d (%s), durable boundary %d",
			s.path, st.Size(), res.end, res.bad, size)
	}
}

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	fs := &faults{budget: -1}
	l := mustOpen(t, dir, Options{openFile: faultyOpen(fs)})
	want := appendN(t, l, 0, 5)

	// The disk fills in the middle of the next record.
	fs.set(10, 0)
	lsn, err := l.AppendSync(context.Background(), 7, []byte("this record does not fit"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("AppendSync on a full disk: %v, want ENOSPC", err)
	}
	failed := lsn
	checkNoTorn(t, l)
	// While the disk is full, appends are refused and nothing is written.
	fs.set(0, 0)
	if _, err := l.Append(7, []byte("still full")); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Append while the disk is full: %v, want a refusal", err)
	}
	checkNoTorn(t, l)
	// The condition clears: appends continue, at a fresh LSN.
	fs.set(-1, 0)
	more := appendN(t, l, 100, 3)
	if more[0].lsn <= failed {
		t.Fatalf("LSN %d reused after failure of %d", more[0].lsn, failed)
	}
	want = append(want, more...)
	// A late Sync of the failed record still reports the failure.
	if err := l.Sync(context.Background(), failed); err == nil {
		t.Fatal("Sync of a failed record succeeded later")
	}

	// An fsync failure: the record is cut and not acknowledged.
	fs.set(-1, 1)
	if _, err := l.AppendSync(context.Background(), 7, []byte("fsync fails")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("AppendSync with failing fsync: %v, want EIO", err)
	}
	checkNoTorn(t, l)
	want = append(want, appendN(t, l, 200, 2)...)
	mustClose(t, l)

	l = mustOpen(t, dir, Options{})
	defer mustClose(t, l)
	checkRecords(t, replayAll(t, l, 0), want)
	if l.LastLSN() != want[len(want)-1].lsn {
		t.Fatalf("LastLSN %d, want %d", l.LastLSN(), want[len(want)-1].lsn)
	}
}

// TestDiskFullConcurrent runs rounds of concurrent writers against a disk
// that fills at a random byte, across segment rotations, and checks that
// the log ends up holding exactly the acknowledged records.
func TestDiskFullConcurrent(t *testing.T) {
	dir := t.TempDir()
	fs := &faults{budget: -1}
	opts := Options{SegmentSize: 2048, openFile: faultyOpen(fs)}
	l := mustOpen(t, dir, opts)
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	acked := map[LSN]rec{}
	failedLSNs := map[LSN]bool{}
	refused := 0
	for round := 0; round < 30; round++ {
		fs.set(int64(rng.IntN(3000)), 0)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					id := round*1000 + w*10 + i
					p := payloadFor(id)
					lsn, err := l.AppendSync(context.Background(), byte(id), p)
					mu.Lock()
					switch {
					case err == nil:
						acked[lsn] = rec{lsn, byte(id), p}
					case lsn != 0:
						failedLSNs[lsn] = true
					default:
						refused++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		l.mu.Lock()
		broken := l.broken != nil
		l.mu.Unlock()
		if broken {
			checkNoTorn(t, l)
		}
		fs.set(-1, 0)
	}
	mustClose(t, l)
	if len(failedLSNs) == 0 || refused == 0 {
		t.Fatalf("the test injected no failures (failed %d, refused %d)", len(failedLSNs), refused)
	}
	t.Logf("%d acknowledged, %d failed, %d refused", len(acked), len(failedLSNs), refused)

	l = mustOpen(t, dir, Options{SegmentSize: 2048})
	defer mustClose(t, l)
	got := replayAll(t, l, 0)
	if len(got) != len(acked) {
		t.Fatalf("replayed %d records, %d were acknowledged", len(got), len(acked))
	}
	for _, g := range got {
		w, ok := acked[g.lsn]
		if !ok {
			t.Fatalf("replayed LSN %d that was not acknowledged (failed: %v)", g.lsn, failedLSNs[g.lsn])
		}
		if g.kind != w.kind || !bytes.Equal(g.payload, w.payload) {
			t.Fatalf("LSN %d replayed with different contents", g.lsn)
		}
	}
}

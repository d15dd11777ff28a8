package optest

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/ckptio"
)

// Snapshot returns op's snapshot; t fails if it cannot be taken.
func Snapshot(t testing.TB, op operators.Checkpointer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := op.Snapshot(&buf); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return buf.Bytes()
}

// RoundTrip snapshots from and restores the snapshot into to (a fresh
// operator), returning the snapshot.
func RoundTrip(from, to operators.Checkpointer) ([]byte, error) {
	var buf bytes.Buffer
	if err := from.Snapshot(&buf); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	snap := buf.Bytes()
	if err := to.Restore(bytes.NewReader(snap)); err != nil {
		return snap, fmt.Errorf("restore: %w", err)
	}
	return snap, nil
}

// ErrDiskFull is the error of a FailWriter.
var ErrDiskFull = errors.New("disk full")

// FailWriter is a writer that fails with ErrDiskFull once N more bytes
// have been written.
type FailWriter struct{ N int }

// Write implements io.Writer.
func (w *FailWriter) Write(p []byte) (int, error) {
	if len(p) > w.N {
		k := w.N
		w.N = 0
		return k, ErrDiskFull
	}
	w.N -= len(p)
	return len(p), nil
}

// CheckSnapshotWriteErrors checks that op's Snapshot returns the writer's
// error wherever in the checkpoint the writer fails.
func CheckSnapshotWriteErrors(t testing.TB, op operators.Checkpointer) {
	t.Helper()
	size := len(Snapshot(t, op))
	for n := 0; n < size; n += 1 + n/8 {
		err := op.Snapshot(&FailWriter{N: n})
		if err == nil || !strings.Contains(err.Error(), ErrDiskFull.Error()) {
			t.Fatalf("writer failing after %d of %d bytes: %v", n, size, err)
		}
	}
}

// TrailerLen returns the length of a checkpoint's trailer (ckptio).
func TrailerLen(t testing.TB) int {
	t.Helper()
	n, err := ckptio.TrailerLen()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Reseal returns body with a valid checkpoint trailer appended (its
// length and checksum), as a writer would seal it.
func Reseal(t testing.TB, mem memory.Allocator, body []byte) []byte {
	t.Helper()
	tr, err := ckptio.TrailerBytes(mem, int64(len(body)), crc32.Update(0, ckptio.CRCTable, body))
	if err != nil {
		t.Fatal(err)
	}
	return append(slices.Clone(body), tr...)
}

// ForeignHeader is a checkpoint header's format and version other than
// the operator's, and the text the error of restoring it must contain.
type ForeignHeader struct {
	Format  string
	Version uint32
	Want    string
}

// CheckForeignHeaders rewrites the header of snap (written with header h)
// to each case's format and version, reseals it, and checks that
// restoring it into op fails with an error containing the case's Want.
func CheckForeignHeaders(t testing.TB, mem memory.Allocator, snap []byte, h ckptio.Header, cases []ForeignHeader, op operators.Checkpointer) {
	t.Helper()
	var hb bytes.Buffer
	if err := h.Write(&hb, mem); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var buf bytes.Buffer
		h2 := h
		h2.Format, h2.Version = c.Format, c.Version
		if err := h2.Write(&buf, mem); err != nil {
			t.Fatal(err)
		}
		buf.Write(snap[hb.Len() : len(snap)-TrailerLen(t)])
		err := op.Restore(bytes.NewReader(Reseal(t, mem, buf.Bytes())))
		if err == nil || !strings.Contains(err.Error(), c.Want) {
			t.Errorf("format %q version %d: %v, want an error with %q", c.Format, c.Version, err, c.Want)
		}
	}
}

// ForEachDamage calls fn with every damaged copy of snap a Restore must
// refuse, and what was done to it: truncated to each length, one bit
// flipped in every byte (which bit varies), 500 bursts of four random
// bytes, 50 random byte strings, and a byte appended.
func ForEachDamage(snap []byte, fn func(what string, data []byte)) {
	for n := 0; n < len(snap); n++ {
		fn(fmt.Sprintf("truncated to %d of %d bytes", n, len(snap)), snap[:n])
	}
	fr := rand.New(rand.NewPCG(1, 2))
	for i := range snap {
		bit := 8*i + fr.IntN(8)
		data := slices.Clone(snap)
		data[bit/8] ^= 1 << (bit % 8)
		fn(fmt.Sprintf("bit %d of %d flipped", bit, 8*len(snap)), data)
	}
	for range 500 {
		data := slices.Clone(snap)
		i := fr.IntN(len(data) - 4)
		for j := range 4 {
			data[i+j] ^= byte(fr.Uint32())
		}
		fn(fmt.Sprintf("burst at byte %d", i), data)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 50 {
		data := make([]byte, r.IntN(400))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		fn(fmt.Sprintf("garbage %d", i), data)
	}
	fn("trailing bytes", append(slices.Clone(snap), 0))
}

// SomeDamaged returns a sample of damaged copies of snap drawn with r:
// prefixes at random steps of about len(snap)/truncations bytes, then
// flips copies each with one random bit flipped, then snap with a byte
// appended.
func SomeDamaged(r *rand.Rand, snap []byte, truncations, flips int) [][]byte {
	var bad [][]byte
	for l := 0; l < len(snap); l += 1 + r.IntN(len(snap)/truncations+1) {
		bad = append(bad, snap[:l])
	}
	for range flips {
		c := slices.Clone(snap)
		c[r.IntN(len(c))] ^= 1 << r.IntN(8)
		bad = append(bad, c)
	}
	return append(bad, append(slices.Clone(snap), 0))
}

// Checkpointed is an operator under test that checkpoints and closes.
type Checkpointed interface {
	operators.Checkpointer
	Close() error
}

// CutRun is an operator under test in a CutAndContinue run: the harness
// driving it, the operator, the Recorder of its output, and State, a
// summary of its state (counters) that a restore must keep.
type CutRun struct {
	*Harness
	Op    Checkpointed
	Rec   *Recorder
	State func() string
}

// CutStats is what a CutAndContinue run compared.
type CutStats struct {
	Cuts      int // distinct barriers cut at
	Lines     int // output lines compared after the first cut
	SnapBytes int // size of the last snapshot
}

// CutAndContinue runs script through a without interruption, and through
// a chain of fresh operators: at each of 1 to 3 barriers drawn with r
// (never the script's last step) the running one is snapshotted and
// restored into the next (and closed), which continues. The chain's
// output (Recorder lines) must be a's: the same up to the first cut and
// line for line after it. A restored operator's State must be the
// snapshotted one's, and the chain's last must end in a's State.
// Failures name what (the seed, say).
func CutAndContinue(t testing.TB, what string, r *rand.Rand, script []Step, a CutRun, fresh func() CutRun) CutStats {
	t.Helper()
	a.Run(script...)
	var barriers []int
	for i, s := range script {
		if s.IsBarrier() && i < len(script)-1 {
			barriers = append(barriers, i)
		}
	}
	cuts := map[int]bool{}
	for n := 1 + r.IntN(3); n > 0; n-- {
		cuts[barriers[r.IntN(len(barriers))]] = true
	}
	b := fresh()
	var chain []string
	first := -1 // A's log length at the first cut
	snapBytes := 0
	for i, s := range script {
		b.Run(s)
		if !cuts[i] {
			continue
		}
		if first < 0 {
			first = len(b.Rec.Log)
			if !slices.Equal(b.Rec.Log, a.Rec.Log[:first]) {
				t.Fatalf("%s: output before the cut differs", what)
			}
		} else {
			chain = append(chain, b.Rec.Log...)
		}
		c := fresh()
		snap, err := RoundTrip(b.Op, c.Op)
		if err != nil {
			t.Fatalf("%s step %d: %v", what, i, err)
		}
		snapBytes = len(snap)
		if got, want := c.State(), b.State(); got != want {
			t.Fatalf("%s step %d: restored %s, want %s", what, i, got, want)
		}
		if err := b.Op.Close(); err != nil {
			t.Fatal(err)
		}
		b = c
	}
	chain = append(chain, b.Rec.Log...)
	want := a.Rec.Log[first:]
	if d := DiffLines(chain, want); d != "" {
		t.Fatalf("%s: after the cut, %s", what, d)
	}
	if got, want := b.State(), a.State(); got != want {
		t.Fatalf("%s: final %s, want %s", what, got, want)
	}
	return CutStats{Cuts: len(cuts), Lines: len(want), SnapBytes: snapBytes}
}

package wal

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "SLUICE_WAL_CRASH_CHILD"

// crashPayload is the record a crash-test child writes for id: the id and
// filler derived from it, so any record can be checked on its own.
func crashPayload(id uint64) []byte {
	p := make([]byte, 8+int(id%211))
	binary.LittleEndian.PutUint64(p, id)
	for i := 8; i < len(p); i++ {
		p[i] = byte(id*131 + uint64(i))
	}
	return p
}

// checkCrashPayload verifies a payload against its own id.
func checkCrashPayload(kind byte, p []byte) (uint64, error) {
	if len(p) < 8 {
		return 0, fmt.Errorf("payload of %d bytes", len(p))
	}
	id := binary.LittleEndian.Uint64(p)
	want := crashPayload(id)
	if string(want) != string(p) || kind != byte(id) {
		return id, fmt.Errorf("payload of id %d is damaged", id)
	}
	return id, nil
}

// crashChild appends records from several goroutines until it is killed,
// printing "ack LSN ID" once each record is durable.
func crashChild(dir string, gen int) {
	l, err := Open(dir, Options{SegmentSize: 8 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stdout, "ready")
	deadline := time.Now().Add(30 * time.Second) // never outlive a dead parent for long
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(0); time.Now().Before(deadline); seq++ {
				id := uint64(gen)<<40 | uint64(w)<<32 | seq
				if w == 0 && seq%3 == 0 {
					// Append a few, then one Sync covers them all.
					var lsns []LSN
					var ids []uint64
					for k := uint64(0); k < 3; k++ {
						lsn, err := l.Append(byte(id+k), crashPayload(id+k))
						if err != nil {
							fmt.Fprintln(os.Stderr, "child append:", err)
							os.Exit(2)
						}
						lsns, ids = append(lsns, lsn), append(ids, id+k)
					}
					seq += 2
					if err := l.Sync(context.Background(), lsns[2]); err != nil {
						fmt.Fprintln(os.Stderr, "child sync:", err)
						os.Exit(2)
					}
					for k := range lsns {
						fmt.Fprintf(os.Stdout, "ack %d %d\n", lsns[k], ids[k])
					}
					continue
				}
				lsn, err := l.AppendSync(context.Background(), byte(id), crashPayload(id))
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
				fmt.Fprintf(os.Stdout, "ack %d %d\n", lsn, id)
			}
		}()
	}
	wg.Wait()
	l.Close()
	os.Exit(0)
}

// TestCrashRecovery kills a writing child process with SIGKILL at random
// moments and checks after each kill that every acknowledged record is
// replayed intact, and that whatever else is there is intact and
// contiguous.
func TestCrashRecovery(t *testing.T) {
	if v := os.Getenv(crashEnv); v != "" {
		dir, genStr, _ := strings.Cut(v, ":")
		gen, _ := strconv.Atoi(genStr)
		crashChild(dir, gen)
		return
	}
	iterations := 12
	if testing.Short() {
		iterations = 3
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := map[LSN]uint64{} // over all generations: LSN -> id
	for gen := 1; gen <= iterations; gen++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", crashEnv, dir, gen))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("gen %d: child did not start: %q %s", gen, sc.Text(), stderr.String())
		}
		delay := time.Duration(5+rng.IntN(150)) * time.Millisecond
		killed := make(chan struct{})
		go func() {
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
			close(killed)
		}()
		genAcks := 0
		for sc.Scan() {
			var lsn LSN
			var id uint64
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &lsn, &id); err != nil {
				t.Fatalf("gen %d: bad child line %q", gen, sc.Text())
			}
			// An LSN acknowledged in an earlier generation is never handed
			// out again: it was durable, so recovery continued after it.
			if prev, ok := acked[lsn]; ok && prev != id {
				t.Fatalf("gen %d: LSN %d acknowledged twice (ids %x and %x)", gen, lsn, prev, id)
			}
			acked[lsn] = id
			genAcks++
		}
		<-killed
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("gen %d: child ended with %v, not by SIGKILL: %s", gen, err, stderr.String())
		}

		l, err := Open(dir, Options{SegmentSize: 8 << 10})
		if err != nil {
			t.Fatalf("gen %d: reopen after SIGKILL: %v", gen, err)
		}
		next := LSN(1)
		seen := 0
		err = l.Replay(0, func(lsn LSN, kind byte, payload []byte) error {
			if lsn != next {
				return fmt.Errorf("LSN %d follows %d", lsn, next-1)
			}
			next++
			id, err := checkCrashPayload(kind, payload)
			if err != nil {
				return err
			}
			if want, ok := acked[lsn]; ok {
				if want != id {
					return fmt.Errorf("acknowledged LSN %d holds id %x, want %x", lsn, id, want)
				}
				seen++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("gen %d: replay: %v", gen, err)
		}
		if seen != len(acked) {
			t.Fatalf("gen %d: %d of %d acknowledged records replayed (log ends at %d)", gen, seen, len(acked), next-1)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("gen %d: killed after %v, %d acks this run, log holds %d records, %d acknowledged overall",
			gen, delay, genAcks, next-1, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("no record was ever acknowledged")
	}
}

package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicedb/sluice/types"
)

// kcat returns the path of kcat, skipping the test when it is missing
// (failing it under CI, which installs kcat in .ci/run).
func kcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed but CI is set: .ci/run installs it (apt-get install -y kcat)")
		}
		t.Skip("kcat is not installed (apt-get install -y kcat); skipping the third-party client check")
	}
	return path
}

func runKcat(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// TestKcatProducesSourceReads: kcat writes keyed JSON lines into kfake and
// the source decodes them; a malformed line becomes a bad event.
func TestKcatProducesSourceReads(t *testing.T) {
	kcat(t)
	_, addr := newCluster(t, kfake.SeedTopics(1, "kin"))
	var in bytes.Buffer
	const n = 100
	for i := 0; i < n; i++ {
		if i == 50 {
			fmt.Fprintf(&in, "k%d|{\"user_id\": oops}\n", i)
			continue
		}
		fmt.Fprintf(&in, "k%d|%s\n", i, clickJSON(i))
	}
	runKcat(t, in.Bytes(), "-b", addr, "-t", "kin", "-P", "-K", "|", "-p", "0")

	schema := append(types.Schema{{Name: "_key", Type: types.TextType}, {Name: "_offset", Type: types.BigIntType}}, clicks...)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := start(t, mem, spec(mem, schema, addr, "kin"), nil)
	waitFor(t, "all events", func() bool { g, b := r.out.counts(); return g+b >= n })
	progressIs(t, r.src, map[int32][2]int64{0: {n, n}})
	rows, bad := r.out.snapshot()
	if len(rows) != n-1 || len(bad) != 1 {
		t.Fatalf("%d rows, %d bad; want %d, 1", len(rows), len(bad), n-1)
	}
	if bad[0].Offset != 50 || string(bad[0].Key) != "k50" || !strings.Contains(bad[0].Reason, "invalid JSON") {
		t.Errorf("bad event %+v", bad[0])
	}
	for _, row := range rows {
		i := row[2].I
		if row[0].S != fmt.Sprintf("k%d", i) || row[1].I != i || row[3].I != i%7 {
			t.Errorf("row %v", row)
		}
	}
}

// kcatMessage is one line of `kcat -C -J`.
type kcatMessage struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
	Headers   []string `json:"headers"`
}

// TestKcatConsumesSink: the sink's upsert topic read by kcat has the
// documented keys, values, tombstones and epoch headers.
func TestKcatConsumesSink(t *testing.T) {
	kcat(t)
	_, addr := newCluster(t) // the sink creates the topic
	s, err := NewSink(sinkSpec(addr, "kout", []int{0, 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAll(t, s)

	out := runKcat(t, nil, "-b", addr, "-t", "kout", "-C", "-e", "-J", "-o", "beginning", "-q")
	got := map[string][]string{}
	count := 0
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var m kcatMessage
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("kcat line %q: %v", line, err)
		}
		if m.Key == nil {
			t.Fatalf("message without key: %s", line)
		}
		if len(m.Headers) != 2 || m.Headers[0] != EpochHeader {
			t.Fatalf("headers %v, want [%s <epoch>]", m.Headers, EpochHeader)
		}
		v := "<nil>"
		if m.Payload != nil {
			v = *m.Payload
		}
		got[*m.Key] = append(got[*m.Key], v+" @"+m.Headers[1])
		count++
	}
	// kcat reads partitions one after another; within a key (one
	// partition) the order is the produce order.
	if count != 7 || fmt.Sprint(got) != fmt.Sprint(wantUpsert) {
		t.Fatalf("kcat read\n%v\nwant\n%v", got, wantUpsert)
	}
}

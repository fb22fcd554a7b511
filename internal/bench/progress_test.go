package bench

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/proc"
)

// syncBuffer is a bytes.Buffer that the heartbeat goroutine may write to
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProgressStartLineAndETA: a line when each run starts, with the time
// left estimated from the median of the finished runs.
func TestProgressStartLineAndETA(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	p := &TextProgress{W: &out, Heartbeat: time.Hour}
	for n, d := range []time.Duration{10 * time.Second, 12 * time.Second, 9 * time.Second} {
		p.RunStart(n+1, 10, "base", n+1)
		p.RunEnd(n+1, 10, "base", n+1, 1000, proc.Result{Elapsed: d}, "base-01.log", "")
	}
	p.RunStart(4, 10, "head", 2)
	p.RunEnd(4, 10, "head", 2, 1000, proc.Result{Elapsed: time.Second}, "head-02.log", "")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != "run 1/10 base  started" {
		t.Errorf("first line %q, want the start of run 1 with no estimate yet", lines[0])
	}
	// Median of 10, 12, 9 s is 10 s: this run and 6 more.
	if want := "run 4/10 head  started, about 1m10s left"; lines[6] != want {
		t.Errorf("line %q, want %q\n%s", lines[6], want, out.String())
	}
}

// TestProgressCountsRequests: in mode serve the lines count requests, and
// the estimate says that it counts the requests alone.
func TestProgressCountsRequests(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	p := &TextProgress{W: &out, Heartbeat: time.Hour, Unit: "request"}
	p.RunStart(1, 8, "base", 1)
	p.RunEnd(1, 8, "base", 1, 700, proc.Result{Elapsed: 2 * time.Second}, "base-launch1.log", "")
	p.RunStart(2, 8, "base", 2)
	want := "request 1/8 base  started\nrequest 1/8 base  0.70 s\nrequest 2/8 base  started, about 14s of requests left\n"
	if got := out.String(); got != want {
		t.Errorf("progress:\n%s\nwant:\n%s", got, want)
	}
}

// TestProgressHeartbeat runs a slow fake (about a second) with a heartbeat
// after 100 ms: lines come while it runs, none after it ended. (That the
// waits double is TestHeartbeatWaits: counting lines would time a sleep.)
func TestProgressHeartbeat(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	repo, _, _ := newRepo(t, workload("step_ms", "1"), workload("step_ms", "100", "sleep_scale", "1"))
	s := spec(t, repo, "main~1", "main")
	s.Progress = &TextProgress{W: &out, Heartbeat: 100 * time.Millisecond}
	if r := measure(t, s, 1); r.Failure != nil {
		t.Fatalf("failed: %s", r.Failure.Reason)
	}
	text := out.String()
	beats := strings.Count(text, "run 2/2 head  still running after")
	if beats < 1 {
		t.Fatalf("no heartbeat during a slow run:\n%s", text)
	}
	end := regexp.MustCompile(`run 2/2 head  \d+\.\d\d s\n`).FindStringIndex(text)
	if end == nil || strings.LastIndex(text, "still running") > end[0] {
		t.Errorf("a heartbeat after the run ended:\n%s", text)
	}
}

func TestHeartbeatWaits(t *testing.T) {
	t.Parallel()
	var got []time.Duration
	for w := defaultHeartbeat; len(got) < 6; w = nextHeartbeat(w, defaultHeartbeat) {
		got = append(got, w)
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("heartbeats after %v, want %v", got, want)
	}
}

// TestProgressWhileAServerLoads: a server that takes a while to become
// healthy (a model load) gets heartbeats, and none once it is up.
func TestProgressWhileAServerLoads(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	repo, _, _ := newRepo(t, serveWorkload("load_ms", "1500"), serveWorkload("load_ms", "1500"))
	s := serveSpec(t, repo, TogetherNo)
	s.Progress = &TextProgress{W: &out, Heartbeat: 100 * time.Millisecond}
	if r := measure(t, s, 1); r.Failure != nil {
		t.Fatalf("failed: %s", r.Failure.Reason)
	}
	text := out.String()
	if !strings.Contains(text, "launch 1 of base  still starting after") {
		t.Fatalf("no heartbeat while the server loaded:\n%s", text)
	}
	healthy := strings.Index(text, "launch 1 of base: healthy after")
	if i := strings.LastIndex(text, "launch 1 of base  still starting"); healthy < 0 || i > healthy {
		t.Errorf("a heartbeat after the server was healthy:\n%s", text)
	}
}

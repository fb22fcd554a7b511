package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeProc runs this test binary as the fake sglang in a folder whose
// workload file says how to behave.
func fakeProc(t *testing.T, behavior string, timeout, grace time.Duration) (Cmd, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fake_workload.txt"), []byte(workload("step_ms", "1", "behavior", behavior)), 0o644); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "dump.json")
	return Cmd{
		Argv: []string{fakeBin, "generate", "--model-path", "m", "--perf-dump-path", dump, "--warmup"},
		Dir:  dir, Env: withFake(), Log: filepath.Join(dir, "run.log"),
		Timeout: timeout, Grace: grace,
	}, dump
}

var pidRE = regexp.MustCompile(`(?:pid|grandchild) (\d+)`)

// pids lists the process IDs the fake printed.
func pids(t *testing.T, log string) []int {
	t.Helper()
	var out []int
	for _, m := range pidRE.FindAllStringSubmatch(log, -1) {
		p, _ := strconv.Atoi(m[1])
		out = append(out, p)
	}
	if len(out) == 0 {
		t.Fatalf("no pid in the log:\n%s", log)
	}
	return out
}

// gone waits for the kernel to end pid, for up to 10 s (a killed process
// on a loaded machine may wait its turn to die), and reports whether it no
// longer runs. A zombie counts as gone: it holds no GPU and no pipe.
func gone(pid int) bool {
	for i := 0; i < 500; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func TestProcControl(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	// The timeout leaves a loaded machine time to start the fake and let it
	// print its pid (and ignore SIGTERM) before the timeout ends it.
	const timeout = 3 * time.Second
	tests := []struct {
		name         string
		behavior     string
		timeout      time.Duration
		wantTimedOut bool
		wantOK       bool
	}{
		{"past its timeout", "hang", timeout, true, false},
		{"ignores SIGTERM", "ignore-term", timeout, true, false},
		{"grandchild keeps stdout open", "grandchild", time.Minute, false, true},
		{"works", "ok", time.Minute, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := fakeProc(t, tt.behavior, tt.timeout, grace)
			res := p.Run(context.Background())
			if res.TimedOut != tt.wantTimedOut || res.Failed() == tt.wantOK {
				t.Fatalf("timed out %v, failed %v (%s); want timed out %v, ok %v", res.TimedOut, res.Failed(), res.Describe(p.Timeout), tt.wantTimedOut, tt.wantOK)
			}
			if tt.behavior == "ignore-term" && !strings.Contains(res.Tail, "ignoring SIGTERM") {
				t.Fatalf("the timeout came before the fake ignored SIGTERM: the test proves nothing; log:\n%s", res.Tail)
			}
			// Bounded: the timeout, the grace, the pipe wait, and slack for a
			// loaded machine; a hang would take an hour.
			if limit := tt.timeout + 2*grace + 20*time.Second; tt.wantTimedOut && res.Elapsed > limit {
				t.Errorf("took %s, more than %s", res.Elapsed, limit)
			}
			for _, pid := range pids(t, res.Tail) {
				if !gone(pid) {
					t.Errorf("process %d is still running", pid)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if tt.wantTimedOut && !strings.Contains(res.Describe(p.Timeout), "timed out after") {
				t.Errorf("Describe = %q", res.Describe(p.Timeout))
			}
		})
	}
}

func TestProcCanceled(t *testing.T) {
	t.Parallel()
	p, _ := fakeProc(t, "ignore-term", time.Minute, 200*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the fake ignores SIGTERM, however long a loaded machine
	// takes to start it: only then does the cancel need the SIGKILL.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			if b, _ := os.ReadFile(p.Log); strings.Contains(string(b), "ignoring SIGTERM") {
				cancel()
				return
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	res := p.Run(ctx)
	if !res.Canceled || res.TimedOut {
		t.Fatalf("canceled %v timed out %v, want canceled", res.Canceled, res.TimedOut)
	}
	for _, pid := range pids(t, res.Tail) {
		if !gone(pid) {
			t.Errorf("process %d survived the cancel", pid)
		}
	}
}

func TestProcNotFound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := Cmd{Argv: []string{"definitely-not-a-command"}, Dir: dir, Env: []string{"PATH=/usr/bin:/bin"}, Log: filepath.Join(dir, "log")}.Run(context.Background())
	if res.Err == nil || !strings.Contains(res.Err.Error(), `"definitely-not-a-command" not found on PATH`) {
		t.Errorf("err = %v", res.Err)
	}
}

func TestCappedLog(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &cappedLog{f: f}
	chunk := []byte(strings.Repeat("a", 64<<10-1) + "\n")
	total := MaxLogBytes + 4<<20
	for n := 0; n < total; n += len(chunk) {
		c.Write(chunk)
	}
	c.Write([]byte("LAST LINE\n"))
	c.finish()
	fi, _ := f.Stat()
	if max := int64(MaxLogBytes + TailBytes + 200); fi.Size() > max {
		t.Errorf("log is %d bytes, want at most %d", fi.Size(), max)
	}
	if len(c.ring) > TailBytes {
		t.Errorf("ring holds %d bytes, want at most %d", len(c.ring), TailBytes)
	}
	if !strings.HasSuffix(c.tail(), "LAST LINE\n") {
		t.Error("the tail lost the last line")
	}
	b, _ := os.ReadFile(f.Name())
	if !strings.Contains(string(b), "bytes of output dropped") || !strings.HasSuffix(string(b), "LAST LINE\n") {
		t.Error("the log lacks the note or the tail")
	}
}

// TestSignScannerAcrossWrites: the fallback sign is found wherever it
// falls in the output: split across two writes, one byte a write, or
// after 5 MiB of output, cut inside it; the scanner keeps
// no more than the longest sign between writes.
func TestSignScannerAcrossWrites(t *testing.T) {
	t.Parallel()
	sign := signs[0]
	filler := []byte(strings.Repeat("x", 1023) + "\n")
	for _, tt := range []struct {
		name   string
		writes [][]byte
	}{
		{"split across two writes", [][]byte{[]byte("INFO: ok\nWARNING: " + sign[:7]), []byte(sign[7:] + "\nmore\n")}},
		{"one byte a write", func() [][]byte {
			var w [][]byte
			for i := range len(sign) {
				w = append(w, []byte{sign[i]})
			}
			return w
		}()},
		{"at byte 5 MiB of a flood", func() [][]byte {
			var stream []byte
			for range 5 << 10 {
				stream = append(stream, filler...)
			}
			stream = append(stream, sign...)
			for range 1 << 10 {
				stream = append(stream, filler...)
			}
			var w [][]byte
			for len(stream) > 0 {
				n := min(len(stream), 512<<10+1) // the 10th chunk ends 10 bytes into the sign
				w = append(w, stream[:n])
				stream = stream[n:]
			}
			return w
		}()},
	} {
		s := newSignScanner(signs)
		for _, w := range tt.writes {
			s.Write(w)
			if len(s.carry) > s.keep || cap(s.joint) > 4*s.keep {
				t.Fatalf("%s: the scanner keeps %d bytes, %d of scratch", tt.name, len(s.carry), cap(s.joint))
			}
		}
		if s.found != sign {
			t.Errorf("%s: found %q, want %q", tt.name, s.found, sign)
		}
	}
	// No sign, no finding: a near miss split the same way.
	s := newSignScanner(signs)
	s.Write([]byte("Falling back to diff"))
	s.Write([]byte("erent backend"))
	if s.found != "" {
		t.Errorf("found %q in text without a sign", s.found)
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	// comm may hold spaces and parentheses; fields count from the last ')'.
	line := "4242 (evil) (x y) S 1 4242 4242 0 -1 4194304 215 0 0 0 0 0 0 0 20 0 4 0 120057 1256869888 578 18446744073709551615 1 1 0\n"
	st, ok := parseStat([]byte(line))
	if want := (procStat{state: 'S', ppid: 1, pgid: 4242, sid: 4242, start: 120057}); !ok || st != want {
		t.Errorf("parseStat = %+v, %v; want %+v", st, ok, want)
	}
	if _, ok := parseStat([]byte("4242 (short) S 1 2")); ok {
		t.Error("parseStat accepted a short line")
	}
	self, ok := readStat(os.Getpid())
	if !ok || self.state == 'Z' || self.start == 0 {
		t.Errorf("readStat(self) = %+v, %v", self, ok)
	}
}

package proc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSetsidGrandchildIsEnded: a grandchild that calls setsid leaves the
// process group, so killing the group misses it; the run's tag finds it.
func TestSetsidGrandchildIsEnded(t *testing.T) {
	t.Parallel()
	p, _ := fakeProc(t, "setsid-grandchild", time.Minute, 300*time.Millisecond)
	res := p.Run(context.Background())
	if res.Failed() {
		t.Fatalf("run failed: %s", res.Describe(p.Timeout))
	}
	ids := pids(t, res.Tail)
	if len(ids) < 2 {
		t.Fatalf("want the fake's pid and its grandchild's, got %v", ids)
	}
	for _, pid := range ids {
		if !gone(pid) {
			t.Errorf("process %d survived (setsid grandchild)", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestFloodKeepsMemoryAndLogBounded runs a benchmark that writes 64 MiB of
// output: the log is capped and diffperf's heap does not grow with it.
func TestFloodKeepsMemoryAndLogBounded(t *testing.T) {
	// Not parallel: it measures this process's heap.
	p, _ := fakeProc(t, "flood", time.Minute, time.Second)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := p.Run(context.Background())
	runtime.GC()
	runtime.ReadMemStats(&after)
	if res.Failed() {
		t.Fatalf("flood run failed: %s", res.Describe(p.Timeout))
	}
	fi, err := os.Stat(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	if max := int64(MaxLogBytes + TailBytes + 1024); fi.Size() > max {
		t.Errorf("log is %d bytes, over %d", fi.Size(), max)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("heap grew by %d MiB after 64 MiB of output", grew>>20)
	}
	if len(res.Tail) > TailBytes {
		t.Errorf("tail of %d bytes", len(res.Tail))
	}
}

// daemonSrc is a program that daemonizes the way a hostile benchmark
// would hide from diffperf: its child starts a grandchild in a new session
// (setsid) and exits; the grandchild makes itself non-dumpable, which
// hides /proc/<pid>/environ (and the run's tag in it) from every process
// of its user but root, and sleeps. The main process exits 0 once the
// grandchild is ready, so the run ends with the daemon still there.
const daemonSrc = `package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	self, _ := os.Executable()
	switch os.Getenv("DAEMON_ROLE") {
	case "":
		c := exec.Command(self)
		c.Env = append(os.Environ(), "DAEMON_ROLE=child")
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		if err := c.Run(); err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		fmt.Printf("pid %d done\n", os.Getpid())
	case "child":
		g := exec.Command(self)
		g.Env = append(os.Environ(), "DAEMON_ROLE=grandchild")
		g.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		out, _ := g.StdoutPipe()
		if err := g.Start(); err != nil {
			fmt.Println("grandchild:", err)
			os.Exit(1)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		fmt.Printf("grandchild %d %s", g.Process.Pid, line)
		os.Exit(0) // the grandchild is orphaned
	case "grandchild":
		const prSetDumpable, prGetDumpable = 4, 3
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
		d, _, _ := syscall.RawSyscall(syscall.SYS_PRCTL, prGetDumpable, 0, 0)
		fmt.Printf("ready, dumpable=%d\n", d)
		os.Stdout.Close()
		time.Sleep(time.Hour)
	}
}
`

// buildDaemon compiles daemonSrc into a folder of its own and returns the
// program's path.
func buildDaemon(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(daemonSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	bin := filepath.Join(dir, "daemon")
	cmd := exec.Command(goBin, "build", "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the daemon: %v\n%s", err, out)
	}
	return bin
}

// TestNonDumpableDaemonIsEnded: a grandchild that calls setsid and makes
// itself non-dumpable leaves the run's process group and hides the run's
// tag; diffperf, a child subreaper, still has it in its process tree
// (/proc/<pid>/stat stays readable) and ends and reaps it when the run
// ends. As root, environments are readable anyway and the tag finds it;
// the hidden case is what a runner's ordinary user meets.
func TestNonDumpableDaemonIsEnded(t *testing.T) {
	t.Parallel()
	bin := buildDaemon(t)
	dir := t.TempDir()
	p := Cmd{Argv: []string{bin}, Dir: dir, Env: os.Environ(), Log: filepath.Join(dir, "run.log"), Timeout: time.Minute, Grace: 300 * time.Millisecond}
	res := p.Run(context.Background())
	if res.Failed() {
		t.Fatalf("run failed: %s\n%s", res.Describe(p.Timeout), res.Tail)
	}
	if !strings.Contains(res.Tail, "dumpable=0") {
		t.Fatalf("the grandchild did not make itself non-dumpable:\n%s", res.Tail)
	}
	ids := pids(t, res.Tail)
	if len(ids) < 2 {
		t.Fatalf("want the program's pid and its grandchild's, got %v", ids)
	}
	daemon := ids[0] // "grandchild N" comes first in the log
	// Dead and reaped: no process, not even a zombie of ours.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(daemon, 0) == nil {
		if time.Now().After(deadline) {
			st, _ := os.ReadFile("/proc/" + strconv.Itoa(daemon) + "/stat")
			_ = syscall.Kill(daemon, syscall.SIGKILL)
			t.Fatalf("the non-dumpable setsid grandchild %d survived the run: %s", daemon, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

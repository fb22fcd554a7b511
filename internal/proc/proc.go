// Package proc runs one process under control: in a process group of its
// own (or under a sandbox), its output in a capped log file with its head
// and tail kept, a timeout after which the whole group gets SIGTERM and,
// after a grace, SIGKILL, WaitDelay for descendants that hold the output
// open, and descendants that left the group (setsid, a double fork) found
// by a tag in their environment and ended. It knows nothing of what the
// process is: the signs it looks for in the output are the caller's.
package proc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/diffperf/diffperf/internal/sandbox"
)

// Grace is how long a process group gets between SIGTERM and SIGKILL, and
// how long we wait for a grandchild to let go of the output pipe.
const Grace = 5 * time.Second

// MaxLogBytes bounds one run's log file; past it, the middle of the output
// is dropped with a note and the last TailBytes are kept.
const (
	MaxLogBytes = 16 << 20
	TailBytes   = 64 << 10
)

// Cmd is one process to run.
type Cmd struct {
	Argv    []string
	Dir     string
	Env     []string // complete environment of the child
	Log     string   // file that gets stdout and stderr
	Timeout time.Duration
	Grace   time.Duration // 0 means Grace
	// Sandbox, when on, runs the process under bubblewrap with Policy;
	// the install prefix of the program itself is added to the policy's
	// read-only paths. nil or none runs it as it is.
	Sandbox *sandbox.Sandbox
	Policy  sandbox.Policy
	// Signs are texts looked for in the whole output, however long, as it
	// is written (not only in the part the log keeps); Result.Sign is the
	// first found.
	Signs []string
}

// Result is what became of a Cmd.
type Result struct {
	Err      error // nil, *exec.ExitError, or the start error
	TimedOut bool
	Canceled bool
	// Stopped is true when Running.Stop ended the process (a server at the
	// end of its launch); its Err then reports the signal.
	Stopped bool
	Elapsed time.Duration
	Tail    string // the end of the output, for reports
	Head    []byte // the start of the output (up to 1 MiB), for --help probes
	// Sign is the first of Cmd.Signs found anywhere in the output, or "".
	Sign string
}

// Failed reports whether the process did not exit 0 in time.
func (r Result) Failed() bool { return r.Err != nil || r.TimedOut || r.Canceled }

// Describe says in words how the process ended.
func (r Result) Describe(timeout time.Duration) string {
	var ee *exec.ExitError
	switch {
	case r.Canceled:
		return "canceled"
	case r.Stopped:
		return fmt.Sprintf("stopped by diffperf after %.1f s", r.Elapsed.Seconds())
	case r.TimedOut:
		return fmt.Sprintf("timed out after %s (the timeout), then killed", timeout)
	case errors.As(r.Err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %s after %.1f s", ws.Signal(), r.Elapsed.Seconds())
		}
		return fmt.Sprintf("exit status %d after %.1f s", ee.ExitCode(), r.Elapsed.Seconds())
	case r.Err != nil:
		return r.Err.Error()
	}
	return fmt.Sprintf("exit status 0 after %.1f s", r.Elapsed.Seconds())
}

// Run starts the process in a new process group and waits for it. On timeout
// or when ctx ends, the whole group gets SIGTERM, then SIGKILL after the
// grace; when the process exits, whatever it left in its group is killed too.
// Output goes to the log file, never to our stdout.
func (p Cmd) Run(ctx context.Context) Result {
	r, err := p.Start(ctx)
	if err != nil {
		return Result{Err: err}
	}
	return r.Wait()
}

// Running is a process that Cmd.Start started: a benchmark run that Wait
// waits for, or a server that runs in the background until Stop.
type Running struct {
	ctx       context.Context // the caller's: its end is a cancellation
	cmd       *exec.Cmd
	cancel    context.CancelFunc
	out       *cappedLog
	logf      *os.File
	tag       string
	start     time.Time
	born      procStat // the process's /proc stat when it started, for endRun
	done      chan struct{}
	mu        sync.Mutex
	timedOut  bool
	stopped   bool
	timer     *time.Timer // the Timeout
	killTimer *time.Timer // SIGKILL after the grace
	res       Result      // set before done is closed
}

// Start starts the process in a new process group, with the process
// control of Run, and returns without waiting: Wait waits for it to exit,
// Stop ends it. The error is that of creating its log or starting it.
func (p Cmd) Start(ctx context.Context) (*Running, error) {
	grace := p.Grace
	if grace == 0 {
		grace = Grace
	}
	logf, err := os.Create(p.Log)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	path, err := LookPath(p.Argv[0], p.Env, p.Dir)
	if err != nil {
		logf.Close()
		return nil, err
	}
	argv := append([]string{path}, p.Argv[1:]...)
	if p.Sandbox.On() {
		pol := p.Policy
		// The program's own folder too, for when its prefix holds a folder
		// the sandbox hides (and so cannot be shown whole).
		pol.ReadOnly = append(append([]string(nil), pol.ReadOnly...), sandbox.Prefix(path), filepath.Dir(path))
		if real, err := filepath.EvalSymlinks(path); err == nil {
			pol.ReadOnly = append(pol.ReadOnly, sandbox.Prefix(real), filepath.Dir(real))
		}
		argv = p.Sandbox.Wrap(argv, p.Dir, pol)
		path = argv[0]
	}
	runCtx, cancel := context.WithCancel(ctx)
	out := &cappedLog{f: logf}
	if len(p.Signs) > 0 {
		out.signs = newSignScanner(p.Signs)
	}
	r := &Running{ctx: ctx, cancel: cancel, out: out, logf: logf, tag: newTag(), done: make(chan struct{})}
	if p.Timeout > 0 {
		r.timer = time.AfterFunc(p.Timeout, func() {
			r.mu.Lock()
			r.timedOut = true
			r.mu.Unlock()
			cancel()
		})
	}
	cmd := exec.CommandContext(runCtx, path, argv[1:]...)
	if !p.Sandbox.On() {
		cmd.Args[0] = p.Argv[0]
	}
	cmd.Dir, cmd.Env = p.Dir, append(append([]string(nil), p.Env...), tagVar+"="+r.tag)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = r.out, r.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sandboxed := p.Sandbox.On()
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		if sandboxed {
			// Under bubblewrap the run is in a session and PID namespace
			// of its own, below bwrap: SIGTERM to the group would reach
			// bwrap alone, whose death SIGKILLs the run. The run's
			// processes get it themselves; bwrap goes with the group
			// after the grace (or exits when the run does).
			signalBelow(pgid, syscall.SIGTERM)
		} else {
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
		}
		r.mu.Lock()
		r.killTimer = time.AfterFunc(grace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		r.mu.Unlock()
		return nil
	}
	// After SIGTERM: grace for the group, then Go kills the process and
	// stops waiting for a grandchild that holds the pipe open.
	cmd.WaitDelay = grace + time.Second

	// Orphans of the run (a daemon's double fork) become our children
	// rather than init's, where endRun can find them.
	_ = becomeSubreaper()
	r.cmd = cmd
	r.start = time.Now()
	started := make(chan error, 1)
	go func() {
		if p.Sandbox.On() {
			// bubblewrap's --die-with-parent is a parent-death signal,
			// which follows the thread that forked (golang/go#27505): that
			// thread must live until the process has been waited for.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		err := cmd.Start()
		started <- err
		if err == nil {
			r.born, _ = readStat(cmd.Process.Pid)
			r.wait()
		}
	}()
	if err := <-started; err != nil {
		cancel()
		if r.timer != nil {
			r.timer.Stop()
		}
		logf.Close()
		return nil, err
	}
	return r, nil
}

// wait reaps the process, ends what it left behind, and records the result.
func (r *Running) wait() {
	err := r.cmd.Wait()
	elapsed := time.Since(r.start)
	// Whatever is left in the group (a grandchild) goes now, and so does
	// any descendant that left the group with setsid: see endRun.
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	endRun(r.tag, r.cmd.Process.Pid, r.born.start)
	r.mu.Lock()
	if r.killTimer != nil {
		r.killTimer.Stop()
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	res := Result{Err: err, TimedOut: r.timedOut, Stopped: r.stopped, Elapsed: elapsed}
	r.mu.Unlock()
	if !res.TimedOut && !res.Stopped && r.ctx.Err() != nil {
		res.Canceled = true
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The process exited, but a descendant kept the output open.
		res.Err = nil
	}
	r.out.finish()
	res.Tail, res.Head = r.out.tail(), r.out.headBytes()
	res.Sign = r.out.sign()
	r.logf.Close()
	r.cancel()
	r.res = res
	close(r.done)
}

// Wait waits for the process to exit and returns how it ended.
func (r *Running) Wait() Result {
	<-r.done
	return r.res
}

// Done is closed once the process has exited and everything it left
// behind is gone.
func (r *Running) Done() <-chan struct{} { return r.done }

// Stop ends the process as a timeout would (SIGTERM to its group, SIGKILL
// after the grace, then its tagged descendants) and waits for it. Stopping
// a process that already exited only returns its result.
func (r *Running) Stop() Result {
	r.mu.Lock()
	select {
	case <-r.done:
	default:
		r.stopped = true
	}
	r.mu.Unlock()
	r.cancel()
	return r.Wait()
}

// Tail is the end of what the process printed so far.
func (r *Running) Tail() string { return r.out.tail() }

// LookPath finds the program name on the PATH of env, the child's
// environment (not ours), relative to dir when it has a slash.
func LookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("command %q not found or not executable", name)
		}
		return p, nil
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, d := range filepath.SplitList(pathVar) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found on PATH", name)
}

// cappedLog writes output to the log file up to MaxLogBytes, then keeps only
// a ring of the last TailBytes, so a flood of output keeps memory and disk
// bounded. Every byte passes its sign scanner on the way, dropped ones
// too. It is an io.Writer used from exec's copying goroutine.
type cappedLog struct {
	mu      sync.Mutex
	f       *os.File
	written int64
	dropped int64
	head    bytes.Buffer // first bytes, up to headKeep, for --help probes
	ring    []byte       // last TailBytes
	signs   *signScanner // nil for none
}

const headKeep = 1 << 20

func (c *cappedLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if c.signs != nil {
		c.signs.Write(p)
	}
	if c.head.Len() < headKeep {
		c.head.Write(p[:min(len(p), headKeep-c.head.Len())])
	}
	c.ring = append(c.ring, p...)
	if len(c.ring) > TailBytes {
		c.ring = append(c.ring[:0:0], c.ring[len(c.ring)-TailBytes:]...)
	}
	if room := MaxLogBytes - c.written; room > 0 {
		w := p[:min(int64(len(p)), room)]
		if _, err := c.f.Write(w); err == nil {
			c.written += int64(len(w))
		}
		p = p[len(w):]
	}
	c.dropped += int64(len(p))
	return n, nil
}

func (c *cappedLog) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped > 0 {
		fmt.Fprintf(c.f, "\n[diffperf: %d bytes of output dropped after the first %d MiB; the last %d KiB follow]\n", c.dropped, MaxLogBytes>>20, TailBytes>>10)
		c.f.Write(c.ring)
	}
}

func (c *cappedLog) tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.ring)
}

func (c *cappedLog) headBytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.head.Bytes()...)
}

func (c *cappedLog) sign() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.signs == nil {
		return ""
	}
	return c.signs.found
}

// signScanner finds the first of its signs in a stream of writes, wherever
// the stream is cut: between writes it keeps the last len(longest sign)-1
// bytes, so a sign split across two writes is found, and its memory stays
// that small whatever the stream's length.
type signScanner struct {
	signs []string
	keep  int
	carry []byte // the last keep bytes seen
	joint []byte // scratch: carry and the start of the next write
	found string
}

func newSignScanner(signs []string) *signScanner {
	s := &signScanner{signs: signs}
	for _, sign := range signs {
		s.keep = max(s.keep, len(sign)-1)
	}
	return s
}

// Write scans p; it never fails.
func (s *signScanner) Write(p []byte) (int, error) {
	if s.found != "" || len(p) == 0 {
		return len(p), nil
	}
	// A sign that straddles the cut begins in carry and ends within the
	// first keep bytes of p.
	if len(s.carry) > 0 {
		s.joint = append(append(s.joint[:0], s.carry...), p[:min(len(p), s.keep)]...)
		if s.match(s.joint) {
			return len(p), nil
		}
	}
	if s.match(p) {
		return len(p), nil
	}
	if len(p) >= s.keep {
		s.carry = append(s.carry[:0], p[len(p)-s.keep:]...)
	} else {
		s.carry = append(s.carry, p...)
		if extra := len(s.carry) - s.keep; extra > 0 {
			s.carry = append(s.carry[:0], s.carry[extra:]...)
		}
	}
	return len(p), nil
}

func (s *signScanner) match(b []byte) bool {
	for _, sign := range s.signs {
		if sign != "" && bytes.Contains(b, []byte(sign)) {
			s.found = sign
			return true
		}
	}
	return false
}

// ensure cappedLog is a Writer.
var _ io.Writer = (*cappedLog)(nil)

// tagVar names the environment variable that marks every process of one
// run, so that descendants which left its process group (setsid, a daemon)
// can still be found in /proc and ended.
const tagVar = "DIFFPERF_PROC"

func newTag() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

var subreaper struct {
	once sync.Once
	err  error
}

// becomeSubreaper makes this process a child subreaper, once per process:
// a descendant whose parent exits (the double fork of a daemon) becomes
// our child instead of init's, so it stays in our process tree, where
// endRun finds it by its parent chain in /proc/<pid>/stat, which even a
// process that made itself non-dumpable cannot hide. It is process-wide
// and stays on: orphans of any child (a detached git gc, say) become ours
// too. endRun kills and reaps those of a run; a session leader that
// exited on its own is reaped there as well; nothing else waits for a
// process that os/exec did not start, and nothing here ever waits for
// any child (wait4 of -1), which would take exit statuses that os/exec
// waits for.
func becomeSubreaper() error {
	subreaper.once.Do(func() {
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
			subreaper.err = e
		}
	})
	return subreaper.err
}

// procStat is what endRun reads of a process in /proc/<pid>/stat, which
// any user may read, whatever the process's dumpable flag.
type procStat struct {
	state           byte
	ppid, pgid, sid int
	start           uint64 // clock ticks after boot
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	return parseStat(b)
}

// parseStat reads proc(5)'s "pid (comm) state ppid pgrp session ...
// starttime ...": comm may hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	var st procStat
	var err [4]error
	st.state = f[0][0]
	st.ppid, err[0] = strconv.Atoi(f[1])
	st.pgid, err[1] = strconv.Atoi(f[2])
	st.sid, err[2] = strconv.Atoi(f[3])
	st.start, err[3] = strconv.ParseUint(f[19], 10, 64)
	return st, errors.Join(err[:]...) == nil
}

// endRun sends SIGKILL to what is left of a run whose main process (pid
// root, started at tick born) has been waited for, repeating while
// processes of the run remain (a fork in flight), and reaps those that
// were our children. A process belongs to the run when
//   - it is in our process tree and in the run's process group;
//   - its environment carries the run's tag (anywhere in /proc, for the
//     case that we could not become a subreaper); or
//   - it is in our process tree, started after the run, and hides its
//     environment: a process that made itself non-dumpable (or runs as
//     another user) does, even from its own user. The subreaper keeps it
//     in our tree after setsid and a double fork.
//
// Several runs at once in one process (tests) keep apart by group and
// tag; only a hidden process started during two runs could be ended by
// the wrong one.
func endRun(tag string, root int, born uint64) {
	needle := []byte(tagVar + "=" + tag + "\x00")
	self := os.Getpid()
	killed := map[int]bool{}
	for round := 0; round < 100; round++ { // 2 s at most
		stats := map[int]procStat{}
		if entries, err := os.ReadDir("/proc"); err == nil {
			for _, e := range entries {
				if pid, err := strconv.Atoi(e.Name()); err == nil && pid != self {
					if st, ok := readStat(pid); ok {
						stats[pid] = st
					}
				}
			}
		}
		tree := descendants(self, stats)
		alive := 0
		for pid, st := range stats {
			if st.state == 'Z' {
				// A zombie that is our child and the run's, or a session
				// leader (a daemon) that exited on its own: os/exec waits
				// for neither.
				if st.ppid == self && (killed[pid] || tree[pid] && st.pgid == root || st.sid == pid) {
					var ws syscall.WaitStatus
					_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
				}
				continue
			}
			ours := tree[pid] && st.pgid == root
			if !ours {
				env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
				ours = err == nil && bytes.Contains(env, needle) ||
					tree[pid] && born > 0 && st.start >= born && errors.Is(err, fs.ErrPermission)
			}
			if ours && syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed[pid] = true
				alive++
			}
		}
		if alive == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signalBelow sends sig to every process below root in our process tree
// (under bubblewrap: the run's processes inside its PID namespace, whose
// init, bwrap's own, ignores it).
func signalBelow(root int, sig syscall.Signal) {
	stats := map[int]procStat{}
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				if st, ok := readStat(pid); ok {
					stats[pid] = st
				}
			}
		}
	}
	for pid := range descendants(root, stats) {
		_ = syscall.Kill(pid, sig)
	}
}

// descendants is the set of processes below root in stats' parent links.
func descendants(root int, stats map[int]procStat) map[int]bool {
	children := map[int][]int{}
	for pid, st := range stats {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	out := map[int]bool{}
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if !out[c] {
				out[c] = true
				queue = append(queue, c)
			}
		}
	}
	return out
}

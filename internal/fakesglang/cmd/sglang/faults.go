package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diffperf/diffperf/internal/fakesglang"
)

// The workload keys this build adds to the simulator's:
//
//	behavior=...     fail, hang, ignore-term, trap-term (writes got-sigterm
//	                 on SIGTERM), grandchild, setsid-grandchild,
//	                 diffusers, diffusers-late (the sign after 5 MiB of
//	                 output), flood, workflow-commands, leak-env (while
//	                 running); nodump, baddump, hugedump, truncated, notjson,
//	                 fifo, symlink, block-out, many-stages (the dump);
//	                 truncated-trace, notgzip-trace (the --profile trace)
//	                 hostile (every attack on the job, see hostile.go)
//	mark=VALUE       hostile: the mark in its daemon's environment
//	target_pid=N     hostile: the process whose /proc it reads
//	say=TEXT         print TEXT before running, as a debugging benchmark
//	                 might print a secret
//	argv_file=PATH   append each argv, as JSON, to PATH
//	env_file=PATH    write the environment, one variable a line, to PATH
//	parent_env_file=PATH  write what /proc/<parent>/environ gave (or the
//	                 error), as a benchmark that snoops on diffperf would
//
// In `sglang serve`, the run behaviours act once the arguments are parsed,
// before the model loads (fail: the server exits; hang: it never opens its
// port; grandchild: it leaves one), the dump behaviours act on every
// request's dump, and these are its own:
//
//	behavior=die-on-request  exit 1 when request N arrives, unanswered
//	behavior=fail-request    answer request N with HTTP 500
//	behavior=never-healthy   GET /health answers 503 forever
//	behavior=port-taken-once the first launch in a folder says its port is
//	                         taken and exits (it leaves .fake-port-taken)
//	request=N                the N of die-on-request and fail-request
//	                         (1-based, warm-ups included; default 1)
var (
	runBehaviors   = map[string]bool{"fail": true, "hang": true, "ignore-term": true, "trap-term": true, "grandchild": true, "setsid-grandchild": true, "diffusers": true, "flood": true, "workflow-commands": true, "leak-env": true, "diffusers-late": true}
	dumpBehaviors  = map[string]bool{"nodump": true, "baddump": true, "hugedump": true, "truncated": true, "notjson": true, "fifo": true, "symlink": true, "block-out": true, "many-stages": true}
	traceBehaviors = map[string]bool{"truncated-trace": true, "notgzip-trace": true}
	serveBehaviors = map[string]bool{"die-on-request": true, "fail-request": true, "never-healthy": true, "port-taken-once": true}
)

// faults is the fakesglang.Hook of this build: it turns the keys above into
// a Behavior and refuses any other.
func faults(extra map[string]string) (fakesglang.Behavior, error) {
	var b fakesglang.Behavior
	for k, v := range extra {
		switch {
		case k == "behavior" && v == "hostile":
			b.Generate = func(stdout, stderr io.Writer) (int, bool) { return hostile(extra, stdout) }
		case k == "behavior" && runBehaviors[v]:
			b.Generate = func(stdout, stderr io.Writer) (int, bool) { return misbehave(v, stdout, stderr) }
		case k == "behavior" && dumpBehaviors[v]:
			b.WriteDump = func(path string, dump []byte, stderr io.Writer) (int, bool) {
				return badDump(v, path, dump, stderr), true
			}
		case k == "behavior" && traceBehaviors[v]:
			b.Trace = func(path string) error { return badTrace(v, path) }
		case k == "behavior" && serveBehaviors[v]:
			n, err := strconv.Atoi(extra["request"])
			if extra["request"] == "" {
				n, err = 1, nil
			}
			if err != nil || n < 1 {
				return b, fmt.Errorf("request=%s: not a request number", extra["request"])
			}
			serveFault(&b, v, n)
		case k == "behavior":
			return b, fmt.Errorf("behavior=%s: unknown behaviour", v)
		case k == "say":
		case k != "argv_file" && k != "env_file" && k != "parent_env_file" && k != "request" && k != "mark" && k != "target_pid":
			return b, fmt.Errorf("%s=%s: unknown key", k, v)
		}
	}
	argvFile, envFile, parentEnvFile, say := extra["argv_file"], extra["env_file"], extra["parent_env_file"], extra["say"]
	b.Start = func(args []string) {
		if say != "" {
			fmt.Println(say)
		}
		if argvFile != "" {
			if f, err := os.OpenFile(argvFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				j, _ := json.Marshal(args)
				fmt.Fprintf(f, "%s\n", j)
				f.Close()
			}
		}
		if envFile != "" {
			_ = os.WriteFile(envFile, []byte(strings.Join(os.Environ(), "\n")+"\n"), 0o644)
		}
		if parentEnvFile != "" {
			_ = os.WriteFile(parentEnvFile, []byte(parentEnv()), 0o644)
		}
	}
	return b, nil
}

// misbehave acts out a behaviour of a running sglang; stop ends the run
// with code, otherwise the run goes on to write its dump.
func misbehave(behavior string, stdout, stderr io.Writer) (code int, stop bool) {
	switch behavior {
	case "fail":
		fmt.Fprintln(stderr, "Traceback (most recent call last):\n  File \"generate.py\", line 42\nRuntimeError: CUDA error: out of memory")
		return 1, true
	case "hang":
		time.Sleep(time.Hour)
	case "trap-term":
		// A benchmark that cleans up on SIGTERM: it writes got-sigterm in
		// its working folder, then exits.
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Fprintln(stdout, "trapping SIGTERM")
		<-term
		_ = os.WriteFile("got-sigterm", []byte("SIGTERM\n"), 0o644)
		return 143, true
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Fprintln(stdout, "ignoring SIGTERM")
		time.Sleep(time.Hour)
	case "diffusers":
		fmt.Fprintln(stderr, "WARNING: Falling back to diffusers backend")
	case "diffusers-late":
		// The sign at byte 5 MiB, past any fixed head, then 1 MiB more,
		// past any fixed tail.
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < 5<<10; i++ {
			io.WriteString(stdout, line)
		}
		fmt.Fprintln(stdout, "WARNING: Falling back to diffusers backend")
		for i := 0; i < 1<<10; i++ {
			io.WriteString(stdout, line)
		}
	case "flood":
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < 64<<10; i++ { // 64 MiB
			io.WriteString(stdout, line)
		}
	case "leak-env":
		// A benchmark that dumps its environment and its parent's while
		// debugging, then fails: all of it lands in the log tail.
		fmt.Fprintf(stdout, "my environment:\n%s\nmy parent's:\n%s\n", strings.Join(os.Environ(), "\n"), parentEnv())
		return 1, true
	case "workflow-commands":
		fmt.Fprintln(stdout, "::add-mask::secret\n::set-output name=verdict::no-change\n::error::fake\n::stop-commands::abc")
	case "grandchild", "setsid-grandchild":
		self, err := os.Executable()
		if err != nil {
			break
		}
		c := exec.Command(self)
		c.Env = append(os.Environ(), sleeperEnv+"=1")
		c.Stdout, c.Stderr = stdout, stderr
		// setsid leaves the process group, which group kills then miss.
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: behavior == "setsid-grandchild"}
		if err := c.Start(); err == nil {
			fmt.Fprintf(stdout, "grandchild %d holds stdout\n", c.Process.Pid)
		}
	}
	return 0, false
}

// parentEnv is what this process can read of its parent's environment,
// or why it cannot.
func parentEnv() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", os.Getppid()))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return strings.ReplaceAll(string(b), "\x00", "\n")
}

// badDump writes (or withholds) a dump no healthy sglang writes, in place
// of dump, and returns the exit status.
func badDump(behavior, path string, dump []byte, stderr io.Writer) int {
	var b []byte
	switch behavior {
	case "nodump":
		return 0
	case "baddump":
		b = []byte(`{"total_duration_ms": "fast"}`)
	case "notjson":
		b = []byte("Segmentation fault (core dumped)\n")
	case "truncated":
		b = dump[:len(dump)/2]
	case "hugedump":
		// 65 MiB of valid JSON: a dump no sglang writes.
		b, _ = json.Marshal(map[string]any{"total_duration_ms": 1, "padding": strings.Repeat("x", 65<<20)})
	case "fifo":
		// A named pipe nobody writes: opening it for reading would block.
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			fmt.Fprintln(stderr, "fake sglang:", err)
			return 1
		}
		return 0
	case "symlink":
		// A link to a file elsewhere that is a valid dump.
		elsewhere := filepath.Join(filepath.Dir(path), "..", "elsewhere-"+filepath.Base(path))
		if err := os.WriteFile(elsewhere, dump, 0o644); err != nil {
			fmt.Fprintln(stderr, "fake sglang:", err)
			return 1
		}
		if err := os.Symlink(elsewhere, path); err != nil {
			fmt.Fprintln(stderr, "fake sglang:", err)
			return 1
		}
		return 0
	case "many-stages":
		// 30,000 distinct stages: a report of megabytes.
		steps := make([]map[string]any, 30000)
		for i := range steps {
			steps[i] = map[string]any{"name": fmt.Sprintf("HostileStage%05d_%s", i, strings.Repeat("y", 40)), "duration_ms": 1}
		}
		b, _ = json.Marshal(map[string]any{"total_duration_ms": 100, "steps": steps})
	case "block-out":
		// A good dump, and a folder where diffperf will write result.json,
		// so that its write fails as on a full disk.
		if err := os.MkdirAll(filepath.Join(filepath.Dir(path), "..", "result.json", "blocked"), 0o755); err != nil {
			fmt.Fprintln(stderr, "fake sglang:", err)
			return 1
		}
		b = dump
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(stderr, "fake sglang:", err)
		return 1
	}
	return 0
}

// serveFault sets the behaviour of a fault of `sglang serve` on request n.
func serveFault(b *fakesglang.Behavior, behavior string, n int) {
	switch behavior {
	case "die-on-request":
		b.Request = func(i int, stderr io.Writer) (int, bool, int) {
			if i == n {
				fmt.Fprintf(stderr, "Traceback (most recent call last):\nRuntimeError: CUDA error: an illegal memory access was encountered (request %d)\n", i)
				return 0, true, 1
			}
			return 0, false, 0
		}
	case "fail-request":
		b.Request = func(i int, stderr io.Writer) (int, bool, int) {
			if i == n {
				fmt.Fprintf(stderr, "ERROR: request %d failed\n", i)
				return 500, false, 0
			}
			return 0, false, 0
		}
	case "never-healthy":
		b.Healthy = func() bool { return false }
	case "port-taken-once":
		b.Generate = func(stdout, stderr io.Writer) (int, bool) {
			f, err := os.OpenFile(".fake-port-taken", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return 0, false // taken once already: bind as usual
			}
			f.Close()
			fmt.Fprintln(stderr, "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 1): address already in use")
			return 1, true
		}
	}
}

// badTrace spoils the profiler's trace at path: cut to half its length,
// or replaced by text that is not gzip.
func badTrace(behavior, path string) error {
	if behavior == "notgzip-trace" {
		return os.WriteFile(path, []byte("this is no trace\n"), 0o644)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.Truncate(path, fi.Size()/2)
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// serveSpec is spec in mode serve: the fake's server, 3 measured
// requests a launch after 1 warm-up, servers one at a time unless told.
func serveSpec(t *testing.T, repo string, together string) Spec {
	t.Helper()
	s := spec(t, repo, "main~1", "main")
	tmpl, err := ParseServeTemplate(DefaultServeTemplate)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve = &Serve{Template: tmpl, Endpoint: EndpointImages, Requests: 3, Warmup: 1, Together: together,
		Request: map[string]json.RawMessage{"seed": json.RawMessage("42")}, DumpWait: 2 * time.Second}
	return s
}

// serveWorkload is a fake workload for a server: quick, no sleeping.
func serveWorkload(kv ...string) string {
	return workload(append([]string{"step_ms", "2", "sleep_scale", "0"}, kv...)...)
}

// allGone checks that every process the logs of out name has ended.
func allGone(t *testing.T, out string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(out, "*launch*.log"))
	if len(logs) == 0 {
		t.Fatalf("no server logs in %s", out)
	}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, m := range pidRE.FindAllStringSubmatch(string(b), -1) {
			var pid int
			fmt.Sscan(m[1], &pid)
			if !gone(pid) {
				t.Errorf("process %d of %s is still running", pid, filepath.Base(l))
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func TestServeMeasuresLaunches(t *testing.T) {
	t.Parallel()
	envFile := filepath.Join(t.TempDir(), "env.txt")
	argvFile := filepath.Join(t.TempDir(), "argv.txt")
	w := serveWorkload("env_file", envFile, "argv_file", argvFile)
	repo, _, _ := newRepo(t, w, w)
	s := serveSpec(t, repo, TogetherNo)
	s.Env = append(s.Env, "GITHUB_TOKEN=ghs_serve_secret")
	s.Secrets = []string{"ghs_serve_secret"}
	r := measure(t, s, 2)
	if r.Verdict == report.Failed {
		t.Fatalf("failed: %s\n%s", r.Reason, r.Failure.LogTail)
	}
	if len(r.Base.Runs) != 6 || len(r.Head.Runs) != 6 {
		t.Fatalf("%d+%d samples, want 6+6 (2 launches of 3 requests)", len(r.Base.Runs), len(r.Head.Runs))
	}
	// Samples carry their launch and request (the server's count: the
	// warm-up is request 1); every dump is the server's.
	var got []string
	for _, run := range r.Head.Runs {
		got = append(got, fmt.Sprintf("%d/%d", run.Launch, run.Request))
		if run.Dump.Tag != "server_perf_dump" || filepath.Base(run.Dump.Name) != fmt.Sprintf("head-%02d.json", run.Index) {
			t.Errorf("run %d: tag %q, dump %s", run.Index, run.Dump.Tag, run.Dump.Name)
		}
	}
	if want := "1/2 1/3 1/4 2/2 2/3 2/4"; strings.Join(got, " ") != want {
		t.Errorf("head's launch/request = %s, want %s", strings.Join(got, " "), want)
	}
	if len(r.Launches) != 4 || r.Metric(report.MetricE2E).Samples == "" {
		t.Errorf("launches %+v, e2e samples %q: the result does not know it was served", r.Launches, r.Metric(report.MetricE2E).Samples)
	}
	// Balanced order of launches, one server at a time: base head head base.
	seq := make([]string, 12)
	for name, runs := range map[string][]dump.Run{"b": r.Base.Runs, "h": r.Head.Runs} {
		for _, run := range runs {
			seq[run.Order-1] = fmt.Sprintf("%s%d", name, run.Launch)
		}
	}
	if want := "b1 b1 b1 h1 h1 h1 h2 h2 h2 b2 b2 b2"; strings.Join(seq, " ") != want {
		t.Errorf("sample order %s, want %s", strings.Join(seq, " "), want)
	}
	out := s.OutDir
	for _, f := range []string{"base-launch1.log", "head-launch2.log", "base/base-launch1-warmup1.json", "head-06.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	allGone(t, out)
	env, _ := os.ReadFile(envFile)
	for _, want := range []string{"DIFFPERF_LAUNCH=", "DIFFPERF_SIDE=", "SGLANG_DIFFUSION_SYNC_STAGE_PROFILING=1", "PYTHONPATH=", "DIFFPERF_PROC="} {
		if !strings.Contains(string(env), want) {
			t.Errorf("the server's environment lacks %s", want)
		}
	}
	if strings.Contains(string(env), "ghs_serve_secret") {
		t.Error("the token reached the server")
	}
	argv, _ := os.ReadFile(argvFile)
	if !strings.Contains(string(argv), `["serve","--model-path","test/model","--port",`) {
		t.Errorf("the server's argv: %s", argv)
	}
}

// With both servers up, requests alternate in balanced order: b h h b b h
// in the first pair, h b b h h b in the second.
func TestServeTogetherAlternatesRequests(t *testing.T) {
	t.Parallel()
	w := serveWorkload()
	repo, _, _ := newRepo(t, w, w)
	s := serveSpec(t, repo, TogetherYes)
	s.Serve.Requests = 2
	r := measure(t, s, 2)
	if r.Verdict == report.Failed {
		t.Fatalf("failed: %s", r.Reason)
	}
	seq := make([]string, 8)
	for _, run := range r.Base.Runs {
		seq[run.Order-1] = fmt.Sprintf("b%d", run.Launch)
	}
	for _, run := range r.Head.Runs {
		seq[run.Order-1] = fmt.Sprintf("h%d", run.Launch)
	}
	if want := "b1 h1 h1 b1 h2 b2 b2 h2"; strings.Join(seq, " ") != want {
		t.Errorf("request order %s, want %s", strings.Join(seq, " "), want)
	}
	allGone(t, s.OutDir)
}

// TogetherAuto without nvidia-smi runs one server at a time; with an
// nvidia-smi that shows no room for a second server, too; with room, both.
func TestServeTogetherAuto(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		smi      string // nvidia-smi's memory answers, first and later calls; "" for none
		want     string
		together bool
	}{
		{"no nvidia-smi", "", "one server at a time: nvidia-smi is not on the PATH", false},
		{"no room", "1000, 81559|60000, 81559", "one server at a time: the first server took 59000 MiB of GPU 0, and 21559 MiB are free", false},
		{"room", "1000, 81559|9000, 81559", "both servers stay up", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := serveWorkload()
			repo, _, _ := newRepo(t, w, w)
			s := serveSpec(t, repo, TogetherAuto)
			s.Serve.Requests = 2
			bin := t.TempDir()
			path := bin + ":" + fakeDir + ":/usr/bin:/bin"
			if tt.smi != "" {
				first, later, _ := strings.Cut(tt.smi, "|")
				script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in --query-gpu=memory.used,memory.total) ;; *) exit 9;; esac\n"+
					"if [ -e %[1]s/called ]; then echo '%[3]s'; else touch %[1]s/called; echo '%[2]s'; fi\n", bin, first, later)
				if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
				// ReadGPUs asks for other fields and gets exit 9, which
				// the session tolerates.
			}
			s.Env = append(s.Env, "PATH="+path)
			steps := &stepRecorder{}
			s.Progress = steps
			r := measure(t, s, 2)
			if r.Verdict == report.Failed {
				t.Fatalf("failed: %s", r.Reason)
			}
			if !strings.Contains(strings.Join(steps.steps, "\n"), tt.want) {
				t.Errorf("steps lack %q:\n%s", tt.want, strings.Join(steps.steps, "\n"))
			}
			// Together, requests alternate (b h h b): the base's two
			// requests are the first and the fourth; apart, the first two.
			want := [2]int{1, 2}
			if tt.together {
				want = [2]int{1, 4}
			}
			if got := [2]int{r.Base.Runs[0].Order, r.Base.Runs[1].Order}; got != want {
				t.Errorf("the base's first requests ran as %v of the measurement, want %v", got, want)
			}
			allGone(t, s.OutDir)
		})
	}
}

type stepRecorder struct {
	nopProgress
	steps []string
}

func (s *stepRecorder) Step(msg string) { s.steps = append(s.steps, msg) }

func TestServeFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		head         string // the head's extra workload keys
		timeout      time.Duration
		wantLaunch   int
		wantRequest  int
		want         string
		wantTail     string
		wantSamples  int // head samples kept
		togetherMode string
	}{
		{"dies on request 3", "behavior die-on-request request 3", time.Minute, 1, 3,
			"request 3 of launch 1 of head: the server exited: exit status 1", "illegal memory access", 1, TogetherNo},
		{"dies on request 3, both up", "behavior die-on-request request 3", time.Minute, 1, 3,
			"request 3 of launch 1 of head: the server exited: exit status 1", "illegal memory access", 1, TogetherYes},
		{"answers 500", "behavior fail-request request 2", time.Minute, 1, 2,
			"request 2 of launch 1 of head: POST /v1/images/generations answered HTTP 500", "request 2 failed", 0, TogetherNo},
		{"writes no dump", "behavior nodump", time.Minute, 1, 2,
			"request 2 of launch 1 of head: answered, but wrote no dump at", "", 0, TogetherNo},
		{"exits at start", "behavior fail", time.Minute, 1, 0,
			"launch 1 of head: the server exited before it was healthy: exit status 1", "CUDA error: out of memory", 0, TogetherNo},
		{"never healthy", "behavior never-healthy", 3 * time.Second, 1, 0,
			"launch 1 of head: the server was not healthy after 3s (the timeout): GET /health: HTTP 503", "", 0, TogetherNo},
		{"never opens its port", "behavior hang", 3 * time.Second, 1, 0,
			"launch 1 of head: the server was not healthy after 3s (the timeout): GET /health:", "", 0, TogetherNo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo, _, _ := newRepo(t, serveWorkload(), serveWorkload(strings.Fields(tt.head)...))
			s := serveSpec(t, repo, tt.togetherMode)
			s.Timeout = tt.timeout
			start := time.Now()
			r := measure(t, s, 1)
			if r.Verdict != report.Failed || r.Failure == nil {
				t.Fatalf("verdict %s (%s), want failed", r.Verdict, r.Reason)
			}
			f := r.Failure
			if f.Side != "head" || f.Launch != tt.wantLaunch || f.Request != tt.wantRequest || !strings.Contains(f.Reason, tt.want) {
				t.Errorf("failure %s launch %d request %d: %q;\nwant head launch %d request %d: %q", f.Side, f.Launch, f.Request, f.Reason, tt.wantLaunch, tt.wantRequest, tt.want)
			}
			if !strings.Contains(f.LogTail, tt.wantTail) {
				t.Errorf("log tail lacks %q:\n%s", tt.wantTail, f.LogTail)
			}
			if len(r.Head.Runs) != tt.wantSamples {
				t.Errorf("%d head samples kept, want %d", len(r.Head.Runs), tt.wantSamples)
			}
			// Bounded by the timeout (with room for a loaded machine), not
			// by the fake's hour-long hang.
			if limit := tt.timeout + 30*time.Second; time.Since(start) > limit {
				t.Errorf("took %s, more than %s", time.Since(start), limit)
			}
			allGone(t, s.OutDir)
		})
	}
}

// A server that leaves a grandchild (which holds its output open), and one
// that leaves a grandchild in a session of its own: both go with the
// launch.
func TestServeGrandchildIsEnded(t *testing.T) {
	t.Parallel()
	for _, behavior := range []string{"grandchild", "setsid-grandchild"} {
		t.Run(behavior, func(t *testing.T) {
			t.Parallel()
			repo, _, _ := newRepo(t, serveWorkload(), serveWorkload("behavior", behavior))
			s := serveSpec(t, repo, TogetherNo)
			start := time.Now()
			r := measure(t, s, 1)
			if r.Verdict == report.Failed {
				t.Fatalf("failed: %s", r.Reason)
			}
			log, _ := os.ReadFile(filepath.Join(s.OutDir, "head-launch1.log"))
			if !strings.Contains(string(log), "grandchild ") {
				t.Fatalf("the fake left no grandchild:\n%s", log)
			}
			allGone(t, s.OutDir)
			if time.Since(start) > time.Minute {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
}

// A launch whose port another process took in the meantime is launched
// again on another port.
func TestServePortTakenIsRetried(t *testing.T) {
	t.Parallel()
	repo, _, _ := newRepo(t, serveWorkload(), serveWorkload("behavior", "port-taken-once"))
	s := serveSpec(t, repo, TogetherNo)
	steps := &stepRecorder{}
	s.Progress = steps
	r := measure(t, s, 1)
	if r.Verdict == report.Failed {
		t.Fatalf("failed: %s", r.Reason)
	}
	if !strings.Contains(strings.Join(steps.steps, "\n"), "was taken before the server could bind it; trying another") {
		t.Errorf("no retry in the steps:\n%s", strings.Join(steps.steps, "\n"))
	}
}

func TestServeVideos(t *testing.T) {
	t.Parallel()
	w := serveWorkload("step_ms", "5", "sleep_scale", "1")
	repo, _, _ := newRepo(t, w, w)
	s := serveSpec(t, repo, TogetherNo)
	s.Serve.Endpoint = EndpointVideos
	s.Serve.Requests = 2
	r := measure(t, s, 1)
	if r.Verdict == report.Failed {
		t.Fatalf("failed: %s", r.Reason)
	}
	if len(r.Head.Runs) != 2 || r.Head.Runs[0].Dump.Tag != "server_perf_dump" {
		t.Errorf("head runs %+v", r.Head.Runs)
	}
}

// Canceling (Ctrl-C) while servers run ends them and removes the
// worktrees.
func TestServeCanceledCleansUp(t *testing.T) {
	t.Parallel()
	w := serveWorkload("step_ms", "200", "sleep_scale", "1")
	repo, _, _ := newRepo(t, w, w)
	s := serveSpec(t, repo, TogetherYes)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once both servers answer requests.
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(s.OutDir, "head", "head-launch1-warmup1.json")); err == nil {
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer cancel()
	r, err := session(ctx, s, 2)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want canceled", err)
	}
	if r == nil || r.Verdict != report.Failed {
		t.Errorf("result %+v, want failed", r)
	}
	if entries, _ := os.ReadDir(s.WorktreeRoot); len(entries) != 0 {
		t.Errorf("worktrees left behind: %v", entries)
	}
	allGone(t, s.OutDir)
}

func TestRepeatServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fake_workload.txt"), []byte(serveWorkload()), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, _ := ParseServeTemplate(DefaultServeTemplate)
	out := mkdir(t, dir, "out")
	runs, f, err := Repeat(context.Background(), RepeatSpec{Dir: dir, Template: tmpl, Model: "m", Prompt: "p", Runs: 2, Timeout: time.Minute,
		OutDir: out, Env: withFake(), Serve: &Serve{Template: tmpl, Endpoint: EndpointImages, Requests: 2, Warmup: 1}})
	if err != nil || f != nil {
		t.Fatalf("Repeat: %v, %+v", err, f)
	}
	if len(runs) != 4 || runs[3].Launch != 2 || runs[3].Request != 3 {
		t.Errorf("runs %+v, want 2 launches of 2", runs)
	}
	allGone(t, out)
}

func TestParseRequestFields(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		``:                                 "",
		`{"size": "1024x1024", "seed": 1}`: "",
		`[1, 2]`:                           "is not a JSON object",
		`{"seed": 1} {}`:                   "has more after its JSON object",
		`{"perf_dump_path": "/tmp/x"}`:     "perf_dump_path is set by diffperf",
		`{"prompt": "x"}`:                  "prompt is set by diffperf",
		`null`:                             "is not a JSON object",
		`{`:                                "is not a JSON object",
	} {
		_, err := ParseRequestFields(in)
		if want == "" {
			if err != nil {
				t.Errorf("ParseRequestFields(%q) = %v", in, err)
			}
			continue
		}
		if ie, ok := input.As(err); !ok || ie.Name != "request" || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRequestFields(%q) = %v, want an input error named request with %q", in, err, want)
		}
	}
}

func TestParseServeTemplate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		DefaultServeTemplate:                        "",
		"sglang serve --model-path {model}":         "no {port}",
		"sglang serve --port {port} --p {prompt}":   "{prompt} in \"{prompt}\" is not for a server",
		"sglang serve --port {port} --d={dump}":     "is not for a server",
		"sglang serve --port {port} --x {what}":     "unknown placeholder {what}",
		"sglang serve --port={port} --w {worktree}": "",
	} {
		_, err := ParseServeTemplate(in)
		if want == "" {
			if err != nil {
				t.Errorf("ParseServeTemplate(%q) = %v", in, err)
			}
			continue
		}
		if ie, ok := input.As(err); !ok || ie.Name != "serve-command" || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseServeTemplate(%q) = %v, want an input error named serve-command with %q", in, err, want)
		}
	}
	if _, err := ParseTemplate("sglang generate --port {port}"); err == nil || !strings.Contains(err.Error(), "{port} in \"{port}\" is only for serve-command") {
		t.Errorf("ParseTemplate with {port} = %v", err)
	}
}

func TestFitsTwice(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		before, after []gpuMemory
		want          bool
	}{
		{[]gpuMemory{{1000, 81559}}, []gpuMemory{{20000, 81559}}, true},
		{[]gpuMemory{{1000, 81559}}, []gpuMemory{{42000, 81559}}, false},
		{[]gpuMemory{{0, 81559}, {0, 81559}}, []gpuMemory{{30000, 81559}, {60000, 81559}}, false},
		{[]gpuMemory{{0, 81559}}, []gpuMemory{{0, 81559}, {0, 81559}}, false},
	} {
		if got, why := fitsTwice(tt.before, tt.after); got != tt.want {
			t.Errorf("fitsTwice(%v, %v) = %v (%s), want %v", tt.before, tt.after, got, why, tt.want)
		}
	}
}

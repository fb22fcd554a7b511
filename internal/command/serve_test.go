package command

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemoServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, stderr := runCLI(t, nil, "demo", "--mode", "serve", "--dir", dir, "--fail-on-regression")
	if code != ExitRegression {
		t.Fatalf("demo exit %d, want %d (a planted 10%% slowdown); stderr:\n%s", code, ExitRegression, stderr)
	}
	// 2+2 launches, or 4+4 when the launches of a side do not look alike.
	for _, want := range []string{"## ❌ diffperf: regression", "A second, independent batch confirmed it", " launches · model", "<summary>Launches (warm servers)</summary>"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo report lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"out/base-launch1.log", "out/head-01.json", "out/confirm-head-launch1.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("demo left no %s: %v", f, err)
		}
	}
}

func TestRunServeCLI(t *testing.T) {
	t.Parallel()
	const base = "step_ms=20\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\nsleep_scale=0\n"
	tests := []struct {
		name        string
		head        string
		args        []string
		wantCode    int
		wantVerdict string
		wantStderr  string
	}{
		{"planted slowdown gated", strings.Replace(base, "step_ms=20", "step_ms=23", 1), []string{"--fail-on-regression", "--confirm=false"}, ExitRegression, "regression", ""},
		{"A/A", base, []string{"--fail-on-regression", "--request", `{"seed": 3}`}, ExitOK, "no-change", ""},
		{"server dies on request 3", base + "behavior=die-on-request\nrequest=3\n", nil, ExitRuntime, "failed", "request 3 of launch 1 of head: the server exited"},
		{"runs with serve", base, []string{"--runs", "3"}, ExitInput, "", "--runs: not used with --mode serve"},
		{"no port", base, []string{"--serve-command", "sglang serve --model-path {model}"}, ExitInput, "", "--serve-command: no {port}"},
		{"bad request", base, []string{"--request", "seed=3"}, ExitInput, "", `--request: "seed=3" is not a JSON object`},
		{"bad endpoint", base, []string{"--endpoint", "audio"}, ExitInput, "", `--endpoint: "audio" is neither images nor videos`},
		{"bad launches", base, []string{"--launches", "0"}, ExitInput, "", "--launches: 0 is not a positive count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := repoWith(t, base, tt.head)
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "--mode", "serve", "--repo", repo, "--base", "main~1", "--head", "main", "--model", "m",
				"--launches", "2", "--requests", "4", "--together", "no", "--min-delta-ms", "5", "--out", out,
				"--worktrees", filepath.Join(t.TempDir(), "wt"), "--format", "json"}, tt.args...)
			code, stdout, stderr := runCLIEnv(t, nil, fakeEnviron(), args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr)
			}
			if tt.wantVerdict == "" {
				return
			}
			var res struct {
				Verdict   string
				Reproduce string
				Launches  []struct{ Side string }
				Failure   *struct {
					Side            string
					Launch, Request int
				}
			}
			if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Verdict != tt.wantVerdict {
				t.Fatalf("stdout verdict %q (%v), want %q", res.Verdict, err, tt.wantVerdict)
			}
			if !strings.Contains(res.Reproduce, "--mode serve --launches 2 --requests 4 --warmup-requests 1") || strings.Contains(res.Reproduce, "--runs") {
				t.Errorf("reproduce line %q", res.Reproduce)
			}
			if tt.wantVerdict == "failed" {
				if f := res.Failure; f == nil || f.Side != "head" || f.Launch != 1 || f.Request != 3 {
					t.Errorf("failure %+v, want head, launch 1, request 3", res.Failure)
				}
				return
			}
			if len(res.Launches) < 4 {
				t.Errorf("%d launches in the result, want at least 2+2", len(res.Launches))
			}
		})
	}
}

// Flags of one mode given to the other are refused by name.
func TestRunModeFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--launches", "3"}, "--launches: only for --mode serve"},
		{[]string{"--mode", "fast"}, `--mode: "fast" is neither generate nor serve`},
		{[]string{"--mode", "serve", "--command", "x {dump}"}, "--command: not used with --mode serve"},
		{[]string{"--mode", "serve", "--launches", "3", "--max-launches", "2"}, "--max-launches: 2 is less than --launches (3)"},
		{[]string{"--mode", "serve", "--warmup-requests", "-1"}, "--warmup-requests: -1 is negative"},
	} {
		code, _, stderr := runCLIEnv(t, nil, fakeEnviron(), append([]string{"run", "--base", "a", "--head", "b", "--model", "m", "--out", filepath.Join(t.TempDir(), "o")}, tt.args...)...)
		if code != ExitInput || !strings.Contains(stderr, tt.want) {
			t.Errorf("run %v: exit %d, stderr %q; want exit 2 with %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestBenchServeCLI(t *testing.T) {
	t.Parallel()
	repo := repoWith(t, "step_ms=5\nsleep_scale=0\n", "step_ms=5\nsteps=4\nsleep_scale=0\n")
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(diffperfBin, "bench", "test/model", "--mode", "serve", "--launches", "2", "--requests", "3", "--out", out)
	cmd.Dir = repo
	cmd.Env = fakeEnviron()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, b)
	}
	s := string(b)
	for _, want := range []string{"median e2e: ", "over 6 runs", "launch 2: median e2e "} {
		if !strings.Contains(s, want) {
			t.Errorf("bench output lacks %q:\n%s", want, s)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bench-launch2.log")); err != nil {
		t.Error(err)
	}
}

// The Action in mode serve: the gate, the comment with its launches, and
// the token nowhere, the server's log included.
func TestActionServe(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL+"sleep_scale=0\n")
	for k, v := range map[string]string{"mode": "serve", "launches": "2", "requests": "4", "request": `{"seed": 5}`} {
		a.inputs[k] = v
	}
	delete(a.inputs, "runs")
	a.extra = []string{"INPUT_ENDPOINT=images"}
	a.run()
	if a.code != ExitRegression {
		t.Fatalf("exit %d, want 1 (planted slowdown, gate on); stderr:\n%s", a.code, a.stderr)
	}
	bot := a.bot()
	if len(bot) != 1 || !strings.Contains(bot[0].Body, "in 2+2 launches") || !strings.Contains(bot[0].Body, "Launches (warm servers)") {
		t.Fatalf("bot comments: %+v", bot)
	}
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(a.output("result-path")), "*launch*.log"))
	if len(logs) < 4 {
		t.Errorf("server logs %v, want 2+2", logs)
	}
	for _, l := range logs {
		if b, _ := os.ReadFile(l); strings.Contains(string(b), testToken) {
			t.Errorf("%s contains the token", l)
		}
	}
}

// TestCompareServeOutAgain: `compare OUT` with other thresholds judges a
// serve run's dumps again the way the run judged them (over launch
// medians, since its launches are known from result.json), and keeps what
// the run knew and the dumps do not: the sides' commits and the command.
func TestCompareServeOutAgain(t *testing.T) {
	t.Parallel()
	const base = "step_ms=20\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\nsleep_scale=0\n"
	repo := repoWith(t, base, strings.Replace(base, "step_ms=20", "step_ms=23", 1))
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLIEnv(t, nil, fakeEnviron(), "run", "--mode", "serve", "--repo", repo, "--base", "main~1", "--head", "main", "--model", "m",
		"--launches", "2", "--requests", "4", "--together", "no", "--min-delta-ms", "5", "--confirm=false", "--out", out,
		"--worktrees", filepath.Join(t.TempDir(), "wt"), "--format", "json")
	if code != ExitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "request 1/") || !strings.Contains(stderr, "of requests left") || strings.Contains(stderr, "run 1/") {
		t.Errorf("a serve run's progress counts its requests, with an estimate of the time left:\n%s", stderr)
	}
	var ran struct {
		Launches []struct {
			Side   string
			LoadMs float64 `json:"load_ms"`
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "result.json")); err != nil || json.Unmarshal(b, &ran) != nil || len(ran.Launches) < 4 {
		t.Fatalf("the run's result.json: %v, %d launches", err, len(ran.Launches))
	}
	for _, l := range ran.Launches {
		if l.LoadMs <= 0 {
			t.Errorf("launch %+v: no load time in result.json", l)
		}
	}
	code, stdout, stderr := runCLIEnv(t, nil, fakeEnviron(), "compare", "--threshold", "4%", "--format", "json", out)
	if code != ExitOK {
		t.Fatalf("compare: exit %d\n%s", code, stderr)
	}
	var res struct {
		Verdict  string
		Command  string
		Base     struct{ SHA string }
		Launches []struct{ Side string }
		Metrics  []struct {
			ID      string
			Samples string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Launches) != len(ran.Launches) {
		t.Errorf("judged again with %d launches, want the run's %d", len(res.Launches), len(ran.Launches))
	}
	for _, m := range res.Metrics {
		if m.ID == "e2e" && m.Samples != "launches" {
			t.Errorf("E2E judged again over %q, want launches, as the run judged it", m.Samples)
		}
	}
	if len(res.Base.SHA) != 40 || !strings.Contains(res.Command, "serve") {
		t.Errorf("the run's context is lost: base SHA %q, command %q", res.Base.SHA, res.Command)
	}
}

package command

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
)

// diffperfBin is this program, built once, for the demo's fake sglang;
// fakeDir holds the fake sglang program for `run` and `bench`.
var diffperfBin, fakeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "diffperf-test-")
	if err != nil {
		panic(err)
	}
	diffperfBin = filepath.Join(dir, "diffperf")
	if out, err := exec.Command("go", "build", "-o", diffperfBin, "github.com/diffperf/diffperf").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build diffperf: %v\n%s", err, out)
		os.Exit(1)
	}
	if _, err := fakesglang.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func fakeEnviron() []string {
	return append(os.Environ(), "PATH="+fakeDir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// repoWith makes a git repository whose commits main~1 and main carry the
// fake sglang's workloads base and head.
func repoWith(t *testing.T, base, head string) string {
	t.Helper()
	dir, _ := fakerepo.New(t, base, head)
	return dir
}

func TestDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, stderr := runCLI(t, nil, "demo", "--runs", "4", "--dir", dir, "--fail-on-regression")
	if code != ExitRegression {
		t.Fatalf("demo exit %d, want %d (a planted 10%% slowdown); stderr:\n%s", code, ExitRegression, stderr)
	}
	if !strings.Contains(out, "## ❌ diffperf: regression") || !strings.Contains(out, "A second, independent batch confirmed it") {
		t.Errorf("demo report lacks the confirmed regression:\n%s", out)
	}
	if !strings.Contains(stderr, "run 1/8 base") {
		t.Errorf("no progress lines on stderr:\n%s", stderr)
	}
	for _, f := range []string{"out/report.md", "out/result.json", "out/base-01.json", "out/head-04.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("demo left no %s: %v", f, err)
		}
	}
	if !strings.Contains(stderr, "demo: all of it is in "+dir) {
		t.Errorf("the demo does not say where it left its files:\n%s", stderr)
	}

	// diffperf reads its own out folder back.
	outDir := filepath.Join(dir, "out")
	code, got, stderr := runCLI(t, nil, "extract", outDir)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "base: 0.6") || !strings.HasPrefix(lines[3], "confirm head: 0.6") {
		t.Errorf("extract OUT: exit %d, %q; want each side's median of both batches; stderr:\n%s", code, got, stderr)
	}
	code, again, stderr := runCLI(t, nil, "compare", "--fail-on-regression", outDir)
	if code != ExitRegression || !strings.Contains(again, "A second, independent batch confirmed it") || !strings.Contains(again, "| 16 | confirm | base | 4 |") {
		t.Errorf("compare OUT: exit %d, want the run's report again with both batches; stderr:\n%s\n%s", code, stderr, again)
	}
	// Other thresholds judge the dumps again.
	if code, loose, stderr := runCLI(t, nil, "compare", "--fail-on-regression", "--threshold", "50%", outDir); code != 0 || !strings.Contains(loose, "no-change") {
		t.Errorf("compare --threshold 50%% OUT: exit %d, want no-change from the dumps; stderr:\n%s", code, stderr)
	}
	code, base, stderr := runCLI(t, nil, "compare", filepath.Join(outDir, "head-01.json"), outDir)
	if code != 0 || !strings.Contains(base, "n=1+4") {
		t.Errorf("compare DUMP OUT (OUT as the newest side): exit %d; stderr:\n%s\n%.300s", code, stderr, base)
	}
}

func TestRunCLI(t *testing.T) {
	t.Parallel()
	const base = "step_ms=20\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\n"
	tests := []struct {
		name        string
		head        string
		args        []string
		wantCode    int
		wantVerdict string
		wantStderr  string
	}{
		{"planted slowdown gated", "step_ms=23\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\n", []string{"--fail-on-regression", "--confirm=false"}, ExitRegression, "regression", ""},
		{"A/A", base, []string{"--fail-on-regression"}, ExitOK, "no-change", ""},
		{"crashing head", "behavior=fail\n", nil, ExitRuntime, "failed", "the measurement failed: run 1 of head"},
		{"unknown ref", base, []string{"--head", "nope"}, ExitInput, "", `ref "nope"`},
		{"bad template", base, []string{"--command", "sglang {modle}"}, ExitInput, "", "unknown placeholder {modle}"},
		{"bad threshold", base, []string{"--threshold", "five"}, ExitInput, "", `"five" is not a percentage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := repoWith(t, base, tt.head)
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "--repo", repo, "--base", "main~1", "--head", "main", "--model", "m", "--runs", "4",
				"--min-delta-ms", "5", "--out", out, "--worktrees", filepath.Join(t.TempDir(), "wt"), "--format", "json"}, tt.args...)
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
			var res struct{ Verdict string }
			if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Verdict != tt.wantVerdict {
				t.Errorf("stdout verdict %q (%v), want %q", res.Verdict, err, tt.wantVerdict)
			}
			// What was measured is on disk whatever the verdict.
			b, err := os.ReadFile(filepath.Join(out, "result.json"))
			if err != nil || !strings.Contains(string(b), `"verdict": "`+tt.wantVerdict+`"`) {
				t.Errorf("result.json: %v\n%s", err, b)
			}
			if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRunRefusesForeignOutFolder(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "thesis.tex"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := repoWith(t, "step_ms=5\n", "step_ms=5\n")
	code, _, stderr := runCLIEnv(t, nil, fakeEnviron(), "run", "--repo", repo, "--base", "main~1", "--head", "main", "--model", "m", "--out", out)
	if code != ExitInput || !strings.Contains(stderr, "is not empty and has no manifest of diffperf") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "thesis.tex")); err != nil {
		t.Error("a file of someone else's was removed")
	}
}

func TestBenchCLI(t *testing.T) {
	t.Parallel()
	repo := repoWith(t, "step_ms=5\n", "step_ms=5\nsteps=4\n")
	out := filepath.Join(t.TempDir(), "out")
	// bench runs in the current folder, where the fake reads its workload:
	// run the built binary there.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	baseline := filepath.Join(wd, "..", "..", "testdata", "dumps", "runs", "base")
	cmd := exec.Command(diffperfBin, "bench", "test/model", "--runs", "3", "--out", out, "--baseline", baseline, "--", "--seed", "7")
	cmd.Dir = repo
	cmd.Env = fakeEnviron()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, b)
	}
	s := string(b)
	for _, want := range []string{"run 1/3 bench  started", "run 3/3 bench  ", "median e2e: ", "over 3 runs", "### Performance Comparison Report", "improvement"} {
		if !strings.Contains(s, want) {
			t.Errorf("bench output lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "run 2/3 bench  0."); n != 1 {
		t.Errorf("run 2 reported %d times, want once:\n%s", n, s)
	}
	d, err := os.ReadFile(filepath.Join(out, "bench-01.json"))
	if err != nil || !strings.Contains(string(d), `"model": "test/model"`) {
		t.Errorf("bench-01.json: %v\n%s", err, d)
	}
}

// TestBenchWithoutModel: a command without {model} needs no MODEL, and
// with no --out the dumps go to a temporary folder, not the checkout.
func TestBenchWithoutModel(t *testing.T) {
	t.Parallel()
	repo := repoWith(t, "step_ms=5\n", "step_ms=5\n")
	cmd := exec.Command(diffperfBin, "bench", "--runs", "2", "--command", "sglang generate --perf-dump-path {dump} {args}", "--", "--seed", "3")
	cmd.Dir = repo
	cmd.Env = fakeEnviron()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, b)
	}
	if st := gitStatus(t, repo); st != "" {
		t.Errorf("bench left files in the checkout:\n%s", st)
	}
	_, dir, ok := strings.Cut(string(b), "dumps and logs: ")
	dir, _, _ = strings.Cut(dir, "\n")
	if !ok || !strings.HasPrefix(filepath.Base(dir), "diffperf-bench-") {
		t.Fatalf("no temporary folder named:\n%s", b)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if _, err := os.Stat(filepath.Join(dir, "bench-02.json")); err != nil {
		t.Error(err)
	}
}

func gitStatus(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", dir, "status", "--porcelain").CombinedOutput()
	if err != nil {
		t.Fatalf("git status: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

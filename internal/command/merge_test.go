package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
)

// measured is the result Compare gives for five runs a side around the
// given e2e medians, as a matrix cell would have written it.
func measured(name string, base, head float64) *report.Result {
	var b, h dump.Side
	for i := 0; i < 5; i++ {
		b.Runs = append(b.Runs, dump.Run{Index: i + 1, Dump: &dump.Dump{Name: fmt.Sprintf("base-%02d.json", i+1), TotalMs: base + float64(i)}})
		h.Runs = append(h.Runs, dump.Run{Index: i + 1, Dump: &dump.Dump{Name: fmt.Sprintf("head-%02d.json", i+1), TotalMs: head + float64(i)}})
	}
	r := report.Compare(b, h, report.DefaultOptions())
	r.Case, r.Model = name, "test/"+name
	r.Env = &dump.Environment{Before: []dump.GPU{{Name: "NVIDIA H100 80GB HBM3"}}}
	return r
}

// writeResults writes result.json files as matrix cells would upload
// them, each in a folder of its own under dir, and returns dir.
func writeResults(t *testing.T, results ...*report.Result) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range results {
		js, err := report.MarshalJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, "diffperf-"+r.Case, "x")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "result.json"), js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fiveCases is a regression, an improvement, no change, a failed case and
// (with expect-cases) a missing one.
func fiveCases(t *testing.T) string {
	failed := measured("qwen", 1000, 1000)
	failed.Fail(dump.Failure{Side: "head", Run: 2, Reason: "run 2 of head: sglang: exit status 1"})
	return writeResults(t, measured("flux", 1000, 1200), measured("sd3", 1000, 800), measured("wan", 1000, 1000), failed)
}

const fiveExpected = "flux,sd3,wan,qwen,hunyuan"

func TestMergeCLI(t *testing.T) {
	t.Parallel()
	dir := fiveCases(t)
	// A folder, a file and a glob that reach the same results are read once.
	args := []string{"merge", "--expect-cases", fiveExpected, dir, filepath.Join(dir, "diffperf-flux", "x", "result.json"), filepath.Join(dir, "diffperf-w*")}
	code, out, stderr := runCLI(t, nil, args...)
	if code != ExitRuntime || !strings.Contains(stderr, `2 of 5 cases failed or are missing: "qwen", "hunyuan"`) {
		t.Errorf("exit %d, stderr %q; want 3 naming the failed and missing cases", code, stderr)
	}
	for _, want := range []string{"## 💥 diffperf: failed across 5 cases",
		"❌ 1 regression · ✅ 1 improvement · ⚪️ 1 no change · 💥 1 failed · ❓ 1 missing",
		"| flux | NVIDIA H100 80GB HBM3 | 1002.00 → 1202.00 ms | +20.0% | 0.008 (Holm: < 0.0167) | ❌ regression |",
		"| hunyuan | - | - | - | - | ❓ missing: no result |", "💥 failed: run 2 of head"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// The gate: an established regression is exit 1 before the failures.
	if code, _, _ := runCLI(t, nil, append(args, "--fail-on-regression")...); code != ExitRegression {
		t.Errorf("with --fail-on-regression: exit %d, want 1", code)
	}
	// JSON: the counts and every case.
	code, out, _ = runCLI(t, nil, append(args, "--format", "json")...)
	var js report.MergedJSON
	if err := json.Unmarshal([]byte(out), &js); err != nil || js.Schema != report.MergedSchemaVersion || len(js.Cases) != 5 {
		t.Fatalf("JSON (exit %d): %v\n%s", code, err, out)
	}
	want := map[report.Verdict]int{"regression": 1, "improvement": 1, "inconclusive": 0, "no-change": 1, "failed": 1, "missing": 1}
	if diff := cmp.Diff(want, js.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestMergeCLIRefuses(t *testing.T) {
	t.Parallel()
	dir := fiveCases(t)
	bad := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(bad, []byte(`{"schema": "diffperf.result/v9"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	twice := writeResults(t, measured("flux", 1, 1))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unusable file", []string{bad}, "result " + bad + `: schema "diffperf.result/v9"`},
		{"threshold", []string{"--threshold", "3%", dir}, "--threshold: merge does not judge cases again"},
		{"nothing", []string{t.TempDir()}, "merge: no result.json in"},
		{"no arguments", nil, "merge: need RESULT..."},
		{"one case twice", []string{dir, twice}, `results: case "flux" is in both`},
		{"bad expected name", []string{"--expect-cases", "a,b c/d", dir}, `--expect-cases: case "c/d"`},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, nil, append([]string{"merge"}, tt.args...)...)
		if code != ExitInput || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 with %q", tt.name, code, stderr, tt.want)
		}
	}
}

// TestActionMerge is the merge job of the matrix workflow: the cells'
// results in, one comment with its own key, one gate, outputs over all
// cases; a rerun edits the same comment.
func TestActionMerge(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, baseWL)
	dir := fiveCases(t)
	a.inputs = map[string]string{"mode": "merge", "results": dir + "/*\n" + filepath.Join(dir, "diffperf-flux"), "expect-cases": fiveExpected, "github-token": testToken}
	a.extra = []string{"GITHUB_WORKFLOW=perf-matrix", "GITHUB_JOB=merge"}
	a.run()
	if a.code != ExitRegression {
		t.Fatalf("exit %d, want 1 (flux regressed); stderr:\n%s", a.code, a.stderr)
	}
	bot := a.bot()
	if len(bot) != 1 {
		t.Fatalf("%d comments, want 1", len(bot))
	}
	body := bot[0].Body
	if !regexp.MustCompile(`^<!-- diffperf:merged-[0-9a-f]{16} -->\n## 💥 diffperf: failed across 5 cases`).MatchString(body) {
		t.Errorf("comment does not start with the merged key and headline:\n%.300s", body)
	}
	for _, want := range []string{"| flux |", "| sd3 |", "| wan |", "| qwen |", "| hunyuan |", "<summary>flux: ❌ regression, E2E +20.0%</summary>"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q", want)
		}
	}
	if got := a.output("verdict"); got != "failed" {
		t.Errorf("verdict output %q, want failed (the worst)", got)
	}
	var counts map[string]int
	if err := json.Unmarshal([]byte(a.output("case-counts")), &counts); err != nil || counts["regression"] != 1 || counts["missing"] != 1 {
		t.Errorf("case-counts %q: %v", a.output("case-counts"), err)
	}
	for _, k := range []string{"report-path", "result-path", "comment-url"} {
		if a.output(k) == "" {
			t.Errorf("output %s not set", k)
		}
	}
	if b, err := os.ReadFile(a.output("result-path")); err != nil || !strings.Contains(string(b), report.MergedSchemaVersion) {
		t.Errorf("result-path: %v", err)
	}
	if !strings.Contains(a.summary, "diffperf: failed across 5 cases") || !strings.Contains(a.stdout, "::error::diffperf: regression: regression: flux") {
		t.Errorf("summary or error annotation missing:\n%s", a.stdout)
	}

	// A rerun edits the same comment.
	a.run()
	if again := a.bot(); len(again) != 1 || again[0].ID != bot[0].ID {
		t.Errorf("rerun: comments %+v, want comment %d edited", again, bot[0].ID)
	}
	// The accept label lets the regression pass; the failed and missing
	// cases still fail the job (exit 3), and say so.
	a.fake.SetLabels(7, "perf-regression-accepted")
	a.run()
	if a.code != ExitRuntime || !strings.Contains(a.stderr, "2 of 5 cases failed or are missing") {
		t.Errorf("accepted: exit %d, stderr %q; want 3 for the failed and missing cases", a.code, a.stderr)
	}
	if b := a.bot(); len(b) != 1 || !strings.Contains(b[0].Body, "❌ regression (accepted)") {
		t.Errorf("accepted: the row does not say so")
	}
}

func TestActionMergeCommentModesAndForks(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, baseWL)
	dir := writeResults(t, measured("flux", 1000, 1000), measured("wan", 1000, 1001))
	a.inputs = map[string]string{"mode": "merge", "results": dir, "github-token": testToken, "comment": "on-change"}
	a.run()
	if a.code != ExitOK || a.output("verdict") != "no-change" || len(a.bot()) != 0 {
		t.Errorf("on-change, nothing changed: exit %d verdict %q, %d comments; want 0, no-change, none", a.code, a.output("verdict"), len(a.bot()))
	}
	a.inputs["comment"] = "never"
	a.inputs["results"] = fiveCases(t)
	a.run()
	if len(a.bot()) != 0 || a.code != ExitRegression {
		t.Errorf("never: %d comments, exit %d", len(a.bot()), a.code)
	}
	b := newActionRun(t, baseWL)
	b.payload = b.prPayload("mallory/perf")
	b.inputs = map[string]string{"mode": "merge", "results": dir, "github-token": testToken}
	b.run()
	if b.code != ExitInput || !strings.Contains(b.stderr, "allow-forks") {
		t.Errorf("fork: exit %d, stderr %q; want the fork refusal", b.code, b.stderr)
	}
	c := newActionRun(t, baseWL)
	c.inputs = map[string]string{"mode": "merge", "results": t.TempDir(), "github-token": testToken}
	c.run()
	if c.code != ExitInput || !strings.Contains(c.stderr, "results: no result.json in") {
		t.Errorf("no results: exit %d, stderr %q", c.code, c.stderr)
	}
}

// TestActionCases runs input cases: two cases in one job on one pair of
// worktrees, one comment with a row each, one gate. The head's denoising
// step is 3 ms slower: a regression over 10 steps, within min-delta-ms
// over 1.
func TestActionCases(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL)
	a.inputs["runs"] = "5"
	a.inputs["cases"] = `
- name: slow
- name: quick
  model-path: test/quick
  args: --num-inference-steps 1
`
	a.run()
	if a.code != ExitRegression {
		t.Fatalf("exit %d, want 1; stderr:\n%s", a.code, a.stderr)
	}
	bot := a.bot()
	if len(bot) != 1 {
		t.Fatalf("%d comments, want 1", len(bot))
	}
	body := bot[0].Body
	for _, want := range []string{"<!-- diffperf:merged-", "## ❌ diffperf: regression across 2 cases", "❌ 1 regression · ⚪️ 1 no change",
		"| slow |", "| quick |", "<summary>slow: ❌ regression", "<summary>quick: ⚪️ no-change"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%.2000s", want, body)
		}
	}
	if strings.Count(body, "\n| slow |")+strings.Count(body, "\n| quick |") != 2 {
		t.Errorf("want one row a case")
	}
	// Each case's files in <out>/<case>/, its own run numbers.
	out := filepath.Dir(a.output("result-path"))
	for _, c := range []string{"slow", "quick"} {
		b, err := os.ReadFile(filepath.Join(out, c, "result.json"))
		if err != nil || !strings.Contains(string(b), `"case": "`+c+`"`) {
			t.Errorf("%s/result.json: %v", c, err)
		}
		for _, f := range []string{"base-01.json", "head-05.log", "report.md"} {
			if _, err := os.Stat(filepath.Join(out, c, f)); err != nil {
				t.Errorf("case %s: %v", c, err)
			}
		}
	}
	if !strings.Contains(a.stderr, "case slow: regression") || strings.Count(a.stderr, "setup of") != 0 {
		t.Logf("stderr:\n%s", a.stderr)
	}
	// A rerun edits the same comment.
	a.run()
	if again := a.bot(); len(again) != 1 || again[0].ID != bot[0].ID {
		t.Errorf("rerun: comments %+v, want comment %d edited", again, bot[0].ID)
	}
}

func TestRunCasesCLI(t *testing.T) {
	t.Parallel()
	repo := repoWith(t, baseWL, slowWL)
	dir := t.TempDir()
	casesFile := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(casesFile, []byte("- name: slow\n  model-path: test/slow\n- name: quick\n  model-path: test/quick\n  args: [--num-inference-steps, '1']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"run", "--repo", repo, "--base", "main~1", "--head", "main", "--runs", "5", "--min-delta-ms", "5", "--confirm=false",
		"--out", out, "--cases", casesFile, "--fail-on-regression"}
	code, stdout, stderr := runCLIEnv(t, nil, fakeEnviron(), args...)
	if code != ExitRegression {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "## ❌ diffperf: regression across 2 cases") || !strings.Contains(stdout, "| quick |") {
		t.Errorf("stdout:\n%.1500s", stdout)
	}
	for _, f := range []string{"slow/result.json", "slow/base-05.json", "quick/report.md", "merged.md", "merged.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// The cases' folders merge again to the same verdict.
	code, again, _ := runCLI(t, nil, "merge", "--format", "json", out)
	if code != ExitOK || !strings.Contains(again, `"regression": 1`) {
		t.Errorf("merge of the out folder: exit %d\n%s", code, again)
	}

	if err := os.WriteFile(casesFile, []byte("- name: a b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLIEnv(t, nil, fakeEnviron(), append(args[:len(args)-1], "--out", filepath.Join(dir, "out2"))...)
	if code != ExitInput || !strings.Contains(stderr, "--cases "+casesFile+`: case 1: case "a b"`) {
		t.Errorf("bad cases file: exit %d, stderr %q", code, stderr)
	}
}

// TestMergeTrustsNoCell: a cell's result.json comes from a job that ran the
// PR's code, so merge publishes none of its fields unchecked: a unit, a
// sample kind or a side that diffperf never writes is refused by name, a
// cell's own "accepted" does not pass the gate, and with expect-cases a
// case nobody asked for is refused.
func TestMergeTrustsNoCell(t *testing.T) {
	t.Parallel()
	const img, mention = `<img src="https://evil.example/x.png">`, "@octocat"
	tests := []struct {
		name   string
		mutate func(r *report.Result)
		want   string
	}{
		{"unit", func(r *report.Result) { r.Metrics[0].Unit = img }, `unit "<img`},
		{"samples", func(r *report.Result) { r.Metrics[0].Samples = mention + " " + img }, `samples "@octocat`},
		{"launch side", func(r *report.Result) {
			r.Launches = append(r.Launches, report.Launch{Side: img + mention, Launch: 1, Requests: 1})
		}, `side "<img`},
		{"verdict", func(r *report.Result) { r.Verdict = report.Verdict(img) }, "is not a verdict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evil := measured("flux", 1000, 1200)
			tt.mutate(evil)
			dir := writeResults(t, evil, measured("wan", 1000, 1000))
			code, out, stderr := runCLI(t, nil, "merge", dir)
			if code != ExitInput || !strings.Contains(stderr, "diffperf-flux") || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 naming the cell's result and %q", code, stderr, tt.want)
			}
			if strings.Contains(out, "<img") || strings.Contains(out, mention) {
				t.Errorf("the merged report carries the cell's raw field:\n%s", out)
			}
		})
	}
	t.Run("accepted in a cell", func(t *testing.T) {
		t.Parallel()
		r := measured("flux", 1000, 1200)
		r.Accepted = true // written by the cell, not the merge job's label
		dir := writeResults(t, r, measured("wan", 1000, 1000))
		if code, out, _ := runCLI(t, nil, "merge", "--fail-on-regression", dir); code != ExitRegression {
			t.Errorf("exit %d, want 1: a cell's accepted must not pass the gate\n%s", code, out)
		}
	})
	t.Run("unexpected case", func(t *testing.T) {
		t.Parallel()
		dir := writeResults(t, measured("flux", 1000, 1000), measured("extra", 1000, 1200))
		code, _, stderr := runCLI(t, nil, "merge", "--expect-cases", "flux", "--fail-on-regression", dir)
		if code != ExitInput || !strings.Contains(stderr, `case "extra"`) {
			t.Errorf("exit %d, stderr %q; want 2 naming case extra", code, stderr)
		}
	})
}

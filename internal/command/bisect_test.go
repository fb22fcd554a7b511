package command

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"

	"github.com/diffperf/diffperf/internal/bisect"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
)

// bisectRepo is a repository of good and the 8 first-parent commits after
// it (range indices 1 to 8): from commit culprit on, the denoising step
// takes 21 ms instead of 20 (+5 %); commit broken (-1: none) fails to run.
// The fake does not sleep: its dumps are the same either way.
func bisectRepo(t *testing.T, culprit, broken int) (repo string, shas []string) {
	t.Helper()
	var wls []string
	for i := 0; i <= 8; i++ {
		kv := []string{"sleep_scale", "0"}
		if i >= culprit {
			kv = append(kv, "step_ms", "21")
		}
		if i == broken {
			kv = append(kv, "behavior", "fail")
		}
		wls = append(wls, fakerepo.Workload(kv...))
	}
	return fakerepo.New(t, wls...)
}

func bisectArgs(repo, out, worktrees, good, bad string, extra ...string) []string {
	return append([]string{"bisect", "--good", good, "--bad", bad, "--repo", repo, "--model", "test/model", "--runs", "4", "--max-runs", "6",
		"--threshold", "1%", "--min-delta-ms", "1", "--sandbox", "none", "--out", out, "--worktrees", worktrees}, extra...)
}

// TestBisectEndToEnd: on the fake repository with the fake sglang, commit
// 5 of 8 slows the denoising step by 5 % and commit 6 fails to run.
// bisect skips 6, names 5, confirms it against its parent, writes the
// Markdown and JSON reports, and leaves no worktree behind.
func TestBisectEndToEnd(t *testing.T) {
	t.Parallel()
	var wls []string
	for i := 0; i <= 8; i++ {
		kv := []string{"sleep_scale", "0"}
		if i >= 5 {
			kv = append(kv, "step_ms", "21")
		}
		if i == 6 {
			kv = append(kv, "behavior", "fail")
		}
		wls = append(wls, fakerepo.Workload(kv...))
	}
	repo := t.TempDir()
	fakerepo.Git(t, repo, "init", "-q", "-b", "main")
	var shas []string
	for i, w := range wls {
		msg := fmt.Sprintf("commit %d", i)
		env := []string{}
		if i == 5 {
			msg = "Speed up | <b>VAE</b> @everyone $x$ (#42)"
			env = append(env, "GIT_AUTHOR_NAME=Mallory | *x* @root")
		}
		shas = append(shas, commitAs(t, repo, w, msg, env...))
	}
	out, worktrees := filepath.Join(t.TempDir(), "out"), privateDir(t)
	setups := filepath.Join(t.TempDir(), "setups")
	code, stdout, stderr := runCLIEnv(t, nil, fakeEnviron(), bisectArgs(repo, out, worktrees, shas[0], "main", "--format", "json", "--setup", "git rev-parse HEAD >> "+setups)...)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", code, stderr)
	}
	// One worktree and one setup per commit measured (0, 8, 4, 6, 7, 5;
	// the culprit's parent is 4), however many comparisons it was in.
	ran, err := os.ReadFile(setups)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(ran))
	slices.Sort(got)
	want := []string{shas[0], shas[4], shas[5], shas[6], shas[7], shas[8]}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("setups (-want +got), one per measured commit:\n%s", diff)
	}
	var j bisect.JSON
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if j.Culprit == nil || j.Culprit.SHA != shas[5] || !j.Confirmed {
		t.Fatalf("culprit %+v (confirmed %v), want commit 5 %s confirmed; notes %q\nstderr:\n%s", j.Culprit, j.Confirmed, shas[5], j.Notes, stderr)
	}
	if j.Culprit.PR != 42 || j.Culprit.Author != "Mallory | *x* @root" || j.Culprit.Date != "2026-01-01T00:00:00+00:00" {
		t.Errorf("culprit %+v: want its pull request, author and date", j.Culprit)
	}
	if j.Change == nil || j.Change.DeltaPct < 4 || j.Change.DeltaPct > 6 || j.LastGood != shas[4] {
		t.Errorf("change %+v against %s: want about +5 %% against commit 4", j.Change, j.LastGood)
	}
	var states []string
	for _, s := range j.Steps {
		states = append(states, fmt.Sprintf("%d %s", s.Index, s.State))
	}
	if diff := cmp.Diff([]string{"4 good", "6 skip", "7 bad", "5 bad"}, states); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if j.Confirmation == nil || j.Confirmation.Confirmation == nil {
		t.Errorf("the confirmation has no second batch: %+v", j.Confirmation)
	}
	for _, want := range []string{"bisect: step 1 of about 3: " + shas[4][:12] + " (commit 4 of 8)", "bisect: step 2 of about 3:", "runs so far, ETA ", "run 1/8 c" + shas[0][:12]} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	md, err := os.ReadFile(filepath.Join(out, "bisect.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`" + shas[5][:12] + "` made the change (E2E Latency +", "confirmed)", "(pull request #42)",
		"Speed up &#124; &lt;b&gt;VAE&lt;/b&gt; @\u200beveryone &#36;x&#36;", "Mallory &#124; \\*x\\* @\u200broot",
		"| 6 | `" + shas[6][:12] + "` | commit 6 | - | 0 | skip |", "**bad, culprit** ⬅", "| DenoisingStage |",
		"diffperf bisect --good " + shas[0] + " --bad " + shas[8] + " --runs 4 --max-runs 6"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("bisect.md lacks %q:\n%s", want, md)
		}
	}
	if js, err := os.ReadFile(filepath.Join(out, "bisect.json")); err != nil || string(js) != stdout {
		t.Errorf("bisect.json (%v) is not what stdout printed", err)
	}
	// A folder per comparison, each with its report and dumps.
	dirs, _ := filepath.Glob(filepath.Join(out, "[0-9][0-9]-*"))
	if len(dirs) != 9 {
		t.Errorf("%d comparison folders, want 9 (good/bad, 4 steps of which one skipped early, the confirmation): %q", len(dirs), dirs)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "result.json")); err != nil {
		t.Errorf("the first comparison has no result.json: %v", err)
	}
	if wt := fakerepo.Git(t, repo, "worktree", "list", "--porcelain"); strings.Count(wt, "worktree ") != 1 {
		t.Errorf("worktrees left behind:\n%s", wt)
	}
	if left, _ := os.ReadDir(worktrees); len(left) != 0 {
		t.Errorf("the worktrees' folder holds %d entries", len(left))
	}
}

// commitAs commits workload wl in repo with message msg, env overriding
// git's (author name).
func commitAs(t *testing.T, repo, wl, msg string, env ...string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(repo, "fake_workload.txt"), []byte(wl), 0o644); err != nil {
		t.Fatal(err)
	}
	fakerepo.Git(t, repo, "add", "-A")
	cmd := exec.Command("git", "commit", "-q", "--allow-empty", "-m", msg)
	cmd.Dir, cmd.Env = repo, append(fakerepo.GitEnv(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git commit: %v\n%s", err, b)
	}
	return fakerepo.Git(t, repo, "rev-parse", "HEAD")
}

// TestBisectNoChange: a range without a change: no culprit, exit 0, and
// only good against bad is measured.
func TestBisectNoChange(t *testing.T) {
	t.Parallel()
	repo, shas := bisectRepo(t, 99, -1)
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLIEnv(t, nil, fakeEnviron(), bisectArgs(repo, out, privateDir(t), shas[0], shas[8])...)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "no culprit: good and bad do not differ") {
		t.Errorf("the report does not say there is no culprit:\n%s", stdout)
	}
	if dirs, _ := filepath.Glob(filepath.Join(out, "[0-9][0-9]-*")); len(dirs) != 1 {
		t.Errorf("%d comparisons, want 1", len(dirs))
	}
}

// TestBisectRefusals: unusable ranges exit 2 before anything is measured
// or written.
func TestBisectRefusals(t *testing.T) {
	t.Parallel()
	repo, shas := bisectRepo(t, 5, -1)
	fakerepo.Git(t, repo, "checkout", "-q", "-b", "side", shas[3])
	side := commitAs(t, repo, fakerepo.Workload("step_ms", "30"), "on a side branch")
	fakerepo.Git(t, repo, "checkout", "-q", "main")
	fakerepo.Git(t, repo, "merge", "-q", "--no-ff", "-s", "ours", "-m", "Merge pull request #9 from x/side", "side")
	tests := []struct {
		name, good, bad, want string
	}{
		{"good not an ancestor", side, shas[8], "--good: " + side + " (" + side[:12] + ") is not an ancestor of --bad"},
		{"reversed", shas[8], shas[0], "is not an ancestor of --bad"},
		{"unknown ref", "nope", shas[8], `ref "nope"`},
		{"the same commit", shas[2], shas[2], "--bad: " + shas[2] + " is the same commit as --good"},
		{"off the first-parent history", side, "main", "is not on the first-parent history of --bad main"},
		{"no --bad", shas[0], "", "--good and --bad are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out")
			code, _, stderr := runCLIEnv(t, nil, fakeEnviron(), bisectArgs(repo, out, privateDir(t), tt.good, tt.bad)...)
			if code != ExitInput || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, ExitInput, tt.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused bisect made %s", out)
			}
		})
	}
}

// TestBisectCannotMeasure: the good commit fails to run: exit 3, with the
// report of what was measured.
func TestBisectCannotMeasure(t *testing.T) {
	t.Parallel()
	repo, shas := bisectRepo(t, 5, 0)
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLIEnv(t, nil, fakeEnviron(), bisectArgs(repo, out, privateDir(t), shas[0], shas[8])...)
	if code != ExitRuntime || !strings.Contains(stderr, "could not measure the good commit "+shas[0][:12]) {
		t.Fatalf("exit %d, want %d naming the good commit\nstderr:\n%s", code, ExitRuntime, stderr)
	}
	// The runs of one commit are its Checkout's, named by it, in the out
	// folder; the comparison's own folder has its report.
	if _, err := os.Stat(filepath.Join(out, "c"+shas[0][:12]+"-01.log")); err != nil {
		t.Errorf("the failed run's log is not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "01-"+shas[0][:7]+"-"+shas[8][:7], "result.json")); err != nil {
		t.Errorf("the failed comparison has no result.json: %v", err)
	}
}

// TestBisectAction: mode bisect through the fake GitHub. The report goes
// to the change point's issue as one comment, and the issue's body gets
// the block naming the culprit; a second run edits both and duplicates
// neither, and keeps the rest of the body.
func TestBisectAction(t *testing.T) {
	t.Parallel()
	repo, shas := bisectRepo(t, 3, -1)
	fake := fakegithub.New("octo", "perf", map[string]string{testToken: "github-actions[bot]"}, 101)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	fake.BaseURL = ts.URL
	gh, err := ghcomment.NewGitHub(ts.URL, testToken, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	c := &ghcomment.Commenter{GH: gh, Owner: "octo", Repo: "perf", Bot: "github-actions[bot]", Retry: ghcomment.Retry{Attempts: 1, Sleep: func(context.Context, time.Duration) error { return nil }}}
	is, err := c.CreateIssue(t.Context(), "<!-- diffperf-cp:x -->", "perf: E2E +5% at abc", "<!-- diffperf-cp:x -->\nThe change point.", []string{"perf-regression"})
	if err != nil || is.GetNumber() != 101 {
		t.Fatalf("issue %v: %v", is.GetNumber(), err)
	}
	bisectOnce := func() *actionRun {
		t.Helper()
		a := &actionRun{t: t, repo: repo, fake: fake, apiURL: ts.URL, event: "workflow_dispatch", payload: `{"ref":"refs/heads/main"}`,
			inputs: map[string]string{"mode": "bisect", "good": shas[0], "bad": "main", "issue-number": "101", "model-path": "test/model",
				"github-token": testToken, "runs": "4", "max-runs": "6", "min-delta-ms": "1", "threshold": "1%", "sandbox": "none"}}
		a.run()
		if a.code != 0 {
			t.Fatalf("exit %d, want 0\nstderr:\n%s", a.code, a.stderr)
		}
		return a
	}
	a := bisectOnce()
	if !strings.Contains(a.outputs, "culprit") {
		t.Errorf("outputs lack the verdict culprit:\n%s", a.outputs)
	}
	if !strings.Contains(a.summary, "made the change") {
		t.Errorf("the step summary lacks the report:\n%s", a.summary)
	}
	check := func(run int) {
		t.Helper()
		cs := fake.Comments(101)
		if len(cs) != 1 || !strings.HasPrefix(cs[0].Body, "<!-- diffperf:bisect -->\n") || !strings.Contains(cs[0].Body, "`"+shas[3][:12]+"` made the change") {
			t.Fatalf("run %d: comments %+v, want one bisect report naming commit 3", run, cs)
		}
		got, err := c.Issue(t.Context(), 101)
		if err != nil {
			t.Fatal(err)
		}
		body := got.GetBody()
		if strings.Count(body, bisect.IssueBlockStart) != 1 || strings.Count(body, bisect.IssueBlockEnd) != 1 || !strings.Contains(body, shas[3]) ||
			!strings.HasPrefix(body, "<!-- diffperf-cp:x -->\nThe change point.\n\n") {
			t.Errorf("run %d: the issue's body is\n%s\nwant its text, then one block naming commit 3", run, body)
		}
		if got.GetTitle() != "perf: E2E +5% at abc" || len(got.Labels) != 1 {
			t.Errorf("run %d: title %q, labels %v changed", run, got.GetTitle(), got.Labels)
		}
	}
	check(1)
	bisectOnce()
	check(2)
}

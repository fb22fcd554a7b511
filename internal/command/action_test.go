package command

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
)

const (
	testToken = "ghs_0123456789abcdefSECRET"
	baseWL    = "step_ms=20\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\n"
	slowWL    = "step_ms=23\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\n"
)

// actionRun is one run of `diffperf action` in-process, as a runner would
// start it, against a fake GitHub.
type actionRun struct {
	t       *testing.T
	repo    string
	fake    *fakegithub.Server
	apiURL  string
	event   string // event name
	payload string
	inputs  map[string]string
	extra   []string
	retry   ghcomment.Retry
	// tempDir, when set, is RUNNER_TEMP (else a new folder each run).
	tempDir string
	// results
	runnerTemp                       string
	code                             int
	stdout, stderr, outputs, summary string
}

func newActionRun(t *testing.T, head string) *actionRun {
	t.Helper()
	repo := repoWith(t, baseWL, head)
	fake := fakegithub.New("octo", "perf", map[string]string{testToken: "github-actions[bot]"}, 7)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	fake.BaseURL = ts.URL
	a := &actionRun{t: t, repo: repo, fake: fake, apiURL: ts.URL, event: "pull_request",
		// sandbox none: these tests read what the fake benchmark writes
		// into their temporary folders, which bubblewrap hides from it
		// (TestActionSandbox runs the Action under bubblewrap).
		inputs: map[string]string{"model-path": "test/model", "github-token": testToken, "runs": "4", "min-delta-ms": "5", "confirm": "false", "sandbox": "none"}}
	a.payload = a.prPayload("octo/perf")
	return a
}

func (a *actionRun) sha(rev string) string {
	out, err := exec.Command("git", "-C", a.repo, "rev-parse", rev).Output()
	if err != nil {
		a.t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func (a *actionRun) prPayload(headRepo string) string {
	return fmt.Sprintf(`{"action": "synchronize", "number": 7, "pull_request": {"number": 7, "title": "@org/team <img src=x> $(touch pwned)",
		"base": {"sha": %q, "ref": "main", "repo": {"full_name": "octo/perf"}},
		"head": {"sha": %q, "ref": "feature", "repo": {"full_name": %q}}, "labels": []}}`, a.sha("main~1"), a.sha("main"), headRepo)
}

func (a *actionRun) run() *actionRun {
	a.t.Helper()
	dir := a.t.TempDir()
	if a.tempDir != "" {
		dir = a.tempDir
	}
	a.runnerTemp = dir
	files := map[string]string{"event": filepath.Join(dir, "event.json"), "out": filepath.Join(dir, "output"), "sum": filepath.Join(dir, "summary")}
	if err := os.WriteFile(files["event"], []byte(a.payload), 0o644); err != nil {
		a.t.Fatal(err)
	}
	environ := append(fakeEnviron(), "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME="+a.event, "GITHUB_EVENT_PATH="+files["event"],
		"GITHUB_REPOSITORY=octo/perf", "GITHUB_API_URL="+a.apiURL, "GITHUB_WORKSPACE="+a.repo, "RUNNER_TEMP="+dir,
		"GITHUB_OUTPUT="+files["out"], "GITHUB_STEP_SUMMARY="+files["sum"], "GITHUB_TOKEN="+testToken)
	for k, v := range a.inputs {
		environ = append(environ, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	environ = append(environ, a.extra...)
	getenv := func(k string) string {
		v := ""
		for _, kv := range environ {
			if strings.HasPrefix(kv, k+"=") {
				v = kv[len(k)+1:]
			}
		}
		return v
	}
	var out, errOut bytes.Buffer
	e := Env{Getenv: getenv, Environ: func() []string { return environ }, Executable: func() (string, error) { return diffperfBin, nil },
		Stdout: &out, Stderr: &errOut, GitHubRetry: a.retry}
	err := Run(context.Background(), nil, e)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	a.code, a.stdout, a.stderr = ExitCode(err), out.String(), errOut.String()
	b, _ := os.ReadFile(files["out"])
	a.outputs = string(b)
	b, _ = os.ReadFile(files["sum"])
	a.summary = string(b)
	return a
}

func (a *actionRun) bot() []fakegithub.Comment {
	var out []fakegithub.Comment
	for _, c := range a.fake.Comments(7) {
		if c.User == "github-actions[bot]" {
			out = append(out, c)
		}
	}
	return out
}

func (a *actionRun) output(name string) string {
	// name<<DELIM\nvalue\nDELIM
	i := strings.Index(a.outputs, name+"<<")
	if i < 0 {
		return ""
	}
	rest := a.outputs[i:]
	nl := strings.IndexByte(rest, '\n')
	delim := rest[len(name)+2 : nl]
	val, _, _ := strings.Cut(rest[nl+1:], "\n"+delim)
	return val
}

func TestActionPullRequest(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL).run()
	if a.code != ExitRegression {
		t.Fatalf("exit %d, want 1 (planted slowdown, gate on); stderr:\n%s\nstdout:\n%s", a.code, a.stderr, a.stdout)
	}
	bot := a.bot()
	if len(bot) != 1 || !strings.HasPrefix(bot[0].Body, "<!-- diffperf:test/model-") || !strings.Contains(bot[0].Body, "## ❌ diffperf: regression") {
		t.Fatalf("bot comments: %+v", bot)
	}
	for name, want := range map[string]string{"verdict": "regression", "comment-url": fmt.Sprintf("/octo/perf/pull/7#issuecomment-%d", bot[0].ID)} {
		if got := a.output(name); !strings.Contains(got, want) {
			t.Errorf("output %s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"e2e-delta-pct", "base-e2e-ms", "head-e2e-ms", "p-value", "report-path", "result-path"} {
		if a.output(name) == "" {
			t.Errorf("output %s not set:\n%s", name, a.outputs)
		}
	}
	if _, err := os.Stat(a.output("result-path")); err != nil {
		t.Errorf("result-path: %v", err)
	}
	if !strings.Contains(a.summary, "## ❌ diffperf: regression") {
		t.Errorf("summary:\n%s", a.summary)
	}
	if !strings.Contains(a.stdout, "::error::diffperf: regression") || !strings.Contains(a.stdout, "::group::run 1/8 base") && !strings.Contains(a.stderr, "::group::run 1/8 base") {
		t.Errorf("no error annotation or run groups in the log:\n%s\n%s", a.stdout, a.stderr)
	}
	// The token is masked first, and appears nowhere else.
	if !strings.HasPrefix(a.stdout, "::add-mask::"+testToken) {
		t.Errorf("the token is not masked first: %.80q", a.stdout)
	}
	for where, text := range map[string]string{"log": strings.Replace(a.stdout, "::add-mask::"+testToken, "", 1) + a.stderr,
		"summary": a.summary, "outputs": a.outputs, "comment": bot[0].Body} {
		if strings.Contains(text, testToken) {
			t.Errorf("the token appears in the %s", where)
		}
	}
	for _, path := range []string{a.output("report-path"), a.output("result-path")} {
		if b, err := os.ReadFile(path); err != nil || strings.Contains(string(b), testToken) {
			t.Errorf("%s: %v, or it contains the token", path, err)
		}
	}
	// The comment names files relative to the out folder: no path of the
	// runner (out folder, worktrees, repository) shows.
	for _, p := range []string{a.runnerTemp, a.repo, os.TempDir() + "/"} {
		if strings.Contains(bot[0].Body, p) {
			t.Errorf("the comment shows the runner's path %s", p)
		}
	}
	if !strings.Contains(bot[0].Body, "| head-01.json |") || !strings.Contains(bot[0].Body, "--perf-dump-path head-01.json") {
		t.Errorf("the comment does not name dumps relative to the out folder")
	}
	// A second run edits the same comment.
	b := a.run()
	if got := b.bot(); len(got) != 1 || got[0].ID != bot[0].ID {
		t.Errorf("second run: %+v, want comment %d edited", got, bot[0].ID)
	}
}

func TestActionAcceptLabel(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL)
	a.fake.SetLabels(7, "run-ci", "perf-regression-accepted") // read fresh from the API, not the payload
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d, want 0 with the accept label; stderr:\n%s", a.code, a.stderr)
	}
	if bot := a.bot(); len(bot) != 1 || !strings.Contains(bot[0].Body, "regression (accepted with the label **perf-regression-accepted**)") {
		t.Errorf("comment does not say accepted: %+v", bot)
	}
}

func TestActionNoChangeAndModes(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, baseWL)
	a.inputs["comment"] = "on-change"
	a.run()
	if a.code != ExitOK || a.output("verdict") != "no-change" || len(a.bot()) != 0 {
		t.Fatalf("on-change with no change: exit %d verdict %q comments %d; stderr:\n%s", a.code, a.output("verdict"), len(a.bot()), a.stderr)
	}
	a.inputs["comment"] = "always"
	if a.run(); len(a.bot()) != 1 {
		t.Errorf("always: %d comments", len(a.bot()))
	}
	a.inputs["comment"] = "never"
	a.fake.AddComment(7, "alice", "unrelated")
	before := a.fake.Comments(7)
	if a.run(); len(a.fake.Comments(7)) != len(before) {
		t.Error("never: comments changed")
	}
}

func TestActionRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(a *actionRun)
		want   string
	}{
		{"fork", func(a *actionRun) { a.payload = a.prPayload("mallory/perf") }, "allow-forks: this pull request comes from a fork (mallory/perf)"},
		{"push event", func(a *actionRun) { a.event = "push" }, `event: "push" is not an event diffperf handles`},
		{"bad input", func(a *actionRun) { a.inputs["threshold"] = "5" }, `threshold: "5" is not a percentage`},
		{"underscore spelling", func(a *actionRun) { delete(a.inputs, "model-path"); a.extra = []string{"INPUT_MODEL_PATH="} }, "model-path: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newActionRun(t, baseWL)
			tt.mutate(a)
			a.run()
			if a.code != ExitInput || !strings.Contains(a.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 with %q", a.code, a.stderr, tt.want)
			}
			if len(a.bot()) != 0 {
				t.Error("commented anyway")
			}
		})
	}
}

func TestActionForkTokenAndGitHubFailure(t *testing.T) {
	t.Parallel()
	// A fork's read-only token: 403 on create is a warning; the result stands.
	a := newActionRun(t, baseWL)
	a.fake.Inject(&fakegithub.Fault{Method: "POST", Times: 10, Status: 403, Body: `{"message":"Resource not accessible by integration"}`})
	a.run()
	if a.code != ExitOK || !strings.Contains(a.stdout, "::warning::diffperf: could not write the PR comment (403") || a.output("verdict") != "no-change" ||
		!strings.Contains(a.stdout, "::warning::diffperf: could not post the status diffperf: the token may not post commit statuses") {
		t.Errorf("403 on write: exit %d, outputs %q, stdout:\n%s", a.code, a.outputs, a.stdout)
	}
	// GitHub refusing the token: exit 3, everything measured still out.
	b := newActionRun(t, baseWL)
	b.inputs["github-token"] = "wrong"
	b.extra = []string{"GITHUB_TOKEN=wrong"}
	b.run()
	if b.code != ExitRuntime || !strings.Contains(b.stderr, "Bad credentials") {
		t.Errorf("bad token: exit %d, stderr %s", b.code, b.stderr)
	}
	b.wantNoChangeKept("bad token")
}

func TestActionWorkflowDispatch(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL)
	a.event = "workflow_dispatch"
	a.payload = `{"ref": "refs/heads/main", "repository": {"default_branch": "main"}, "inputs": {}}`
	a.inputs["base-ref"] = "main~1"
	a.inputs["fail-on-regression"] = "false"
	a.run()
	if a.code != ExitOK || a.output("verdict") != "regression" {
		t.Fatalf("dispatch: exit %d verdict %q; stderr:\n%s", a.code, a.output("verdict"), a.stderr)
	}
	if len(a.fake.Requests()) != 0 {
		t.Error("no pr-number, yet GitHub was called")
	}
	a.inputs["pr-number"] = "7"
	if a.run(); len(a.bot()) != 1 {
		t.Errorf("dispatch with pr-number: %d comments", len(a.bot()))
	}
}

// effectiveCommands models the runner's parser of workflow commands: the
// "::name ...::" lines of stdout and stderr that would take effect, with
// ::stop-commands::TOKEN suspending all until ::TOKEN::.
// https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions#stopping-and-starting-workflow-commands
func effectiveCommands(log string) []string {
	var out []string
	stop := ""
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimLeft(line, " \t")
		if stop != "" {
			if line == "::"+stop+"::" {
				stop = ""
			}
			continue
		}
		if !strings.HasPrefix(line, "::") {
			continue
		}
		if tok, ok := strings.CutPrefix(line, "::stop-commands::"); ok {
			stop = tok
			continue
		}
		out = append(out, line)
	}
	return out
}

func TestActionWorkflowCommandsAreInert(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, "behavior=workflow-commands\nstep_ms=1\n")
	a.inputs["fail-on-regression"] = "false"
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
	}
	if !strings.Contains(a.stdout+a.stderr, "::set-output name=verdict::no-change") {
		t.Fatal("the benchmark's workflow commands are not in the log at all: the test proves nothing")
	}
	for _, c := range effectiveCommands(a.stdout + "\n" + a.stderr) {
		for _, bad := range []string{"::add-mask::secret", "::set-output", "::error::fake", "::stop-commands::abc"} {
			if strings.HasPrefix(c, bad) {
				t.Errorf("the benchmark's %q would take effect", c)
			}
		}
	}
	// diffperf's own commands still work.
	if got := effectiveCommands(a.stdout); len(got) == 0 || !strings.HasPrefix(got[0], "::add-mask::") {
		t.Errorf("diffperf's own commands: %q", got)
	}
}

func TestActionInjection(t *testing.T) {
	t.Parallel()
	const hostile = `it's "x" $(touch pwned) ; touch pwned2 ` + "`touch pwned3`" + ` @org/team @alice <img src=x onerror=alert(1)> <!-- diffperf:evil --> | a|b`
	argvFile := filepath.Join(t.TempDir(), "argv.jsonl")
	a := newActionRun(t, "step_ms=1\nargv_file="+argvFile+"\n")
	// The base's workload is the repo's first commit; give it the same file.
	a.inputs["prompt"] = hostile
	a.inputs["model-path"] = "evil/model $(touch pwned4) @alice"
	a.inputs["comment"] = "always"
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
	}
	b, _ := os.ReadFile(argvFile)
	if !strings.Contains(string(b), `"--prompt","it's \"x\" $(touch pwned)`) {
		t.Errorf("prompt not passed as one argument:\n%s", b)
	}
	for _, dir := range []string{a.repo, "."} {
		for _, f := range []string{"pwned", "pwned2", "pwned3", "pwned4"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				t.Errorf("%s created in %s: hostile text reached a shell", f, dir)
			}
		}
	}
	bot := a.bot()
	if len(bot) != 1 {
		t.Fatalf("%d comments", len(bot))
	}
	body := bot[0].Body
	for _, bad := range []string{"<img", "<!-- diffperf:evil -->", "@org/", "@alice"} {
		if strings.Contains(body, bad) {
			t.Errorf("comment contains %q", bad)
		}
	}
	if n := strings.Count(body, "<!-- diffperf:"); n != 1 {
		t.Errorf("%d markers in the comment", n)
	}
	if first := strings.SplitN(body, "\n", 2)[0]; !regexp.MustCompile(`^<!-- diffperf:[A-Za-z0-9._/-]+ -->$`).MatchString(first) {
		t.Errorf("marker %q: the key is not sanitised", first)
	}
}

func TestActionGitHubDown(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, baseWL)
	a.fake.Inject(&fakegithub.Fault{Status: 503, Times: 1000})
	a.retry = ghcomment.Retry{Attempts: 3, Backoff: time.Millisecond, MaxWait: time.Second, DefaultWait: time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { time.Sleep(d); return nil }}
	start := time.Now()
	a.run()
	if a.code != ExitRuntime || !strings.Contains(a.stderr, "503") {
		t.Errorf("GitHub down: exit %d, stderr %s; want 3 naming the 503", a.code, a.stderr)
	}
	if d := time.Since(start); d > 2*time.Minute {
		t.Errorf("took %s", d)
	}
	a.wantNoChangeKept("GitHub down")
}

// wantNoChangeKept checks that a run whose GitHub calls failed still put
// out its A/A result, and tells a wrong verdict from a lost result.
func (a *actionRun) wantNoChangeKept(what string) {
	a.t.Helper()
	switch v := a.output("verdict"); v {
	case "no-change":
	case "":
		a.t.Errorf("%s: the result was lost: no verdict output in %q", what, a.outputs)
	default:
		a.t.Errorf("%s: verdict output %q, want no-change (both sides run the same workload)", what, v)
	}
	if !strings.Contains(a.summary, "diffperf: no-change") {
		a.t.Errorf("%s: the step summary lacks the no-change result:\n%s", what, a.summary)
	}
	b, err := os.ReadFile(a.output("result-path"))
	switch {
	case err != nil:
		a.t.Errorf("%s: the result file was lost: %v", what, err)
	case !strings.Contains(string(b), `"verdict": "no-change"`):
		a.t.Errorf("%s: the result file's verdict is not no-change:\n%s", what, b)
	}
}

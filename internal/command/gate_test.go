package command

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
	"github.com/diffperf/diffperf/internal/report"
)

// states is the sequence of states of context on sha, oldest first.
func states(f *fakegithub.Server, sha, context string) []string {
	var out []string
	for _, s := range f.Statuses(sha) {
		if s.Context == context {
			out = append(out, s.State)
		}
	}
	return out
}

// checkFinal checks the newest status of diffperf on sha: its state, a
// description within GitHub's 140 characters that holds want, and the
// comment as its target.
func checkFinal(t *testing.T, a *actionRun, sha, state, want string) {
	t.Helper()
	st, ok := a.fake.Latest(sha, "diffperf")
	if !ok {
		t.Fatalf("no status diffperf on %s; all: %+v", sha, a.fake.AllStatuses())
	}
	if st.State != state || !strings.Contains(st.Description, want) || utf8.RuneCountInString(st.Description) > 140 {
		t.Errorf("status %+v, want %s with %q within 140 characters", st, state, want)
	}
	if bot := a.bot(); len(bot) == 1 && !strings.HasSuffix(st.TargetURL, fmt.Sprintf("#issuecomment-%d", bot[0].ID)) {
		t.Errorf("target_url %q, want the comment %d", st.TargetURL, bot[0].ID)
	}
}

// TestStatusFollowsTheVerdict: a pull request's run posts pending on the
// head it measures, then failure for a planted regression (saying how to
// accept; exit 1 as before), success for an A/A (exit 0), and error for a
// failed run (exit 3); the state line records the context.
func TestStatusFollowsTheVerdict(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, head, state, want string
		code                    int
	}{
		{"regression", slowWL, "failure", "add label perf-regression-accepted to accept", ExitRegression},
		{"a/a", baseWL, "success", "no-change: E2E", ExitOK},
		{"failed run", slowWL + "behavior=fail\n", "error", "retry with /perf", ExitRuntime},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newActionRun(t, tt.head).run()
			if a.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", a.code, tt.code, a.stderr)
			}
			head := a.sha("main")
			if got := states(a.fake, head, "diffperf"); !cmp.Equal(got, []string{"pending", tt.state}) {
				t.Errorf("states on the head %v, want pending then %s", got, tt.state)
			}
			checkFinal(t, a, head, tt.state, tt.want)
			if pending := a.fake.Statuses(head)[0]; !strings.HasPrefix(pending.Description, "measuring "+head[:12]) {
				t.Errorf("pending description %q", pending.Description)
			}
			bot := a.bot()
			if len(bot) != 1 {
				t.Fatalf("comments %+v", bot)
			}
			if s, ok := report.ParseState(bot[0].Body); !ok || s.Context != "diffperf" || s.Head != head {
				t.Errorf("state line %+v %v: want context diffperf at %s", s, ok, head)
			}
		})
	}
}

// TestStatusOffAndNoPR: status false posts none, and neither does a run
// without a pull request.
func TestStatusOffAndNoPR(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL)
	a.inputs["status"] = "false"
	if a.run(); a.code != ExitRegression || len(a.fake.AllStatuses()) != 0 {
		t.Errorf("status false: exit %d, statuses %+v", a.code, a.fake.AllStatuses())
	}
	if s, _ := report.ParseState(a.bot()[0].Body); s.Context != "" {
		t.Errorf("status false, yet the state line records context %q", s.Context)
	}
	b := newActionRun(t, slowWL)
	b.event = "workflow_dispatch"
	b.payload = `{"ref": "refs/heads/main", "repository": {"default_branch": "main"}, "inputs": {}}`
	b.inputs["base-ref"] = "main~1"
	if b.run(); b.code != ExitRegression || len(b.fake.Requests()) != 0 {
		t.Errorf("no PR: exit %d, requests %+v", b.code, b.fake.Requests())
	}
}

// TestMeasuringLineBeforeTheFirstRun: a new measurement of a commented PR
// first edits the comment: the measuring line arrives while no run of the
// new measurement has written a dump yet (the fake GitHub looks at the
// out folder when the edit lands), and the final upsert removes it.
func TestMeasuringLineBeforeTheFirstRun(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, baseWL).run()
	if a.code != ExitOK || len(a.bot()) != 1 {
		t.Fatalf("first run: exit %d; stderr:\n%s", a.code, a.stderr)
	}
	dir := t.TempDir()
	var mu sync.Mutex
	var seen []string // for each edit with the measuring line: the dumps then
	a.fake.OnChange = func(st fakegithub.State) {
		for _, c := range st.Comments {
			if strings.Contains(c.Body, "⏳ measuring ") {
				dumps, _ := filepath.Glob(filepath.Join(dir, "diffperf", "*", "*.json"))
				mu.Lock()
				seen = append(seen, fmt.Sprint(len(dumps)))
				mu.Unlock()
			}
		}
	}
	a.tempDir = dir
	a.run()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0] != "0" {
		t.Errorf("dumps when the measuring line landed: %v, want an edit before any run (0)", seen)
	}
	bot := a.bot()
	if len(bot) != 1 || strings.Contains(bot[0].Body, "⏳ measuring") {
		t.Errorf("after the run: %+v, want one comment without the measuring line", bot)
	}
	if got := states(a.fake, a.sha("main"), "diffperf"); !cmp.Equal(got, []string{"pending", "success", "pending", "success"}) {
		t.Errorf("states %v", got)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

// TestPushDuringMeasurement: the pull request moved on while it was
// measured: the status stays on the SHA that was measured.
func TestPushDuringMeasurement(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL)
	moved := strings.Repeat("e", 40)
	a.fake.SetPull(fakegithub.Pull{Number: 7, HeadSHA: moved, BaseSHA: a.sha("main~1")})
	a.run()
	if got := states(a.fake, a.sha("main"), "diffperf"); !cmp.Equal(got, []string{"pending", "failure"}) {
		t.Errorf("states on the measured SHA %v", got)
	}
	if got := a.fake.Statuses(moved); len(got) != 0 {
		t.Errorf("statuses on the new head %+v, want none", got)
	}
}

// TestRequestedRunOnAForkPostsOnThePinnedSHA: /perf on a fork's pull
// request that has moved on since: the dispatched run (fail-on-regression
// false, exit 0) posts pending then failure on the pinned SHA only, and
// the comment says the status is the older SHA's.
func TestRequestedRunOnAForkPostsOnThePinnedSHA(t *testing.T) {
	t.Parallel()
	a, _ := requestedRun(t, pinnedHead) // head repo mallory/perf; the PR is now at pinnedHead
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
	}
	pinned := a.sha("main")
	if got := states(a.fake, pinned, "diffperf"); !cmp.Equal(got, []string{"pending", "failure"}) {
		t.Errorf("states on the pinned SHA %v", got)
	}
	if got := a.fake.Statuses(pinnedHead); len(got) != 0 {
		t.Errorf("statuses on the new head %+v", got)
	}
	if bot := a.bot(); len(bot) != 1 || !strings.Contains(bot[0].Body, "the commit status it posted, are for `"+pinned[:12]+"`") {
		t.Errorf("comment does not say the status is the pinned SHA's: %+v", bot)
	}
}

// gateRun is mode gate on a pull_request_target event, with no model, no
// git and no nvidia-smi on PATH: it can measure nothing.
func gateRun(a *actionRun, activity, label, headRepo string) *actionRun {
	a.event = "pull_request_target"
	labelField := ""
	if label != "" {
		labelField = fmt.Sprintf(`"label": {"name": %q},`, label)
	}
	a.payload = fmt.Sprintf(`{"action": %q, "number": 7, %s "sender": {"login": "maint"}, "pull_request": {"number": 7,
		"base": {"sha": %q, "ref": "main", "repo": {"full_name": "octo/perf"}},
		"head": {"sha": %q, "ref": "feature", "repo": {"full_name": %q}}, "labels": []}}`, activity, labelField, a.sha("main~1"), a.sha("main"), headRepo)
	a.inputs = map[string]string{"mode": "gate", "github-token": testToken}
	a.extra = []string{"PATH=" + a.t.TempDir()}
	return a.run()
}

// TestGateLabels: after a measured regression (failure), the accept label
// through mode gate turns the status into success naming the label and
// who added it, and accepts the comment, without measuring and without a
// GPU; removing it turns both back; another label posts nothing.
func TestGateLabels(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL).run()
	head := a.sha("main")
	if a.code != ExitRegression {
		t.Fatalf("measure: exit %d; stderr:\n%s", a.code, a.stderr)
	}
	a.fake.SetPull(fakegithub.Pull{Number: 7, HeadSHA: head, BaseSHA: a.sha("main~1")})
	comment := a.bot()[0].ID

	// Labels are read fresh: the payload lists none.
	a.fake.SetLabels(7, "run-ci", "perf-regression-accepted")
	measured := len(a.fake.Requests())
	gateRun(a, "labeled", "perf-regression-accepted", "octo/perf")
	if a.code != ExitOK {
		t.Fatalf("labeled: exit %d; stderr:\n%s", a.code, a.stderr)
	}
	checkFinal(t, a, head, "success", "regression accepted by label perf-regression-accepted (added by @maint)")
	bot := a.bot()
	if len(bot) != 1 || bot[0].ID != comment || !strings.Contains(bot[0].Body, "## ❌ diffperf: regression (accepted with the label **perf-regression-accepted**)") {
		t.Errorf("labeled: comment %+v, want the same comment, accepted", bot)
	}
	if s, _ := report.ParseState(bot[0].Body); !s.Accepted {
		t.Errorf("labeled: state %+v, want accepted", s)
	}
	for _, r := range a.fake.Requests()[measured:] {
		if r.Method == "POST" && strings.Contains(r.Path, "/issues/") {
			t.Errorf("the gate created a comment: %s %s", r.Method, r.Path)
		}
	}

	a.fake.SetLabels(7, "run-ci")
	gateRun(a, "unlabeled", "perf-regression-accepted", "octo/perf")
	if a.code != ExitOK {
		t.Fatalf("unlabeled: exit %d; stderr:\n%s", a.code, a.stderr)
	}
	checkFinal(t, a, head, "failure", "add label perf-regression-accepted to accept")
	if bot := a.bot(); len(bot) != 1 || !strings.Contains(bot[0].Body, "To accept it, add the label **perf-regression-accepted**") ||
		strings.Contains(bot[0].Body, "accepted with the label") {
		t.Errorf("unlabeled: comment %+v, want the regression headline again", bot)
	}

	before := len(a.fake.AllStatuses())
	a.fake.SetLabels(7, "run-ci", "documentation")
	gateRun(a, "labeled", "documentation", "octo/perf")
	if a.code != ExitOK || len(a.fake.AllStatuses()) != before || !strings.Contains(a.stdout, "is not the accept label") {
		t.Errorf("unrelated label: exit %d, %d statuses (had %d); stdout:\n%s", a.code, len(a.fake.AllStatuses()), before, a.stdout)
	}
	if got := states(a.fake, head, "diffperf"); !cmp.Equal(got, []string{"pending", "failure", "success", "failure"}) {
		t.Errorf("states %v", got)
	}
}

// TestGateNoVerdictForTheHead: a head that no comment records (the PR
// moved on) gets no status from a label.
func TestGateNoVerdictForTheHead(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, slowWL).run()
	a.fake.SetPull(fakegithub.Pull{Number: 7, HeadSHA: strings.Repeat("d", 40)})
	a.fake.SetLabels(7, "perf-regression-accepted")
	before := len(a.fake.AllStatuses())
	gateRun(a, "labeled", "perf-regression-accepted", "octo/perf")
	if a.code != ExitOK || len(a.fake.AllStatuses()) != before || !strings.Contains(a.stdout, "nothing to re-decide") {
		t.Errorf("exit %d, statuses %+v; stdout:\n%s", a.code, a.fake.AllStatuses(), a.stdout)
	}
}

// TestGateFork: a fork's pull request opened gets pending from mode gate,
// asking for a maintainer's /perf; one from the repository gets nothing;
// GitHub failing is exit 3.
func TestGateFork(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, baseWL)
	gateRun(a, "opened", "", "mallory/perf")
	head := a.sha("main")
	st, ok := a.fake.Latest(head, "diffperf")
	if a.code != ExitOK || !ok || st.State != "pending" || st.Description != "waiting for a maintainer's /perf on "+head[:12] {
		t.Errorf("fork opened: exit %d, status %+v %v; stderr:\n%s", a.code, st, ok, a.stderr)
	}
	b := newActionRun(t, baseWL)
	if gateRun(b, "synchronize", "", "octo/perf"); b.code != ExitOK || len(b.fake.AllStatuses()) != 0 {
		t.Errorf("same-repository PR: exit %d, statuses %+v", b.code, b.fake.AllStatuses())
	}
	c := newActionRun(t, baseWL)
	c.fake.Inject(&fakegithub.Fault{Method: "POST", Times: 20, Status: 500})
	c.retry = ghcomment.Retry{Attempts: 2, Backoff: time.Millisecond, MaxWait: time.Second, DefaultWait: time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { return nil }}
	if gateRun(c, "reopened", "", "mallory/perf"); c.code != ExitRuntime {
		t.Errorf("GitHub failing: exit %d, want 3; stderr:\n%s", c.code, c.stderr)
	}
}

// TestMergedStatusAndGate: the merge job of a matrix posts one status for
// all cases, its comment records it in a state line, and mode gate
// re-decides it; the start job posts pending and the measuring line first.
func TestMergedStatusAndGate(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, baseWL)
	base, head := a.sha("main~1"), a.sha("main")
	flux, wan := measured("flux", 1000, 1200), measured("wan", 1000, 1000)
	for _, r := range []*report.Result{flux, wan} {
		r.Base.SHA, r.Head.SHA = base, head
	}
	dir := writeResults(t, flux, wan)
	a.inputs = map[string]string{"mode": "merge", "results": dir, "expect-cases": "flux,wan", "github-token": testToken, "comment-key": "perf-matrix"}
	a.run()
	if a.code != ExitRegression {
		t.Fatalf("merge: exit %d; stderr:\n%s", a.code, a.stderr)
	}
	if got := states(a.fake, head, "diffperf"); !cmp.Equal(got, []string{"failure"}) {
		t.Errorf("merge: states %v, want one failure (the start job posts pending)", got)
	}
	checkFinal(t, a, head, "failure", "regression across 2 cases (1 regression, 1 no change); add label perf-regression-accepted to accept")
	bot := a.bot()
	if s, ok := report.ParseState(bot[0].Body); !ok || s.Context != "diffperf" || s.Verdict != report.Regression || s.Head != head {
		t.Fatalf("merged state line %+v %v", s, ok)
	}
	if !strings.Contains(bot[0].Body, "To accept it, add the label **perf-regression-accepted**") {
		t.Errorf("merged headline does not say how to accept:\n%.600s", bot[0].Body)
	}

	// The next push: mode start marks the comment and posts pending,
	// measuring nothing.
	s := newActionRun(t, baseWL)
	s.fake, s.apiURL = a.fake, a.apiURL
	s.inputs = map[string]string{"mode": "start", "github-token": testToken, "comment-key": "perf-matrix"}
	s.extra = []string{"PATH=" + t.TempDir()}
	s.payload = a.payload
	s.run()
	if s.code != ExitOK {
		t.Fatalf("start: exit %d; stderr:\n%s", s.code, s.stderr)
	}
	if got := states(a.fake, head, "diffperf"); !cmp.Equal(got, []string{"failure", "pending"}) {
		t.Errorf("start: states %v", got)
	}
	if b := a.bot(); len(b) != 1 || !strings.HasPrefix(b[0].Body, "<!-- diffperf:perf-matrix -->\n⏳ measuring `"+head[:12]+"` since ") ||
		!strings.Contains(b[0].Body, "the result below is for `"+head[:12]+"`") {
		t.Errorf("start: comment %+v", a.bot())
	}

	// The label accepts the merged regression.
	a.run() // the merge again, to replace the measuring line
	a.fake.SetPull(fakegithub.Pull{Number: 7, HeadSHA: head, BaseSHA: base})
	a.fake.SetLabels(7, "perf-regression-accepted")
	inputs := a.inputs
	gateRun(a, "labeled", "perf-regression-accepted", "octo/perf")
	checkFinal(t, a, head, "success", "regression accepted by label perf-regression-accepted (added by @maint)")
	if b := a.bot(); len(b) != 1 || !strings.Contains(b[0].Body, "## ❌ diffperf: regression (accepted with the label **perf-regression-accepted**) across 2 cases") {
		t.Errorf("gate: merged comment %+v", b)
	}
	a.inputs, a.extra = inputs, nil
}

// TestCasesContexts: a single named case posts under "diffperf / <name>",
// several cases under "diffperf".
func TestCasesContexts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ cases, context string }{
		{`[{"name": "slow"}]`, "diffperf / slow"},
		{`[{"name": "slow"}, {"name": "quick", "model-path": "test/quick", "args": "--num-inference-steps 1"}]`, "diffperf"},
	} {
		t.Run(tt.context, func(t *testing.T) {
			t.Parallel()
			a := newActionRun(t, slowWL)
			a.inputs["cases"], a.inputs["runs"] = tt.cases, "5"
			a.run()
			if a.code != ExitRegression {
				t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
			}
			var contexts []string
			for _, s := range a.fake.AllStatuses() {
				contexts = append(contexts, s.Context+" "+s.State)
			}
			if want := []string{tt.context + " pending", tt.context + " failure"}; !cmp.Equal(contexts, want) {
				t.Errorf("statuses %v, want %v", contexts, want)
			}
		})
	}
}

// TestGateTableMatchesTheExitCodes: the table verdict → status → exit code
// (README.md, "Merge gate") says what the job really exits with.
func TestGateTableMatchesTheExitCodes(t *testing.T) {
	t.Parallel()
	for _, row := range report.GateTable() {
		for _, gate := range []bool{true, false} {
			var err error
			if row.Verdict == report.Missing {
				m, merr := report.Merge(nil, []string{"x"}, 0.05)
				if merr != nil {
					t.Fatal(merr)
				}
				err = exitError(m, gate, nil)
			} else {
				err = exitError(&report.Result{Verdict: row.Verdict, Accepted: row.Accepted}, gate, nil)
			}
			want := row.Exit
			if !gate {
				want = row.ExitOff
			}
			if got := ExitCode(err); got != want {
				t.Errorf("%s (accepted %v), fail-on-regression %v: exit %d, the table says %d", row.Verdict, row.Accepted, gate, got, want)
			}
		}
	}
}

// TestMergeErrorAfterStartPostsError: after mode start posted pending for
// the matrix, a merge that cannot judge its cells (a bad cell, a case the
// workflow did not ask for, no result.json at all) posts error with the
// reason instead of leaving the status pending, and exits 2. A cell that
// measured another head than the event's is refused by name, and the
// status goes on the event's head, not the cell's.
func TestMergeErrorAfterStartPostsError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		cells  func(r *report.Result)
		expect string
		empty  bool
		want   string
	}{
		{"bad cell", func(r *report.Result) { r.Verdict = "splendid" }, "flux", false, "/diffperf-flux/"}, // the path; the reason is cut at 140 characters
		{"unexpected case", func(r *report.Result) {}, "wan", false, `case "flux"`},
		{"no result.json", nil, "", true, "no result.json in"},
		{"another head", func(r *report.Result) { r.Head.SHA = r.Base.SHA }, "flux", false, `results: case "flux"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newActionRun(t, baseWL)
			base, head := a.sha("main~1"), a.sha("main")
			a.inputs = map[string]string{"mode": "start", "github-token": testToken, "comment-key": "perf-matrix"}
			a.extra = []string{"PATH=" + t.TempDir()}
			a.run()
			if a.code != ExitOK {
				t.Fatalf("start: exit %d; stderr:\n%s", a.code, a.stderr)
			}
			dir := t.TempDir()
			if !tt.empty {
				flux := measured("flux", 1000, 1000)
				flux.Base.SHA, flux.Head.SHA = base, head
				tt.cells(flux)
				dir = writeResults(t, flux)
			}
			a.inputs = map[string]string{"mode": "merge", "results": dir, "expect-cases": tt.expect, "github-token": testToken, "comment-key": "perf-matrix"}
			a.extra = nil
			a.run()
			if a.code != ExitInput {
				t.Errorf("merge: exit %d, want %d; stderr:\n%s", a.code, ExitInput, a.stderr)
			}
			if got := states(a.fake, head, "diffperf"); !cmp.Equal(got, []string{"pending", "error"}) {
				t.Errorf("states %v, want pending then error", got)
			}
			checkFinal(t, a, head, "error", tt.want)
			if got := states(a.fake, base, "diffperf"); len(got) != 0 {
				t.Errorf("states %v on the base, which a cell named as its head", got)
			}
		})
	}
}

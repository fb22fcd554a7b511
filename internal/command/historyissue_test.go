package command

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/changepoint"
	"github.com/diffperf/diffperf/internal/dashboard"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
	"github.com/diffperf/diffperf/internal/history"
)

// TestHistoryIssueGrowsAndMoves drives the history job's issue step
// through the fake GitHub with change points that grow (a second case
// moves at the same commit) and move (found at commit 26 on a later run,
// having been 25): one issue throughout, edited each time, the bisect
// job's block kept verbatim, the bisect dispatched once for the range of
// several commits (a failed dispatch is a warning, tried again by the next
// job), and a closed issue left alone when its change point moves again.
func TestHistoryIssueGrowsAndMoves(t *testing.T) {
	t.Parallel()
	repo, _, shas := historyRepo(t, 30, 25)
	sha := func(i int) string { return shas[i-1] }
	fake := fakegithub.New("octo", "perf", map[string]string{testToken: "github-actions[bot]"})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	fake.BaseURL = ts.URL

	var stdout, stderr bytes.Buffer
	env := map[string]string{"GITHUB_API_URL": ts.URL, "GITHUB_REF_NAME": "main"}
	e := Env{Getenv: func(k string) string { return env[k] }, Environ: fakerepo.GitEnv, Stdout: &stdout, Stderr: &stderr}
	j := &actionJob{e: e, gha: githubactions.New(githubactions.WithGetenv(e.Getenv), githubactions.WithWriter(&stdout)),
		cfg: &action.Config{Token: testToken, CommentAuthor: "github-actions[bot]", BisectWorkflow: "perf-bisect.yml", WorkingDirectory: repo},
		tgt: &action.Target{Owner: "octo", Repo: "perf"}}

	// Every commit but 24 is a point: 25 was pushed together with 24.
	var pts []history.Point
	for i := 1; i <= 30; i++ {
		if i != 24 {
			pts = append(pts, history.Point{Commit: sha(i), Samples: []float64{100, 101}})
		}
	}
	index := func(i int) int {
		return slices.IndexFunc(pts, func(p history.Point) bool { return p.Commit == sha(i) })
	}
	series := func(key string, at int) history.MetricSeries {
		return history.MetricSeries{Key: key, Metric: "e2e", Name: "E2E Latency", Unit: "ms", Points: pts,
			ChangePoints: []changepoint.ChangePoint{{Index: index(at), Commit: sha(at), BeforeMedian: 100, AfterMedian: 104, ChangePct: 4, P: 1e-9}}}
	}
	confirmed := func(key string, at int) history.Record {
		return history.Record{Kind: history.KindConfirmation, Commit: sha(at), Case: key, Against: pts[index(at)-1].Commit, Confirmed: true,
			Metrics: []history.ConfirmedMetric{{ID: "e2e", ChangePct: 4.2, P: 1e-4, Held: true}}}
	}
	opt := changepoint.DefaultOptions()
	var st history.State
	run := func(all []history.MetricSeries, confs ...history.Record) []history.Record {
		t.Helper()
		st = st.With(confs...)
		recs := j.fileIssues(t.Context(), all, nil, st, opt)
		st = st.With(recs...)
		return recs
	}
	one := func(step string) fakegithub.Issue {
		t.Helper()
		issues := fake.Issues()
		if len(issues) != 1 {
			t.Fatalf("%s: %d issues, want 1: %+v\nstdout:\n%s\nstderr:\n%s", step, len(issues), issues, stdout.String(), stderr.String())
		}
		return issues[0]
	}

	// 1. flux moves at 25: the issue is opened; the dispatch fails (no
	// such workflow yet) with a warning and no record.
	recs := run([]history.MetricSeries{series("flux-h100", 25)}, confirmed("flux-h100", 25))
	is := one("opened")
	if !strings.HasPrefix(is.Body, history.IssueMarker(sha(25))) || !strings.HasSuffix(is.Title, "at "+sha(25)[:7]+" (flux-h100)") {
		t.Fatalf("opened: %q\n%s", is.Title, is.Body)
	}
	for _, want := range []string{"diffperf bisect --good " + sha(23) + " --bad " + sha(25), "dispatches the workflow `perf-bisect.yml`",
		"[flux-h100](https://octo.github.io/perf/case/flux-h100.html)"} {
		if !strings.Contains(is.Body, want) {
			t.Errorf("opened: the body lacks %q:\n%s", want, is.Body)
		}
	}
	if !strings.Contains(stdout.String(), "::warning::diffperf: could not dispatch perf-bisect.yml") || len(fake.Dispatches()) != 0 ||
		slices.ContainsFunc(recs, func(r history.Record) bool { return r.Kind == history.KindBisect }) {
		t.Errorf("a failed dispatch: records %+v, dispatches %+v, stdout:\n%s", recs, fake.Dispatches(), stdout.String())
	}

	// 2. sdxl moves at 25 too: the same issue grows; the workflow exists
	// now, and this job dispatches it.
	fake.AddWorkflow("perf-bisect.yml", map[string]bool{"good": true, "bad": true, "issue-number": true})
	run([]history.MetricSeries{series("flux-h100", 25), series("sdxl-h100", 25)}, confirmed("sdxl-h100", 25))
	grown := one("grown")
	if grown.Number != is.Number || !strings.HasSuffix(grown.Title, "at "+sha(25)[:7]+" (flux-h100, 1 more case)") || !strings.Contains(grown.Body, "| sdxl-h100 | E2E Latency |") {
		t.Fatalf("grown: #%d %q\n%s", grown.Number, grown.Title, grown.Body)
	}
	want := []fakegithub.Dispatch{{Workflow: "perf-bisect.yml", Ref: "main", By: "github-actions[bot]",
		Inputs: map[string]string{"good": sha(23), "bad": sha(25), "issue-number": fmt.Sprint(is.Number)}}}
	if got := fake.Dispatches(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dispatches %+v, want %+v", got, want)
	}
	run([]history.MetricSeries{series("flux-h100", 25), series("sdxl-h100", 25)})
	if n := len(fake.Dispatches()); n != 1 {
		t.Errorf("%d dispatches after another job, want the one", n)
	}

	// The bisect job writes its block in place of the pending line.
	c, err := j.issueClient()
	if err != nil {
		t.Fatal(err)
	}
	block := history.BisectStart + "\n## Bisect: the culprit is `" + sha(25)[:12] + "` <sub>(7 steps)</sub>\n" + history.BisectEnd
	lines := strings.Split(grown.Body, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "<!-- diffperf-bisect-pending -->") {
			lines[i] = block
		}
	}
	if _, err := c.EditIssue(t.Context(), is.Number, grown.Title, strings.Join(lines, "\n"), grown.Labels); err != nil {
		t.Fatal(err)
	}

	// 3. Both change points move to 26: the same issue, now at 26, one
	// commit (26's parent is 25), the block kept; 25's record says moved.
	recs = run([]history.MetricSeries{series("flux-h100", 26), series("sdxl-h100", 26)}, confirmed("flux-h100", 26), confirmed("sdxl-h100", 26))
	moved := one("moved")
	if moved.Number != is.Number || !strings.HasPrefix(moved.Body, history.IssueMarker(sha(26))) || !strings.HasSuffix(moved.Title, "at "+sha(26)[:7]+" (flux-h100, 1 more case)") {
		t.Fatalf("moved: #%d %q\n%s", moved.Number, moved.Title, moved.Body)
	}
	if !strings.Contains(moved.Body, "\n"+block+"\n") || !strings.Contains(moved.Body, "One commit: ") {
		t.Errorf("moved: the body lacks the bisect block or the one-commit range:\n%s", moved.Body)
	}
	if !slices.ContainsFunc(recs, func(r history.Record) bool {
		return r.Kind == history.KindIssue && r.Commit == sha(25) && r.IssueState == history.IssueMoved && r.MovedTo == sha(26) && r.Issue == is.Number
	}) {
		t.Errorf("moved: records %+v lack 25 moved to 26", recs)
	}
	if n := len(fake.Dispatches()); n != 1 {
		t.Errorf("%d dispatches for a range of one commit, want none more", n)
	}

	// 4. Closed, then the change points move again: left alone, and
	// recorded closed at the new commit.
	fake.CloseIssue(is.Number)
	closedBody := one("closed").Body
	run([]history.MetricSeries{series("flux-h100", 27), series("sdxl-h100", 27)}, confirmed("flux-h100", 27), confirmed("sdxl-h100", 27))
	if got := one("closed, moved"); got.State != "closed" || got.Body != closedBody {
		t.Errorf("closed, moved: %s, body changed: %v", got.State, got.Body != closedBody)
	}
	if r, ok := st.Issue(sha(27)); !ok || r.IssueState != "closed" || r.Issue != is.Number {
		t.Errorf("the record at 27: %+v, want #%d closed", r, is.Number)
	}
}

// TestHistoryJobCases: a history job of two cases (input cases). Each case
// is stored under its own key; commit 25, pushed together with 24, slows
// both; the push of 27 finds the change point of each case at 25,
// measures both again against 23 (the point before), opens one issue that
// groups both cases, with the bisect of 23..25 dispatched.
func TestHistoryJobCases(t *testing.T) {
	t.Parallel()
	keys := []string{"flux-h100", "sdxl-h100"}
	repo, origin, shas := historyRepo(t, 27, 25)
	sha := func(i int) string { return shas[i-1] }
	fake := fakegithub.New("octo", "perf", map[string]string{testToken: "github-actions[bot]"})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	fake.BaseURL = ts.URL
	fake.AddWorkflow("perf-bisect.yml", map[string]bool{"good": true, "bad": true, "issue-number": true})
	push := func(before, after int) *actionRun {
		t.Helper()
		a := &actionRun{t: t, repo: repo, fake: fake, apiURL: ts.URL, event: "push", extra: []string{"GITHUB_REF_NAME=main"},
			payload: fmt.Sprintf(`{"ref":"refs/heads/main","before":%q,"after":%q,"repository":{"full_name":"octo/perf","default_branch":"main"}}`, sha(before), sha(after)),
			inputs: map[string]string{"mode": "history", "github-token": testToken, "runs": "4", "min-delta-ms": "1", "threshold": "1%", "confirm": "false", "sandbox": "none",
				"cases": `[{"name": "flux-h100", "model-path": "test/flux"}, {"name": "sdxl-h100", "model-path": "test/sdxl"}]`}}
		a.run()
		if a.code != 0 {
			t.Fatalf("push %d..%d: exit %d, want 0\nstderr:\n%s", before, after, a.code, a.stderr)
		}
		return a
	}
	push(21, 22)
	byKey := map[string]history.Line{}
	for _, l := range storedLines(t, origin) {
		if l.Side == history.SideHead && l.Commit == sha(22) {
			byKey[l.Case.Key] = l
		}
	}
	if len(byKey) != 2 || byKey[keys[0]].Case.Name != keys[0] || byKey[keys[1]].Mode != "generate" {
		t.Fatalf("the head lines of 22 by case: %+v, want one of each case", byKey)
	}
	// The commits before are appended from 22's lines: 2..20, 23, and the
	// slow 25 (measured against 23) and 26.
	rng := rand.New(rand.NewPCG(21, 27))
	var lines []history.Line
	for _, key := range keys {
		for _, i := range []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 23, 25, 26} {
			l := byKey[key]
			l.Commit, l.Side, l.Batch = sha(i), history.SideHead, 1
			l.Parent = sha(i - 1)
			if i == 25 {
				l.Parent = sha(23)
			}
			at := time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)
			l.CommitTime, l.RunTime = at.Format(time.RFC3339), at.Add(10*time.Minute).Format(time.RFC3339)
			l.Metrics = nil
			for _, m := range byKey[key].Metrics {
				m.Samples = slices.Clone(m.Samples)
				for k := range m.Samples {
					f := 1 + 0.005*rng.NormFloat64()
					if i >= 25 && !strings.HasPrefix(m.ID, "memory.") {
						f *= 1.04
					}
					m.Samples[k].Value *= f
				}
				l.Metrics = append(l.Metrics, m)
			}
			lines = append(lines, l)
		}
	}
	p := history.Publisher{Repo: repo, WorkDir: privateDir(t), Env: fakerepo.GitEnv()}
	if _, err := p.Publish(t.Context(), lines, history.CommitMessage(lines)); err != nil {
		t.Fatal(err)
	}

	a := push(26, 27)
	for _, key := range keys {
		if !strings.Contains(a.stderr, "change point of "+key+" at "+sha(25)+" measured again against "+sha(23)+": confirmed") {
			t.Errorf("no confirmation of %s at 25 against 23 in the log:\n%s", key, a.stderr)
		}
	}
	issues := fake.Issues()
	if len(issues) != 1 {
		t.Fatalf("%d issues, want 1 for both cases; stderr:\n%s", len(issues), a.stderr)
	}
	is := issues[0]
	if !strings.HasPrefix(is.Title, "perf: E2E +") || !strings.HasSuffix(is.Title, " at "+sha(25)[:7]+" (flux-h100, 1 more case)") ||
		!strings.Contains(is.Body, "| sdxl-h100 | E2E Latency |") || !strings.Contains(is.Body, "diffperf bisect --good "+sha(23)+" --bad "+sha(25)) {
		t.Errorf("issue %q:\n%s", is.Title, is.Body)
	}
	want := []fakegithub.Dispatch{{Workflow: "perf-bisect.yml", Ref: "main", By: "github-actions[bot]",
		Inputs: map[string]string{"good": sha(23), "bad": sha(25), "issue-number": fmt.Sprint(is.Number)}}}
	if got := fake.Dispatches(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dispatches %+v, want %+v", got, want)
	}
	for _, key := range keys {
		for _, f := range []string{"history/" + key + "/2026-01.jsonl", "docs/" + dashboard.CasePath(key)} {
			fakerepo.Git(t, origin, "cat-file", "-e", history.DefaultBranch+":"+f)
		}
	}
}

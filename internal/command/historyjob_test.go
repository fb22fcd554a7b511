package command

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/dashboard"
	"github.com/diffperf/diffperf/internal/dashboard/browsertest"
	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
	"github.com/diffperf/diffperf/internal/history"
)

// historyRepo is a clone of a bare origin whose main has n commits, an
// hour apart; commits from slowFrom on have a denoising step 5 % slower.
func historyRepo(t *testing.T, n, slowFrom int) (repo, origin string, shas []string) {
	t.Helper()
	origin = t.TempDir()
	fakerepo.Git(t, origin, "init", "-q", "--bare", "-b", "main")
	repo = t.TempDir()
	fakerepo.Git(t, repo, "init", "-q", "-b", "main")
	fakerepo.Git(t, repo, "remote", "add", "origin", origin)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		wl := fakerepo.Workload()
		if i >= slowFrom {
			wl = fakerepo.Workload("step_ms", "21")
		}
		if err := os.WriteFile(filepath.Join(repo, fakesglang.WorkloadFile), []byte(wl), 0o644); err != nil {
			t.Fatal(err)
		}
		date := start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
		for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "--allow-empty", "-m", fmt.Sprint("commit ", i)}} {
			cmd := exec.Command("git", args...)
			cmd.Dir, cmd.Env = repo, append(fakerepo.GitEnv(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		shas = append(shas, fakerepo.Git(t, repo, "rev-parse", "HEAD"))
	}
	fakerepo.Git(t, repo, "push", "-q", "origin", "main")
	return repo, origin, shas
}

// storedLines reads every line of the data branch of the bare origin.
func storedLines(t *testing.T, origin string) []history.Line {
	t.Helper()
	var out []history.Line
	files := fakerepo.Git(t, origin, "ls-tree", "-r", "--name-only", history.DefaultBranch, "--", history.Folder)
	for _, f := range strings.Fields(files) {
		for _, raw := range strings.Split(fakerepo.Git(t, origin, "show", history.DefaultBranch+":"+f), "\n") {
			var l history.Line
			if err := json.Unmarshal([]byte(raw), &l); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, l)
		}
	}
	return out
}

// TestHistoryJobEndToEnd: 40 pushes to main, commit 25 slows the denoising
// step by 5 %. The pushes around the change run the history job on the
// fake sglang; the others are appended from lines generated (seeded) from
// a measured one. The job finds the change point at commit 25, confirms
// it by measuring 25 against 24 again, opens one issue, edits it on the
// next push, and leaves it alone once closed.
func TestHistoryJobEndToEnd(t *testing.T) {
	t.Parallel()
	const key = "flux-h100"
	repo, origin, shas := historyRepo(t, 40, 25)
	sha := func(i int) string { return shas[i-1] } // commit i, from 1
	fake := fakegithub.New("octo", "perf", map[string]string{testToken: "github-actions[bot]"})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	fake.BaseURL = ts.URL
	push := func(i int) *actionRun {
		t.Helper()
		a := &actionRun{t: t, repo: repo, fake: fake, apiURL: ts.URL, event: "push",
			payload: fmt.Sprintf(`{"ref":"refs/heads/main","before":%q,"after":%q,"repository":{"full_name":"octo/perf","default_branch":"main"}}`, sha(i-1), sha(i)),
			inputs: map[string]string{"mode": "history", "model-path": "test/model", "github-token": testToken, "runs": "4", "min-delta-ms": "1",
				"threshold": "1%", "confirm": "false", "sandbox": "none", "comment-key": key}}
		a.run()
		if a.code != 0 {
			t.Fatalf("push %d: exit %d, want 0\nstderr:\n%s", i, a.code, a.stderr)
		}
		return a
	}
	rng := rand.New(rand.NewPCG(25, 40))
	// synth appends a line for each commit of from..to, its samples those
	// of template with 0.5 % noise.
	synth := func(from, to int, template history.Line) {
		t.Helper()
		var lines []history.Line
		for i := from; i <= to; i++ {
			l := template
			l.Commit, l.Parent, l.Side, l.Batch = sha(i), sha(i-1), history.SideHead, 1
			at := time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)
			l.CommitTime, l.RunTime = at.Format(time.RFC3339), at.Add(10*time.Minute).Format(time.RFC3339)
			l.Metrics = nil
			for _, m := range template.Metrics {
				m.Samples = append([]history.Sample(nil), m.Samples...)
				for k := range m.Samples {
					m.Samples[k].Value *= 1 + 0.005*rng.NormFloat64()
				}
				l.Metrics = append(l.Metrics, m)
			}
			lines = append(lines, l)
		}
		p := history.Publisher{Repo: repo, WorkDir: privateDir(t), Env: fakerepo.GitEnv()}
		if _, err := p.Publish(t.Context(), lines, history.CommitMessage(lines)); err != nil {
			t.Fatal(err)
		}
	}
	headLine := func(commit string) history.Line {
		t.Helper()
		for _, l := range storedLines(t, origin) {
			if l.Commit == commit && l.Side == history.SideHead {
				return l
			}
		}
		t.Fatalf("no head line of %s stored", commit)
		return history.Line{}
	}

	push(24)
	synth(2, 22, headLine(sha(24)))
	for i := 25; i <= 26; i++ {
		push(i)
		if got := fake.Issues(); len(got) != 0 {
			t.Fatalf("push %d: issues %+v before the change point has 3 points", i, got)
		}
	}
	a := push(27)
	issues := fake.Issues()
	if len(issues) != 1 {
		t.Fatalf("push 27: %d issues, want 1; stderr:\n%s", len(issues), a.stderr)
	}
	is := issues[0]
	if !strings.HasPrefix(is.Body, "<!-- diffperf-cp:"+sha(25)+" -->") || !strings.Contains(is.Title, "at "+sha(25)[:7]+" ("+key+")") ||
		!strings.HasPrefix(is.Title, "perf: E2E +") || len(is.Labels) != 1 || is.Labels[0] != history.LabelRegression {
		t.Fatalf("issue: %q %v\n%s", is.Title, is.Labels, is.Body)
	}
	if !strings.Contains(a.stderr, "change point of "+key+" at "+sha(25)+" measured again against "+sha(24)+": confirmed") {
		t.Errorf("no confirmation of 25 against 24 in the log:\n%s", a.stderr)
	}
	if !strings.Contains(is.Body, "One commit: ") || !strings.Contains(is.Body, "| DenoisingStage |") {
		t.Errorf("the body lacks the commit range or the stage breakdown:\n%s", is.Body)
	}

	push(28)
	issues = fake.Issues()
	if len(issues) != 1 || issues[0].Number != is.Number || issues[0].Body == is.Body || !strings.Contains(issues[0].Body, "`"+sha(28)[:12]+"`") {
		t.Fatalf("push 28: issues %+v, want #%d edited with commit 28's point", issues, is.Number)
	}
	closedBody := issues[0].Body
	fake.CloseIssue(is.Number)
	synth(29, 39, headLine(sha(28)))
	push(40)
	issues = fake.Issues()
	if len(issues) != 1 || issues[0].State != "closed" || issues[0].Body != closedBody {
		t.Fatalf("after the close: issues %+v, want #%d alone, closed, untouched", issues, is.Number)
	}

	// The data branch: every commit, the state, and the dashboard.
	lines := storedLines(t, origin)
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l.Commit] = true
	}
	for i := 2; i <= 40; i++ {
		if !seen[sha(i)] {
			t.Errorf("commit %d is not stored", i)
		}
	}
	state := fakerepo.Git(t, origin, "show", history.DefaultBranch+":"+history.StateFile)
	if !strings.Contains(state, `"issue_state":"closed"`) || !strings.Contains(state, `"confirmed":true`) {
		t.Errorf("state file:\n%s", state)
	}
	for _, f := range []string{"docs/index.html", "docs/.nojekyll"} {
		fakerepo.Git(t, origin, "cat-file", "-e", history.DefaultBranch+":"+f)
	}
	checkout := t.TempDir()
	fakerepo.Git(t, checkout, "clone", "-q", "-b", history.DefaultBranch, origin, ".")
	stored, _, err := history.Store{Dir: checkout}.Read()
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := history.ReadState(checkout)
	if err != nil {
		t.Fatal(err)
	}
	site, err := siteOf(stored, st, "https://github.com/octo/perf", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range site.Cases[0].Metrics {
		for _, cp := range m.ChangePoints {
			if m.Name == "E2E Latency" && cp.Commit == sha(25) && cp.Status == dashboard.Confirmed && cp.Closed &&
				strings.HasSuffix(cp.IssueURL, fmt.Sprintf("/issues/%d", is.Number)) && m.Points[cp.Index].Commit == sha(25) {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("the dashboard has no confirmed, closed E2E change point at commit 25: %+v", site.Cases[0].Metrics[0].ChangePoints)
	}
	t.Run("browser", func(t *testing.T) { browseHistorySite(t, filepath.Join(checkout, SiteFolder), site, sha(25)) })
}

// browseHistorySite opens the site that the history job published on the
// data branch (dir, its docs folder) in a headless Chromium: the index
// and every case page load with no console error and no request outside
// the site; each chart has every point of its metric, each linked to its
// commit, and the E2E chart marks the change point at commit cp.
func browseHistorySite(t *testing.T, dir string, site dashboard.Site, cp string) {
	t.Helper()
	exe := browsertest.Chromium(t)
	if _, err := os.Stat(filepath.Join(dir, ".nojekyll")); err != nil {
		t.Errorf("the site lacks .nojekyll: %v", err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	b := browsertest.New(t, exe, srv.URL)
	b.Open("index.html")
	links := b.CaseLinks()
	if len(links) != len(site.Cases) {
		t.Fatalf("the index links %d case pages (%q), want %d", len(links), links, len(site.Cases))
	}
	for ci, c := range site.Cases {
		path := strings.TrimPrefix(links[ci], srv.URL+"/")
		if path != dashboard.CasePath(c.Key) {
			t.Errorf("the index links %s for case %s, want %s", path, c.Key, dashboard.CasePath(c.Key))
		}
		b.Open(path)
		charts := b.Charts()
		if len(charts) != len(c.Metrics) {
			t.Fatalf("%s: %d charts, want %d", path, len(charts), len(c.Metrics))
		}
		marked := false
		for mi, ch := range charts {
			m := c.Metrics[mi]
			if len(ch.Points) != len(m.Points) {
				t.Errorf("%s, %s: %d points drawn, want %d", path, m.Name, len(ch.Points), len(m.Points))
				continue
			}
			for i, p := range ch.Points {
				if want := site.RepoURL + "/commit/" + m.Points[i].Commit; p.Href != want {
					t.Errorf("%s, %s: point %d links to %q, want %s", path, m.Name, i, p.Href, want)
				}
			}
			for _, mk := range ch.Marks {
				if m.Name == "E2E Latency" && strings.HasPrefix(mk.Class, "cp confirmed") && m.Points[mk.Index].Commit == cp && mk.X1 == ch.Points[mk.Index].CX {
					marked = true
				}
			}
		}
		if !marked {
			t.Errorf("%s: the E2E chart has no confirmed change-point marker at commit %s, on its point", path, cp[:12])
		}
		for _, p := range b.Problems() {
			t.Error(p)
		}
	}
}

func privateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "w")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

package history

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/changepoint"
)

// A record that says nothing new is not appended again; a later one
// replaces the earlier; a corrupt line is reported and kept.
func TestStateAppendOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := Record{Kind: KindIssue, Commit: "abc", Issue: 101, IssueState: "open", Time: "2026-01-01T00:00:00Z"}
	if n, err := AppendState(dir, []Record{open}); err != nil || n != 1 {
		t.Fatalf("first append: %d, %v", n, err)
	}
	again := open
	again.Time = "2026-01-02T00:00:00Z"
	if n, err := AppendState(dir, []Record{again}); err != nil || n != 0 {
		t.Fatalf("same record again: %d, %v; want nothing written", n, err)
	}
	path := filepath.Join(dir, StateFile)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{cut short")
	f.Close()
	closed := open
	closed.IssueState = "closed"
	if n, err := AppendState(dir, []Record{closed}); err != nil || n != 1 {
		t.Fatalf("closed: %d, %v", n, err)
	}
	st, problems, err := ReadState(dir)
	if err != nil || len(problems) != 1 || problems[0].Line != 2 {
		t.Fatalf("read: %v, problems %v; want line 2 reported", err, problems)
	}
	if r, ok := st.Issue("abc"); !ok || r.IssueState != "closed" {
		t.Errorf("issue record %+v, want the closed one", r)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "\n{cut short\n") {
		t.Errorf("the corrupt line is not kept on a line of its own:\n%s", b)
	}
}

// The issue of a change point whose commit was measured against an older
// point than its parent names the bisect command; untrusted names are
// escaped.
func TestDraftSeveralCommits(t *testing.T) {
	t.Parallel()
	good, bad, parent := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	ms := MetricSeries{Key: "flux <img src=x>", Metric: "e2e", Name: "E2E Latency", Unit: "ms",
		Points: []Point{{Commit: good, Samples: []float64{100}}, {Commit: bad, Samples: []float64{105}}}}
	cp := changepoint.ChangePoint{Index: 1, Commit: bad, BeforeMedian: 100, AfterMedian: 105, ChangePct: 5, P: 1e-5}
	lines := []Line{{Case: Case{Key: ms.Key}, Commit: bad, Parent: parent, Side: SideHead}}
	st := State{}.With(Record{Kind: KindConfirmation, Commit: bad, Case: ms.Key, Against: good, Confirmed: true,
		Metrics: []ConfirmedMetric{{ID: "e2e", ChangePct: 4.9, P: 0.01, Held: true}}})
	d := Draft(bad, []Moved{{Series: &ms, CP: cp}}, lines, st, "https://github.com/octo/perf", DraftOptions{})
	if d.Label != LabelRegression || d.Title != "perf: E2E +5.0% at bbbbbbb (flux <img src=x>)" {
		t.Errorf("label %s, title %q", d.Label, d.Title)
	}
	for _, want := range []string{IssueMarker(bad) + "\n", "diffperf bisect --good " + good + " --bad " + bad, "Not run yet.", "flux &lt;img src=x&gt;", "+4.9% (p 0.010)"} {
		if !strings.Contains(d.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, d.Body)
		}
	}
	if strings.Contains(d.Body, "<img") {
		t.Errorf("unescaped HTML in the body:\n%s", d.Body)
	}
	if d.Good != good || d.Bad != bad {
		t.Errorf("range %q..%q, want %s..%s", d.Good, d.Bad, good, bad)
	}
	if strings.Contains(d.Body, "### Dashboard") {
		t.Errorf("a dashboard link without CaseURL:\n%s", d.Body)
	}

	// With the dashboard and the bisect workflow: the case's page is
	// linked, the pending line names the workflow.
	d = Draft(bad, []Moved{{Series: &ms, CP: cp}}, lines, st, "https://github.com/octo/perf", DraftOptions{
		CaseURL:        func(key string) string { return "https://octo.github.io/perf/case/" + KeyDir(key) + ".html" },
		BisectWorkflow: "perf-bisect.yml",
	})
	for _, want := range []string{"[flux &lt;img src=x&gt;](https://octo.github.io/perf/case/flux__img_src_x_.html)", "dispatches the workflow `perf-bisect.yml`"} {
		if !strings.Contains(d.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, d.Body)
		}
	}

	// One commit, measured against its parent: no range to bisect.
	lines[0].Parent = good
	if d := Draft(bad, []Moved{{Series: &ms, CP: cp}}, lines, st, "https://github.com/octo/perf", DraftOptions{BisectWorkflow: "perf-bisect.yml"}); d.Good != "" || strings.Contains(d.Body, "diffperf bisect") {
		t.Errorf("one commit: range %q..%q, body:\n%s", d.Good, d.Bad, d.Body)
	}
}

// KeepBisect keeps the bisect job's block of the issue's body verbatim:
// in place of the pending line, or at the end when the draft has none;
// without a block (or with one cut short) the draft is unchanged.
func TestKeepBisect(t *testing.T) {
	t.Parallel()
	block := BisectStart + "\n## Bisect: culprit `1234abcd` <b>\n\n| commit | verdict |\n" + BisectEnd
	withPending := "head\n\n" + bisectPending + " Not run yet.\n\ntail\n"
	tests := []struct {
		name, body, old, want string
	}{
		{"replaces the pending line", withPending, "old head\n" + block + "\nold tail", "head\n\n" + block + "\n\ntail\n"},
		{"appended without a pending line", "head\n", "x " + block, "head\n\n" + block + "\n"},
		{"already there", "head\n" + block + "\n", block, "head\n" + block + "\n"},
		{"no block", withPending, "old body", withPending},
		{"block cut short", withPending, BisectStart + " culprit", withPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := KeepBisect(tt.body, tt.old); got != tt.want {
				t.Errorf("KeepBisect:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// IssueFor finds the issue of a change point that moved: the old commit
// no longer a change point of the series the issue reports, near the new
// one, with the same label.
func TestIssueFor(t *testing.T) {
	t.Parallel()
	var pts []Point
	for i := range 40 {
		pts = append(pts, Point{Commit: fmt.Sprintf("%040x", i), Samples: []float64{100}})
	}
	c := func(i int) string { return pts[i].Commit }
	at := func(i int) []MetricSeries {
		return []MetricSeries{{Key: "flux", Metric: "e2e", Points: pts, ChangePoints: []changepoint.ChangePoint{{Index: i, Commit: c(i), ChangePct: 5}}}}
	}
	issue := func(commit, label, state string, series ...string) Record {
		return Record{Kind: KindIssue, Commit: commit, Issue: 3, IssueState: state, Label: label, Series: series}
	}
	tests := []struct {
		name  string
		rec   Record
		newAt int
		all   []MetricSeries
		want  bool
	}{
		{"its own commit", issue(c(26), LabelRegression, "open", "flux/e2e"), 26, at(26), true},
		{"moved by one", issue(c(25), LabelRegression, "open", "flux/e2e"), 26, at(26), true},
		{"moved, closed", issue(c(25), LabelRegression, "closed", "flux/e2e"), 26, at(26), true},
		{"too far", issue(c(20), LabelRegression, "open", "flux/e2e"), 26, at(26), false},
		{"other label", issue(c(25), LabelImprovement, "open", "flux/e2e"), 26, at(26), false},
		{"other series", issue(c(25), LabelRegression, "open", "sdxl/e2e"), 26, at(26), false},
		{"old one still stands", issue(c(25), LabelRegression, "open", "flux/e2e"), 26,
			append(at(26), MetricSeries{Key: "flux", Metric: "e2e", Points: pts, ChangePoints: []changepoint.ChangePoint{{Index: 25, Commit: c(25)}}}), false},
		{"already moved", issue(c(25), LabelRegression, IssueMoved, "flux/e2e"), 26, at(26), false},
		{"an old record without series", issue(c(25), LabelRegression, "open"), 26, at(26), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			all := tt.all
			moved := []Moved{{Series: &all[0], CP: all[0].ChangePoints[0]}}
			got, ok := State{}.With(tt.rec).IssueFor(c(tt.newAt), LabelRegression, moved, all, 3)
			if ok != tt.want || ok && got.Issue != 3 {
				t.Errorf("IssueFor = %+v, %v; want found %v", got, ok, tt.want)
			}
		})
	}
}

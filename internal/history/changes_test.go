package history

import (
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
	d := Draft(bad, []Moved{{Series: &ms, CP: cp}}, lines, st, "https://github.com/octo/perf")
	if d.Label != LabelRegression || d.Title != "perf: E2E +5.0% at bbbbbbb (flux <img src=x>)" {
		t.Errorf("label %s, title %q", d.Label, d.Title)
	}
	for _, want := range []string{IssueMarker(bad) + "\n", "diffperf bisect --good " + good + " --bad " + bad, "(not run yet)", "flux &lt;img src=x&gt;", "+4.9% (p 0.010)"} {
		if !strings.Contains(d.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, d.Body)
		}
	}
	if strings.Contains(d.Body, "<img") {
		t.Errorf("unescaped HTML in the body:\n%s", d.Body)
	}
}

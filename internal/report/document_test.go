package report

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOutcome: what a Result and a Merged report found, as data: the
// verdict, whether it gates (an established regression that is not
// accepted), what was not measured; and the status each posts.
func TestOutcome(t *testing.T) {
	t.Parallel()
	accepted := e2eOnly(Regression, 0.001, 100, 120)
	accepted.Accepted = true
	failed := &Result{Verdict: Failed, Reason: "head: exit status 1"}
	tests := []struct {
		name  string
		doc   Document
		want  Outcome
		state StatusState
	}{
		{"regression", e2eOnly(Regression, 0.001, 100, 120), Outcome{Verdict: Regression, Reason: "e2e regression", Gates: true}, StatusFailure},
		{"accepted regression", accepted, Outcome{Verdict: Regression, Reason: "e2e regression"}, StatusSuccess},
		{"no change", e2eOnly(NoChange, 0.6, 100, 100), Outcome{Verdict: NoChange, Reason: "e2e no-change"}, StatusSuccess},
		{"failed", failed, Outcome{Verdict: Failed, Reason: "head: exit status 1", Unfinished: "the measurement failed: head: exit status 1"}, StatusError},
		{"merged regression", mergeOf(t, nil, CaseResult{Name: "flux", Result: e2eOnly(Regression, 0.001, 100, 120)}),
			Outcome{Verdict: Regression, Reason: "regression: flux", Gates: true}, StatusFailure},
		{"merged with a missing case", mergeOf(t, []string{"flux", "wan"}, CaseResult{Name: "flux", Result: e2eOnly(NoChange, 0.6, 100, 100)}),
			Outcome{Verdict: Failed, Reason: "missing: wan", Unfinished: `1 of 2 cases failed or are missing: "wan"`}, StatusError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.doc.Outcome()); diff != "" {
				t.Errorf("Outcome (-want +got):\n%s", diff)
			}
			if state, desc := tt.doc.Status("perf-ok"); state != tt.state || desc == "" {
				t.Errorf("Status = %q, %q; want %q with a description", state, desc, tt.state)
			}
		})
	}
}

// TestDocumentRendersAsItsKind: Render and JSON of the interface are the
// kind's own Markdown and JSON, byte for byte.
func TestDocumentRendersAsItsKind(t *testing.T) {
	t.Parallel()
	r := e2eOnly(Regression, 0.001, 100, 120)
	m := mergeOf(t, nil, CaseResult{Name: "flux", Result: r})
	opt := RenderOptions{Marker: "k", State: true, Context: "diffperf"}
	for _, tt := range []struct {
		name     string
		doc      Document
		md       string
		js, want func() ([]byte, error)
	}{
		{"result", r, Markdown(r, opt), r.JSON, func() ([]byte, error) { return MarshalJSON(r) }},
		{"merged", m, MarkdownMerged(m, opt), m.JSON, func() ([]byte, error) { return MarshalMergedJSON(m) }},
	} {
		if got := tt.doc.Render(opt); got != tt.md {
			t.Errorf("%s: Render differs from its kind's Markdown", tt.name)
		}
		got, err := tt.js()
		want, werr := tt.want()
		if err != nil || werr != nil || string(got) != string(want) {
			t.Errorf("%s: JSON differs from its kind's (%v, %v)", tt.name, err, werr)
		}
	}
}

// TestSummariesEscape: the step summaries written in report start with a
// heading of its grammar and escape every untrusted argument.
func TestSummariesEscape(t *testing.T) {
	t.Parallel()
	hostile := "x</details>**y** @all <!-- z -->"
	tests := []struct {
		name, got, heading string
	}{
		{"failed", FailedSummary(hostile), "## 💥 diffperf: failed\n\n"},
		{"fork", ForkWaitingSummary(7, hostile, hostile, hostile), "## ⏳ diffperf: waiting for a maintainer\n\n"},
		{"redecided", RedecidedSummary(2, hostile, true, hostile), "## diffperf: gate re-decided\n\n"},
		{"dispatched", DispatchedSummary(Dispatch{User: hostile, PR: 7, Why: "permission write", Workflow: hostile, Ref: hostile, SHA: hostile, Keys: []string{"runs"}}), "## 👀 diffperf: /perf dispatched\n\n"},
		{"history", HistoryHeading(hostile, hostile), "## diffperf history: "},
		{"case", CaseHeading("flux", hostile), "### `flux` ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !strings.HasPrefix(tt.got, tt.heading) {
				t.Errorf("%q does not start with %q", tt.got, tt.heading)
			}
			for _, raw := range []string{"</details>", "**y**", "<!--"} {
				if strings.Contains(tt.got, raw) {
					t.Errorf("%q holds %q unescaped", tt.got, raw)
				}
			}
			if !strings.Contains(tt.got, Escape(hostile)) && !strings.Contains(tt.got, Code(short(hostile))) {
				t.Errorf("%q does not hold the escaped argument %q", tt.got, Escape(hostile))
			}
		})
	}
}

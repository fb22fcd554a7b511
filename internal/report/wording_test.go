package report

import (
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
)

// TestDescribeNamesTheLimitWithin: a change that is no change is within
// at least one threshold, and the reason names that one only: +59 ms of
// 1000 ms is within 20 %, not "within 20% and 50 ms".
func TestDescribeNamesTheLimitWithin(t *testing.T) {
	t.Parallel()
	opt := Options{ThresholdPct: 20, MinDeltaMs: 50, MemoryThresholdPct: 2, Alpha: 0.05}
	tests := []struct {
		name       string
		base, head float64
		want, not  string
	}{
		{"past the floor, within the percentage", 1000, 1059, "is within 20% (", "and 50 ms"},
		{"past the percentage, within the floor", 100, 140, "is within 50 ms (", "20%"},
		{"within both", 1000, 1010, "is within 20% and 50 ms (", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Compare(side(jitter(tt.base, 5), 0), side(jitter(tt.head, 5), 0), opt)
			e2e := r.Metric(MetricE2E)
			if e2e.Verdict != NoChange {
				t.Fatalf("verdict %s, want no-change", e2e.Verdict)
			}
			got := e2e.describe(opt)
			if !strings.Contains(got, tt.want) || (tt.not != "" && strings.Contains(got, tt.not)) {
				t.Errorf("describe = %q, want %q and not %q", got, tt.want, tt.not)
			}
		})
	}
}

// TestFailedReportNotBold: under 💥 failed, the e2e change of the runs
// before the failure is not set in bold as if it were a finding.
func TestFailedReportNotBold(t *testing.T) {
	t.Parallel()
	r := Compare(side(jitter(1000, 5), 0), side(jitter(1200, 5), 0), DefaultOptions())
	if !strings.Contains(Markdown(r, RenderOptions{}), "**E2E +") {
		t.Fatal("the regression's headline has no bold e2e change to begin with")
	}
	r.Fail(dump.Failure{Side: "head", Run: 5, Reason: "exit status 1"})
	md := Markdown(r, RenderOptions{})
	if strings.Contains(md, "**E2E +") || strings.Contains(md, "**+") {
		t.Errorf("a failed report sets the e2e change in bold:\n%s", md)
	}
}

// TestCISentenceCountsSamples: the note under a table without intervals
// says how many samples there are, never "appear from 6 runs a side" at
// 20+20 requests.
func TestCISentenceCountsSamples(t *testing.T) {
	t.Parallel()
	md := Markdown(Compare(side(jitter(1000, 3), 1000), side(jitter(1000, 4), 1000), DefaultOptions()), RenderOptions{MaxChars: 1 << 30})
	if !strings.Contains(md, "95% confidence intervals of the medians need 6 samples a side; here there are 3+4 runs.") {
		t.Errorf("no sample count in the note:\n%s", md)
	}
}

// TestLaunchWordsPlain: the served line is read on a terminal too: no
// characters that Markdown must write as entities.
func TestLaunchWordsPlain(t *testing.T) {
	t.Parallel()
	for _, p := range []float64{0.01, 0.9} {
		got := launchTestWords(p)
		if strings.ContainsAny(got, "<>&") || Escape(got) != got {
			t.Errorf("launchTestWords(%v) = %q, which Markdown escapes to %q", p, got, Escape(got))
		}
	}
}

// TestMetadataCommitFromCheckout: dumps that cannot name their commit
// (N/A) show the commit diffperf checked out, not "N/A (ref main)".
func TestMetadataCommitFromCheckout(t *testing.T) {
	t.Parallel()
	base, head := side([]float64{100, 101}, 0), side([]float64{100, 101}, 0)
	for _, s := range []dump.Side{base, head} {
		for _, run := range s.Runs {
			run.Dump.CommitHash = "N/A"
		}
	}
	base.Ref, base.SHA = "main", "0123456789abcdef0123456789abcdef01234567"
	md := Compare(base, head, DefaultOptions()).metadata()
	if !strings.Contains(md, "- Baseline Commit: `0123456789abcdef0123456789abcdef01234567` (ref `main`)") {
		t.Errorf("metadata:\n%s", md)
	}
	if !strings.Contains(md, "- New Commit: `N/A`") {
		t.Errorf("a side without a known commit is not N/A:\n%s", md)
	}
}

// TestMergedWording: one case is "1 case"; two cases get Holm's two steps
// spelt out (no "α/1, and so on"); the failed count has the rows' 💥.
func TestMergedWording(t *testing.T) {
	t.Parallel()
	res := func(b, h float64, n int) *Result {
		return Compare(side(jitter(b, n), 0), side(jitter(h, n), 0), DefaultOptions())
	}
	one, err := Merge([]CaseResult{{Name: "flux", Result: res(1000, 1300, 6)}}, nil, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if md := MarkdownMerged(one, RenderOptions{}); !strings.Contains(md, "diffperf: regression across 1 case\n") {
		t.Errorf("one case:\n%.300s", md)
	}
	failed := res(1000, 1000, 6)
	failed.Fail(dump.Failure{Reason: "exit status 1"})
	two, err := Merge([]CaseResult{{Name: "flux", Result: res(1000, 1300, 6)}, {Name: "wan", Result: res(1000, 1000, 6)}, {Name: "qwen", Result: failed}}, nil, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	md := MarkdownMerged(two, RenderOptions{})
	if !strings.Contains(md, "Holm's correction compares the smaller p-value with α/2 = 0.025 and the larger with α = 0.05,") || strings.Contains(md, "α/1") {
		t.Errorf("the Holm sentence of two cases:\n%s", md)
	}
	if !strings.Contains(md, "💥 1 failed") || !strings.Contains(md, "| 💥 failed: exit status 1 |") || strings.Contains(md, "⚠️ 1 failed") {
		t.Errorf("the failed count and row differ in emoji:\n%.600s", md)
	}
}

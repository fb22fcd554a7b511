package report

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/diffperf/diffperf/internal/input"
	"github.com/google/go-cmp/cmp"
)

// e2eOnly is a result whose one gated metric, e2e, has the given verdict
// and p-value (as Compare would have decided them), for tests of the
// family's arithmetic.
func e2eOnly(v Verdict, p, basems, headms float64) *Result {
	r := &Result{Verdict: v, Reason: "e2e " + string(v), Options: DefaultOptions(),
		Metrics: []Metric{{ID: MetricE2E, Name: "E2E Latency", Unit: "ms", Kind: KindTime, Gated: true, Verdict: v, P: p,
			Base: Stats{Median: basems, Values: []float64{basems}}, Head: Stats{Median: headms, Values: []float64{headms}},
			DeltaAbs: headms - basems, DeltaPct: (headms - basems) / basems * 100}}}
	r.Base.Runs, r.Head.Runs = []Run{{Index: 1, Dump: &Dump{Name: "b.json", TotalMs: basems}}}, []Run{{Index: 1, Dump: &Dump{Name: "h.json", TotalMs: headms}}}
	return r
}

func mergeOf(t *testing.T, expect []string, cases ...CaseResult) *Merged {
	t.Helper()
	m, err := Merge(cases, expect, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func verdicts(m *Merged) map[string]Verdict {
	out := map[string]Verdict{}
	for _, c := range m.Cases {
		out[c.Name] = c.Verdict
	}
	return out
}

// TestMergeHolm is the example of docs/cases.md: three gated cases, one at
// p = 0.032 and two unchanged. Alone it is a regression; in the family
// Holm needs p < 0.05/3 = 0.0167 for the smallest, so nothing gates.
func TestMergeHolm(t *testing.T) {
	t.Parallel()
	slow := e2eOnly(Regression, 0.032, 1000, 1100)
	m := mergeOf(t, nil,
		CaseResult{Name: "flux", Result: slow},
		CaseResult{Name: "wan", Result: e2eOnly(NoChange, 0.69, 2000, 2001)},
		CaseResult{Name: "qwen", Result: e2eOnly(NoChange, 0.55, 3000, 2999)})
	if m.Family != 3 || m.Verdict != Inconclusive || m.Gates() {
		t.Fatalf("family %d, verdict %s, gates %v; want 3, inconclusive, no gate", m.Family, m.Verdict, m.Gates())
	}
	flux := m.Cases[0]
	if flux.Name != "flux" || !flux.Demoted || flux.Upheld || math.Abs(flux.Limit-0.05/3) > 1e-12 {
		t.Errorf("flux: %+v, want demoted with limit 0.0167", flux)
	}
	md := MarkdownMerged(m, RenderOptions{})
	for _, want := range []string{"0.032 (Holm: < 0.0167)", "❔ inconclusive (regression alone, not after Holm)",
		"Holm's correction compares the smallest p-value with α/3 = 0.0167", "larger of its two batches' p-values"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}

	// Below 0.05/3 the regression stands and gates.
	slow.Metrics[0].P = 0.01
	m = mergeOf(t, nil, CaseResult{Name: "flux", Result: slow},
		CaseResult{Name: "wan", Result: e2eOnly(NoChange, 0.69, 2000, 2001)},
		CaseResult{Name: "qwen", Result: e2eOnly(NoChange, 0.55, 3000, 2999)})
	if m.Verdict != Regression || !m.Gates() {
		t.Errorf("p=0.01 of 3: verdict %s, gates %v; want an established regression", m.Verdict, m.Gates())
	}
}

// TestMergeWarnsWhenRunsCannotPassHolm: 4 runs a side give p >= 2/70 =
// 0.029, above 0.05/2; the report says how many runs the family needs.
func TestMergeWarnsWhenRunsCannotPassHolm(t *testing.T) {
	t.Parallel()
	four := func(v Verdict, p float64) *Result {
		r := e2eOnly(v, p, 1000, 1100)
		r.Metrics[0].Base.Values, r.Metrics[0].Head.Values = make([]float64, 4), make([]float64, 4)
		return r
	}
	m := mergeOf(t, nil, CaseResult{Name: "a", Result: four(Regression, 0.029)}, CaseResult{Name: "b", Result: four(NoChange, 0.9)})
	md := MarkdownMerged(m, RenderOptions{})
	if !strings.Contains(md, "needs at least 5 runs a side; a, b had fewer") {
		t.Errorf("no warning about run counts:\n%s", md)
	}
}

func TestMergeHolmStepDown(t *testing.T) {
	t.Parallel()
	// Sorted: 0.001 < 0.05/4, 0.015 < 0.05/3, 0.03 >= 0.05/2 stops, and
	// 0.04 < 0.05 is not upheld either, since the procedure stopped.
	m := mergeOf(t, nil,
		CaseResult{Name: "a", Result: e2eOnly(Regression, 0.04, 100, 200)},
		CaseResult{Name: "b", Result: e2eOnly(Improvement, 0.001, 200, 100)},
		CaseResult{Name: "c", Result: e2eOnly(Regression, 0.03, 100, 200)},
		CaseResult{Name: "d", Result: e2eOnly(Regression, 0.015, 100, 200)})
	want := map[string]Verdict{"a": Inconclusive, "b": Improvement, "c": Inconclusive, "d": Regression}
	if diff := cmp.Diff(want, verdicts(m)); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

// TestMergeConfirmedUsesLargerP: a regression confirmed by a second batch
// counts with the larger of the two p-values.
func TestMergeConfirmedUsesLargerP(t *testing.T) {
	t.Parallel()
	r := e2eOnly(Regression, 0.001, 1000, 1100)
	r.Confirmation = e2eOnly(Regression, 0.03, 1000, 1100)
	m := mergeOf(t, nil, CaseResult{Name: "flux", Result: r}, CaseResult{Name: "wan", Result: e2eOnly(NoChange, 0.8, 10, 10)})
	if c := m.Cases[0]; c.P != 0.03 || c.Verdict != Inconclusive {
		t.Errorf("confirmed case: p %v verdict %s; want 0.03 (the larger) and inconclusive (0.03 >= 0.05/2)", c.P, c.Verdict)
	}
}

// TestMergeMemoryRegressionIsNotCorrected: peak memory is judged on the
// medians, without a test, so Holm's correction leaves it alone.
func TestMergeMemoryRegressionIsNotCorrected(t *testing.T) {
	t.Parallel()
	r := e2eOnly(Regression, 0.04, 1000, 1100)
	r.Metrics = append(r.Metrics, Metric{ID: MetricPeakAllocated, Kind: KindMemory, Gated: true, Verdict: Regression, P: 0.008})
	m := mergeOf(t, nil, CaseResult{Name: "flux", Result: r}, CaseResult{Name: "wan", Result: e2eOnly(NoChange, 0.8, 10, 10)})
	if c := m.Cases[0]; c.Verdict != Regression || c.Demoted {
		t.Errorf("memory regression: %s demoted=%v, want regression", c.Verdict, c.Demoted)
	}
}

func TestMergeVerdictsAndCounts(t *testing.T) {
	t.Parallel()
	failed := e2eOnly(NoChange, 0.5, 10, 10)
	failed.Fail(Failure{Side: "head", Run: 2, Reason: "run 2 of head: exit status 1"})
	m := mergeOf(t, []string{"wan", "gone", "flux"},
		CaseResult{Name: "flux", Result: e2eOnly(Regression, 0.001, 1000, 1200)},
		CaseResult{Name: "wan", Result: e2eOnly(NoChange, 0.7, 10, 10)},
		CaseResult{Name: "sd3", Result: e2eOnly(Improvement, 0.002, 1000, 800)},
		CaseResult{Name: "qwen", Result: failed})
	var order []string
	for _, c := range m.Cases {
		order = append(order, c.Name)
	}
	if diff := cmp.Diff([]string{"wan", "gone", "flux", "qwen", "sd3"}, order); diff != "" {
		t.Errorf("order: expected names first, then by name (-want +got):\n%s", diff)
	}
	want := map[Verdict]int{Regression: 1, Improvement: 1, Inconclusive: 0, NoChange: 1, Failed: 1, Missing: 1}
	if diff := cmp.Diff(want, m.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if m.Verdict != Failed || !m.Gates() || m.Family != 3 {
		t.Errorf("verdict %s gates %v family %d; want failed (worst), gating (regression), 3", m.Verdict, m.Gates(), m.Family)
	}
	if diff := cmp.Diff([]string{"gone", "qwen"}, m.Unfinished()); diff != "" {
		t.Errorf("unfinished (-want +got):\n%s", diff)
	}
	md := MarkdownMerged(m, RenderOptions{Marker: "merged-x"})
	for _, want := range []string{"❌ 1 regression · ✅ 1 improvement · ⚪️ 1 no change · 💥 1 failed · ❓ 1 missing",
		"| gone | - | - | - | - | ❓ missing: no result |", "💥 failed: run 2 of head: exit status 1"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	checkSafe(t, md)

	// The accept label: the regression no longer gates.
	m.Accepted, m.AcceptLabel = true, "perf-regression-accepted"
	if m.Gates() || !strings.Contains(MarkdownMerged(m, RenderOptions{}), "❌ regression (accepted)") {
		t.Error("an accepted regression still gates, or the row does not say so")
	}
}

func TestMergeRefuses(t *testing.T) {
	t.Parallel()
	r := e2eOnly(NoChange, 0.5, 10, 10)
	tests := []struct {
		name   string
		cases  []CaseResult
		expect []string
		want   string
	}{
		{"twice", []CaseResult{{"flux", "a/result.json", r}, {"flux", "b/result.json", r}}, nil, `results: case "flux" is in both a/result.json and b/result.json`},
		{"no name", []CaseResult{{"", "a/result.json", r}}, nil, "result a/result.json: no case name"},
		{"expected twice", nil, []string{"a", "a"}, `expect-cases: "a" is named twice`},
	}
	for _, tt := range tests {
		_, err := Merge(tt.cases, tt.expect, 0.05)
		if _, ok := input.As(err); !ok || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an input error with %q", tt.name, err, tt.want)
		}
	}
}

func TestMergeEscapesCaseNames(t *testing.T) {
	t.Parallel()
	r := e2eOnly(Regression, 0.001, 1000, 1200)
	r.Env = &Environment{Before: []GPU{{Name: hostile}}}
	failed := e2eOnly(NoChange, 0.5, 10, 10)
	failed.Fail(Failure{Reason: hostile, LogTail: hostile + "\n</pre></details><script>x</script>"})
	m := mergeOf(t, []string{hostile + " missing"}, CaseResult{Name: hostile, Result: r}, CaseResult{Name: hostile + "2", Result: failed})
	md := MarkdownMerged(m, RenderOptions{Marker: "merged"})
	checkSafe(t, md)
	table, _, _ := strings.Cut(md[strings.Index(md, "| Case |"):], "\n\n")
	if n := strings.Count(table, "\n"); n != 4 {
		t.Errorf("%d table lines, want 5 (header, rule, 3 cases): a name broke a row\n%s", n+1, table)
	}
	if strings.Count(md, "<details") != strings.Count(md, "</details>") {
		t.Errorf("unbalanced <details>:\n%s", md)
	}
}

// TestMergeTwentyCasesWithinLimit: twenty cases whose reports are long
// (many stages, long log tails) still make one comment within GitHub's
// limit, with every row, and a note for what was shortened.
func TestMergeTwentyCasesWithinLimit(t *testing.T) {
	t.Parallel()
	mk := func(total float64, i int) *Dump {
		d := &Dump{Name: "x.json", TotalMs: total}
		for s := 0; s < 60; s++ {
			d.Stages = append(d.Stages, Stage{Name: strings.Repeat("Stage", 10) + string(rune('A'+s%26)) + strings.Repeat("x", s), DurationMs: 1, Count: 1})
		}
		return d
	}
	var cases []CaseResult
	for i := 0; i < 20; i++ {
		var base, head Side
		for j := 0; j < 10; j++ {
			base.Runs = append(base.Runs, Run{Index: j + 1, Dump: mk(7000+float64(j), i)})
			head.Runs = append(head.Runs, Run{Index: j + 1, Dump: mk(7000+float64(j)+float64(i*40), i)})
		}
		r := Compare(base, head, DefaultOptions())
		if i%5 == 4 {
			r.Fail(Failure{Side: "head", Run: 1, Reason: "boom", LogTail: strings.Repeat("Traceback line\n", 2000)})
		}
		cases = append(cases, CaseResult{Name: "case-" + string(rune('a'+i)), Result: r})
	}
	m, err := Merge(cases, nil, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	md := MarkdownMerged(m, RenderOptions{Marker: "merged"})
	if n := utf8.RuneCountInString(md); n > MaxCommentChars {
		t.Fatalf("%d characters, over %d", n, MaxCommentChars)
	}
	for _, c := range cases {
		if !strings.Contains(md, "\n| "+c.Name+" |") {
			t.Errorf("no row for %s", c.Name)
		}
	}
	if !strings.Contains(md, "Left out to stay within") && !strings.Contains(md, "are left out to stay within") {
		t.Error("no note on what was shortened")
	}
	if a, b, c, d := strings.Count(md, "<details"), strings.Count(md, "</details>"), strings.Count(md, "<pre>"), strings.Count(md, "</pre>"); a != b || c != d {
		t.Errorf("a cut left a tag open: %d <details, %d </details>, %d <pre>, %d </pre>", a, b, c, d)
	}
	checkSafe(t, md)
	// At a tenth of the limit whole case reports go, with a note naming them.
	small := MarkdownMerged(m, RenderOptions{MaxChars: 6000})
	if n := utf8.RuneCountInString(small); n > 6000 || !strings.Contains(small, "are left out to stay within 6000 characters") {
		t.Errorf("6000 limit: %d characters, note present %v", n, strings.Contains(small, "are left out"))
	}
}

// mergedExample is the README's example: five cases of one PR, each a
// measurement diffperf could have made, one of them missing.
func mergedExample(t *testing.T) *Merged {
	t.Helper()
	flux := withContext(severalRuns(t))
	flux.Confirmation = severalRuns(t)
	flux.Case = "flux-h100"

	base, head := loadRuns(t, "runs/base"), loadRuns(t, "runs/head")
	abbaOrder(head, base)
	faster := withContext(Compare(Side{Ref: "main", Runs: head}, Side{Ref: "refs/pull/42/merge", Runs: base}, DefaultOptions()))
	faster.Case = "sd3-h100"

	same := withContext(Compare(Side{Ref: "main", Runs: loadRuns(t, "runs/base")}, Side{Ref: "refs/pull/42/merge", Runs: loadRuns(t, "runs/base")}, DefaultOptions()))
	same.Case = "wan-h100"

	failed := withContext(Compare(Side{Ref: "main", Runs: loadRuns(t, "runs/base")[:2]}, Side{Ref: "refs/pull/42/merge", Runs: loadRuns(t, "runs/base")[:1]}, DefaultOptions()))
	failed.Fail(Failure{Side: "head", Run: 2, Reason: "run 2 of head: sglang: exit status 1 after 41.2 s", LogTail: "torch.OutOfMemoryError: CUDA out of memory."})
	failed.Case = "hunyuan-h200"
	failed.Env.Before[0].Name, failed.Env.After[0].Name = "NVIDIA H200", "NVIDIA H200"

	m, err := Merge([]CaseResult{{flux.Case, "", flux}, {same.Case, "", same}, {faster.Case, "", faster}, {failed.Case, "", failed}},
		[]string{"flux-h100", "sd3-h100", "wan-h100", "hunyuan-h200", "qwen-h200"}, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMarkdownMergedGolden(t *testing.T) {
	t.Parallel()
	m := mergedExample(t)
	m.AcceptLabel = "perf-regression-accepted" // on a pull request: the headline says how to accept
	md := MarkdownMerged(m, RenderOptions{Marker: "merged-3f2a9c1e"})
	golden(t, "merged_example.md", md)
	js, err := MarshalMergedJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "merged_example.json", string(js))
	checkSafe(t, md)
}

// TestParseJSONRoundTrip: what MarshalJSON writes, ParseJSON reads back
// into a result that renders the same report.
func TestParseJSONRoundTrip(t *testing.T) {
	t.Parallel()
	accepted := withContext(severalRuns(t))
	accepted.Accepted, accepted.AcceptLabel, accepted.Case = true, "perf-regression-accepted", "flux"
	accepted.Confirmation = severalRuns(t)
	accepted.Notes = []string{"The base side is the merge base."}
	failed := withContext(severalRuns(t))
	failed.Fail(Failure{Side: "head", Run: 3, Reason: "exit status 1", LogTail: "boom"})
	requested := severalRuns(t)
	requested.Request = &Request{By: "alice", URL: "https://github.com/o/r/pull/1#issuecomment-5", SHA: "8e8c1ccc065f520f2f9eff69cfa287dd279e59b4", Moved: true,
		CurrentHead: "0123456789abcdef0123456789abcdef01234567"}
	requested.MergeBase = true
	served := Compare(servedSide(1000, []float64{0, 0.01}, 3, 0.002, 1), servedSide(1000, []float64{0.06, 0.055}, 3, 0.002, 2), DefaultOptions())
	for name, r := range map[string]*Result{
		"single": single(t, "old_nov2025.json", "dec2025.json"), "accepted": accepted, "failed": failed,
		"empty": Compare(Side{}, Side{}, DefaultOptions()), "requested": requested, "served": served,
	} {
		js, err := MarshalJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseJSON(name+".json", js)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(Markdown(r, RenderOptions{Marker: "k"}), Markdown(back, RenderOptions{Marker: "k"})); diff != "" {
			t.Errorf("%s: the report changed on the round trip (-want +got):\n%s", name, diff)
		}
		again, _ := MarshalJSON(back)
		if diff := cmp.Diff(string(js), string(again)); diff != "" {
			t.Errorf("%s: the JSON changed on the round trip (-want +got):\n%s", name, diff)
		}
	}
	// The golden JSON files parse too.
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.json"))
	for _, f := range files {
		if strings.Contains(f, "merged") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseJSON(f, b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParseJSONRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"not JSON", "{", "result r.json: not a diffperf result"},
		{"no schema", `{"verdict": "no-change"}`, "no schema field"},
		{"other schema", `{"schema": "diffperf.result/v2"}`, `schema "diffperf.result/v2" is not one this diffperf reads`},
		{"merged", `{"schema": "diffperf.merged/v1"}`, `schema "diffperf.merged/v1"`},
		{"bad verdict", `{"schema": "diffperf.result/v1", "verdict": "great", "options": {"alpha": 0.05}}`, `field verdict: "great" is not a verdict`},
		{"missing claimed", `{"schema": "diffperf.result/v1", "verdict": "missing", "options": {"alpha": 0.05}}`, `"missing" is not a verdict`},
		{"bad alpha", `{"schema": "diffperf.result/v1", "verdict": "no-change", "options": {"alpha": 2}}`, "field options: alpha"},
		{"wrong type", `{"schema": "diffperf.result/v1", "verdict": "no-change", "metrics": {}}`, "field metrics: a JSON object where a list is expected"},
		{"bad metric", `{"schema": "diffperf.result/v1", "verdict": "no-change", "options": {"alpha": 0.05}, "metrics": [{"id": "e2e", "verdict": "x"}]}`, "field metrics[0].verdict"},
		{"bad confirmation", `{"schema": "diffperf.result/v1", "verdict": "no-change", "options": {"alpha": 0.05}, "confirmation": {"verdict": "x", "options": {"alpha": 0.05}}}`, "field confirmation.verdict"},
	}
	for _, tt := range tests {
		_, err := ParseJSON("r.json", []byte(tt.in))
		var ie *input.Error
		if !errors.As(err, &ie) || ie.Name != "result r.json" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an input error naming the file with %q", tt.name, err, tt.want)
		}
	}
}

// FuzzParseJSON: a result file from an artifact is untrusted; whatever it
// holds, ParseJSON returns an error or a result that renders, alone and
// merged.
func FuzzParseJSON(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "runs_*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"schema": "diffperf.result/v1", "verdict": "regression", "options": {"alpha": 0.05}, "metrics": [{"id": "e2e", "verdict": "regression", "p": null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseJSON("fuzz.json", b)
		if err != nil {
			return
		}
		Markdown(r, RenderOptions{MaxChars: 4000})
		r.Case = "fuzz"
		m, err := Merge([]CaseResult{{Name: "fuzz", Result: r}}, []string{"other"}, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		if out := MarkdownMerged(m, RenderOptions{Marker: "m", MaxChars: 6000}); utf8.RuneCountInString(out) > 6000 {
			t.Fatalf("%d characters", utf8.RuneCountInString(out))
		}
	})
}

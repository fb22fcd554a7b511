package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/input"
)

// Missing is the verdict of a case that was expected (input expect-cases)
// but that no result holds: the job that should have measured it did not
// finish or did not upload its result. It is never the verdict of a
// measured Result.
const Missing Verdict = "missing"

// CaseResult is one result to merge: the case's name, where the result
// came from (a file, for messages) and the result itself.
type CaseResult struct {
	Name, Source string
	Result       *Result
}

// Merged is several cases judged together, for one comment and one gate:
// each case keeps its own measurement and verdict, and the regressions and
// improvements that rest on the e2e U test must also survive Holm's
// step-down correction across the cases, so that the chance of any false
// alarm among k unchanged cases stays below Alpha instead of growing to
// about k × Alpha.
type Merged struct {
	// Verdict is the worst case verdict after the correction, with failed
	// and missing cases counting as failed.
	Verdict Verdict
	// Reason names the cases behind the verdict, in one sentence.
	Reason string
	// Alpha is the family-wise significance level.
	Alpha float64
	// Family is k: the cases with an e2e p-value, which Holm's correction
	// spans (failed and missing cases have none).
	Family int
	// Cases in report order: the expected names first, in the order given,
	// then the other results by name.
	Cases []MergedCase
	// Accepted is set by the caller when the PR carries AcceptLabel: an
	// established regression then does not gate. AcceptLabel, set on a
	// pull request, also makes the headline say how to accept.
	Accepted    bool
	AcceptLabel string
}

// MergedCase is one row of a merged report.
type MergedCase struct {
	Name, Source string
	// Result is nil for a missing case.
	Result *Result
	// Verdict is the case's verdict within the family: the result's own,
	// except that a regression or improvement resting on the e2e U test
	// that Holm's correction does not uphold becomes inconclusive
	// (Demoted). Missing when no result holds the case.
	Verdict Verdict
	Demoted bool
	// P is the e2e p-value tested for the case: with a confirming batch,
	// the larger of the two batches' p-values, since the regression stands
	// only if both batches show it (an intersection-union test, for which
	// the larger p is a valid p-value). NaN when the case is not in the
	// family.
	P float64
	// Limit is Holm's threshold for the case's rank among the family's
	// p-values, Alpha/(k-rank+1); NaN when the case is not in the family.
	Limit float64
	// Upheld is true when Holm's step-down procedure rejects "no change"
	// for the case.
	Upheld bool
}

// Merge judges the results of several cases together. expect names the
// cases that must be there (a missing one is a row of its own, never
// silently absent); alpha is the family-wise significance level. Two
// results of one case are unusable input.
func Merge(results []CaseResult, expect []string, alpha float64) (*Merged, error) {
	if !(alpha > 0 && alpha < 1) {
		return nil, input.Errorf("alpha", "%v is not in (0, 1)", alpha)
	}
	m := &Merged{Alpha: alpha}
	seen := map[string]string{}
	for _, c := range results {
		if c.Name == "" || c.Result == nil {
			return nil, input.Errorf("result "+c.Source, "no case name or no result")
		}
		if prev, dup := seen[c.Name]; dup {
			return nil, input.Errorf("results", "case %q is in both %s and %s", c.Name, prev, c.Source)
		}
		seen[c.Name] = c.Source
		m.Cases = append(m.Cases, MergedCase{Name: c.Name, Source: c.Source, Result: c.Result, Verdict: c.Result.Verdict,
			P: math.NaN(), Limit: math.NaN()})
	}
	pos := map[string]int{}
	for i, name := range expect {
		if _, dup := pos[name]; dup {
			return nil, input.Errorf("expect-cases", "%q is named twice", name)
		}
		pos[name] = i
		if _, ok := seen[name]; !ok {
			m.Cases = append(m.Cases, MergedCase{Name: name, Verdict: Missing, P: math.NaN(), Limit: math.NaN()})
		}
	}
	slices.SortStableFunc(m.Cases, func(a, b MergedCase) int {
		ia, aok := pos[a.Name]
		ib, bok := pos[b.Name]
		switch {
		case aok && bok:
			return ia - ib
		case aok:
			return -1
		case bok:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	m.holm()
	m.decide()
	return m, nil
}

// CheckCell checks the fields of a case's result that the merged report
// shows as they are against the values diffperf writes: a result.json
// comes from another job, whose benchmark ran the PR's code, so a unit, a
// sample kind or a side that diffperf never writes is refused rather than
// published. Free text (names, reasons, tails) is escaped where it is shown.
func (r *Result) CheckCell() error {
	for _, m := range r.Metrics {
		if m.Unit != "ms" && m.Unit != "MiB" {
			return fmt.Errorf("metric %q: unit %q is not ms or MiB", m.ID, m.Unit)
		}
		if m.Samples != "" && m.Samples != SamplesRequests && m.Samples != SamplesLaunches {
			return fmt.Errorf("metric %q: samples %q is not %s or %s", m.ID, m.Samples, SamplesRequests, SamplesLaunches)
		}
	}
	for _, l := range r.Launches {
		if l.Side != "base" && l.Side != "head" {
			return fmt.Errorf("launch %d: side %q is not base or head", l.Launch, l.Side)
		}
	}
	if r.Failure != nil && r.Failure.Side != "" && r.Failure.Side != "base" && r.Failure.Side != "head" && r.Failure.Side != "bench" {
		return fmt.Errorf("failure: side %q is not base or head", r.Failure.Side)
	}
	switch r.Verdict {
	case Regression, Improvement, NoChange, Inconclusive, Failed:
	default:
		return fmt.Errorf("verdict %q is not one diffperf writes", r.Verdict)
	}
	return nil
}

// holm applies Holm's step-down procedure to the family's e2e p-values:
// sorted ascending, the j-th smallest (1-based) must be below
// Alpha/(k-j+1), and the first that is not stops every later one.
func (m *Merged) holm() {
	var family []*MergedCase
	for i := range m.Cases {
		c := &m.Cases[i]
		if p, ok := familyP(c.Result); ok {
			c.P = p
			family = append(family, c)
		}
	}
	m.Family = len(family)
	slices.SortStableFunc(family, func(a, b *MergedCase) int { return cmp.Compare(a.P, b.P) })
	upheld := true
	for j, c := range family {
		c.Limit = m.Alpha / float64(len(family)-j)
		upheld = upheld && c.P < c.Limit
		c.Upheld = upheld
		if upheld || (c.Verdict != Regression && c.Verdict != Improvement) {
			continue
		}
		// The e2e evidence does not survive the correction; the verdict
		// stands only where peak memory (judged on medians, no test)
		// carries it.
		if mem := c.Result.Metric(MetricPeakAllocated); mem == nil || mem.Verdict != c.Verdict {
			c.Verdict, c.Demoted = Inconclusive, true
		}
	}
}

// familyP is the e2e p-value of a case that joins the family; failed
// results and results without e2e do not.
func familyP(r *Result) (float64, bool) {
	if r == nil || r.Verdict == Failed {
		return 0, false
	}
	e2e := r.Metric(MetricE2E)
	if e2e == nil {
		return 0, false
	}
	p := e2e.P
	if r.Confirmation != nil {
		if c := r.Confirmation.Metric(MetricE2E); c != nil {
			p = math.Max(p, c.P)
		}
	}
	return p, true
}

// mergedRank orders case verdicts, worst first; missing is as bad as failed.
func mergedRank(v Verdict) int {
	if v == Missing {
		return Failed.rank()
	}
	return v.rank()
}

func (m *Merged) decide() {
	m.Verdict = NoChange
	byVerdict := map[Verdict][]string{}
	for _, c := range m.Cases {
		byVerdict[c.Verdict] = append(byVerdict[c.Verdict], c.Name)
		if mergedRank(c.Verdict) > mergedRank(m.Verdict) {
			m.Verdict = c.Verdict
		}
	}
	if m.Verdict == Missing {
		m.Verdict = Failed
	}
	var parts []string
	for _, v := range []Verdict{Regression, Failed, Missing, Inconclusive, Improvement} {
		if names := byVerdict[v]; len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", v, strings.Join(names, ", ")))
		}
	}
	switch {
	case len(m.Cases) == 0:
		m.Reason = "no cases"
	case len(parts) == 0:
		m.Reason = fmt.Sprintf("no change in any of the %d cases", len(m.Cases))
	default:
		m.Reason = strings.Join(parts, "; ")
	}
}

// Gates reports whether an established regression of some case is not
// accepted, which fails the merged check when gating is on.
func (m *Merged) Gates() bool {
	for _, c := range m.Cases {
		if c.Verdict == Regression && !m.Accepted {
			return true
		}
	}
	return false
}

// Counts are how many cases have each verdict, under every verdict's name
// (zero included), for outputs and the JSON.
func (m *Merged) Counts() map[Verdict]int {
	n := map[Verdict]int{Regression: 0, Improvement: 0, Inconclusive: 0, NoChange: 0, Failed: 0, Missing: 0}
	for _, c := range m.Cases {
		n[c.Verdict]++
	}
	return n
}

// Unfinished names the cases that failed or are missing.
func (m *Merged) Unfinished() []string {
	var out []string
	for _, c := range m.Cases {
		if c.Verdict == Failed || c.Verdict == Missing {
			out = append(out, c.Name)
		}
	}
	return out
}

// countWords are the headline's counts, in the order they are shown.
var countWords = []struct {
	v           Verdict
	emoji, word string
}{
	{Regression, "❌", "regression"}, {Improvement, "✅", "improvement"}, {Inconclusive, "❔", "inconclusive"},
	{NoChange, "⚪️", "no change"}, {Failed, verdictEmoji[Failed], "failed"}, {Missing, "❓", "missing"},
}

// MarkdownMerged renders a merged report: a headline over all cases, one
// row per case, how the family's false-alarm rate is held, then each
// case's own report collapsed. Within MaxChars, the cases' reports shrink
// first (each drops its own details), then whole case reports are left
// out from the last, with a note; the headline and table stay.
func MarkdownMerged(m *Merged, opt RenderOptions) string {
	limit := opt.limit()
	head := ""
	if opt.Marker != "" {
		head = comment.MarkerLine(opt.Marker) + "\n"
		if line, ok := MergedStateLine(m, opt.Context); ok && opt.State {
			head += line + "\n"
		}
	}
	head += m.headline() + m.table() + m.familyNote()

	type part struct{ name, text string }
	var cases []part
	for _, c := range m.Cases {
		if c.Result != nil {
			cases = append(cases, part{c.Name, ""})
		}
	}
	render := func(share int) {
		j := 0
		for _, c := range m.Cases {
			if c.Result != nil {
				cases[j].text = m.caseSection(c, share)
				j++
			}
		}
	}
	build := func(n int) string {
		var b strings.Builder
		b.WriteString(head)
		for _, c := range cases[:n] {
			b.WriteString(c.text)
		}
		if n < len(cases) {
			var names []string
			for _, c := range cases[n:] {
				names = append(names, Escape(c.name))
			}
			fmt.Fprintf(&b, "\n_The reports of %s are left out to stay within %d characters; each case's report.md and result.json have everything._\n",
				strings.Join(names, ", "), limit)
		}
		return b.String()
	}
	render(0)
	out := build(len(cases))
	if size(out) <= limit {
		return out
	}
	// A fair share for each case's report, which then drops its own
	// details; what is left after the headline and table, less room for
	// the note.
	if room := limit - size(head) - 400; room > 0 && len(cases) > 0 {
		render(room / len(cases))
		out = build(len(cases))
	}
	n := len(cases)
	for size(out) > limit && n > 0 {
		n--
		out = build(n)
	}
	if size(out) > limit {
		runes := []rune(out)
		out = string(runes[:limit-len("\n…\n")])
		if i := strings.LastIndexByte(out, '\n'); i > 0 {
			out = out[:i]
		}
		out += "\n…\n"
	}
	return out
}

func size(s string) int { return len([]rune(s)) }

func (m *Merged) headline() string {
	var b strings.Builder
	across := fmt.Sprintf(" across %d cases", len(m.Cases))
	if len(m.Cases) == 1 {
		across = " across 1 case"
	}
	switch {
	case m.Verdict == Regression:
		b.WriteString(regressionHeadingText(m.AcceptLabel, m.Accepted, across))
	case m.Verdict == Failed && m.AcceptLabel != "":
		fmt.Fprintf(&b, "## %s diffperf: %s%s\n\n%s", verdictEmoji[m.Verdict], m.Verdict, across, failedHint)
	default:
		fmt.Fprintf(&b, "## %s diffperf: %s%s\n\n", verdictEmoji[m.Verdict], m.Verdict, across)
	}
	counts := m.Counts()
	var facts []string
	for _, w := range countWords {
		if n := counts[w.v]; n > 0 {
			word := w.word
			if n > 1 && (w.v == Regression || w.v == Improvement) {
				word += "s"
			}
			facts = append(facts, fmt.Sprintf("%s %d %s", w.emoji, n, word))
		}
	}
	if len(facts) > 0 {
		b.WriteString(strings.Join(facts, " · ") + "\n\n")
	}
	fmt.Fprintf(&b, "%s.\n\n", Escape(upperFirst(m.Reason)))
	return b.String()
}

func (m *Merged) table() string {
	var b strings.Builder
	b.WriteString("| Case | GPU | Base → head e2e | Change | p | Verdict |\n| :--- | :--- | :--- | :--- | :--- | :--- |\n")
	for _, c := range m.Cases {
		gpu, e2e, change, p := "-", "-", "-", "-"
		if r := c.Result; r != nil {
			if g := r.gpuName(); g != "" {
				gpu = Escape(g)
			}
			// A failed case's medians are of the runs before the failure:
			// not a measurement to read a change from.
			if e := r.Metric(MetricE2E); e != nil && r.Verdict != Failed {
				e2e = fmt.Sprintf("%s → %s ms", FormatMs(e.Base.Median), FormatMs(e.Head.Median))
				change = FormatPct(e.DeltaPct)
			}
		}
		if !math.IsNaN(c.P) {
			p = FormatP(c.P)
			if m.Family > 1 {
				p += " (Holm: < " + formatLimit(c.Limit) + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", Escape(c.Name), gpu, e2e, change, p, m.verdictCell(c))
	}
	b.WriteString("\n")
	return b.String()
}

func (m *Merged) verdictCell(c MergedCase) string {
	switch {
	case c.Verdict == Missing:
		return "❓ missing: no result"
	case c.Verdict == Failed:
		reason := c.Result.Reason
		if c.Result.Failure != nil && c.Result.Failure.Reason != "" {
			reason = c.Result.Failure.Reason
		}
		return "💥 failed: " + Escape(shorten(reason, 160))
	case c.Demoted:
		return fmt.Sprintf("❔ inconclusive (%s alone, not after Holm)", c.Result.Verdict)
	case c.Verdict == Regression && m.Accepted:
		return "❌ regression (accepted)"
	}
	return verdictEmoji[c.Verdict] + " " + string(c.Verdict)
}

// familyNote says how the family's false-alarm rate is held.
func (m *Merged) familyNote() string {
	alpha := FormatNum(m.Alpha)
	switch m.Family {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("One case has an e2e test, at α=%s; no correction is needed.\n\n", alpha)
	}
	steps := fmt.Sprintf("the smallest p-value with α/%d = %s, the next with α/%d, and so on (α=%s)",
		m.Family, formatLimit(m.Alpha/float64(m.Family)), m.Family-1, alpha)
	if m.Family == 2 {
		steps = fmt.Sprintf("the smaller p-value with α/2 = %s and the larger with α = %s", formatLimit(m.Alpha/2), alpha)
	}
	note := fmt.Sprintf("Regressions and improvements must hold across all %d cases with an e2e test at once: "+
		"Holm's correction compares %s, "+
		"so the chance of a false alarm in any unchanged case stays below %s %%. "+
		"A case whose regression was re-measured counts with the larger of its two batches' p-values.\n\n",
		m.Family, steps, FormatNum(m.Alpha*100))
	if few := m.tooFewRuns(); len(few) > 0 {
		lowest := m.Alpha / float64(m.Family)
		note += fmt.Sprintf("> [!WARNING]\n> With %d cases, a case can only pass Holm's correction if the U test can reach p < %s, "+
			"which needs at least %d runs a side; %s had fewer, so no regression can be established there whatever the change.\n\n",
			m.Family, formatLimit(lowest), RunsNeeded(lowest), strings.Join(few, ", "))
	}
	return note
}

// tooFewRuns names the family's cases whose run counts cannot reach the
// smallest Holm threshold, α/k, in some batch.
func (m *Merged) tooFewRuns() []string {
	var out []string
	lowest := m.Alpha / float64(m.Family)
	for _, c := range m.Cases {
		if math.IsNaN(c.P) {
			continue
		}
		for _, r := range []*Result{c.Result, c.Result.Confirmation} {
			if r == nil {
				continue
			}
			if e := r.Metric(MetricE2E); e != nil && MinP(len(e.Base.Values), len(e.Head.Values)) >= lowest {
				out = append(out, Escape(c.Name))
				break
			}
		}
	}
	return out
}

// formatLimit writes a Holm threshold with three significant digits
// (0.05/3 is 0.0167).
func formatLimit(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

func (m *Merged) caseSection(c MergedCase, maxChars int) string {
	r := c.Result
	summary := fmt.Sprintf("%s: %s %s", Escape(c.Name), verdictEmoji[c.Verdict], c.Verdict)
	if e := r.Metric(MetricE2E); e != nil {
		summary += ", E2E " + FormatPct(e.DeltaPct)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<details>\n<summary>%s</summary>\n\n", summary)
	if c.Demoted {
		fmt.Fprintf(&b, "_In the merged report this case is inconclusive: its e2e p=%s is not below Holm's threshold %s for its rank among %d cases._\n\n",
			FormatP(c.P), formatLimit(c.Limit), m.Family)
	}
	md := Markdown(r, RenderOptions{MaxChars: maxChars})
	if strings.HasSuffix(md, "\n…\n") {
		// Even without its details the report is longer than its share
		// (a long log tail): a cut could leave a tag open, so only the
		// verdict's reason is shown.
		md = fmt.Sprintf("%s.\n\n_This case's report does not fit here; its report.md and result.json have everything._", Escape(shorten(upperFirst(r.Reason), 300)))
	}
	b.WriteString(strings.TrimRight(md, "\n"))
	b.WriteString("\n</details>\n\n")
	return b.String()
}

// shorten keeps the first line of s, at most n characters.
func shorten(s string, n int) string {
	s = comment.FirstLine(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// MergedSchemaVersion names the JSON of a merged report.
const MergedSchemaVersion = "diffperf.merged/v1"

// MergedJSON is the stable form of a Merged (see docs/result-json.md).
// Each case's own result stays in its result.json.
type MergedJSON struct {
	Schema     string           `json:"schema"`
	Verdict    Verdict          `json:"verdict"`
	Reason     string           `json:"reason"`
	Accepted   bool             `json:"accepted"`
	Alpha      float64          `json:"alpha"`
	Correction string           `json:"correction"`
	Family     int              `json:"family"`
	Counts     map[Verdict]int  `json:"counts"`
	Cases      []MergedCaseJSON `json:"cases"`
}

// MergedCaseJSON is one case: its verdict in the family and on its own,
// where its result came from, e2e medians and change, and the p-value
// tested with Holm's threshold for it (null when not in the family).
type MergedCaseJSON struct {
	Name        string  `json:"name"`
	Verdict     Verdict `json:"verdict"`
	CaseVerdict Verdict `json:"case_verdict,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	Source      string  `json:"source,omitempty"`
	GPU         string  `json:"gpu,omitempty"`
	Model       string  `json:"model,omitempty"`
	BaseE2EMs   Num     `json:"base_e2e_ms"`
	HeadE2EMs   Num     `json:"head_e2e_ms"`
	E2EDeltaPct Num     `json:"e2e_delta_pct"`
	P           Num     `json:"p"`
	HolmLimit   Num     `json:"holm_limit"`
	Accepted    bool    `json:"accepted"`
}

// MarshalMergedJSON renders a Merged as indented JSON with a newline.
func MarshalMergedJSON(m *Merged) ([]byte, error) {
	j := MergedJSON{Schema: MergedSchemaVersion, Verdict: m.Verdict, Reason: m.Reason, Accepted: m.Accepted,
		Alpha: m.Alpha, Correction: "holm", Family: m.Family, Counts: m.Counts(), Cases: []MergedCaseJSON{}}
	for _, c := range m.Cases {
		cj := MergedCaseJSON{Name: c.Name, Verdict: c.Verdict, Source: c.Source, P: Num(c.P), HolmLimit: Num(c.Limit),
			BaseE2EMs: Num(math.NaN()), HeadE2EMs: Num(math.NaN()), E2EDeltaPct: Num(math.NaN())}
		if r := c.Result; r != nil {
			cj.CaseVerdict, cj.Reason, cj.GPU, cj.Model, cj.Accepted = r.Verdict, r.Reason, r.gpuName(), r.Model, m.Accepted
			if e := r.Metric(MetricE2E); e != nil {
				cj.BaseE2EMs, cj.HeadE2EMs, cj.E2EDeltaPct = Num(e.Base.Median), Num(e.Head.Median), Num(e.DeltaPct)
			}
		}
		j.Cases = append(j.Cases, cj)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

package bisect

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/report"
)

// Schema names the layout of the JSON report (docs/bisect.md).
const Schema = "diffperf-bisect/v1"

// Marker is the hidden first line of the bisect comment on an issue or a
// pull request, and IssueBlockStart and IssueBlockEnd enclose the block
// that names the culprit in an issue's body.
const (
	Marker          = "bisect"
	IssueBlockStart = "<!-- diffperf-bisect -->"
	IssueBlockEnd   = "<!-- /diffperf-bisect -->"
)

// Row is one measured commit: its samples over every comparison it took
// part in.
type Row struct {
	Commit Commit
	// Index is its position in the range (0 for good).
	Index int
	// Values are its E2E samples (ms), in the order measured.
	Values []float64
	State  State
	// As is what an ambiguous commit was taken for.
	As      State
	Culprit bool
}

// Median and MAD (median absolute deviation) of the row's samples, in ms.
func (r Row) Median() float64 { return report.Median(r.Values) }

// MAD is the median absolute deviation of the row's samples, in ms.
func (r Row) MAD() float64 {
	m := r.Median()
	dev := make([]float64, len(r.Values))
	for i, v := range r.Values {
		dev[i] = math.Abs(v - m)
	}
	return report.Median(dev)
}

// Rows is a row per measured commit, in range order.
func (res *Result) Rows() []Row {
	byIndex := map[int]*Row{}
	add := func(sha string, x *report.Result, head bool) {
		i := res.Range.Index(sha)
		if i < 0 || x == nil {
			return
		}
		row := byIndex[i]
		if row == nil {
			c := res.Range.Good
			if i > 0 {
				c = res.Range.Commits[i-1]
			}
			row = &Row{Commit: c, Index: i}
			byIndex[i] = row
		}
		for y := x; y != nil; y = y.Confirmation {
			side := y.Base
			if head {
				side = y.Head
			}
			for _, run := range side.Runs {
				if run.Dump != nil {
					row.Values = append(row.Values, run.Dump.TotalMs)
				}
			}
		}
	}
	pair := func(a, b string, x *report.Result) {
		add(a, x, false)
		add(b, x, true)
	}
	good, bad := res.Range.Good.SHA, res.Range.Commits[len(res.Range.Commits)-1].SHA
	pair(good, bad, res.Initial)
	for _, s := range res.Steps {
		pair(s.Good, s.Commit.SHA, s.VsGood)
		pair(s.Commit.SHA, s.Bad, s.VsBad)
		add(s.Commit.SHA, &report.Result{}, false) // a skipped commit has a row too
	}
	if res.Confirmation != nil {
		pair(res.LastGood.SHA, res.FirstBad.SHA, res.Confirmation)
	}
	states := map[int]State{0: Good, len(res.Range.Commits): Bad}
	as := map[int]State{}
	for _, s := range res.Steps {
		states[s.Index], as[s.Index] = s.State, s.As
	}
	var out []Row
	for i, row := range byIndex {
		row.State, row.As = states[i], as[i]
		row.Culprit = res.Culprit != nil && res.Culprit.SHA == row.Commit.SHA
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b Row) int { return a.Index - b.Index })
	return out
}

// Change is the change at the culprit (or between the last good and the
// first bad commit) on the metric that moved.
type Change struct {
	Metric, Name, Unit string
	Before, After      report.Stats
	DeltaAbs, DeltaPct float64
	P                  float64
	Verdict            report.Verdict
}

// Change is the confirmation's change on the metric that moved; nil
// without one.
func (res *Result) Change() *Change {
	if res.Confirmation == nil || res.Confirmation.Verdict == report.Failed {
		return nil
	}
	m := res.Confirmation.Metric(movedMetric(res.Initial))
	if m == nil {
		return nil
	}
	return &Change{Metric: m.ID, Name: m.Name, Unit: m.Unit, Before: m.Base, After: m.Head, DeltaAbs: m.DeltaAbs, DeltaPct: m.DeltaPct, P: m.P, Verdict: res.Confirmation.Verdict}
}

// RenderOptions control the Markdown of a Result.
type RenderOptions struct {
	// Marker, when set, is written first as a hidden comment that finds
	// the bisect comment again.
	Marker string
	// Reproduce is the command line that repeats the bisection.
	Reproduce string
}

var stateMark = map[State]string{Good: "good", Bad: "bad", Skip: "skip", Ambiguous: "ambiguous"}

// Headline is the first line of the report, in words: the culprit and its
// change, or why there is none.
func (res *Result) Headline() string {
	switch {
	case res.Culprit != nil:
		c := res.Change()
		what := string(res.Direction)
		if c != nil {
			what = fmt.Sprintf("%s %s", c.Name, report.FormatPct(c.DeltaPct))
		}
		state := "confirmed"
		if !res.Confirmed {
			state = "unconfirmed"
		}
		return fmt.Sprintf("%s made the change (%s, %s)", report.Code(short(res.Culprit.SHA)), report.Escape(what), state)
	case len(res.Candidates) > 0:
		return fmt.Sprintf("the change is in one of %d commits up to %s", len(res.Candidates), report.Code(short(res.FirstBad.SHA)))
	case res.Direction == report.NoChange:
		return "no culprit: good and bad do not differ"
	case res.Direction == report.Inconclusive:
		return "no culprit: good and bad could not be told apart"
	}
	return "no culprit"
}

// Markdown renders the report: the culprit and its change, a row per
// measured commit, the steps, the stage breakdown of the culprit against
// its parent, the time spent and how to reproduce. Commit subjects and
// author names go through report.Escape. It is deterministic for a given
// Result.
func Markdown(res *Result, opt RenderOptions) string {
	var b strings.Builder
	if opt.Marker != "" {
		b.WriteString(comment.MarkerLine(opt.Marker) + "\n")
	}
	fmt.Fprintf(&b, "## 🔎 diffperf bisect: %s\n\n", res.Headline())
	good, bad := res.Range.Good, res.Range.Commits[len(res.Range.Commits)-1]
	fmt.Fprintf(&b, "Range: %d first-parent commits after %s (good) up to %s (bad)", len(res.Range.Commits), report.Code(short(good.SHA)), report.Code(short(bad.SHA)))
	if res.Initial != nil && res.Initial.Verdict != report.Failed {
		fmt.Fprintf(&b, "; bad against good: %s", report.Escape(res.Initial.Reason))
	}
	b.WriteString(".\n\n")
	if c := res.Culprit; c != nil {
		fmt.Fprintf(&b, "**Culprit:** %s\n\n", describeCommit(*c))
	}
	if len(res.Candidates) > 0 {
		b.WriteString("**Candidates** (skipped commits leave more than one):\n\n")
		for _, c := range res.Candidates {
			fmt.Fprintf(&b, "- %s\n", describeCommit(c))
		}
		b.WriteString("\n")
	}
	if c := res.Change(); c != nil {
		against := "its parent"
		if res.Culprit == nil {
			against = "the last good commit " + report.Code(short(res.LastGood.SHA))
		}
		fmt.Fprintf(&b, "**Change:** %s %s %s%s → %s %s%s, %s %s (%s), p %s, measured against %s: %s.\n\n",
			report.Escape(c.Name), report.FormatMs(c.Before.Median), report.Escape(c.Unit), interval(c.Before),
			report.FormatMs(c.After.Median), report.Escape(c.Unit), interval(c.After),
			report.FormatSigned(c.DeltaAbs), report.Escape(c.Unit), report.FormatPct(c.DeltaPct), report.FormatP(c.P), against, c.Verdict)
		if interval(c.Before) != "" {
			b.WriteString("In brackets, the medians' confidence intervals.\n\n")
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "- %s\n", report.Escape(n))
	}
	if len(res.Notes) > 0 {
		b.WriteString("\n")
	}

	b.WriteString("### Commits measured\n\n| # | commit | subject | E2E median ± MAD (ms) | n | state |\n| ---: | --- | --- | ---: | ---: | --- |\n")
	for _, row := range res.Rows() {
		state := stateMark[row.State]
		if row.State == Ambiguous {
			state += " (taken as " + string(row.As) + ")"
		}
		if row.Culprit {
			state = "**" + state + ", culprit** ⬅"
		}
		med := "-"
		if len(row.Values) > 0 {
			med = report.FormatMs(row.Median()) + " ± " + report.FormatMs(row.MAD())
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %s |\n", row.Index, report.Code(short(row.Commit.SHA)), report.Escape(row.Commit.Subject), med, len(row.Values), state)
	}
	b.WriteString("\n")

	if len(res.Steps) > 0 {
		b.WriteString("### Steps\n\nEach step measures the midpoint against a fresh run of the current good and bad commits, so drift shows in their medians.\n\n")
		b.WriteString("| step | commit | good median | midpoint median | bad median | against good | against bad | state |\n| ---: | --- | ---: | ---: | ---: | --- | --- | --- |\n")
		id := movedMetric(res.Initial)
		for _, s := range res.Steps {
			state := string(s.State)
			if s.State == Ambiguous {
				state += " (taken as " + string(s.As) + ")"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", s.N, report.Code(short(s.Commit.SHA)),
				report.FormatMs(median(s.VsGood, id, false)), report.FormatMs(median(s.VsGood, id, true)), report.FormatMs(median(s.VsBad, id, true)),
				verdictOf(s.VsGood), verdictOf(s.VsBad), state)
		}
		b.WriteString("\n")
	}

	if r := res.Confirmation; r != nil && r.Verdict != report.Failed {
		fmt.Fprintf(&b, "<details>\n<summary>Stage breakdown: %s against %s</summary>\n\n%s\n</details>\n\n",
			report.Code(short(res.FirstBad.SHA)), report.Code(short(res.LastGood.SHA)), strings.TrimRight(report.StageTable(r), "\n"))
	}
	fmt.Fprintf(&b, "GPU time: %s over %d comparisons (%d runs).\n\n", res.Elapsed.Round(time.Second), res.comparisons(), res.Runs)
	if opt.Reproduce != "" {
		fmt.Fprintf(&b, "<details>\n<summary>Reproduce</summary>\n\n<pre>\n%s\n</pre>\n</details>\n", report.EscapePre(opt.Reproduce))
	}
	return b.String()
}

// interval is a median's confidence interval in brackets, or "" when the
// runs are too few for one.
func interval(st report.Stats) string {
	if math.IsInf(st.Lo, 0) || math.IsInf(st.Hi, 0) || math.IsNaN(st.Lo) || math.IsNaN(st.Hi) {
		return ""
	}
	return fmt.Sprintf(" [%s, %s]", report.FormatMs(st.Lo), report.FormatMs(st.Hi))
}

func verdictOf(r *report.Result) string {
	if r == nil {
		return "-"
	}
	return string(r.Verdict)
}

// comparisons counts the measurements made.
func (res *Result) comparisons() int {
	n := 0
	if res.Initial != nil {
		n++
	}
	for _, s := range res.Steps {
		for _, x := range []*report.Result{s.VsGood, s.VsBad} {
			if x != nil {
				n++
			}
		}
	}
	if res.Confirmation != nil {
		n++
	}
	return n
}

// describeCommit is a commit for the report: SHA, subject, author, date
// and its pull request.
func describeCommit(c Commit) string {
	s := fmt.Sprintf("%s %s by %s, %s", report.Code(c.SHA), report.Escape(c.Subject), report.Escape(c.Author), report.Escape(c.Date))
	if c.PR > 0 {
		s += fmt.Sprintf(" (pull request #%d)", c.PR)
	}
	return s
}

// IssueBlock is the block of an issue's body that names the culprit,
// between IssueBlockStart and IssueBlockEnd.
func IssueBlock(res *Result, commentURL string) string {
	var b strings.Builder
	b.WriteString(IssueBlockStart + "\n")
	fmt.Fprintf(&b, "**Bisect:** %s", res.Headline())
	if c := res.Culprit; c != nil {
		fmt.Fprintf(&b, ": %s", describeCommit(*c))
	}
	if commentURL != "" {
		fmt.Fprintf(&b, " ([the bisect report](%s))", commentURL)
	}
	b.WriteString("\n" + IssueBlockEnd)
	return b.String()
}

// WithIssueBlock returns body with block in place of the one it holds, or
// with block appended when it holds none.
func WithIssueBlock(body, block string) string {
	// The block is the first end marker and the last start marker before
	// it, so that a stray start marker in the text is never the block.
	if end := strings.Index(body, IssueBlockEnd); end >= 0 {
		if start := strings.LastIndex(body[:end], IssueBlockStart); start >= 0 {
			return body[:start] + block + body[end+len(IssueBlockEnd):]
		}
	}
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	if body != "" {
		body += "\n"
	}
	return body + block + "\n"
}

// JSON is the report for machines (docs/bisect.md describes it).
type JSON struct {
	Schema     string         `json:"schema"`
	Good       Commit         `json:"good"`
	Bad        Commit         `json:"bad"`
	Commits    int            `json:"commits"`
	Direction  report.Verdict `json:"direction"`
	Metric     string         `json:"metric"`
	Culprit    *Commit        `json:"culprit"`
	Confirmed  bool           `json:"confirmed"`
	Candidates []Commit       `json:"candidates,omitempty"`
	LastGood   string         `json:"last_good,omitempty"`
	FirstBad   string         `json:"first_bad,omitempty"`
	Change     *JSONChange    `json:"change,omitempty"`
	Steps      []JSONStep     `json:"steps"`
	Measured   []JSONRow      `json:"measured"`
	Notes      []string       `json:"notes"`
	GPUSeconds float64        `json:"gpu_seconds"`
	Runs       int            `json:"runs"`
	Reproduce  string         `json:"reproduce,omitempty"`
	// Confirmation is the culprit against its parent as result.json
	// writes a comparison (docs/result-json.md).
	Confirmation *report.JSON `json:"confirmation,omitempty"`
}

// JSONChange is Change in JSON.
type JSONChange struct {
	Metric   string         `json:"metric"`
	Unit     string         `json:"unit"`
	Before   JSONStats      `json:"before"`
	After    JSONStats      `json:"after"`
	Delta    float64        `json:"delta"`
	DeltaPct float64        `json:"delta_pct"`
	P        *float64       `json:"p"`
	Verdict  report.Verdict `json:"verdict"`
}

// JSONStats is a median with its confidence interval; lo and hi are null
// when the runs are too few for one.
type JSONStats struct {
	Median float64  `json:"median"`
	Lo     *float64 `json:"lo"`
	Hi     *float64 `json:"hi"`
}

// JSONStep is a Step in JSON.
type JSONStep struct {
	Step         int            `json:"step"`
	Index        int            `json:"index"`
	SHA          string         `json:"sha"`
	State        State          `json:"state"`
	As           State          `json:"as"`
	Good         string         `json:"good"`
	Bad          string         `json:"bad"`
	GoodMedian   *float64       `json:"good_median"`
	Median       *float64       `json:"median"`
	BadMedian    *float64       `json:"bad_median"`
	AgainstGood  report.Verdict `json:"against_good,omitempty"`
	AgainstBad   report.Verdict `json:"against_bad,omitempty"`
	Why          string         `json:"why"`
	SecondsSpent float64        `json:"seconds"`
}

// JSONRow is a Row in JSON.
type JSONRow struct {
	Index    int      `json:"index"`
	SHA      string   `json:"sha"`
	Subject  string   `json:"subject"`
	MedianMs *float64 `json:"median_ms"`
	MADMs    *float64 `json:"mad_ms"`
	N        int      `json:"n"`
	State    State    `json:"state"`
	As       State    `json:"as,omitempty"`
	Culprit  bool     `json:"culprit"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// ToJSON is the report for machines.
func ToJSON(res *Result, reproduce string) *JSON {
	bad := res.Range.Commits[len(res.Range.Commits)-1]
	j := &JSON{Schema: Schema, Good: res.Range.Good, Bad: bad, Commits: len(res.Range.Commits), Direction: res.Direction,
		Metric: movedMetric(res.Initial), Culprit: res.Culprit, Confirmed: res.Confirmed, Candidates: res.Candidates,
		Notes: append([]string{}, res.Notes...), GPUSeconds: math.Round(res.Elapsed.Seconds()*1000) / 1000, Runs: res.Runs, Reproduce: reproduce,
		Steps: []JSONStep{}, Measured: []JSONRow{}}
	if res.Culprit != nil || len(res.Candidates) > 0 {
		j.LastGood, j.FirstBad = res.LastGood.SHA, res.FirstBad.SHA
	}
	if c := res.Change(); c != nil {
		j.Change = &JSONChange{Metric: c.Metric, Unit: c.Unit, Before: JSONStats{c.Before.Median, num(c.Before.Lo), num(c.Before.Hi)},
			After: JSONStats{c.After.Median, num(c.After.Lo), num(c.After.Hi)}, Delta: c.DeltaAbs, DeltaPct: c.DeltaPct, P: num(c.P), Verdict: c.Verdict}
	}
	id := j.Metric
	for _, s := range res.Steps {
		js := JSONStep{Step: s.N, Index: s.Index, SHA: s.Commit.SHA, State: s.State, As: s.As, Good: s.Good, Bad: s.Bad, Why: s.Why,
			SecondsSpent: math.Round(s.Elapsed.Seconds()*1000) / 1000}
		if s.VsGood != nil && s.VsGood.Verdict != report.Failed {
			js.GoodMedian, js.Median, js.AgainstGood = num(median(s.VsGood, id, false)), num(median(s.VsGood, id, true)), s.VsGood.Verdict
		}
		if s.VsBad != nil && s.VsBad.Verdict != report.Failed {
			js.BadMedian, js.AgainstBad = num(median(s.VsBad, id, true)), s.VsBad.Verdict
		}
		j.Steps = append(j.Steps, js)
	}
	for _, row := range res.Rows() {
		jr := JSONRow{Index: row.Index, SHA: row.Commit.SHA, Subject: row.Commit.Subject, N: len(row.Values), State: row.State, Culprit: row.Culprit}
		if row.State == Ambiguous {
			jr.As = row.As
		}
		if len(row.Values) > 0 {
			jr.MedianMs, jr.MADMs = num(row.Median()), num(row.MAD())
		}
		j.Measured = append(j.Measured, jr)
	}
	if res.Confirmation != nil {
		j.Confirmation = report.ToJSON(res.Confirmation)
	}
	return j
}

// MarshalJSON is the JSON report, indented, with a final newline.
func MarshalJSON(res *Result, reproduce string) ([]byte, error) {
	b, err := json.MarshalIndent(ToJSON(res, reproduce), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

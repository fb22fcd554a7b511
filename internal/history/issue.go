package history

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/diffperf/diffperf/internal/changepoint"
	"github.com/diffperf/diffperf/internal/report"
)

// The labels of change-point issues.
const (
	LabelRegression  = "perf-regression"
	LabelImprovement = "perf-improvement"
	// LabelInvalid on an issue says the change point was wrong: it is
	// never edited or filed again.
	LabelInvalid = "invalid"
)

// IssueMarker is the hidden first line of the issue of the change points at
// commit.
func IssueMarker(commit string) string { return "<!-- diffperf-cp:" + commit + " -->" }

// Moved is one confirmed change point of a case and metric.
type Moved struct {
	Series *MetricSeries
	CP     changepoint.ChangePoint
}

// IssueDraft is the issue of every confirmed change point at one commit.
type IssueDraft struct {
	Commit       string
	Title, Body  string
	Label        string
	Moved        []Moved
	Confirmation []Record // the confirmations, by case
	// Good and Bad are the range to bisect when it spans several commits
	// (the point before the change point and the change point's commit);
	// empty when it is one commit.
	Good, Bad string
}

// DraftOptions are what an issue links to besides the commits.
type DraftOptions struct {
	// CaseURL is the address of a case's dashboard page, by case key; nil
	// or "": no link.
	CaseURL func(key string) string
	// BisectWorkflow is the workflow that the history job dispatches to
	// bisect a range of several commits; "": none, the issue says to run
	// the command by hand.
	BisectWorkflow string
	// Parent is a commit's first parent in the repository, "" when not
	// known; where it is not known, the commit the change point's head
	// line was measured against stands in for it (right for pushes of one
	// commit).
	Parent func(commit string) string
}

// The block of an issue's body that the bisect job writes; the history job
// keeps it verbatim when it edits the issue.
const (
	BisectStart = "<!-- diffperf-bisect -->"
	BisectEnd   = "<!-- /diffperf-bisect -->"
)

// bisectPending is the line of a draft that a bisect block replaces.
const bisectPending = "<!-- diffperf-bisect-pending -->"

// BisectBlock is the bisect block of body, markers included, or "".
func BisectBlock(body string) string {
	i := strings.Index(body, BisectStart)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], BisectEnd)
	if j < 0 {
		return ""
	}
	return body[i : i+j+len(BisectEnd)]
}

// KeepBisect is body (a new draft's) with the bisect block of old (the
// issue's current body) kept verbatim: in place of the draft's line that
// says the bisect has not reported, or at the end when the draft has
// none. Without a block in old, body is unchanged.
func KeepBisect(body, old string) string {
	block := BisectBlock(old)
	if block == "" || strings.Contains(body, block) {
		return body
	}
	if i := strings.Index(body, bisectPending); i >= 0 {
		end := strings.IndexByte(body[i:], '\n')
		if end < 0 {
			end = len(body) - i
		}
		return body[:i] + block + body[i+end:]
	}
	return strings.TrimRight(body, "\n") + "\n\n" + block + "\n"
}

// metricTitle is a metric's short name in an issue's title.
func metricTitle(ms *MetricSeries) string {
	switch ms.Metric {
	case "e2e":
		return "E2E"
	case "denoise.step_median":
		return "denoise step"
	case "memory.peak_allocated":
		return "peak memory"
	}
	return cmpOr(ms.Name, ms.Metric)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ConfirmedByCommit groups the change points of all that are confirmed in
// st (their case's confirmation at that commit held for their metric) by
// commit, in the order of the first one found.
func ConfirmedByCommit(all []MetricSeries, st State) (commits []string, moved map[string][]Moved) {
	moved = map[string][]Moved{}
	for i := range all {
		ms := &all[i]
		for _, cp := range ms.ChangePoints {
			rec, ok := st.Confirmation(cp.Commit, ms.Key)
			if !ok || !rec.Confirmed || !slices.ContainsFunc(rec.Metrics, func(m ConfirmedMetric) bool { return m.ID == ms.Metric && m.Held }) {
				continue
			}
			if _, ok := moved[cp.Commit]; !ok {
				commits = append(commits, cp.Commit)
			}
			moved[cp.Commit] = append(moved[cp.Commit], Moved{Series: ms, CP: cp})
		}
	}
	return commits, moved
}

// Draft renders the issue of the change points moved at commit: title,
// label and Markdown body, with repoURL (https://github.com/owner/name)
// for commit links, lines the store's (for the stage breakdown and the
// commit range), st the confirmations and opt the dashboard's pages and
// the bisect workflow. Every text that comes from the store is escaped.
func Draft(commit string, moved []Moved, lines []Line, st State, repoURL string, opt DraftOptions) IssueDraft {
	head := moved[0]
	for _, m := range moved {
		if m.Series.Metric == "e2e" {
			head = m
			break
		}
	}
	var cases []string
	for _, m := range moved {
		if !slices.Contains(cases, m.Series.Key) {
			cases = append(cases, m.Series.Key)
		}
	}
	short := commit[:min(7, len(commit))]
	where := head.Series.Key
	if n := len(cases) - 1; n > 0 {
		where += fmt.Sprintf(", %d more case%s", n, plural(n))
	}
	d := IssueDraft{Commit: commit, Moved: moved, Label: LabelImprovement}
	if head.CP.ChangePct > 0 {
		d.Label = LabelRegression
	}
	d.Title = fmt.Sprintf("perf: %s %s at %s (%s)", metricTitle(head.Series), report.FormatPct(head.CP.ChangePct), short, where)
	d.Title = strings.NewReplacer("\n", " ", "\r", " ").Replace(d.Title)

	var b strings.Builder
	b.WriteString(IssueMarker(commit) + "\n")
	kind := "regression"
	if d.Label == LabelImprovement {
		kind = "improvement"
	}
	commitLink := func(sha string) string {
		return fmt.Sprintf("[%s](%s/commit/%s)", report.Code(sha[:min(12, len(sha))]), strings.TrimRight(repoURL, "/"), sha)
	}
	fmt.Fprintf(&b, "## perf %s at %s\n\n", kind, commitLink(commit))
	b.WriteString("diffperf's history of the default branch found a change point here, and measured it again " +
		"(its first commit against the point before it, interleaved, with a confirming batch): the change held.\n\n")
	b.WriteString("| case | metric | before (median) | after (median) | change | p (history) | re-measured |\n| --- | --- | ---: | ---: | ---: | ---: | --- |\n")
	for _, m := range moved {
		re := "-"
		if rec, ok := st.Confirmation(commit, m.Series.Key); ok {
			for _, cm := range rec.Metrics {
				if cm.ID == m.Series.Metric {
					re = fmt.Sprintf("%s (p %s) against %s", report.FormatPct(cm.ChangePct), report.FormatP(cm.P), report.Code(shortHash(rec.Against)))
				}
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s | %s %s | %s | %s | %s |\n", report.Escape(m.Series.Key), report.Escape(cmpOr(m.Series.Name, m.Series.Metric)),
			num(m.CP.BeforeMedian), report.Escape(m.Series.Unit), num(m.CP.AfterMedian), report.Escape(m.Series.Unit),
			report.FormatPct(m.CP.ChangePct), strconv.FormatFloat(m.CP.P, 'g', 2, 64), re)
	}

	// The commit range: from the point before to the change point's.
	prev := ""
	if i := head.CP.Index; i > 0 {
		prev = head.Series.Points[i-1].Commit
	}
	b.WriteString("\n### Commit range\n\n")
	parent := parentOf(lines, head.Series.Key, commit)
	if opt.Parent != nil {
		if p := opt.Parent(commit); p != "" {
			parent = p
		}
	}
	switch {
	case prev == "":
		fmt.Fprintf(&b, "The change point is the first point of its series: %s.\n", commitLink(commit))
	case parent == prev:
		fmt.Fprintf(&b, "One commit: %s, measured against its parent %s.\n", commitLink(commit), commitLink(prev))
	default:
		d.Good, d.Bad = prev, commit
		fmt.Fprintf(&b, "Several commits, after %s up to %s (the points between them were not measured). "+
			"To find the culprit:\n\n```\ndiffperf bisect --good %s --bad %s\n```\n\n", commitLink(prev), commitLink(commit), prev, commit)
		if opt.BisectWorkflow != "" {
			fmt.Fprintf(&b, "%s The history job dispatches the workflow %s to run it; its result replaces this line.\n", bisectPending, report.Ref(opt.BisectWorkflow))
		} else {
			fmt.Fprintf(&b, "%s Not run yet.\n", bisectPending)
		}
	}

	for _, m := range moved {
		fmt.Fprintf(&b, "\n### %s, %s: up to 10 points each side\n\n", report.Escape(m.Series.Key), report.Escape(cmpOr(m.Series.Name, m.Series.Metric)))
		b.WriteString("| point | commit | median | n | |\n| ---: | --- | ---: | ---: | --- |\n")
		lo, hi := max(0, m.CP.Index-10), min(len(m.Series.Points), m.CP.Index+10)
		for i := lo; i < hi; i++ {
			p := m.Series.Points[i]
			note := ""
			if i == m.CP.Index {
				note = "← change point"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %d | %s |\n", i, report.Code(shortHash(p.Commit)), num(median(p.Samples)), len(p.Samples), note)
		}
	}

	for _, key := range cases {
		if table := stageBreakdown(lines, key, commit); table != "" {
			fmt.Fprintf(&b, "\n### Stage breakdown of %s (medians of up to 10 points each side)\n\n%s", report.Escape(key), table)
		}
	}

	if opt.CaseURL != nil {
		var links []string
		for _, key := range cases {
			if u := opt.CaseURL(key); u != "" {
				links = append(links, fmt.Sprintf("[%s](%s)", report.Escape(key), u))
			}
		}
		if len(links) > 0 {
			fmt.Fprintf(&b, "\n### Dashboard\n\nThe whole series, with every change point and environment change: %s.\n", strings.Join(links, ", "))
		}
	}

	b.WriteString("\n### Environment\n\n")
	envNote := ""
	for _, m := range moved {
		for _, e := range m.Series.EnvBreaks {
			if e.Index == m.CP.Index && !strings.Contains(envNote, e.To) {
				envNote += fmt.Sprintf("- %s: %s → %s\n", report.Escape(m.Series.Key), report.Escape(cmpOr(e.From, "unknown")), report.Escape(cmpOr(e.To, "unknown")))
			}
		}
	}
	if envNote == "" {
		envNote = "No change of GPU, driver, CUDA or torch at this point: the change is the code's.\n"
	}
	b.WriteString(envNote)
	b.WriteString("\nThis issue is edited when the change point moves or grows; closing it (or labelling it `invalid`) stops that, and it is never filed again.\n")
	d.Body = b.String()
	return d
}

// parentOf is the base commit that commit's head line of case key was
// measured against ("" when none is stored).
func parentOf(lines []Line, key, commit string) string {
	for _, l := range lines {
		if l.Case.Key == key && l.Commit == commit && l.Side == SideHead && l.Parent != "" {
			return l.Parent
		}
	}
	return ""
}

// stageBreakdown is a table of each stage's median over up to 10 points
// before the change point's commit and from it, in case key's series.
func stageBreakdown(lines []Line, key, commit string) string {
	series := Series(lines, key)
	var ids []string
	for _, l := range series {
		for _, m := range l.Metrics {
			if strings.HasPrefix(m.ID, "stage:") && !slices.Contains(ids, m.ID) {
				ids = append(ids, m.ID)
			}
		}
	}
	var b strings.Builder
	for _, id := range ids {
		pts := Points(series, id)
		at := slices.IndexFunc(pts, func(p Point) bool { return p.Commit == commit })
		if at <= 0 {
			continue
		}
		var before, after []float64
		for _, p := range pts[max(0, at-10):at] {
			before = append(before, median(p.Samples))
		}
		for _, p := range pts[at:min(len(pts), at+10)] {
			after = append(after, median(p.Samples))
		}
		bm, am := median(before), median(after)
		pct := 0.0
		if bm != 0 {
			pct = (am/bm - 1) * 100
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", report.Escape(strings.TrimPrefix(id, "stage:")), num(bm), num(am), report.FormatPct(pct))
	}
	if b.Len() == 0 {
		return ""
	}
	return "| stage | before (ms) | after (ms) | change |\n| --- | ---: | ---: | ---: |\n" + b.String()
}

func shortHash(s string) string { return s[:min(12, len(s))] }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

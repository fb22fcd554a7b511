package report

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

// RenderOptions control the Markdown of a Result.
type RenderOptions struct {
	// Marker, when set, is written first as the hidden comment
	// <!-- diffperf:Marker --> that finds the comment again.
	Marker string
	// MaxChars bounds the output in characters. 0 means no bound, but for
	// a comment (Marker set): GitHub's limit on a comment's body.
	// Collapsed details are dropped first, with a note, then stage rows.
	MaxChars int
	// State, with Marker, writes the hidden StateLine second, so that a
	// later accept label can flip the gate without measuring again.
	State bool
	// Context is the status context the state line records ("" for
	// none posted).
	Context string
}

// limit is MaxChars; when it is not set, GitHub's limit for a comment and
// no limit for a document without a marker.
func (o RenderOptions) limit() int {
	switch {
	case o.MaxChars <= 0 && o.Marker != "":
		return comment.MaxCommentChars
	case o.MaxChars <= 0:
		return math.MaxInt
	}
	return o.MaxChars
}

// single reports whether each side has exactly one run, the case where the
// tables reproduce compare_perf.py's output for the same two files.
func (r *Result) single() bool { return len(r.Base.Runs) == 1 && len(r.Head.Runs) == 1 }

// Markdown renders the report: the headline, compare_perf.py's two tables,
// then collapsed details. It is deterministic for a given Result.
func Markdown(r *Result, opt RenderOptions) string {
	limit := opt.limit()
	head := ""
	if opt.Marker != "" {
		head = comment.MarkerLine(opt.Marker) + "\n"
		if opt.State {
			head += StateLine(r, opt.Context) + "\n"
		}
	}
	head += r.headline()
	stages := r.stageRows()
	details := r.details()

	build := func(nStages int, nDetails int, dropped []string) string {
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(r.tables(stages, nStages))
		for _, d := range details[:nDetails] {
			b.WriteString(d.text)
		}
		if len(dropped) > 0 {
			fmt.Fprintf(&b, "\n_Left out to stay within %d characters: %s. The run's report.md and result.json have everything._\n",
				limit, strings.Join(dropped, ", "))
		}
		return b.String()
	}
	var dropped []string
	n := len(details)
	out := build(len(stages), n, nil)
	for utf8.RuneCountInString(out) > limit && n > 0 {
		n--
		dropped = append([]string{details[n].title}, dropped...)
		out = build(len(stages), n, dropped)
	}
	ns := len(stages)
	for utf8.RuneCountInString(out) > limit && ns > 0 {
		// Cut stage rows in steps that shrink fast but keep what fits.
		ns = ns * 3 / 4
		out = build(ns, 0, append(dropped, fmt.Sprintf("%d stage rows", len(stages)-ns)))
	}
	if utf8.RuneCountInString(out) > limit {
		// Only the headline is left and it is still too long: cut it at a
		// line, never inside the marker.
		runes := []rune(out)
		out = string(runes[:limit-len("\n…\n")])
		if i := strings.LastIndexByte(out, '\n'); i > len(head)/2 {
			out = out[:i]
		}
		out += "\n…\n"
	}
	return out
}

var verdictEmoji = map[Verdict]string{
	Failed:       "💥",
	Regression:   "❌",
	Inconclusive: "❔",
	Improvement:  "✅",
	NoChange:     "⚪️",
}

func (r *Result) headline() string {
	var b strings.Builder
	switch {
	case r.Verdict == Regression:
		b.WriteString(regressionHeadingText(r.AcceptLabel, r.Accepted, ""))
	case r.Verdict == Failed && r.AcceptLabel != "":
		fmt.Fprintf(&b, "## %s diffperf: %s\n\n%s", verdictEmoji[r.Verdict], r.Verdict, failedHint)
	default:
		fmt.Fprintf(&b, "## %s diffperf: %s\n\n", verdictEmoji[r.Verdict], r.Verdict)
	}

	var facts []string
	if e2e := r.Metric(MetricE2E); e2e != nil {
		change := fmt.Sprintf("E2E %s", FormatPct(e2e.DeltaPct))
		if r.Verdict != Failed {
			change = "**" + change + "**" // a failed measurement's change is no finding
		}
		facts = append(facts, fmt.Sprintf("%s (%s → %s ms)", change, FormatMs(e2e.Base.Median), FormatMs(e2e.Head.Median)))
		facts = append(facts, "p="+FormatP(e2e.P))
	}
	facts = append(facts, fmt.Sprintf("n=%d+%d", len(r.Base.Runs), len(r.Head.Runs)))
	if nb, nh := r.launchCounts(); nb+nh > 0 {
		facts[len(facts)-1] += fmt.Sprintf(" in %d+%d launches", nb, nh)
	}
	if gpu := r.gpuName(); gpu != "" {
		facts = append(facts, Escape(gpu))
	}
	if r.Model != "" {
		facts = append(facts, "model "+Escape(r.Model))
	}
	b.WriteString(strings.Join(facts, " · "))
	b.WriteString("\n\n")
	if r.Request != nil {
		b.WriteString(r.Request.markdown() + "\n")
	}
	if r.Reason != "" && r.Failure == nil {
		fmt.Fprintf(&b, "%s.\n", Escape(upperFirst(r.Reason)))
	}
	if c := r.Confirmation; c != nil {
		what := "confirmed"
		if c.Verdict != Regression {
			what = "not confirmed"
		}
		line := fmt.Sprintf("A second, independent batch %s it: %s", what, string(c.Verdict))
		if e := c.Metric(MetricE2E); e != nil {
			line += fmt.Sprintf(", E2E %s, p=%s, n=%d+%d", FormatPct(e.DeltaPct), FormatP(e.P), len(e.Base.Values), len(e.Head.Values))
			if e.Samples != "" {
				line += " " + Escape(e.Samples)
			}
		}
		fmt.Fprintf(&b, "\n%s.\n", line)
	}
	if len(r.Launches) > 0 {
		fmt.Fprintf(&b, "\n%s\n", Escape(r.servedLine()))
	}
	if r.MergeBase {
		fmt.Fprintf(&b, "\nThe base side is the merge base %s of %s and %s.\n", Code(short(r.Base.SHA)), Ref(r.Base.Ref), Ref(r.Head.Ref))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n%s\n", Escape(n))
	}
	if e := r.Env; e != nil && e.Sandbox == "none" && e.SandboxNote != "" {
		fmt.Fprintf(&b, "\n%s\n", Escape(e.SandboxNote))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "\n> [!WARNING]\n> %s\n", Escape(w))
	}
	if f := r.Failure; f != nil {
		where := "The measurement failed"
		if f.Side != "" {
			where = failureWhere(f)
			if strings.HasPrefix(strings.ToLower(f.Reason), strings.ToLower(strings.TrimSuffix(where, " failed"))) {
				where = "Failed" // the reason names the run; say it once
			}
		}
		fmt.Fprintf(&b, "\n**%s:** %s\n", Escape(where), Escape(f.Reason))
		if f.LogTail != "" {
			fmt.Fprintf(&b, "\n<details open>\n<summary>Log tail</summary>\n\n<pre>\n%s\n</pre>\n</details>\n", EscapePre(tailLines(f.LogTail, 40, 8000)))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// tables renders compare_perf.py's "Performance Comparison Report": its two
// tables, with the first n stage rows.
func (r *Result) tables(stages []string, n int) string {
	e2e := r.Metric(MetricE2E)
	if e2e == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("### Performance Comparison Report\n\n")
	b.WriteString("#### 1. High-level Summary\n")
	bm, hm := e2e.Base.Median, e2e.Head.Median
	if r.single() {
		b.WriteString("| Metric | Baseline | New | Diff | Status |\n| :--- | :--- | :--- | :--- | :--- |\n")
		fmt.Fprintf(&b, "| **E2E Latency** | %s ms | %s ms | **%s ms (%s)** | %s |\n",
			FormatMs(bm), FormatMs(hm), FormatSigned(e2e.DeltaAbs), FormatPct(e2e.DeltaPct), e2eStatus(e2e.DeltaPct))
		fmt.Fprintf(&b, "| **Throughput** | %s req/s | %s req/s | - | - |\n", FormatMs(throughput(bm)), FormatMs(throughput(hm)))
	} else {
		b.WriteString("| Metric | Baseline | New | Diff | p | n | Status |\n| :--- | :--- | :--- | :--- | :--- | :--- | :--- |\n")
		diff := fmt.Sprintf("%s ms (%s)", FormatSigned(e2e.DeltaAbs), FormatPct(e2e.DeltaPct))
		if r.Verdict != Failed {
			diff = "**" + diff + "**"
		}
		fmt.Fprintf(&b, "| **E2E Latency** | %s ms | %s ms | %s | %s | %d+%d | %s |\n",
			FormatMs(bm), FormatMs(hm), diff, FormatP(e2e.P),
			len(e2e.Base.Values), len(e2e.Head.Values), statusOf(e2e))
		fmt.Fprintf(&b, "| **Throughput** | %s req/s | %s req/s | - | - | - | - |\n", FormatMs(throughput(bm)), FormatMs(throughput(hm)))
		if m := r.Metric(MetricPeakAllocated); m != nil {
			diff := fmt.Sprintf("%s MiB (%s)", FormatSigned(m.DeltaAbs), FormatPct(m.DeltaPct))
			if m.Verdict != NoChange {
				diff = "**" + diff + "**" // bold only what moved
			}
			fmt.Fprintf(&b, "| **Peak Allocated Memory** | %s MiB | %s MiB | %s | %s | %d+%d | %s |\n",
				FormatMs(m.Base.Median), FormatMs(m.Head.Median), diff, FormatP(m.P),
				len(m.Base.Values), len(m.Head.Values), statusOf(m))
		}
	}
	b.WriteString("\n\n")
	b.WriteString("#### 2. Stage Breakdown\n")
	if r.single() {
		b.WriteString("| Stage Name | Baseline (ms) | New (ms) | Diff (ms) | Diff (%) | Status |\n| :--- | :--- | :--- | :--- | :--- | :--- |\n")
	} else {
		b.WriteString("| Stage Name | Baseline (ms) | New (ms) | Diff (ms) | Diff (%) | p | Status |\n| :--- | :--- | :--- | :--- | :--- | :--- | :--- |\n")
	}
	for _, id := range stages[:n] {
		m := r.Metric(id)
		name := Escape(m.Name)
		if m.Name == dump.DenoisingLoop {
			if m.BaseCount == m.HeadCount {
				name += fmt.Sprintf(" (%d steps)", m.HeadCount)
			} else {
				name += fmt.Sprintf(" (%d->%d steps)", m.BaseCount, m.HeadCount)
			}
		}
		bv, hv := m.Base.Median, m.Head.Median
		if r.single() {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name, FormatMs(bv), FormatMs(hv), FormatSigned(m.DeltaAbs), FormatPct(m.DeltaPct), stageStatus(bv, hv))
		} else {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", name, FormatMs(bv), FormatMs(hv), FormatSigned(m.DeltaAbs), FormatPct(m.DeltaPct), FormatP(m.P), statusOf(m))
		}
	}
	if n < len(stages) {
		cells := " |"
		if !r.single() {
			cells = " | |"
		}
		fmt.Fprintf(&b, "| … %d more stages left out | | | | |%s\n", len(stages)-n, cells)
	}
	b.WriteString("\n\n")
	if !r.single() {
		b.WriteString("Medians over the runs of each side; p is the two-sided Mann-Whitney U test; ")
		b.WriteString("❌/🔴 slower and ✅/🟢 faster past the thresholds with p < α, ❔ past the thresholds but not significant, ⚪️ no change.\n\n")
	} else {
		b.WriteString("One dump a side: the marks follow compare_perf.py's rules (E2E ±2 %; a stage ±10 % and 120 ms), while the verdict above needs several runs a side to be significant.\n\n")
	}
	for _, id := range stages[:n] {
		if m := r.Metric(id); m.Name == dump.DenoisingLoop && m.BaseCount != m.HeadCount {
			fmt.Fprintf(&b, "The %s row compares %d steps with %d: the two sides' sglang versions record denoising steps differently (older ones list each step as a stage), so that row's change is not a change in speed.\n\n",
				dump.DenoisingLoop, m.BaseCount, m.HeadCount)
		}
	}
	return b.String()
}

func (r *Result) stageRows() []string {
	var ids []string
	for _, m := range r.Metrics {
		if strings.HasPrefix(m.ID, stagePrefix) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

type section struct{ title, text string }

func details(title, body string) section {
	return section{title, fmt.Sprintf("<details>\n<summary>%s</summary>\n\n%s\n</details>\n\n", title, strings.TrimRight(body, "\n"))}
}

// details renders the collapsed sections, most useful first: they are
// dropped from the end when the comment is too long.
func (r *Result) details() []section {
	var out []section
	if rows := r.metricRows(KindStep); rows != "" {
		out = append(out, details("Denoise steps", rows))
	}
	if rows := r.metricRows(KindMemory); rows != "" {
		out = append(out, details("Memory", rows+"\nPeak allocated memory is gated; peak reserved is reported only, since it moves a few percent for identical work.\n"))
	}
	if launches := r.launchSection(); launches != "" {
		out = append(out, details("Launches (warm servers)", launches))
	}
	if runs := r.runsSection(); runs != "" {
		out = append(out, details("Runs (e2e in run order)", runs))
	}
	if r.Env != nil {
		out = append(out, details("Environment", r.envSection()))
	}
	if r.Command != "" {
		out = append(out, details("Command", "<pre>\n"+EscapePre(r.Command)+"\n</pre>\n"))
	}
	if r.Reproduce != "" {
		out = append(out, details("Reproduce locally", "<pre>\n"+EscapePre(r.Reproduce)+"\n</pre>\n"))
	}
	out = append(out, details("Metadata", r.metadata()))
	if s, ok := r.profileSection(); ok {
		out = append(out, s) // last: the first dropped when the comment is too long
	}
	return out
}

// metricRows is the table of one kind of metric. The confidence-interval
// columns appear only when some row has an interval (6 runs a side and
// more); otherwise one line says so.
func (r *Result) metricRows(kind Kind) string {
	var ms []*Metric
	withCI := false
	for i := range r.Metrics {
		if m := &r.Metrics[i]; m.Kind == kind {
			ms = append(ms, m)
			withCI = withCI || hasCI(m.Base) || hasCI(m.Head)
		}
	}
	if len(ms) == 0 {
		return ""
	}
	var b strings.Builder
	if withCI {
		b.WriteString("| Metric | Baseline | New | Diff | Diff (%) | 95% CI (base) | 95% CI (new) | p | Status |\n")
		b.WriteString("| :--- | :--- | :--- | :--- | :--- | :--- | :--- | :--- | :--- |\n")
	} else {
		b.WriteString("| Metric | Baseline | New | Diff | Diff (%) | p | Status |\n")
		b.WriteString("| :--- | :--- | :--- | :--- | :--- | :--- | :--- |\n")
	}
	for _, m := range ms {
		gate := ""
		if m.Gated {
			gate = " (gated)"
		}
		cis := ""
		if withCI {
			cis = fmt.Sprintf(" %s | %s |", ci(m.Base), ci(m.Head))
		}
		fmt.Fprintf(&b, "| %s%s | %s %s | %s %s | %s | %s |%s %s | %s |\n",
			Escape(m.Name), gate, FormatMs(m.Base.Median), Escape(m.Unit), FormatMs(m.Head.Median), Escape(m.Unit),
			FormatSigned(m.DeltaAbs), FormatPct(m.DeltaPct), cis, FormatP(m.P), statusOf(m))
	}
	if !withCI {
		// Say what the samples are: a warm-server comparison of 20+20
		// requests may compare 4+4 launch medians.
		m, what := ms[0], "runs"
		if m.Samples == SamplesLaunches {
			what = "launch medians"
		} else if m.Samples == SamplesRequests {
			what = "requests"
		}
		fmt.Fprintf(&b, "\n95%% confidence intervals of the medians need %d samples a side; here there are %d+%d %s.\n",
			ciMinSamples, len(m.Base.Values), len(m.Head.Values), what)
	}
	return b.String()
}

// ciMinSamples is the fewest values for which benchmath gives a 95 %
// confidence interval of the median.
const ciMinSamples = 6

func hasCI(s Stats) bool {
	return !(math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) || math.IsNaN(s.Lo) || math.IsNaN(s.Hi))
}

func ci(s Stats) string {
	if !hasCI(s) {
		return "needs ≥6 runs"
	}
	return FormatMs(s.Lo) + " – " + FormatMs(s.Hi)
}

type orderedRun struct {
	batch string // "" for the first batch, "confirm" for the confirming one
	side  string
	index int
	order int
	e2e   float64
	file  string
	// launch and request place a warm server's request; 0 otherwise.
	launch, request int
}

// batches are the first batch and, when there is one, the confirming batch.
func (r *Result) batches() []struct {
	name       string
	base, head []dump.Run
} {
	out := []struct {
		name       string
		base, head []dump.Run
	}{{"", r.Base.Runs, r.Head.Runs}}
	if c := r.Confirmation; c != nil {
		out = append(out, struct {
			name       string
			base, head []dump.Run
		}{"confirm", c.Base.Runs, c.Head.Runs})
	}
	return out
}

// runsInOrder lists every run of both sides and both batches by its
// position in the measurement.
func (r *Result) runsInOrder() []orderedRun {
	var runs []orderedRun
	for _, bt := range r.batches() {
		for _, s := range []struct {
			name string
			runs []dump.Run
		}{{"base", bt.base}, {"head", bt.head}} {
			for _, run := range s.runs {
				if run.Dump == nil {
					continue
				}
				runs = append(runs, orderedRun{bt.name, s.name, run.Index, run.Order, run.Dump.TotalMs, displayPath(run.Dump.Name), run.Launch, run.Request})
			}
		}
	}
	// By order when every run's is known; otherwise in side order.
	if !slices.ContainsFunc(runs, func(r orderedRun) bool { return r.order == 0 }) {
		slices.SortStableFunc(runs, func(a, b orderedRun) int { return a.order - b.order })
	}
	return runs
}

// displayPath is a dump's name as the report shows it: an absolute path
// (of the machine that ran it) becomes its file name, which is relative to
// the run's out folder.
func displayPath(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Base(name)
	}
	return name
}

func (r *Result) runsSection() string {
	runs := r.runsInOrder()
	if len(runs) == 0 {
		return ""
	}
	var b strings.Builder
	confirm := r.Confirmation != nil
	if confirm {
		b.WriteString("| # | Batch | Side | Run | E2E (ms) | Dump |\n| :--- | :--- | :--- | :--- | :--- | :--- |\n")
	} else {
		b.WriteString("| # | Side | Run | E2E (ms) | Dump |\n| :--- | :--- | :--- | :--- | :--- |\n")
	}
	for i, run := range runs {
		batch := ""
		if confirm {
			batch = " first |"
			if run.batch != "" {
				batch = " " + run.batch + " |"
			}
		}
		idx := fmt.Sprint(run.index)
		if run.launch > 0 {
			idx += fmt.Sprintf(" (launch %d, request %d)", run.launch, run.request)
		}
		fmt.Fprintf(&b, "| %d |%s %s | %s | %s | %s |\n", i+1, batch, run.side, idx, FormatMs(run.e2e), Escape(run.file))
	}
	b.WriteString("\n")
	b.WriteString(r.chart())
	return b.String()
}

// chart is a Mermaid xychart of each side's e2e by run number, the
// confirming batch after the first, so drift and noise show at a glance.
// GitHub renders ```mermaid blocks.
func (r *Result) chart() string {
	if r.Metric(MetricE2E) == nil {
		return ""
	}
	// Every run's e2e (even where e2e was judged on launch medians), the
	// confirming batch after the first.
	var base, head []float64
	first := 0
	for i, bt := range r.batches() {
		base, head = append(base, runE2E(bt.base)...), append(head, runE2E(bt.head)...)
		if i == 0 {
			first = max(len(base), len(head))
		}
	}
	n := max(len(base), len(head))
	var xs []string
	for i := 1; i <= n; i++ {
		xs = append(xs, fmt.Sprint(i))
	}
	line := func(v []float64) string {
		var s []string
		for _, x := range v {
			s = append(s, FormatMs(x))
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	title := "E2E per run, ms (blue: base, red: head)"
	if n > first {
		title = fmt.Sprintf("E2E per run, ms (blue: base, red: head; runs %d-%d: the confirming batch)", first+1, n)
	}
	var b strings.Builder
	b.WriteString("```mermaid\n")
	b.WriteString("%%{init: {\"themeVariables\": {\"xyChart\": {\"plotColorPalette\": \"#2563eb, #dc2626\"}}}}%%\n")
	b.WriteString("xychart-beta\n")
	fmt.Fprintf(&b, "    title \"%s\"\n", title)
	fmt.Fprintf(&b, "    x-axis \"run of each side\" [%s]\n", strings.Join(xs, ", "))
	b.WriteString("    y-axis \"ms\"\n")
	fmt.Fprintf(&b, "    line %s\n", line(base))
	fmt.Fprintf(&b, "    line %s\n", line(head))
	b.WriteString("```\n")
	return b.String()
}

func (r *Result) gpuName() string {
	if r.Env == nil {
		return ""
	}
	gpus := r.Env.Before
	if len(gpus) == 0 {
		gpus = r.Env.After
	}
	if len(gpus) == 0 {
		return ""
	}
	if len(gpus) > 1 {
		return fmt.Sprintf("%d× %s", len(gpus), gpus[0].Name)
	}
	return gpus[0].Name
}

func (r *Result) envSection() string {
	e := r.Env
	if len(e.Before) == 0 && len(e.After) == 0 {
		note := "No GPU information: nvidia-smi was not available."
		if e.Note != "" {
			note = e.Note
		}
		s := Escape(note) + "\n"
		if e.Host != "" {
			s += "\nHost: " + Escape(e.Host) + "\n"
		}
		return s
	}
	var b strings.Builder
	b.WriteString("| When | GPU | Driver | SM clock (MHz) | Mem clock (MHz) | Temp (°C) | Power (W) | Power limit (W) | Throttle reasons |\n")
	b.WriteString("| :--- | :--- | :--- | :--- | :--- | :--- | :--- | :--- | :--- |\n")
	for _, set := range []struct {
		when string
		gpus []dump.GPU
	}{{"before", e.Before}, {"after", e.After}} {
		for _, g := range set.gpus {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", set.when, Escape(g.Name), Escape(g.Driver),
				Escape(g.SMClockMHz), Escape(g.MemClockMHz), Escape(g.TemperatureC), Escape(g.PowerW), Escape(g.PowerLimitW), Escape(g.ThrottleReasons))
		}
	}
	if e.Host != "" {
		fmt.Fprintf(&b, "\nHost: %s\n", Escape(e.Host))
	}
	if e.Note != "" {
		fmt.Fprintf(&b, "\n%s\n", Escape(e.Note))
	}
	return b.String()
}

func (r *Result) metadata() string {
	var b strings.Builder
	for _, s := range []struct {
		label string
		side  dump.Side
	}{{"Baseline", r.Base}, {"New", r.Head}} {
		commits := distinct(dumps(s.side.Runs), func(d *dump.Dump) string { return d.CommitHash })
		if commits == "" || commits == "N/A" {
			// The dumps cannot tell (sglang writes N/A outside a git
			// checkout); the commit diffperf checked out can.
			commits = "N/A"
			if s.side.SHA != "" {
				commits = s.side.SHA
			}
		}
		fmt.Fprintf(&b, "- %s Commit: %s", s.label, commitList(commits))
		if s.side.Ref != "" {
			fmt.Fprintf(&b, " (ref %s)", Ref(s.side.Ref))
		}
		if s.side.SHA != "" && s.side.SHA != commits {
			fmt.Fprintf(&b, ", checked out %s", Code(s.side.SHA))
		}
		b.WriteString("\n")
	}
	if r.Prompt != "" {
		fmt.Fprintf(&b, "- Prompt: %s\n", Escape(r.Prompt))
	}
	o := r.Options
	fmt.Fprintf(&b, "- Thresholds: %s%% and %s ms for time, %s%% for memory, α=%s\n",
		FormatNum(o.ThresholdPct), FormatNum(o.MinDeltaMs), FormatNum(o.MemoryThresholdPct), FormatNum(o.Alpha))
	if ts := r.lastTimestamp(); ts != "" {
		fmt.Fprintf(&b, "- Timestamp: %s\n", Escape(ts))
	}
	return b.String()
}

func commitList(joined string) string {
	parts := strings.Split(joined, ", ")
	for i, p := range parts {
		parts[i] = Code(p)
	}
	return strings.Join(parts, ", ")
}

func (r *Result) lastTimestamp() string {
	last := ""
	for _, d := range append(dumps(r.Base.Runs), dumps(r.Head.Runs)...) {
		if d.Timestamp > last {
			last = d.Timestamp
		}
	}
	return last
}

// e2eStatus is compare_perf.py's E2E rule: beyond ±2 % is faster or slower.
func e2eStatus(pct float64) string {
	switch {
	case pct < -2:
		return "✅"
	case pct > 2:
		return "❌"
	}
	return "⚪️"
}

// stageStatus is compare_perf.py's stage rule: 🔴 when new exceeds
// max(base×1.1, base+120 ms), 🟢 below min(base×0.9, base−120 ms).
func stageStatus(base, new float64) string {
	switch {
	case new > math.Max(base*1.1, base+120):
		return "🔴"
	case new < math.Min(base*0.9, base-120):
		return "🟢"
	}
	return "⚪️"
}

// statusOf is the status of a metric judged with statistics.
func statusOf(m *Metric) string {
	stage := strings.HasPrefix(m.ID, stagePrefix)
	switch m.Verdict {
	case Regression:
		if stage {
			return "🔴"
		}
		return "❌"
	case Improvement:
		if stage {
			return "🟢"
		}
		return "✅"
	case Inconclusive:
		return "❔"
	}
	return "⚪️"
}

func throughput(ms float64) float64 {
	if ms == 0 || math.IsNaN(ms) {
		return 0
	}
	return 1000 / ms
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

// tailLines keeps the last n lines and at most max bytes of s.
func tailLines(s string, n, max int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if len(out) > max {
		out = out[len(out)-max:]
		if !utf8.ValidString(out) {
			out = strings.ToValidUTF8(out, "")
		}
	}
	return out
}

// short is a SHA's first 12 characters.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

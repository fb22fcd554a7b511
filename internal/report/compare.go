// Package report turns sglang-diffusion perf dumps (package dump) into a
// comparison: it summarises the runs of each side with the statistics of
// golang.org/x/perf/benchmath, decides a verdict per metric and overall, and
// renders the result as Markdown and JSON.
//
// The package is pure: it does no exec, network or environment access. Callers
// hand it bytes and get back data; findings (regressions, warnings) are fields
// of the result, and errors mean the input was unusable.
package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"golang.org/x/perf/benchmath"
)

// Verdict is the outcome for one metric or for a whole comparison.
type Verdict string

// The verdicts, from worst to best. The overall verdict of a comparison is
// the worst verdict of its gated metrics, or Failed when the measurement
// itself failed.
const (
	Failed       Verdict = "failed"
	Regression   Verdict = "regression"
	Inconclusive Verdict = "inconclusive"
	Improvement  Verdict = "improvement"
	NoChange     Verdict = "no-change"
)

func (v Verdict) rank() int {
	switch v {
	case Failed:
		return 4
	case Regression:
		return 3
	case Inconclusive:
		return 2
	case Improvement:
		return 1
	}
	return 0
}

// Options are the thresholds of docs/statistics.md.
type Options struct {
	// ThresholdPct is the relative change, in percent, of a time metric
	// that counts (5 means 5 %).
	ThresholdPct float64
	// MinDeltaMs is the absolute change of a time metric, in milliseconds,
	// that counts; it keeps tiny stages from being flagged.
	MinDeltaMs float64
	// MemoryThresholdPct is the relative change of a memory metric's
	// median, in percent, that counts.
	MemoryThresholdPct float64
	// Alpha is the significance level of the Mann-Whitney U test, in (0, 1).
	Alpha float64
}

// DefaultOptions are the defaults of the CLI and the Action.
func DefaultOptions() Options {
	return Options{ThresholdPct: 5, MinDeltaMs: 50, MemoryThresholdPct: 2, Alpha: 0.05}
}

// Validate reports the first option that is out of range.
func (o Options) Validate() error {
	switch {
	case !(o.ThresholdPct >= 0) || math.IsInf(o.ThresholdPct, 0):
		return input.Errorf("threshold", "%v is not a percentage >= 0", o.ThresholdPct)
	case !(o.MinDeltaMs >= 0) || math.IsInf(o.MinDeltaMs, 0):
		return input.Errorf("min-delta-ms", "%v is not a duration >= 0 ms", o.MinDeltaMs)
	case !(o.MemoryThresholdPct >= 0) || math.IsInf(o.MemoryThresholdPct, 0):
		return input.Errorf("memory-threshold", "%v is not a percentage >= 0", o.MemoryThresholdPct)
	case !(o.Alpha > 0 && o.Alpha < 1):
		return input.Errorf("alpha", "%v is not in (0, 1)", o.Alpha)
	}
	return nil
}

// Kind tells how a metric is judged.
type Kind string

// Metric kinds.
const (
	// KindTime metrics are durations in ms, judged by ThresholdPct,
	// MinDeltaMs and the U test.
	KindTime Kind = "time"
	// KindStep metrics are per denoising step durations in ms, judged by
	// ThresholdPct and the U test only: a step is too short for MinDeltaMs.
	KindStep Kind = "step"
	// KindMemory metrics are in MiB, judged by MemoryThresholdPct on the
	// medians.
	KindMemory Kind = "memory"
)

// Metric IDs that are not stages. Stage metrics have ID "stage:" + name.
const (
	MetricE2E           = "e2e"
	MetricPeakAllocated = "memory.peak_allocated"
	MetricPeakReserved  = "memory.peak_reserved"
	MetricStepMedian    = "denoise.step_median"
	MetricFirstStep     = "denoise.first_step"
	stagePrefix         = "stage:"
)

// Stats summarises one side of one metric.
type Stats struct {
	// Values are the per-run values in run order (not sorted).
	Values []float64 `json:"values"`
	// Median and the bounds Lo, Hi of its confidence interval, at the
	// actual Confidence level (0.95 or more; ±Inf bounds when too few runs).
	Median     float64 `json:"median"`
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	Confidence float64 `json:"confidence"`
}

// Metric is one measured quantity compared between the sides.
type Metric struct {
	ID    string
	Name  string // for people: "E2E Latency", a stage name, ...
	Unit  string // "ms" or "MiB"
	Kind  Kind
	Gated bool
	Base  Stats
	Head  Stats
	// DeltaAbs is Head.Median - Base.Median in Unit.
	DeltaAbs float64
	// DeltaPct is the change of the medians in percent; 0 when the base
	// median is 0 (as compare_perf.py does).
	DeltaPct float64
	// P is the two-sided Mann-Whitney U p-value; 1 when the test cannot run.
	P float64
	// SignificancePossible is false when the run counts are too small for
	// any p below Alpha.
	SignificancePossible bool
	Verdict              Verdict
	// BaseCount and HeadCount are the step counts of the DenoisingLoop
	// stage per side (old
	// dumps), for the "(N steps)" label; 0 otherwise.
	BaseCount, HeadCount int
	// Samples says what one value is when the runs came from warm servers:
	// SamplesRequests or SamplesLaunches (see LaunchPoolP); "" otherwise.
	// LaunchP is the p-value of the test that launches differ (NaN when
	// it could not run).
	Samples string
	LaunchP float64
}

// Result is a whole comparison: inputs, metrics, verdict and the context the
// report shows. Compare fills the measured part; callers that ran the
// benchmark add Env, Command, Commits and so on before rendering.
type Result struct {
	Verdict Verdict
	// Reason says in one sentence why the verdict is what it is.
	Reason   string
	Options  Options
	Base     dump.Side
	Head     dump.Side
	Metrics  []Metric
	Warnings []string
	Failure  *dump.Failure

	// Context set by callers; all optional.
	// Case names the case when the result is one of several (see Merge).
	Case          string
	Model, Prompt string
	Command       string // the benchmark command, as a shell-quoted line
	Reproduce     string // how to reproduce locally, as a shell line
	Env           *dump.Environment
	Accepted      bool     // a regression accepted by the PR's label
	AcceptLabel   string   // the label that accepts it
	Confirmation  *Result  // the independent batch that confirmed or refuted a regression
	Notes         []string // extra lines for the headline section
	Request       *Request // the /perf comment that asked for this run, if one did
	// MergeBase is true when Base.SHA is the merge base of Base.Ref and
	// Head.Ref, as a pull request is measured, not Base.Ref's own commit.
	MergeBase bool
	// Launches summarise each warm server's launch; empty when every run
	// was a process of its own.
	Launches []Launch
	// Profile is one profiled run a side after a confirmed regression
	// (input profile); nil when none was made.
	Profile *Profile

	metricIndex map[string]int // ID -> position in Metrics, set by Compare
}

// Compare summarises both sides and decides the verdicts. Both sides need at
// least one run unless the caller marks the result failed afterwards.
func Compare(base, head dump.Side, opt Options) *Result {
	if base.Label == "" {
		base.Label = "Baseline"
	}
	if head.Label == "" {
		head.Label = "New"
	}
	r := &Result{Options: opt, Base: base, Head: head}
	bd, hd := dumps(base.Runs), dumps(head.Runs)
	if len(bd) == 0 || len(hd) == 0 {
		if len(bd) == 0 && len(hd) == 0 {
			r.Reason = "no runs on either side"
		} else {
			r.Reason = "no runs on one side"
		}
		r.Verdict = Inconclusive
		return r
	}
	r.Model, r.Prompt = metaOf(bd, hd)
	serve := served(base.Runs, head.Runs)

	add := func(id, name, unit string, kind Kind, gated bool, f func(*dump.Dump) (float64, bool)) {
		bv, bok := values(bd, f)
		hv, hok := values(hd, f)
		if bok != hok {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s is in the dumps of one side only (sglang of different age?): not compared", name))
		}
		if !bok || !hok {
			return
		}
		m := r.metric(id, name, unit, kind, gated, bv, hv)
		if serve {
			m = r.byLaunch(m, f)
		}
		r.Metrics = append(r.Metrics, m)
	}
	add(MetricE2E, "E2E Latency", "ms", KindTime, true, func(d *dump.Dump) (float64, bool) { return d.TotalMs, true })
	add(MetricPeakAllocated, "Peak allocated memory", "MiB", KindMemory, true, (*dump.Dump).PeakAllocatedMB)
	for _, name := range stageOrder(bd, hd) {
		name := name
		add(stagePrefix+name, name, "ms", KindTime, false, func(d *dump.Dump) (float64, bool) { return d.StageMs(name), true })
		if name == dump.DenoisingLoop {
			m := &r.Metrics[len(r.Metrics)-1]
			m.BaseCount, m.HeadCount = stageCount(bd, name), stageCount(hd, name)
		}
	}
	add(MetricStepMedian, "Denoise step (median of steps after the first)", "ms", KindStep, false, stepMedian)
	add(MetricFirstStep, "First denoise step", "ms", KindStep, false, firstStep)
	add(MetricPeakReserved, "Peak reserved memory", "MiB", KindMemory, false, (*dump.Dump).PeakReservedMB)

	r.metricIndex = make(map[string]int, len(r.Metrics))
	for i, m := range r.Metrics {
		r.metricIndex[m.ID] = i
	}
	if serve {
		r.summariseLaunches()
	}
	r.warn(bd, hd)
	r.decide()
	return r
}

// metric builds one Metric and its verdict.
func (r *Result) metric(id, name, unit string, kind Kind, gated bool, bv, hv []float64) Metric {
	opt := r.Options
	m := Metric{ID: id, Name: name, Unit: unit, Kind: kind, Gated: gated, Base: summarise(bv), Head: summarise(hv)}
	m.DeltaAbs = m.Head.Median - m.Base.Median
	if m.Base.Median != 0 {
		m.DeltaPct = m.DeltaAbs / m.Base.Median * 100
	}
	m.P = uTestP(bv, hv, opt.Alpha)
	m.SignificancePossible = MinP(len(bv), len(hv)) < opt.Alpha

	relLimit, absLimit := opt.ThresholdPct, opt.MinDeltaMs
	switch kind {
	case KindStep:
		absLimit = 0
	case KindMemory:
		relLimit, absLimit = opt.MemoryThresholdPct, 0
	}
	past := math.Abs(m.DeltaAbs) > absLimit && m.DeltaAbs != 0
	if m.Base.Median != 0 {
		past = past && math.Abs(m.DeltaPct) > relLimit
	}
	// A zero baseline has no relative change: any change past the absolute
	// floor counts (a stage present on one side only).
	significant := m.P < opt.Alpha
	if kind == KindMemory {
		// Memory is judged on the medians; it is nearly deterministic, so the
		// U test only tells whether enough runs were taken.
		significant = m.SignificancePossible
	}
	switch {
	case !past:
		m.Verdict = NoChange
	case !significant:
		m.Verdict = Inconclusive
	case m.DeltaAbs > 0:
		m.Verdict = Regression
	default:
		m.Verdict = Improvement
	}
	return m
}

// decide sets the overall verdict and reason from the gated metrics.
func (r *Result) decide() {
	r.Verdict = NoChange
	var worst *Metric
	for i := range r.Metrics {
		m := &r.Metrics[i]
		if !m.Gated {
			continue
		}
		if worst == nil || m.Verdict.rank() > worst.Verdict.rank() {
			worst = m
		}
	}
	if worst == nil {
		r.Reason = "no gated metric"
		return
	}
	r.Verdict = worst.Verdict
	r.Reason = worst.describe(r.Options)
}

// describe explains a metric's verdict in one sentence.
func (m *Metric) describe(opt Options) string {
	change := fmt.Sprintf("%s %s (%s %s)", m.Name, FormatPct(m.DeltaPct), FormatSigned(m.DeltaAbs), m.Unit)
	lim, within := m.limits(opt)
	n := fmt.Sprintf("n=%d+%d", len(m.Base.Values), len(m.Head.Values))
	runs := n + " runs"
	if m.Samples != "" {
		n += " " + m.Samples
		runs = n
	}
	switch m.Verdict {
	case Regression, Improvement:
		if m.Kind == KindMemory {
			return fmt.Sprintf("%s, past %s on the medians, %s", change, lim, n)
		}
		return fmt.Sprintf("%s, past %s and significant at α=%s (p=%s, %s)", change, lim, FormatNum(opt.Alpha), FormatP(m.P), n)
	case Inconclusive:
		if !m.SignificancePossible {
			return fmt.Sprintf("%s is past %s, but %s cannot show significance at α=%s", change, lim, runs, FormatNum(opt.Alpha))
		}
		return fmt.Sprintf("%s is past %s, but not significant at α=%s (p=%s, %s)", change, lim, FormatNum(opt.Alpha), FormatP(m.P), n)
	}
	return fmt.Sprintf("%s is within %s (p=%s, %s)", change, within, FormatP(m.P), n)
}

// limits names the thresholds of m's kind: all of them, which a change
// must pass to count, and those that this change is within (one is enough
// for no change), so that "+59 ms is within 20%" never says "and 50 ms".
func (m *Metric) limits(opt Options) (all, within string) {
	rel, abs := opt.ThresholdPct, opt.MinDeltaMs
	switch m.Kind {
	case KindStep:
		abs = 0
	case KindMemory:
		rel, abs = opt.MemoryThresholdPct, 0
	}
	relS, absS := FormatNum(rel)+"%", FormatNum(abs)+" ms"
	hasRel := m.Base.Median != 0 // a zero baseline has no relative change
	relIn := hasRel && math.Abs(m.DeltaPct) <= rel
	absIn := math.Abs(m.DeltaAbs) <= abs || m.DeltaAbs == 0
	switch {
	case abs == 0:
		all = relS
		if !hasRel {
			all = "0 ms"
		}
		return all, all
	case !hasRel:
		return absS, absS
	case relIn && !absIn:
		return relS + " and " + absS, relS
	case absIn && !relIn:
		return relS + " and " + absS, absS
	}
	return relS + " and " + absS, relS + " and " + absS
}

// warn adds the warnings a reader needs to trust the numbers.
func (r *Result) warn(bd, hd []*dump.Dump) {
	nb, nh := len(bd), len(hd)
	if len(r.Launches) > 0 {
		r.warnLaunches()
	} else if MinP(nb, nh) >= r.Options.Alpha {
		need := RunsNeeded(r.Options.Alpha)
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"significance is impossible with n=%d+%d runs: at α=%s the U test needs at least %d runs a side (%d more); no regression can be established",
			nb, nh, FormatNum(r.Options.Alpha), need, need-min(nb, nh)))
	}
	if bm, hm := distinct(bd, func(d *dump.Dump) string { return d.Model }), distinct(hd, func(d *dump.Dump) string { return d.Model }); bm != hm && bm != "" && hm != "" {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the sides ran different models: %q and %q", bm, hm))
	}
	if bp, hp := distinct(bd, func(d *dump.Dump) string { return d.Prompt }), distinct(hd, func(d *dump.Dump) string { return d.Prompt }); bp != hp && bp != "" && hp != "" {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the sides ran different prompts: %q and %q", bp, hp))
	}
}

// uTestP is the two-sided p-value of the Mann-Whitney U test of bv against
// hv, in [0, 1]. benchmath gives it, except for tied samples of up to
// exactTiesLimit values a side: there benchmath doubles one tail of the tied
// U distribution, which is not symmetric, and can pass 1 (e2e [100, 102]
// against [102] gave 1.333). For those uTestP gives the exact permutation
// p-value instead (tiedExactP); either way the result is clamped to 1.
func uTestP(bv, hv []float64, alpha float64) float64 {
	if len(bv) > 0 && len(hv) > 0 && len(bv) <= exactTiesLimit && len(hv) <= exactTiesLimit && hasTies(bv, hv) {
		return tiedExactP(bv, hv)
	}
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	p := benchmath.AssumeNothing.Compare(benchmath.NewSample(clone(bv), th), benchmath.NewSample(clone(hv), th)).P
	if math.IsNaN(p) || p > 1 {
		return 1
	}
	return p
}

// exactTiesLimit is the largest side for which uTestP computes the exact
// permutation p-value of tied samples: benchmath's own limit for exact tied
// distributions (above it benchmath uses the normal approximation with the
// tie correction). At 25+25 the counts stay below 2^53, exact in float64.
const exactTiesLimit = 25

func hasTies(a, b []float64) bool {
	all := append(clone(a), b...)
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			return true
		}
	}
	return false
}

// tiedExactP is the exact two-sided permutation p-value of the U test: the
// share of the C(n1+n2, n1) ways to split the pooled values into sides of
// n1 and n2 whose U1 lies at least as far from its mean n1·n2/2 as the
// observed U1. Ties take mid-ranks, so U1 counts a tie as one half. A split
// is told by how many of each group of tied values fall on the first side,
// so the count runs over groups: ways[k][2·R1] is the number of splits that
// put k values and rank sum R1 on the first side so far.
func tiedExactP(x1, x2 []float64) float64 {
	n1, n := len(x1), len(x1)+len(x2)
	all := append(clone(x1), x2...)
	slices.Sort(all)
	type group struct{ size, twiceRank int } // twiceRank: 2 × the group's mid-rank
	var groups []group
	for i := 0; i < n; {
		j := i
		for j < n && all[j] == all[i] {
			j++
		}
		groups = append(groups, group{j - i, (i + 1) + j}) // ranks i+1..j
		i = j
	}
	in1 := map[float64]int{}
	for _, v := range x1 {
		in1[v]++
	}
	obs := 0 // 2·R1 observed
	for i := 0; i < n; {
		j := i
		for j < n && all[j] == all[i] {
			j++
		}
		obs += in1[all[i]] * ((i + 1) + j)
		i = j
	}
	if len(groups) == 1 {
		return 1 // all values equal: no test is possible
	}
	// ways and next are (n1+1) rows of 2·R1 = 0..maxR, reused across the
	// groups; hi is the largest 2·R1 reachable so far.
	maxR := n * (n + 1) // 2·(sum of all ranks)
	width := maxR + 1
	ways, next := make([]float64, (n1+1)*width), make([]float64, (n1+1)*width)
	ways[0] = 1
	hi, seen := 0, 0 // seen: values in the groups so far
	for _, g := range groups {
		clear(next)
		// Only counts of the first side that can still end at n1.
		for k := max(0, n1-(n-seen)); k <= min(n1, seen); k++ {
			row := ways[k*width : k*width+hi+1]
			for r, w := range row {
				if w == 0 {
					continue
				}
				c := 1.0 // C(g.size, a)
				for a := 0; a <= g.size && k+a <= n1; a++ {
					next[(k+a)*width+r+a*g.twiceRank] += w * c
					c = c * float64(g.size-a) / float64(a+1)
				}
			}
		}
		hi += g.size * g.twiceRank
		seen += g.size
		ways, next = next, ways
	}
	last := ways[n1*width : n1*width+width]
	// U1 = R1 - n1(n1+1)/2, so |U1 - n1·n2/2| = |R1 - n1(n+1)/2|; in
	// doubled ranks the centre is n1(n+1).
	centre := n1 * (n + 1)
	dist := func(twiceR int) int { return abs(twiceR - centre) }
	var as, total float64
	for r, w := range last {
		total += w
		if w != 0 && dist(r) >= dist(obs) {
			as += w
		}
	}
	return math.Min(1, as/total)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// MinP is the smallest two-sided p-value the exact Mann-Whitney U test can
// give for samples of n1 and n2 values without ties: 2 / C(n1+n2, n1).
func MinP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	// C(n1+n2, n1) computed in floating point; exact enough for the range.
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/c)
}

// RunsNeeded is the smallest equal run count per side for which the U test
// can reach p < alpha.
func RunsNeeded(alpha float64) int {
	for n := 1; n < 1000; n++ {
		if MinP(n, n) < alpha {
			return n
		}
	}
	return 1000
}

// NeedsMoreRuns reports whether a gated metric is past its thresholds but
// not significant, so that more balanced pairs could settle it.
func (r *Result) NeedsMoreRuns() bool {
	for _, m := range r.Metrics {
		if m.Gated && m.Verdict == Inconclusive {
			return true
		}
	}
	return false
}

// Fail marks the result failed: the measurement could not finish, so
// nothing it measured can be trusted for a verdict.
func (r *Result) Fail(f dump.Failure) {
	r.Failure = &f
	r.Verdict = Failed
	r.Reason = f.Reason
}

// Metric returns the metric with the given ID, or nil.
func (r *Result) Metric(id string) *Metric {
	if r.metricIndex != nil && len(r.metricIndex) == len(r.Metrics) {
		if i, ok := r.metricIndex[id]; ok && r.Metrics[i].ID == id {
			return &r.Metrics[i]
		}
		return nil
	}
	for i := range r.Metrics {
		if r.Metrics[i].ID == id {
			return &r.Metrics[i]
		}
	}
	return nil
}

func summarise(v []float64) Stats {
	s := Stats{Values: v, Lo: math.NaN(), Hi: math.NaN(), Median: math.NaN()}
	if len(v) == 0 {
		return s
	}
	sum := benchmath.AssumeNothing.Summary(benchmath.NewSample(clone(v), &benchmath.DefaultThresholds), 0.95)
	s.Median, s.Lo, s.Hi, s.Confidence = sum.Center, sum.Lo, sum.Hi, sum.Confidence
	return s
}

func values(ds []*dump.Dump, f func(*dump.Dump) (float64, bool)) ([]float64, bool) {
	out := make([]float64, 0, len(ds))
	found := false
	for _, d := range ds {
		v, ok := f(d)
		if ok {
			out = append(out, v)
			found = true
		}
	}
	return out, found
}

func stepMedian(d *dump.Dump) (float64, bool) {
	if len(d.DenoiseSteps) < 2 {
		return 0, false
	}
	return Median(d.DenoiseSteps[1:]), true
}

func firstStep(d *dump.Dump) (float64, bool) {
	if len(d.DenoiseSteps) == 0 {
		return 0, false
	}
	return d.DenoiseSteps[0], true
}

// Median is the middle value of v (the mean of the two middle ones for an
// even count), without changing v; NaN for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func clone(v []float64) []float64 { return append([]float64(nil), v...) }

func dumps(runs []dump.Run) []*dump.Dump {
	out := make([]*dump.Dump, 0, len(runs))
	for _, r := range runs {
		if r.Dump != nil {
			out = append(out, r.Dump)
		}
	}
	return out
}

// stageOrder is compare_perf.py's row order: the stages of the last new
// dump, then those first seen in earlier new dumps walking back, then the
// baseline's, walking back too.
func stageOrder(base, head []*dump.Dump) []string {
	var order []string
	seen := map[string]bool{}
	for _, side := range [][]*dump.Dump{head, base} {
		for i := len(side) - 1; i >= 0; i-- {
			for _, s := range side[i].Stages {
				if !seen[s.Name] {
					seen[s.Name] = true
					order = append(order, s.Name)
				}
			}
		}
	}
	return order
}

func stageCount(ds []*dump.Dump, name string) int {
	for i := len(ds) - 1; i >= 0; i-- {
		for _, s := range ds[i].Stages {
			if s.Name == name {
				return s.Count
			}
		}
	}
	return 1
}

func metaOf(bd, hd []*dump.Dump) (model, prompt string) {
	for _, d := range append(append([]*dump.Dump(nil), hd...), bd...) {
		if model == "" {
			model = d.Model
		}
		if prompt == "" {
			prompt = d.Prompt
		}
	}
	return model, prompt
}

// distinct returns the one value f gives over ds, "" when none, or the
// values joined when they differ.
func distinct(ds []*dump.Dump, f func(*dump.Dump) string) string {
	var vals []string
	seen := map[string]bool{}
	for _, d := range ds {
		if v := f(d); v != "" && !seen[v] {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	return strings.Join(vals, ", ")
}

// Confirm records second, an independent batch measured because first
// showed a regression, in first, and leaves first with the verdict both
// batches support: the regression stands only if second shows it too;
// otherwise it is inconclusive, since one batch said regression and one
// did not.
func Confirm(first, second *Result) {
	first.Confirmation = second
	if first.Verdict != Regression || second.Verdict == Regression {
		return
	}
	first.Verdict = Inconclusive
	first.Reason = "a regression in the first batch (" + first.Reason + ") was not confirmed by a second, independent batch (" + second.Reason + ")"
}

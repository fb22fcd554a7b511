package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/diffperf/diffperf/internal/dump"
)

// Warm-server measurements (mode serve) take several requests from each
// launch of a server, and requests of one launch share its state: where the
// weights landed in memory, which kernels the allocator and autotuners
// picked, the clocks it started at. On a launch-bound workload those
// offsets between launches are larger than the noise between requests, so
// a test that counts every request as an independent sample mistakes two
// unlucky launches for a change (measured on an H100: 22 % false
// regressions with 2 launches of 5 requests a side; docs/serve.md).
//
// Compare therefore decides per metric what one sample is. It tests whether
// the launches of each side differ, with a Kruskal-Wallis test per side
// (ranks, so an outlier request cannot fake or hide an offset), the H
// statistics of both sides summed against χ² with Σ(launches−1) degrees of
// freedom. Only when the launches look alike, at p ≥ LaunchPoolP, is every
// request a sample; otherwise each launch's median is one sample, and the
// Mann-Whitney U test compares launch medians (a permutation test over
// launches, which no launch offset can fool, but which needs 4 launches a
// side to reach p < 0.05).
//
// LaunchPoolP is 0.7, not the usual 0.05 or Bancroft's 0.25 for "sometimes
// pool" designs: with 2 launches a side the launch test has little power,
// and a pre-test that pools too readily lets moderate offsets through. It
// is the round level at which one batch's rate of false regressions stays
// at or below generate mode's whatever the size of the launch offsets.
// Simulated with Compare itself (normal noise σ between requests, launch
// offsets of sd 0 to 10σ, launches of 5 requests, 20,000 A/A trials per
// size; false means p < 0.05 with head slower): with 2 launches a side at
// most 1.3 %, against 1.4-1.7 % for generate mode's 5 independent runs a
// side and up to 21 % for requests as samples; 1.9 % at level 0.6, 2.1 %
// at 0.5 and 4.3 % at 0.25 (worst near offsets of 0.75σ). With 4 launches
// at most 1.6 %. The price is power: without offsets, 2 launches pool their
// requests in 28 % of batches, so an unclear result more often earns 2
// more launches a side (see protocol.ServePlan). TestServeAAFalseRegressionRate
// checks the rate on every run and prints the table with -sim-full.
const LaunchPoolP = 0.7

// What one value of a metric is in a warm-server measurement (Metric.Samples).
const (
	// SamplesRequests: each measured request is a sample; the launches of
	// each side did not differ (launch test p ≥ LaunchPoolP).
	SamplesRequests = "requests"
	// SamplesLaunches: each launch's median is a sample; the launches
	// differed, or there were too few to tell.
	SamplesLaunches = "launches"
)

// Launch summarises one server launch on e2e, for the report's table of
// launches.
type Launch struct {
	// Side is "base" or "head"; Launch its 1-based number within the side.
	Side   string
	Launch int
	// Requests is the number of measured requests; MedianMs, MinMs and
	// MaxMs summarise their e2e latency in ms.
	Requests               int
	MedianMs, MinMs, MaxMs float64
	// LoadMs is how long the launch's server took to load, in ms; 0 when
	// unknown.
	LoadMs float64
}

// served reports whether any run came from a warm server.
func served(sides ...[]dump.Run) bool {
	for _, runs := range sides {
		if slices.ContainsFunc(runs, func(r dump.Run) bool { return r.Launch > 0 && r.Dump != nil }) {
			return true
		}
	}
	return false
}

// launchGroups splits a side's values of f by launch, in launch order. A run
// without a launch (a process of its own) is a group of one.
func launchGroups(runs []dump.Run, f func(*dump.Dump) (float64, bool)) [][]float64 {
	type group struct {
		launch, first int
		vals          []float64
	}
	var groups []*group
	byLaunch := map[int]*group{}
	for i, r := range runs {
		if r.Dump == nil {
			continue
		}
		v, ok := f(r.Dump)
		if !ok {
			continue
		}
		if r.Launch <= 0 {
			groups = append(groups, &group{first: i, vals: []float64{v}})
			continue
		}
		g := byLaunch[r.Launch]
		if g == nil {
			g = &group{launch: r.Launch, first: i}
			byLaunch[r.Launch] = g
			groups = append(groups, g)
		}
		g.vals = append(g.vals, v)
	}
	slices.SortStableFunc(groups, func(a, b *group) int {
		if a.launch != b.launch && a.launch > 0 && b.launch > 0 {
			return cmp.Compare(a.launch, b.launch)
		}
		return cmp.Compare(a.first, b.first)
	})
	out := make([][]float64, len(groups))
	for i, g := range groups {
		out[i] = g.vals
	}
	return out
}

// LaunchTest is the p-value that the launches of each side differ, from
// Kruskal-Wallis tests per side whose H statistics are summed and judged
// against χ² with Σ(k−1) degrees of freedom. A side counts only when it has
// at least 2 launches and more requests than launches (else nothing
// within a launch shows the noise to compare with); ok is false when no
// side does.
func LaunchTest(sides ...[][]float64) (p float64, ok bool) {
	h, df := 0.0, 0
	for _, groups := range sides {
		k, n := 0, 0
		for _, g := range groups {
			if len(g) > 0 {
				k++
				n += len(g)
			}
		}
		if k < 2 || n <= k {
			continue
		}
		h += kruskalWallis(groups)
		df += k - 1
	}
	if df == 0 {
		return math.NaN(), false
	}
	return chiSquareSurvival(h, df), true
}

// kruskalWallis is the H statistic of groups, with the correction for
// ties; 0 when every value is the same.
func kruskalWallis(groups [][]float64) float64 {
	type obs struct {
		v float64
		g int
	}
	var all []obs
	for g, vals := range groups {
		for _, v := range vals {
			all = append(all, obs{v, g})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].v < all[j].v })
	n := float64(len(all))
	rankSum := make([]float64, len(groups))
	ties := 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // mid-rank of positions i..j-1, 1-based
		for k := i; k < j; k++ {
			rankSum[all[k].g] += rank
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	correction := 1 - ties/(n*n*n-n)
	if correction <= 0 {
		return 0
	}
	h := 0.0
	for g, vals := range groups {
		if len(vals) > 0 {
			h += rankSum[g] * rankSum[g] / float64(len(vals))
		}
	}
	h = 12/(n*(n+1))*h - 3*(n+1)
	return math.Max(0, h/correction)
}

// chiSquareSurvival is P(X ≥ x) for X ~ χ² with df degrees of freedom: the
// regularized upper incomplete gamma function Q(df/2, x/2), by its series
// below a+1 and Lentz's continued fraction above (Numerical Recipes §6.2).
func chiSquareSurvival(x float64, df int) float64 {
	if df <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	a, y := float64(df)/2, x/2
	lg, _ := math.Lgamma(a)
	front := math.Exp(-y + a*math.Log(y) - lg)
	if y < a+1 {
		sum, term := 1/a, 1/a
		for n := 1; n < 1000; n++ {
			term *= y / (a + float64(n))
			sum += term
			if math.Abs(term) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return math.Max(0, 1-sum*front)
	}
	const tiny = 1e-300
	b := y + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return math.Min(1, front*h)
}

// byLaunch judges metric m of a warm-server measurement on the right
// samples: m as computed over requests when the launches of each side look
// alike, else recomputed over launch medians (see LaunchPoolP).
func (r *Result) byLaunch(m Metric, f func(*dump.Dump) (float64, bool)) Metric {
	bg, hg := launchGroups(r.Base.Runs, f), launchGroups(r.Head.Runs, f)
	p, ok := LaunchTest(bg, hg)
	if ok && p >= LaunchPoolP {
		m.Samples, m.LaunchP = SamplesRequests, p
		return m
	}
	lm := r.metric(m.ID, m.Name, m.Unit, m.Kind, m.Gated, groupMedians(bg), groupMedians(hg))
	lm.Samples, lm.LaunchP = SamplesLaunches, p
	return lm
}

func groupMedians(groups [][]float64) []float64 {
	out := make([]float64, len(groups))
	for i, g := range groups {
		out[i] = Median(g)
	}
	return out
}

// summariseLaunches fills r.Launches from the runs' e2e latency.
func (r *Result) summariseLaunches() {
	for _, s := range []struct {
		name string
		runs []dump.Run
	}{{"base", r.Base.Runs}, {"head", r.Head.Runs}} {
		byLaunch := map[int][]float64{}
		var order []int
		load := map[int]float64{}
		for _, run := range s.runs {
			if run.Dump == nil || run.Launch <= 0 {
				continue
			}
			load[run.Launch] = max(load[run.Launch], run.LoadMs)
			if _, seen := byLaunch[run.Launch]; !seen {
				order = append(order, run.Launch)
			}
			byLaunch[run.Launch] = append(byLaunch[run.Launch], run.Dump.TotalMs)
		}
		slices.Sort(order)
		for _, l := range order {
			v := byLaunch[l]
			r.Launches = append(r.Launches, Launch{Side: s.name, Launch: l, Requests: len(v),
				MedianMs: Median(v), MinMs: slices.Min(v), MaxMs: slices.Max(v), LoadMs: load[l]})
		}
	}
}

// launchCounts is the number of launches of each side.
func (r *Result) launchCounts() (base, head int) {
	for _, l := range r.Launches {
		if l.Side == "base" {
			base++
		} else {
			head++
		}
	}
	return base, head
}

// warnLaunches adds the warning a warm-server measurement needs when e2e
// cannot show significance on the samples it was judged on.
func (r *Result) warnLaunches() {
	e2e := r.Metric(MetricE2E)
	if e2e == nil || e2e.SignificancePossible {
		return
	}
	need := RunsNeeded(r.Options.Alpha)
	nb, nh := len(e2e.Base.Values), len(e2e.Head.Values)
	if e2e.Samples == SamplesLaunches {
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"E2E is judged on launch medians (%s), and n=%d+%d launches cannot show significance: at α=%s that needs at least %d launches a side (%d more); no regression can be established",
			launchTestWords(e2e.LaunchP), nb, nh, FormatNum(r.Options.Alpha), need, need-min(nb, nh)))
		return
	}
	r.Warnings = append(r.Warnings, fmt.Sprintf(
		"significance is impossible with n=%d+%d requests: at α=%s the U test needs at least %d a side (%d more); no regression can be established",
		nb, nh, FormatNum(r.Options.Alpha), need, need-min(nb, nh)))
}

// launchTestWords says what the launch test found, for sentences.
func launchTestWords(p float64) string {
	if math.IsNaN(p) {
		return "too few launches or requests to tell whether launches differ"
	}
	if p >= LaunchPoolP {
		return fmt.Sprintf("the launches of each side look alike: Kruskal-Wallis p=%s, not below %s", FormatP(p), FormatNum(LaunchPoolP))
	}
	// Words, not < (which Markdown would need as &lt;, and a terminal
	// would show as such).
	return fmt.Sprintf("the launches of a side may differ: Kruskal-Wallis p=%s, below %s", FormatP(p), FormatNum(LaunchPoolP))
}

// servedLine is the headline's sentence about a warm-server measurement:
// launches, requests, and what e2e was judged on.
func (r *Result) servedLine() string {
	nb, nh := r.launchCounts()
	line := fmt.Sprintf("Warm servers: %d+%d launches, %d+%d measured requests", nb, nh, len(dumps(r.Base.Runs)), len(dumps(r.Head.Runs)))
	if e2e := r.Metric(MetricE2E); e2e != nil {
		switch e2e.Samples {
		case SamplesRequests:
			line += "; E2E compared over requests, since " + launchTestWords(e2e.LaunchP)
		case SamplesLaunches:
			line += "; E2E compared over launch medians, since " + launchTestWords(e2e.LaunchP)
		}
	}
	return line + "."
}

// launchSection is the collapsed table of launches: each launch's e2e
// median and spread, so offsets between launches show at a glance.
func (r *Result) launchSection() string {
	if len(r.Launches) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| Side | Launch | Requests | E2E median (ms) | Min – max (ms) | Spread | vs. side median |\n")
	b.WriteString("| :--- | :--- | :--- | :--- | :--- | :--- | :--- |\n")
	sideMedian := map[string]float64{}
	for _, side := range []string{"base", "head"} {
		var meds []float64
		for _, l := range r.Launches {
			if l.Side == side {
				meds = append(meds, l.MedianMs)
			}
		}
		sideMedian[side] = Median(meds)
	}
	for _, l := range r.Launches {
		spread, off := 0.0, 0.0
		if l.MedianMs != 0 {
			spread = (l.MaxMs - l.MinMs) / l.MedianMs * 100
		}
		if m := sideMedian[l.Side]; m != 0 {
			off = (l.MedianMs - m) / m * 100
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s – %s | %s | %s |\n", Escape(l.Side), l.Launch, l.Requests, FormatMs(l.MedianMs),
			FormatMs(l.MinMs), FormatMs(l.MaxMs), strings.TrimPrefix(FormatPct(spread), "+"), FormatPct(off))
	}
	b.WriteString("\nSpread is a launch's max − min over its median; the last column is its median against the median of its side's launch medians. ")
	fmt.Fprintf(&b, "Requests count as samples only where the launches of each side look alike (Kruskal-Wallis p ≥ %s); otherwise each launch's median is one sample.\n", FormatNum(LaunchPoolP))
	var rows []string
	for _, m := range r.Metrics {
		if m.Samples != "" && m.Gated {
			rows = append(rows, fmt.Sprintf("- %s: n=%d+%d %s (%s)", Escape(m.Name), len(m.Base.Values), len(m.Head.Values), Escape(m.Samples), launchTestWords(m.LaunchP)))
		}
	}
	if len(rows) > 0 {
		b.WriteString("\nGated metrics, judged on:\n\n" + strings.Join(rows, "\n") + "\n")
	}
	return b.String()
}

// failureWhere names what failed: a run, or a launch and request of a warm server.
func failureWhere(f *dump.Failure) string {
	switch {
	case f.Launch > 0 && f.Request > 0:
		return fmt.Sprintf("Request %d of launch %d of %s failed", f.Request, f.Launch, f.Side)
	case f.Launch > 0:
		return fmt.Sprintf("Launch %d of %s failed", f.Launch, f.Side)
	}
	return fmt.Sprintf("Run %d of %s failed", f.Run, f.Side)
}

// runE2E is the e2e latency of each run with a dump, in run order.
func runE2E(runs []dump.Run) []float64 {
	out := make([]float64, 0, len(runs))
	for _, d := range dumps(runs) {
		out = append(out, d.TotalMs)
	}
	return out
}

// Package changepoint finds the commits at which a performance series
// changed level, with the method of Apache Otava (formerly Hunter: Fleming
// et al., "Hunter: Using Change Point Detection to Hunt for Performance
// Regressions", ICPE 2023, https://doi.org/10.1145/3578244.3583719):
//
//  1. Split: E-divisive means (Matteson and James, 2014) in sliding
//     windows proposes candidates, each kept when a two-sample t-test
//     across it is significant at a relaxed first-pass level.
//  2. Merge: the weakest change point (the largest p-value, or when every
//     p is below the level, the smallest change) is dropped and its
//     neighbours are tested again, until every change point left has
//     p < P and a change of at least the minimum.
//
// It is deterministic: the t-test replaces the permutation test of the
// original E-divisive, so the same series always gives the same answer.
// What it adds to Otava: a minimum segment length (one outlier is not a
// change), raw samples per commit (E-divisive runs on each commit's median;
// the t-tests use every sample of the segments on either side), and
// environment fingerprints (a change of GPU, driver, CUDA or torch splits
// the series into parts analysed on their own and is reported as an
// environment break, never as a change point of the code).
//
// The package is pure: no exec, no network, no environment.
package changepoint

import (
	"fmt"
	"math"
	"slices"

	"github.com/diffperf/diffperf/internal/input"
)

// Point is one commit of a series.
type Point struct {
	// Commit names the point (a commit hash for history, any label in a
	// CSV file).
	Commit string
	// Samples are the point's measured values (one or more), in any unit;
	// the relative changes do not depend on it.
	Samples []float64
	// Env is the fingerprint of the environment that measured the point
	// (GPU, driver, CUDA, torch, ...), compared as an opaque string. Empty
	// means not recorded: such a point belongs to the environment before
	// it and never starts a break.
	Env string
}

// Series is a performance series in commit order, oldest first.
type Series []Point

// Options are the detector's parameters. The zero value is not usable;
// start from DefaultOptions.
type Options struct {
	// P is the significance level: a change point is kept only when the
	// t-test across it gives p < P. The split step proposes candidates at
	// Otava's relaxed first-pass level (10·P below 0.05, 2·P below 0.5).
	P float64
	// MinChangePct is the smallest change, in percent, that a change point
	// may have: the larger of the relative changes of the two segments'
	// medians either way, |after/before - 1| and |before/after - 1|
	// (Otava's magnitude, on medians). 0 keeps every significant one.
	MinChangePct float64
	// Window is the length, in points, of E-divisive's sliding windows,
	// which advance by half a window (Otava's window_len).
	Window int
	// MinSegment is the fewest points a segment between two change points
	// (or the series' ends, or an environment break) may have.
	MinSegment int

	// otava makes the merge step Otava's to the letter, for the tests that
	// compare with Otava's answers: the magnitude of the means, not of the
	// medians, and after a removal the change points at the removed one's
	// position and the next re-tested, not the two neighbours (see merge).
	otava bool
}

// DefaultOptions are p 0.001, a change of at least 1 %, windows of 50
// points and segments of at least 3.
func DefaultOptions() Options {
	return Options{P: 0.001, MinChangePct: 1, Window: 50, MinSegment: 3}
}

// Validate reports an option that cannot be used, as an input error that
// names it like the command's flag (p, min-change, window, min-segment).
func (o Options) Validate() error {
	switch {
	case !(o.P > 0 && o.P < 1):
		return input.Errorf("p", "%v is not a significance level in (0, 1)", o.P)
	case !(o.MinChangePct >= 0) || math.IsInf(o.MinChangePct, 0):
		return input.Errorf("min-change", "%v is not a percentage >= 0", o.MinChangePct)
	case o.MinSegment < 1:
		return input.Errorf("min-segment", "%d is not a number of points >= 1", o.MinSegment)
	case o.Window < 2 || o.Window < 2*o.MinSegment:
		return input.Errorf("window", "%d points cannot hold two segments of at least %d (the minimum segment); use at least %d", o.Window, o.MinSegment, max(2, 2*o.MinSegment))
	}
	return nil
}

// ChangePoint is a commit at which the series changed level.
type ChangePoint struct {
	// Index is the first point of the new segment, from 0.
	Index int
	// Commit is that point's commit.
	Commit string
	// BeforeMedian and AfterMedian are the medians of all samples of the
	// segments before and after the change point.
	BeforeMedian, AfterMedian float64
	// ChangePct is AfterMedian/BeforeMedian - 1, in percent (0 when
	// BeforeMedian is 0).
	ChangePct float64
	// P is the two-sided p-value of the t-test between the two segments'
	// samples.
	P float64
}

// EnvBreak is a point whose environment fingerprint differs from the one
// before it: the series is analysed on either side of it separately.
type EnvBreak struct {
	// Index is the first point measured in the new environment.
	Index int
	// Commit is that point's commit.
	Commit string
	// From and To are the fingerprints before and after.
	From, To string
}

// Result is what Detect found: findings, not errors.
type Result struct {
	// Points is the number of points of the series.
	Points int
	// ChangePoints are in index order.
	ChangePoints []ChangePoint
	// EnvBreaks are in index order.
	EnvBreaks []EnvBreak
}

// Detect finds the change points and environment breaks of s. Its error
// is an input error naming the point that cannot be used (no samples, a
// value that is not finite) or the option that is out of range.
func Detect(s Series, opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	d, err := newData(s, opt)
	if err != nil {
		return nil, err
	}
	res := &Result{Points: len(s), ChangePoints: []ChangePoint{}, EnvBreaks: []EnvBreak{}}
	lo, env := 0, ""
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (s[i].Env == "" || env == "" || s[i].Env == env) {
			if env == "" {
				env = s[i].Env
			}
			continue
		}
		for _, c := range d.detect(lo, i) {
			res.ChangePoints = append(res.ChangePoints, ChangePoint{
				Index: c.index, Commit: s[c.index].Commit,
				BeforeMedian: c.before, AfterMedian: c.after,
				ChangePct: relChange(c.before, c.after) * 100, P: c.p,
			})
		}
		if i < len(s) {
			res.EnvBreaks = append(res.EnvBreaks, EnvBreak{Index: i, Commit: s[i].Commit, From: env, To: s[i].Env})
			lo, env = i, s[i].Env
		}
	}
	return res, nil
}

func pointName(i int, p Point) string {
	if p.Commit == "" {
		return fmt.Sprintf("point %d", i)
	}
	return fmt.Sprintf("point %d (%s)", i, p.Commit)
}

// newData prepares s for detection with opt.
func newData(s Series, opt Options) (*data, error) {
	d := &data{off: make([]int, 1, len(s)+1), values: make([]float64, len(s)), opt: opt}
	for i, p := range s {
		if len(p.Samples) == 0 {
			return nil, input.Errorf(pointName(i, p), "has no samples")
		}
		for _, v := range p.Samples {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, input.Errorf(pointName(i, p), "sample %v is not a finite number", v)
			}
		}
		d.flat = append(d.flat, p.Samples...)
		d.off = append(d.off, len(d.flat))
		d.values[i] = median(p.Samples)
	}
	return d, nil
}

// data is a series prepared for detection: each point's median, for
// E-divisive, and every sample, for the t-tests.
type data struct {
	values []float64 // per point: the median of its samples
	flat   []float64 // every sample, point after point
	off    []int     // point i's samples are flat[off[i]:off[i+1]]
	opt    Options
}

func (d *data) samples(a, b int) []float64 { return d.flat[d.off[a]:d.off[b]] }

// cp is a change point with the statistics of the segments on either side.
type cp struct {
	index         int
	p             float64
	before, after float64 // medians
	magnitude     float64 // Otava's: max(|after/before-1|, |before/after-1|), a fraction
}

// test computes the statistics of a change point at idx between the
// segments [a, idx) and [idx, b).
func (d *data) test(idx, a, b int) cp {
	left, right := d.samples(a, idx), d.samples(idx, b)
	c := cp{index: idx, p: studentT(left, right), before: median(left), after: median(right)}
	lv, rv := c.before, c.after
	if d.opt.otava {
		lv, _ = meanStd(left)
		rv, _ = meanStd(right)
	}
	c.magnitude = max(math.Abs(relChange(lv, rv)), math.Abs(relChange(rv, lv)))
	return c
}

// detect is Otava's compute_change_points (otava/analysis.py) on the
// points [lo, hi): split, then merge.
func (d *data) detect(lo, hi int) []cp {
	return d.merge(d.split(lo, hi), lo, hi)
}

// firstPassP is the relaxed level of the split step, as Otava's
// compute_change_points sets it: the candidates are "weak" change points
// that the merge step filters at P.
func firstPassP(p float64) float64 {
	switch {
	case p < 0.05:
		return p * 10
	case p < 0.5:
		return p * 2
	}
	return p
}

// split is Otava's split (otava/analysis.py): E-divisive in windows of
// Window points over [lo, hi), each starting half a window after the last,
// or at the last change point found when that is further; the union of
// their change points, each tested between its neighbours.
func (d *data) split(lo, hi int) []cp {
	step := d.opt.Window / 2
	p1 := firstPassP(d.opt.P)
	var found []int
	for start := lo; start < hi; {
		end := min(start+d.opt.Window, hi)
		cps := d.window(start, end, p1)
		last := lo
		if len(cps) > 0 {
			last = cps[len(cps)-1]
		}
		start = max(last, start+step)
		for _, c := range cps {
			if !slices.Contains(found, c) {
				found = append(found, c)
			}
		}
	}
	slices.Sort(found)
	out := make([]cp, len(found))
	for i, idx := range found {
		out[i] = d.test(idx, bound(found, i-1, lo), bound(found, i+1, hi))
	}
	return out
}

// bound is the index of change point i, or the end of the part when i is
// out of range.
func bound(idx []int, i, end int) int {
	if i < 0 || i >= len(idx) {
		return end
	}
	return idx[i]
}

// window is Otava's ChangePointDetector.get_change_points
// (otava/change_point_divisive/detector.py) with its t-test on [start,
// end): the best E-divisive candidate over the intervals between the change
// points found so far, kept while the t-test across it (within its
// interval) gives p <= level. It returns the change points' indexes, in
// order.
func (d *data) window(start, end int, level float64) []int {
	var cps []int
	for {
		best, bestQ, found := 0, 0.0, false
		a := start
		for i := 0; i <= len(cps); i++ {
			b := bound(cps, i, end)
			if tau, q, ok := d.candidate(a, b); ok && (!found || q > bestQ) {
				best, bestQ, found = tau, q, true
			}
			a = b
		}
		if !found {
			return cps
		}
		i, _ := slices.BinarySearch(cps, best)
		if studentTAt(d, best, bound(cps, i-1, start), bound(cps, i, end)) > level {
			return cps
		}
		cps = slices.Insert(cps, i, best)
	}
}

func studentTAt(d *data, idx, a, b int) float64 {
	return studentT(d.samples(a, idx), d.samples(idx, b))
}

// merge is Otava's merge (otava/analysis.py) with the minimum segment:
// while any change point is too weak, drop the weakest and test its two
// neighbours again between their new neighbours. Weakest, in this order: a
// change point next to a segment shorter than MinSegment (the one of
// those with the largest p); the largest p when it is not below P; the
// smallest magnitude when it is below MinChangePct.
//
// Otava's merge re-tests, after removing change point k, the change points
// now at k and k+1: the one after the removed one (right) and the next,
// whose segments did not change, while the one before keeps the statistics
// of its old, shorter segment after (an off-by-one, so its p-value and
// change are stale). Here the two neighbours, k-1 and k, are tested again,
// so every reported p-value and change is between the segments that are
// reported. On Otava's TigerBeetle examples this keeps a few change points
// that Otava drops (TestOtavaExamples shows both); with Options.otava set,
// the merge is Otava's and gives Otava's answers.
func (d *data) merge(cps []cp, lo, hi int) []cp {
	ms, minMag := d.opt.MinSegment, d.opt.MinChangePct/100
	at := func(i, end int) int {
		if i < 0 || i >= len(cps) {
			return end
		}
		return cps[i].index
	}
	for len(cps) > 0 {
		k := -1
		for i, c := range cps {
			short := c.index-at(i-1, lo) < ms || at(i+1, hi)-c.index < ms
			if short && (k < 0 || c.p > cps[k].p) {
				k = i
			}
		}
		if k < 0 {
			k = 0
			for i, c := range cps {
				if c.p > cps[k].p {
					k = i
				}
			}
			if cps[k].p < d.opt.P {
				k = 0
				for i, c := range cps {
					if c.magnitude < cps[k].magnitude {
						k = i
					}
				}
				if cps[k].magnitude >= minMag {
					return cps
				}
			}
		}
		cps = slices.Delete(cps, k, k+1)
		retest := []int{k - 1, k}
		if d.opt.otava {
			retest = []int{k, k + 1}
		}
		for _, i := range retest {
			if i >= 0 && i < len(cps) {
				cps[i] = d.test(cps[i].index, at(i-1, lo), at(i+1, hi))
			}
		}
	}
	return cps
}

// relChange is to/from - 1, and 0 when from is 0 (Otava's
// forward_rel_change with its value_if_nan).
func relChange(from, to float64) float64 {
	if from == 0 {
		return 0
	}
	return to/from - 1
}

// median is the median of x, the mean of the middle two for an even
// length; x is not modified.
func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

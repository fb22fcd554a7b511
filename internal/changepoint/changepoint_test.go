package changepoint

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/input"
	"github.com/google/go-cmp/cmp"
)

// gen builds seeded series: level(i) times 1 + noise·N(0,1), samples per
// point.
type gen struct {
	rng     *rand.Rand
	noise   float64 // relative, 0.01 = 1 %
	samples int
}

func newGen(seed uint64, noise float64, samples int) *gen {
	return &gen{rng: rand.New(rand.NewPCG(seed, 0x5eed)), noise: noise, samples: samples}
}

func (g *gen) series(n int, level func(i int) float64) Series {
	s := make(Series, n)
	for i := range s {
		s[i].Commit = fmt.Sprintf("c%03d", i)
		for range g.samples {
			s[i].Samples = append(s[i].Samples, level(i)*(1+g.noise*g.rng.NormFloat64()))
		}
	}
	return s
}

// step is a level of 100 that is 100·(1+pct/100) from index at on.
func step(at int, pct float64) func(int) float64 {
	return func(i int) float64 {
		if i >= at {
			return 100 * (1 + pct/100)
		}
		return 100
	}
}

// checkSegments checks what a Result claims against the series, from
// scratch: each change point's p-value and medians are those of the
// segments between its reported neighbours (change points, environment
// breaks, the ends), every segment has at least MinSegment points, and
// every change point is significant and large enough.
func checkSegments(t *testing.T, s Series, r *Result, opt Options) {
	t.Helper()
	bounds := []int{0, len(s)}
	for _, c := range r.ChangePoints {
		bounds = append(bounds, c.Index)
	}
	for _, b := range r.EnvBreaks {
		bounds = append(bounds, b.Index)
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	pool := func(a, b int) []float64 {
		var x []float64
		for _, p := range s[a:b] {
			x = append(x, p.Samples...)
		}
		return x
	}
	for _, c := range r.ChangePoints {
		i, _ := slices.BinarySearch(bounds, c.Index)
		a, b := bounds[i-1], bounds[i+1]
		if c.Index-a < opt.MinSegment || b-c.Index < opt.MinSegment {
			t.Errorf("change point %d: segments [%d,%d) and [%d,%d), want at least %d points each", c.Index, a, c.Index, c.Index, b, opt.MinSegment)
		}
		left, right := pool(a, c.Index), pool(c.Index, b)
		if p := studentT(left, right); math.Abs(p-c.P) > 1e-12*math.Max(1, p) {
			t.Errorf("change point %d: p = %g, but the t-test between its segments gives %g", c.Index, c.P, p)
		}
		if c.BeforeMedian != median(left) || c.AfterMedian != median(right) {
			t.Errorf("change point %d: medians %g -> %g, want %g -> %g", c.Index, c.BeforeMedian, c.AfterMedian, median(left), median(right))
		}
		if !(c.P < opt.P) {
			t.Errorf("change point %d: p = %g, want < %g", c.Index, c.P, opt.P)
		}
		mag := 100 * max(math.Abs(relChange(c.BeforeMedian, c.AfterMedian)), math.Abs(relChange(c.AfterMedian, c.BeforeMedian)))
		if !opt.otava && mag < opt.MinChangePct {
			t.Errorf("change point %d: change of %.3g%%, want at least %g%%", c.Index, mag, opt.MinChangePct)
		}
		if s[c.Index].Commit != c.Commit {
			t.Errorf("change point %d: commit %q, want %q", c.Index, c.Commit, s[c.Index].Commit)
		}
	}
}

// TestKnownTruth runs the defaults on series whose changes are known.
func TestKnownTruth(t *testing.T) {
	t.Parallel()
	withEnv := func(s Series, from int, env string) Series {
		for i := range s {
			s[i].Env = "gpu=H100 driver=580 torch=2.9"
			if i >= from {
				s[i].Env = env
			}
		}
		return s
	}
	outlier := func(i int) float64 {
		if i == 30 {
			return 110
		}
		return 100
	}
	tests := []struct {
		name       string
		series     Series
		want       []int // change points
		wantBreaks []int // environment breaks
		atMost     int   // with want nil: at most this many change points
	}{
		{"one step of 3% in noise of 1%", newGen(1, 0.01, 1).series(80, step(40, 3)), []int{40}, nil, 0},
		{"one step of -3% in noise of 1%", newGen(2, 0.01, 1).series(80, step(33, -3)), []int{33}, nil, 0},
		{"a single outlier of +10%", newGen(3, 0.01, 1).series(60, outlier), []int{}, nil, 0},
		{"an outlier of +10% in the last point", newGen(4, 0.01, 1).series(60, step(59, 10)), []int{}, nil, 0},
		{"two steps 10 points apart", newGen(5, 0.01, 1).series(80, func(i int) float64 {
			return step(30, 3)(i) + step(40, 3)(i) - 100
		}), []int{30, 40}, nil, 0},
		{"a step up and back down 10 points later", newGen(6, 0.01, 1).series(80, func(i int) float64 {
			return step(30, 4)(i) - step(40, 4)(i) + 100
		}), []int{30, 40}, nil, 0},
		{"a slow drift of 4% over 100 points", newGen(7, 0.01, 1).series(100, func(i int) float64 {
			return 100 * (1 + 0.04*float64(i)/99)
		}), nil, nil, 2},
		{"noise only", newGen(8, 0.01, 1).series(100, step(0, 0)), []int{}, nil, 0},
		{"noise only, 5 samples a point", newGen(9, 0.01, 5).series(100, step(0, 0)), []int{}, nil, 0},
		{"a step of 5% where the environment changes", withEnv(newGen(10, 0.01, 1).series(60, step(30, 5)), 30, "gpu=H100 driver=590 torch=2.9"), []int{}, []int{30}, 0},
		{"an environment break, then a code change", withEnv(newGen(11, 0.01, 1).series(90, func(i int) float64 {
			return step(30, -5)(i) + step(60, 3)(i) - 100
		}), 30, "gpu=H200 driver=580 torch=2.9"), []int{60}, []int{30}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opt := DefaultOptions()
			r, err := Detect(tt.series, opt)
			if err != nil {
				t.Fatal(err)
			}
			got := indexes(r)
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("change points (-want +got):\n%s", diff)
				}
			} else if len(got) > tt.atMost {
				t.Errorf("change points %v, want at most %d", got, tt.atMost)
			}
			var breaks []int
			for _, b := range r.EnvBreaks {
				breaks = append(breaks, b.Index)
			}
			if diff := cmp.Diff(tt.wantBreaks, breaks); diff != "" {
				t.Errorf("environment breaks (-want +got):\n%s", diff)
			}
			if r.Points != len(tt.series) {
				t.Errorf("Points = %d, want %d", r.Points, len(tt.series))
			}
			checkSegments(t, tt.series, r, opt)
		})
	}
}

// TestEnvBreakReported checks what an environment break says, and that
// unrecorded fingerprints ("") never break the series.
func TestEnvBreakReported(t *testing.T) {
	t.Parallel()
	s := newGen(12, 0.01, 1).series(12, step(0, 0))
	for i := range s {
		switch {
		case i < 5:
			s[i].Env = "A"
		case i == 5 || i == 6:
			s[i].Env = ""
		default:
			s[i].Env = "B"
		}
	}
	s[0].Env = ""
	r, err := Detect(s, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := []EnvBreak{{Index: 7, Commit: "c007", From: "A", To: "B"}}
	if diff := cmp.Diff(want, r.EnvBreaks); diff != "" {
		t.Errorf("environment breaks (-want +got):\n%s", diff)
	}
}

// TestSamplesAreTested shows that the t-tests use every sample of a
// commit, not only its median: a step of 2% in noise of 3%, 9 samples a
// commit, 10 commits a side, is significant on the samples and not on
// the medians alone.
func TestSamplesAreTested(t *testing.T) {
	t.Parallel()
	s := newGen(13, 0.03, 9).series(20, step(10, 2))
	r, err := Detect(s, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{10}, indexes(r)); diff != "" {
		t.Errorf("with samples, change points (-want +got):\n%s", diff)
	}
	checkSegments(t, s, r, DefaultOptions())
	medians := make(Series, len(s))
	for i, p := range s {
		medians[i] = Point{Commit: p.Commit, Samples: []float64{median(p.Samples)}}
	}
	r, err = Detect(medians, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes(r); len(got) != 0 {
		t.Errorf("with the medians alone, change points %v, want none (the series is too short and noisy for that)", got)
	}
}

// TestOptions checks each option's effect where it decides.
func TestOptions(t *testing.T) {
	t.Parallel()
	small := newGen(14, 0.002, 1).series(60, step(30, 0.8))      // a clear change of 0.8 %
	blip := newGen(15, 0.01, 1).series(60, func(i int) float64 { // one outlier
		if i == 58 {
			return 130
		}
		return 100
	})
	late := newGen(16, 0.01, 1).series(200, step(150, 3)) // a step far from the start
	tests := []struct {
		name   string
		series Series
		opt    func(*Options)
		want   []int
	}{
		{"0.8% below --min-change 1%", small, func(*Options) {}, []int{}},
		{"0.8% at --min-change 0.5%", small, func(o *Options) { o.MinChangePct = 0.5 }, []int{30}},
		{"an outlier of +30% next to the end, --min-segment 3", blip, func(*Options) {}, []int{}},
		{"an outlier of +30% next to the end, --min-segment 1 (none, as Otava)", blip, func(o *Options) { o.MinSegment = 1 }, []int{58}},
		{"a step at 150 of 200, window 50", late, func(*Options) {}, []int{150}},
		{"a step at 150 of 200, window 10", late, func(o *Options) { o.Window = 10 }, []int{150}},
		{"a step at 150 of 200, --p 1e-30", late, func(o *Options) { o.P = 1e-30 }, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opt := DefaultOptions()
			tt.opt(&opt)
			r, err := Detect(tt.series, opt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, indexes(r)); diff != "" {
				t.Errorf("change points (-want +got):\n%s", diff)
			}
			checkSegments(t, tt.series, r, opt)
		})
	}
}

func TestDetectErrors(t *testing.T) {
	t.Parallel()
	ok := Series{{Commit: "a", Samples: []float64{1}}}
	tests := []struct {
		name   string
		series Series
		opt    func(*Options)
		input  string // the input the error names
		msg    string
	}{
		{"p of 0", ok, func(o *Options) { o.P = 0 }, "p", "not a significance level"},
		{"p of 1", ok, func(o *Options) { o.P = 1 }, "p", "not a significance level"},
		{"p NaN", ok, func(o *Options) { o.P = math.NaN() }, "p", "not a significance level"},
		{"negative min-change", ok, func(o *Options) { o.MinChangePct = -1 }, "min-change", "not a percentage"},
		{"min-segment 0", ok, func(o *Options) { o.MinSegment = 0 }, "min-segment", ">= 1"},
		{"window 1", ok, func(o *Options) { o.Window = 1; o.MinSegment = 1 }, "window", "use at least 2"},
		{"window below two segments", ok, func(o *Options) { o.Window = 5 }, "window", "use at least 6"},
		{"a point without samples", Series{{Commit: "a", Samples: []float64{1}}, {Commit: "b"}}, func(*Options) {}, "point 1 (b)", "no samples"},
		{"a NaN sample", Series{{Samples: []float64{1, math.NaN()}}}, func(*Options) {}, "point 0", "not a finite number"},
		{"an infinite sample", Series{{Commit: "x", Samples: []float64{math.Inf(1)}}}, func(*Options) {}, "point 0 (x)", "not a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opt := DefaultOptions()
			tt.opt(&opt)
			_, err := Detect(tt.series, opt)
			var ie *input.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an input error", err)
			}
			if ie.Name != tt.input || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q names %q, want %q and %q", err, ie.Name, tt.input, tt.msg)
			}
		})
	}
}

func TestEmptyAndShortSeries(t *testing.T) {
	t.Parallel()
	for n := range 7 {
		r, err := Detect(newGen(17, 0.01, 1).series(n, step(n/2, 50)), DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		want := []int{}
		if n == 6 {
			want = []int{3} // two segments of 3 points, 50 % apart
		}
		if diff := cmp.Diff(want, indexes(r)); r.Points != n || diff != "" {
			t.Errorf("%d points with a step of 50%% at %d: %d points, change points (-want +got):\n%s", n, n/2, r.Points, diff)
		}
	}
}

// TestStudentT checks the t-test against Student's t tables and Otava's
// test_significance_tester (tests/analysis_test.py).
func TestStudentT(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ t, df, p float64 }{
		{2.228138852, 10, 0.05},  // two-sided 5 % critical value, 10 df
		{3.169272673, 10, 0.01},  // 1 %
		{4.586893858, 10, 0.001}, // 0.1 %
		{12.70620474, 1, 0.05},   // 1 df
		{1.959963985, 1e9, 0.05}, // the normal limit
		{3.290526731, 1e9, 0.001},
		{0, 5, 1},
	} {
		if got := tTwoSided(tt.t, tt.df); math.Abs(got-tt.p) > 2e-4*tt.p+1e-12 {
			t.Errorf("P(|T| >= %g; %g df) = %.6g, want %g", tt.t, tt.df, got, tt.p)
		}
	}
	same := []float64{1.00, 1.02, 1.05, 0.95, 0.98, 1.00, 1.02, 1.05, 0.95, 0.98}
	if p := studentT(same[:5], same[5:]); !(p > 0.99 && p < 1.01) {
		t.Errorf("Otava's equal halves: p = %g, want about 1", p)
	}
	apart := []float64{1.00, 1.02, 1.05, 0.95, 0.98, 0.80, 0.82, 0.85, 0.79, 0.77}
	if p := studentT(apart[:5], apart[5:]); !(p > 0 && p < 0.001) {
		t.Errorf("Otava's shifted halves: p = %g, want in (0, 0.001)", p)
	}
	if p := studentT([]float64{1}, []float64{2}); p != 1 {
		t.Errorf("one value a side: p = %g, want 1 (as Otava)", p)
	}
	if p := studentT([]float64{1, 1}, []float64{2, 2}); p != 0 {
		t.Errorf("constant sides apart: p = %g, want 0", p)
	}
	if p := studentT([]float64{1, 1}, []float64{1, 1}); p != 1 {
		t.Errorf("constant equal sides: p = %g, want 1", p)
	}
}

// bruteQ is E-divisive's Q of X = v[a:tau], Y = v[tau:kappa] straight
// from its definition (Otava's compute_Q_and_candidate_slow).
func bruteQ(v []float64, a, tau, kappa int) float64 {
	x, y := v[a:tau], v[tau:kappa]
	n, m := float64(len(x)), float64(len(y))
	var xy, xx, yy float64
	for _, p := range x {
		for _, q := range y {
			xy += math.Abs(p - q)
		}
	}
	for i := range x {
		for k := i + 1; k < len(x); k++ {
			xx += math.Abs(x[i] - x[k])
		}
	}
	for j := range y {
		for k := j + 1; k < len(y); k++ {
			yy += math.Abs(y[j] - y[k])
		}
	}
	q := 2 / (m + n) * xy
	if n > 1 {
		q -= 2 * m / (m + n) / (n - 1) * xx
	}
	if m > 1 {
		q -= 2 * n / (m + n) / (m - 1) * yy
	}
	return q
}

// TestCandidate compares the O(n²) search with the definition, on
// Otava's SEQUENCE and on seeded series, for several minimum segments and
// sub-intervals.
func TestCandidate(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(18, 1))
	inputs := [][]float64{otavaSequence}
	for range 20 {
		v := make([]float64, 5+r.IntN(30))
		for i := range v {
			v[i] = math.Round(r.NormFloat64()*10) / 4 // ties too
		}
		inputs = append(inputs, v)
	}
	for ii, v := range inputs {
		for _, ms := range []int{1, 2, 3} {
			for _, iv := range [][2]int{{0, len(v)}, {1, len(v) - 1}, {2, len(v)}} {
				a, b := iv[0], iv[1]
				d := prepare(single(v), Options{P: 0.01, Window: 100, MinSegment: ms})
				tau, q, ok := d.candidate(a, b)
				wantTau, wantQ, wantOK := 0, 0.0, false
				for ta := a + ms; ta <= b-ms; ta++ {
					for ka := ta + ms; ka <= b; ka++ {
						if bq := bruteQ(v, a, ta, ka); !wantOK || bq > wantQ+1e-9 {
							wantTau, wantQ, wantOK = ta, bq, true
						}
					}
				}
				if ok != wantOK || math.Abs(q-wantQ) > 1e-9 {
					t.Errorf("input %d [%d,%d) min segment %d: candidate (%d, %g, %v), want (%d, %g, %v)", ii, a, b, ms, tau, q, ok, wantTau, wantQ, wantOK)
				}
				if ok && tau != wantTau {
					// Only a tie (to rounding) may pick another τ: its best
					// κ must reach the same Q.
					best := math.Inf(-1)
					for ka := tau + ms; ka <= b; ka++ {
						best = max(best, bruteQ(v, a, tau, ka))
					}
					if math.Abs(best-wantQ) > 1e-9 {
						t.Errorf("input %d [%d,%d) min segment %d: τ %d reaches Q %g, want τ %d with %g", ii, a, b, ms, tau, best, wantTau, wantQ)
					}
				}
			}
		}
	}
	d := prepare(single(otavaSequence), Options{P: 0.01, Window: 100, MinSegment: 1})
	if tau, _, _ := d.candidate(0, len(otavaSequence)); tau != 8 && tau != 5 {
		t.Errorf("SEQUENCE: candidate %d, want one of Otava's change points 5 and 8", tau)
	}
}

var (
	cpSeries = flag.Int("cp-series", 200, "series of each kind for TestRates (1000 for docs/benchmarks.md)")
)

// TestRates measures, at the defaults, the false change-point rate on
// noise-only series of 100 points (the fraction of series with at least
// one change point) and the recall and index error on series of 100 points
// with one step of 3 % at a random index in [20, 80), for several noise
// levels and samples a point. The figures of docs/benchmarks.md are
//
//	go test ./internal/changepoint -run TestRates -v -cp-series 1000
func TestRates(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("simulation")
	}
	n := *cpSeries
	opt := DefaultOptions()
	t.Logf("%d series of each kind, 100 points, defaults (p 0.001, window 50, minimum segment 3, minimum change 1%%)", n)
	t.Log("| noise | samples a point | noise-only series with a change point | their change points | 3% steps found within 5 points | index error median | 90th pct | max | other change points in step series |")
	t.Log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, tt := range []struct {
		noise     float64
		samples   int
		maxFalse  float64 // percent of series, a guard over the default run's series
		minRecall float64 // percent
	}{
		{0.005, 1, 2, 99},
		{0.01, 1, 6, 95},
		{0.01, 5, 2, 99},
		{0.02, 1, 6, 0},
		{0.02, 5, 2, 95},
	} {
		rng := rand.New(rand.NewPCG(19, uint64(tt.samples)<<8|uint64(tt.noise*1000)))
		g := &gen{rng: rng, noise: tt.noise, samples: tt.samples}
		falseSeries, falsePoints := 0, 0
		for range n {
			r, err := Detect(g.series(100, step(0, 0)), opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.ChangePoints) > 0 {
				falseSeries++
			}
			falsePoints += len(r.ChangePoints)
		}
		found, extra := 0, 0
		errs := []float64{}
		for range n {
			at := 20 + rng.IntN(60)
			r, err := Detect(g.series(100, step(at, 3)), opt)
			if err != nil {
				t.Fatal(err)
			}
			best := -1
			for _, c := range r.ChangePoints {
				if d := abs(c.Index - at); best < 0 || d < best {
					best = d
				}
			}
			if best >= 0 && best <= 5 {
				found++
				errs = append(errs, float64(best))
				extra += len(r.ChangePoints) - 1
			} else {
				extra += len(r.ChangePoints)
			}
		}
		slices.Sort(errs)
		pct := func(k int) float64 { return 100 * float64(k) / float64(n) }
		q := func(f float64) string {
			if len(errs) == 0 {
				return "-"
			}
			return fmt.Sprint(errs[int(f*float64(len(errs)-1))])
		}
		t.Logf("| %g%% | %d | %.1f%% | %d | %.1f%% | %s | %s | %s | %d |",
			tt.noise*100, tt.samples, pct(falseSeries), falsePoints, pct(found), q(0.5), q(0.9), q(1), extra)
		if pct(falseSeries) > tt.maxFalse {
			t.Errorf("noise %g%%, %d sample(s) a point: %.1f%% of noise-only series have a change point, want at most %g%%", tt.noise*100, tt.samples, pct(falseSeries), tt.maxFalse)
		}
		if pct(found) < tt.minRecall {
			t.Errorf("noise %g%%, %d sample(s) a point: a 3%% step found within 5 points in %.1f%% of series, want at least %g%%", tt.noise*100, tt.samples, pct(found), tt.minRecall)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkDetect500 is one series of 500 points with three steps, at the
// defaults.
func BenchmarkDetect500(b *testing.B) {
	s := newGen(20, 0.01, 1).series(500, func(i int) float64 {
		return step(100, 3)(i) + step(250, -2)(i) + step(400, 5)(i) - 200
	})
	opt := DefaultOptions()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Detect(s, opt); err != nil {
			b.Fatal(err)
		}
	}
}

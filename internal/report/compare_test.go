package report

import (
	"math"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
)

// side builds a side of one run per total, each with an optional peak
// allocated memory and extra stages.
func side(totals []float64, peakMB float64, stages ...dump.Stage) dump.Side {
	s := dump.Side{}
	for i, tot := range totals {
		d := &dump.Dump{Name: "run.json", TotalMs: tot, Stages: append([]dump.Stage{{Name: "DenoisingStage", DurationMs: tot * 0.9, Count: 1}}, stages...)}
		if peakMB > 0 {
			d.Memory = []dump.Checkpoint{{Name: "after_forward", PeakAllocatedMB: peakMB, PeakReservedMB: peakMB * 1.2}}
		}
		s.Runs = append(s.Runs, dump.Run{Index: i + 1, Dump: d})
	}
	return s
}

// jitter returns n values around center, deterministic, spread ±0.5 %.
func jitter(center float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = center * (1 + 0.005*math.Sin(float64(i*7+1)))
	}
	return out
}

func TestCompareVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		base, head  dump.Side
		opt         Options
		want        Verdict
		wantE2E     Verdict
		wantMem     Verdict
		wantWarning string
		check       func(t *testing.T, r *Result)
	}{
		{
			name: "identical samples", base: side(jitter(7000, 5), 0), head: side(jitter(7000, 5), 0),
			want: NoChange, wantE2E: NoChange,
		},
		{
			name: "clear 10% slowdown, 5 runs a side", base: side(jitter(7000, 5), 0), head: side(jitter(7700, 5), 0),
			want: Regression, wantE2E: Regression,
			check: func(t *testing.T, r *Result) {
				if p := r.Metric(MetricE2E).P; p >= 0.05 {
					t.Errorf("p = %v, want < 0.05", p)
				}
			},
		},
		{
			name: "same slowdown, 3 runs a side", base: side(jitter(7000, 3), 0), head: side(jitter(7700, 3), 0),
			want: Inconclusive, wantE2E: Inconclusive, wantWarning: "needs at least 4 runs a side (1 more)",
		},
		{
			name: "one run a side cannot regress", base: side([]float64{7000}, 0), head: side([]float64{9000}, 0),
			want: Inconclusive, wantE2E: Inconclusive, wantWarning: "n=1+1 runs",
		},
		{
			name: "clear 10% speed-up", base: side(jitter(7700, 5), 0), head: side(jitter(7000, 5), 0),
			want: Improvement, wantE2E: Improvement,
		},
		{
			name: "past thresholds but overlapping samples", base: side([]float64{7000, 9000, 7100, 8900, 7050}, 0), head: side([]float64{7600, 8000, 9100, 7020, 8800}, 0),
			want: Inconclusive, wantE2E: Inconclusive,
			check: func(t *testing.T, r *Result) {
				if p := r.Metric(MetricE2E).P; p < 0.05 {
					t.Errorf("p = %v, want not significant", p)
				}
				if !r.NeedsMoreRuns() {
					t.Error("NeedsMoreRuns = false, want true for an inconclusive gated metric")
				}
			},
		},
		{
			name: "significant but below min-delta-ms", base: side(jitter(100, 5), 0), head: side(jitter(110, 5), 0),
			want: NoChange, wantE2E: NoChange,
		},
		{
			name: "significant but below threshold", base: side(jitter(7000, 5), 0), head: side(jitter(7140, 5), 0),
			want: NoChange, wantE2E: NoChange,
			check: func(t *testing.T, r *Result) {
				if p := r.Metric(MetricE2E).P; p >= 0.05 {
					t.Errorf("p = %v, want significant: the threshold, not the test, must decide", p)
				}
			},
		},
		{
			name: "3% memory rise is a memory regression", base: side(jitter(7000, 5), 50000), head: side(jitter(7000, 5), 51500),
			want: Regression, wantE2E: NoChange, wantMem: Regression,
		},
		{
			name: "1% memory rise is not", base: side(jitter(7000, 5), 50000), head: side(jitter(7000, 5), 50500),
			want: NoChange, wantE2E: NoChange, wantMem: NoChange,
		},
		{
			name: "memory regression outranks an e2e improvement", base: side(jitter(7700, 5), 50000), head: side(jitter(7000, 5), 52000),
			want: Regression, wantE2E: Improvement, wantMem: Regression,
		},
		{
			name: "custom looser threshold", base: side(jitter(7000, 5), 0), head: side(jitter(7700, 5), 0),
			opt:  Options{ThresholdPct: 15, MinDeltaMs: 50, MemoryThresholdPct: 2, Alpha: 0.05},
			want: NoChange, wantE2E: NoChange,
		},
		{
			name: "zero baseline and a stage on one side only",
			base: side([]float64{0, 0, 0, 0, 0}, 0),
			head: side(jitter(400, 5), 0, dump.Stage{Name: "NewStage", DurationMs: 300, Count: 1}),
			want: Regression, wantE2E: Regression,
			check: func(t *testing.T, r *Result) {
				e := r.Metric(MetricE2E)
				if e.DeltaPct != 0 {
					t.Errorf("e2e DeltaPct = %v, want 0 for a zero baseline", e.DeltaPct)
				}
				m := r.Metric("stage:NewStage")
				if m == nil {
					t.Fatal("no metric for the stage seen on the head side only")
				}
				if m.Base.Median != 0 || m.Head.Median != 300 || m.DeltaPct != 0 || m.Verdict != Regression {
					t.Errorf("NewStage = base %v head %v pct %v verdict %v, want 0, 300, 0, regression", m.Base.Median, m.Head.Median, m.DeltaPct, m.Verdict)
				}
				if m.Gated {
					t.Error("a stage is gated; stages are information only")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opt := tt.opt
			if opt == (Options{}) {
				opt = DefaultOptions()
			}
			r := Compare(tt.base, tt.head, opt)
			if r.Verdict != tt.want {
				t.Errorf("verdict = %s, want %s (reason: %s)", r.Verdict, tt.want, r.Reason)
			}
			if got := r.Metric(MetricE2E).Verdict; got != tt.wantE2E {
				t.Errorf("e2e verdict = %s, want %s", got, tt.wantE2E)
			}
			if tt.wantMem != "" {
				if got := r.Metric(MetricPeakAllocated).Verdict; got != tt.wantMem {
					t.Errorf("memory verdict = %s, want %s", got, tt.wantMem)
				}
			}
			if tt.wantWarning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tt.wantWarning) {
				t.Errorf("warnings = %q, want one with %q", r.Warnings, tt.wantWarning)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestCompareFail(t *testing.T) {
	t.Parallel()
	r := Compare(side(jitter(7000, 2), 0), side(jitter(9000, 1), 0), DefaultOptions())
	r.Fail(dump.Failure{Side: "head", Run: 2, Reason: "exit status 1", LogTail: "Traceback"})
	if r.Verdict != Failed || r.Reason != "exit status 1" {
		t.Errorf("after Fail: verdict %s reason %q", r.Verdict, r.Reason)
	}
}

func TestCompareEmptySide(t *testing.T) {
	t.Parallel()
	r := Compare(dump.Side{}, side(jitter(7000, 1), 0), DefaultOptions())
	if r.Verdict != Inconclusive || len(r.Metrics) != 0 {
		t.Errorf("empty base: verdict %s with %d metrics, want inconclusive with none", r.Verdict, len(r.Metrics))
	}
	// Renders without a metric to show.
	if out := Markdown(r, RenderOptions{}); !strings.Contains(out, "inconclusive") {
		t.Errorf("Markdown of an empty comparison lacks the verdict:\n%s", out)
	}
}

func TestMinP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n1, n2 int
		want   float64
	}{
		{1, 1, 1}, {3, 3, 0.1}, {4, 4, 2.0 / 70}, {5, 5, 2.0 / 252}, {3, 5, 2.0 / 56}, {0, 5, 1},
	}
	for _, tt := range tests {
		if got := MinP(tt.n1, tt.n2); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("MinP(%d, %d) = %v, want %v", tt.n1, tt.n2, got, tt.want)
		}
	}
	if got := RunsNeeded(0.05); got != 4 {
		t.Errorf("RunsNeeded(0.05) = %d, want 4", got)
	}
	if got := RunsNeeded(0.01); got != 5 {
		t.Errorf("RunsNeeded(0.01) = %d, want 5", got)
	}
}

func TestStageOrder(t *testing.T) {
	t.Parallel()
	mk := func(names ...string) *dump.Dump {
		d := &dump.Dump{}
		for _, n := range names {
			d.Stages = append(d.Stages, dump.Stage{Name: n, Count: 1})
		}
		return d
	}
	// compare_perf.py: the last new file's order, then earlier new files
	// walking back, then baseline-only stages.
	got := stageOrder([]*dump.Dump{mk("A", "B", "Z")}, []*dump.Dump{mk("A", "X"), mk("C", "A")})
	want := []string{"C", "A", "X", "B", "Z"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("stageOrder = %v, want %v", got, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	bad := []Options{
		{ThresholdPct: -1, Alpha: 0.05},
		{MinDeltaMs: math.NaN(), Alpha: 0.05},
		{MemoryThresholdPct: math.Inf(1), Alpha: 0.05},
		{Alpha: 0},
		{Alpha: 1},
	}
	for _, o := range bad {
		if o.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", o)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

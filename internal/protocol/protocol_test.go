package protocol

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
)

// sampler is a Sampler whose samples are given: e2e milliseconds per side
// and batch, taken in order. It records the order of the runs and what was
// announced, and can fail at a given sample.
type sampler struct {
	values   map[string][2][]float64 // batch -> base, head
	runs     map[string][2][]dump.Run
	order    int
	expected int
	failAt   int // the order of the run that fails; 0 for none
	steps    []string
	sequence []string // "base", "head", ... as they ran
}

func newSampler(first, confirm [2][]float64) *sampler {
	return &sampler{values: map[string][2][]float64{First: first, Confirm: confirm}, runs: map[string][2][]dump.Run{}}
}

func (s *sampler) Pair(_ context.Context, batch string) *dump.Failure {
	runs := s.runs[batch]
	sides := []int{0, 1}
	if len(runs[0])%2 == 1 {
		sides = []int{1, 0}
	}
	for _, i := range sides {
		s.order++
		name := [2]string{"base", "head"}[i]
		if s.order == s.failAt {
			return &dump.Failure{Side: name, Run: len(runs[i]) + 1, Reason: "run failed"}
		}
		vals := s.values[batch][i]
		v := vals[len(runs[i])%len(vals)]
		runs[i] = append(runs[i], dump.Run{Index: len(runs[i]) + 1, Order: s.order, Dump: &dump.Dump{TotalMs: v}})
		s.sequence = append(s.sequence, name)
	}
	s.runs[batch] = runs
	return nil
}

func (s *sampler) Sides(batch string) (base, head dump.Side) {
	r := s.runs[batch]
	return dump.Side{Label: "Baseline", Runs: r[0]}, dump.Side{Label: "New", Runs: r[1]}
}

func (s *sampler) Expect(n int)    { s.expected += n }
func (s *sampler) Step(msg string) { s.steps = append(s.steps, msg) }

// ms is n values around v, spread by ±0.1 %: distinct, so the U test
// can separate two of them completely.
func ms(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v * (1 + 0.001*float64(i-n/2)/float64(n))
	}
	return out
}

func plan(runs, maxRuns int, confirm bool) Plan {
	opt := report.DefaultOptions()
	return Plan{Runs: runs, MaxRuns: maxRuns, Confirm: confirm, Options: opt}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	slow := [2][]float64{ms(1000, 5), ms(1100, 5)}
	same := [2][]float64{ms(1000, 5), ms(1000, 5)}
	// Base and head overlap in their first 3 runs a side, then separate: at
	// 3 runs a side p >= 0.1, so extra pairs are needed to settle it.
	unclear := [2][]float64{{1000, 1101, 1002, 1003, 1004, 1005, 1006}, {1100, 1001, 1102, 1103, 1104, 1105, 1106}}
	tests := []struct {
		name        string
		first       [2][]float64
		confirm     [2][]float64
		plan        Plan
		failAt      int
		want        report.Verdict
		wantReason  string
		wantRuns    int // runs a side in the first batch
		wantConfirm int // runs a side in the confirming batch; 0 for none
		wantSteps   int
	}{
		{"planted slowdown, confirmed", slow, slow, plan(5, 5, true), 0, report.Regression, "", 5, 5, 1},
		{"planted slowdown, not confirmed", slow, same, plan(5, 5, true), 0, report.Inconclusive, "not confirmed by a second, independent batch", 5, 5, 1},
		{"planted slowdown, confirmation off", slow, nil2(), plan(5, 5, false), 0, report.Regression, "", 5, 0, 0},
		{"A/A", same, nil2(), plan(5, 5, true), 0, report.NoChange, "", 5, 0, 0},
		{"improvement needs no confirmation", [2][]float64{ms(1100, 5), ms(1000, 5)}, nil2(), plan(5, 5, true), 0, report.Improvement, "", 5, 0, 0},
		{"unclear, extra pairs settle it", unclear, slow, plan(3, 7, false), 0, report.Regression, "", 7, 0, 2},
		{"unclear, no room for extra pairs", unclear, nil2(), plan(3, 3, false), 0, report.Inconclusive, "", 3, 0, 0},
		{"a failed run keeps what ran", slow, nil2(), plan(5, 5, true), 4, report.Failed, "run failed", 1, 0, 0},
		{"a failed confirming run", slow, slow, plan(5, 5, true), 13, report.Failed, "while confirming an apparent regression (E2E Latency +10.0%", 5, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSampler(tt.first, tt.confirm)
			s.failAt = tt.failAt
			r := Decide(context.Background(), s, tt.plan)
			if r.Verdict != tt.want || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("verdict = %s (%s), want %s with %q", r.Verdict, r.Reason, tt.want, tt.wantReason)
			}
			if n := len(r.Base.Runs); n != tt.wantRuns {
				t.Errorf("first batch has %d base runs, want %d", n, tt.wantRuns)
			}
			gotConfirm := 0
			if r.Confirmation != nil {
				gotConfirm = len(r.Confirmation.Base.Runs)
			}
			if gotConfirm != tt.wantConfirm {
				t.Errorf("confirming batch has %d base runs, want %d", gotConfirm, tt.wantConfirm)
			}
			if len(s.steps) != tt.wantSteps {
				t.Errorf("steps = %q, want %d", s.steps, tt.wantSteps)
			}
			if ran := len(s.sequence); tt.failAt == 0 && s.expected != ran {
				t.Errorf("announced %d runs, ran %d", s.expected, ran)
			}
		})
	}
}

func nil2() [2][]float64 { return [2][]float64{{1}, {1}} }

// The runs alternate in balanced order within each batch: base head head
// base, base head head base, ...
func TestDecideOrderIsBalanced(t *testing.T) {
	t.Parallel()
	s := newSampler([2][]float64{ms(1000, 4), ms(1100, 4)}, [2][]float64{ms(1000, 2), ms(1100, 2)})
	Decide(context.Background(), s, plan(4, 4, true))
	want := strings.Fields("base head head base base head head base " + "base head head base base head head base")
	if diff := cmp.Diff(want, s.sequence); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestPlanValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p    Plan
		want string
	}{
		{plan(0, 0, true), "runs: 0 is not a positive count"},
		{plan(5, 3, true), "max-runs: 3 is less than runs (5)"},
		{Plan{Runs: 5, MaxRuns: 5, Options: report.Options{ThresholdPct: 5, Alpha: 2}}, "alpha: 2 is not in (0, 1)"},
		{plan(5, 5, true), ""},
	} {
		err := tt.p.Validate()
		if got := errString(err); got != tt.want {
			t.Errorf("Validate(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

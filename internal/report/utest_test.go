package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// permutationP is the oracle: the two-sided p-value of the U test by
// brute force over every way to split the pooled values into sides of
// len(x1) and len(x2), with U counted pair by pair (a tie counts one half).
func permutationP(x1, x2 []float64) float64 {
	all := append(append([]float64{}, x1...), x2...)
	n, n1 := len(all), len(x1)
	u := func(a, b []float64) float64 {
		s := 0.0
		for _, x := range a {
			for _, y := range b {
				switch {
				case x > y:
					s++
				case x == y:
					s += 0.5
				}
			}
		}
		return s
	}
	mean := float64(n1*(n-n1)) / 2
	obs := math.Abs(u(x1, x2) - mean)
	as, total := 0, 0
	for mask := 0; mask < 1<<n; mask++ {
		var a, b []float64
		for i, v := range all {
			if mask&(1<<i) != 0 {
				a = append(a, v)
			} else {
				b = append(b, v)
			}
		}
		if len(a) != n1 {
			continue
		}
		total++
		if math.Abs(u(a, b)-mean) >= obs-1e-9 {
			as++
		}
	}
	return float64(as) / float64(total)
}

// TestUTestPExact checks the p-value of small samples against the exact
// permutation oracle: tied samples (where benchmath doubled a skewed tail
// and gave 1.333 for [100, 102] against [102]) exactly, untied ones as
// benchmath's exact U distribution gives them, and never above 1.
func TestUTestPExact(t *testing.T) {
	t.Parallel()
	tests := []struct{ x1, x2 []float64 }{
		{[]float64{100, 102}, []float64{102}},
		{[]float64{102}, []float64{100, 102}},
		{[]float64{1, 1, 2}, []float64{2, 3}},
		{[]float64{5, 5, 5, 6}, []float64{6, 6, 7, 7}},
		{[]float64{1, 2, 3}, []float64{4, 5, 6}},
		{[]float64{1, 3, 5, 7}, []float64{2, 4, 6}},
	}
	// And many drawn from few values, so that ties are common.
	rng := rand.New(rand.NewPCG(20, 1))
	for range 300 {
		n1, n2 := 1+rng.IntN(6), 1+rng.IntN(6)
		x1, x2 := make([]float64, n1), make([]float64, n2)
		for i := range x1 {
			x1[i] = float64(rng.IntN(4))
		}
		for i := range x2 {
			x2[i] = float64(rng.IntN(4))
		}
		tests = append(tests, struct{ x1, x2 []float64 }{x1, x2})
	}
	for range 8 { // larger sides, where the count skips impossible states
		x1, x2 := make([]float64, 8), make([]float64, 7)
		for i := range x1 {
			x1[i] = float64(rng.IntN(5))
		}
		for i := range x2 {
			x2[i] = float64(1 + rng.IntN(5))
		}
		tests = append(tests, struct{ x1, x2 []float64 }{x1, x2})
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.x1, tt.x2), func(t *testing.T) {
			t.Parallel()
			got := uTestP(tt.x1, tt.x2, 0.05)
			if got < 0 || got > 1 {
				t.Fatalf("uTestP = %v, outside [0, 1]", got)
			}
			want := permutationP(tt.x1, tt.x2)
			allEqual := true
			for _, v := range append(append([]float64{}, tt.x1...), tt.x2...) {
				allEqual = allEqual && v == tt.x1[0]
			}
			if allEqual {
				want = 1 // no test possible; 1 as benchmath reports it
			}
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("uTestP = %v, want the permutation p %v", got, want)
			}
		})
	}
}

// TestCompareTiedTinyP is the report's side of it: the e2e row of
// [100, 102] against [102] has p = 1, not 1.333.
func TestCompareTiedTinyP(t *testing.T) {
	t.Parallel()
	r := Compare(side([]float64{100, 102}, 0), side([]float64{102}, 0), DefaultOptions())
	if got := r.Metric(MetricE2E).P; got != 1 {
		t.Errorf("e2e p = %v, want 1", got)
	}
	for _, m := range r.Metrics {
		if m.P > 1 {
			t.Errorf("%s: p = %v > 1", m.ID, m.P)
		}
	}
}

// BenchmarkUTestPTied is the exact tied p-value at its largest, 25+25
// values with ties (values on a 0.5 ms grid), the cost of one metric's p.
func BenchmarkUTestPTied(b *testing.B) {
	rng := rand.New(rand.NewPCG(25, 25))
	x1, x2 := make([]float64, 25), make([]float64, 25)
	for i := range x1 {
		x1[i] = 1000 + float64(rng.IntN(40))/2
		x2[i] = 1005 + float64(rng.IntN(40))/2
	}
	for b.Loop() {
		uTestP(x1, x2, 0.05)
	}
}

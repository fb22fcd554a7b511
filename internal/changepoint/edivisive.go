package changepoint

import "math"

// candidate is E-divisive's best split of the points [a, b), as Otava's
// PairDistanceCalculator.get_candidate_change_point
// (otava/change_point_divisive/calculator.py) finds it: the τ of the pair
// (τ, κ), a < τ < κ <= b, that maximises
//
//	Q(X, Y) = 2/(m+n) Σᵢⱼ |Xᵢ - Yⱼ|
//	        - 2m/((m+n)(n-1)) Σᵢ<ₖ |Xᵢ - Xₖ|
//	        - 2n/((m+n)(m-1)) Σⱼ<ₖ |Yⱼ - Yₖ|
//
// with X = values[a:τ] (n of them) and Y = values[τ:κ] (m), a term whose
// denominator is 0 being 0, and distances to the power 1 (Otava's
// default). Ties go to the smallest τ, then κ, like numpy's argmax over
// Otava's matrix. Here X and Y also have at least MinSegment points each
// (with MinSegment 1, exactly Otava's search); ok is false when [a, b) is
// too short to hold two.
//
// It runs in O((b-a)²) time and O(b-a) memory: for each κ, the sums of
// distances from point κ to the points before it are split into those in
// X and those in Y as τ advances.
func (d *data) candidate(a, b int) (tau int, q float64, ok bool) {
	ms := d.opt.MinSegment
	if b-a < 2*ms {
		return 0, 0, false
	}
	v := d.values
	// total[k] = Σ_{a<=i<k} |v[i]-v[k]|; inX[k] = Σ_{a<=i<τ} |v[i]-v[k]|.
	total := make([]float64, b-a)
	inX := make([]float64, b-a)
	for k := a; k < b; k++ {
		for i := a; i < k; i++ {
			total[k-a] += math.Abs(v[i] - v[k])
		}
	}
	var xx float64 // Σ_{a<=i<k<τ} |v[i]-v[k]|
	found := false
	for t := a + 1; t <= b-ms; t++ {
		// Advance τ to t: point t-1 joins X.
		xx += total[t-1-a]
		for k := t; k < b; k++ {
			inX[k-a] += math.Abs(v[t-1] - v[k])
		}
		if t-a < ms {
			continue
		}
		n := float64(t - a)
		var xy, yy float64
		for kappa := t + 1; kappa <= b; kappa++ {
			k := kappa - 1 // the point that joins Y
			xy += inX[k-a]
			yy += total[k-a] - inX[k-a]
			if kappa-t < ms {
				continue
			}
			m := float64(kappa - t)
			val := 2 / (m + n) * xy
			if n > 1 {
				val -= 2 * m / ((m + n) * (n - 1)) * xx
			}
			if m > 1 {
				val -= 2 * n / ((m + n) * (m - 1)) * yy
			}
			if !found || val > q {
				tau, q, found = t, val, true
			}
		}
	}
	return tau, q, found
}

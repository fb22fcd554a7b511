package changepoint

import "math"

// studentT is the two-sided two-sample Student's t-test of Otava's
// TTestSignificanceTester (apache/otava, otava/analysis.py): the means and
// the standard deviations with numpy's default ddof=0 go to scipy's
// ttest_ind_from_stats with equal_var=True, so the pooled variance is
// ((n1-1)·s1² + (n2-1)·s2²)/(n1+n2-2) with s the population standard
// deviation. A side of one value has a standard deviation of 0; two values
// in all give p = 1. Where scipy answers NaN (two constant sides with the
// same mean: 0/0), the answer here is p = 1, no evidence of a change.
func studentT(left, right []float64) float64 {
	n1, n2 := float64(len(left)), float64(len(right))
	if len(left) == 0 || len(right) == 0 || len(left)+len(right) <= 2 {
		return 1
	}
	m1, s1 := meanStd(left)
	m2, s2 := meanStd(right)
	df := n1 + n2 - 2
	svar := ((n1-1)*s1*s1 + (n2-1)*s2*s2) / df
	denom := math.Sqrt(svar * (1/n1 + 1/n2))
	diff := m1 - m2
	switch {
	case denom == 0 && diff == 0:
		return 1
	case denom == 0:
		return 0
	}
	return tTwoSided(diff/denom, df)
}

// meanStd is the mean and the population standard deviation (ddof=0, as
// numpy.std) of x, two passes for accuracy.
func meanStd(x []float64) (mean, std float64) {
	var sum float64
	for _, v := range x {
		sum += v
	}
	mean = sum / float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(len(x)))
}

// tTwoSided is P(|T| >= |t|) for Student's t distribution with df degrees
// of freedom: the regularized incomplete beta function I_x(df/2, 1/2) at
// x = df/(df+t²).
func tTwoSided(t, df float64) float64 {
	if math.IsNaN(t) {
		return 1
	}
	if math.IsInf(t, 0) {
		return 0
	}
	return betaInc(df/(df+t*t), df/2, 0.5)
}

// betaInc is the regularized incomplete beta function I_x(a, b) for
// 0 <= x <= 1 and a, b > 0, by the continued fraction of Numerical Recipes
// (betai and betacf, modified Lentz), which converges fast for
// x < (a+1)/(a+b+2) and is used through I_x(a, b) = 1 - I_{1-x}(b, a)
// elsewhere.
func betaInc(x, a, b float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(x, a, b) / a
	}
	return 1 - front*betaCF(1-x, b, a)/b
}

func betaCF(x, a, b float64) float64 {
	const (
		maxIter = 300
		eps     = 1e-15
		tiny    = 1e-300
	)
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

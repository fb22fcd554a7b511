package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The number formats of compare_perf.py, in one place: values "%.2f",
// differences "%+.2f", percentages "%+.1f%%".

// FormatMs formats a value with two decimals.
func FormatMs(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// FormatSigned formats a difference with a sign and two decimals.
func FormatSigned(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// FormatPct formats a percentage with a sign and one decimal.
func FormatPct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + "%"
}

// FormatP formats a p-value with three decimals, like benchstat.
func FormatP(p float64) string {
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// FormatNum formats a threshold or option without trailing zeros.
func FormatNum(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// ParsePercent reads a threshold written like "5%" into 5. The % is
// required so that 0.05 (a fraction) is never read as 0.05 %.
func ParsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	switch {
	case !ok || err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("%q is not a percentage (write it like 5%%)", s)
	case v < 0:
		return 0, fmt.Errorf("%q is negative: a threshold is the size of a change, either way (write it like 5%%)", s)
	}
	return v, nil
}

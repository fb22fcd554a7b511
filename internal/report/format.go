package report

import (
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

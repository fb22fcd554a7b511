package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

// StatusState is the state of diffperf's own commit status, the gate that
// branch protection requires.
// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
type StatusState string

// The states GitHub knows.
const (
	StatusPending StatusState = "pending"
	StatusSuccess StatusState = "success"
	StatusFailure StatusState = "failure"
	StatusError   StatusState = "error"
)

// GateState maps a verdict to the state of the status: failure for an
// established regression that is not accepted, error for a measurement
// that failed (or a case that is missing), success otherwise. It does not
// depend on fail-on-regression, which only decides the job's exit code.
func GateState(v Verdict, accepted bool) StatusState {
	switch {
	case v == Regression && !accepted:
		return StatusFailure
	case v == Failed || v == Missing:
		return StatusError
	}
	return StatusSuccess
}

// GateRow is one row of the table verdict → status → exit code.
type GateRow struct {
	// Verdict is the verdict as the table shows it.
	Verdict  Verdict
	Accepted bool
	Status   StatusState
	// Exit is the job's exit code with fail-on-regression true; ExitOff
	// with it false.
	Exit, ExitOff int
}

// GateTable is every verdict with its status and exit codes (0 finished,
// 1 gated regression, 3 runtime failure), in the order the README shows
// them.
func GateTable() []GateRow {
	rows := []GateRow{{Verdict: Regression}, {Verdict: Regression, Accepted: true}, {Verdict: Improvement}, {Verdict: NoChange},
		{Verdict: Inconclusive}, {Verdict: Failed}, {Verdict: Missing}}
	for i, r := range rows {
		rows[i].Status = GateState(r.Verdict, r.Accepted)
		switch rows[i].Status {
		case StatusFailure:
			rows[i].Exit = 1
		case StatusError:
			rows[i].Exit, rows[i].ExitOff = 3, 3
		}
	}
	return rows
}

// GateTableMarkdown renders GateTable as the README shows it.
func GateTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| verdict | status `diffperf` | exit code (`fail-on-regression: true` / `false`) |\n| --- | --- | --- |\n")
	for _, r := range GateTable() {
		v := "`" + string(r.Verdict) + "`"
		if r.Accepted {
			v += " with the accept label"
		} else if r.Verdict == Missing {
			v += " (a matrix cell)"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %d / %d |\n", v, r.Status, r.Exit, r.ExitOff)
	}
	return b.String()
}

// StatusDescription is the description of the final status for r: its
// verdict line and, for an unaccepted regression, how to accept it. The
// caller cuts it to GitHub's 140 characters.
func StatusDescription(r *Result, acceptLabel string) string {
	s := string(r.Verdict)
	if e := r.Metric(MetricE2E); e != nil && r.Verdict != Failed {
		s += fmt.Sprintf(": E2E %s (%s → %s ms), p=%s", FormatPct(e.DeltaPct), FormatMs(e.Base.Median), FormatMs(e.Head.Median), FormatP(e.P))
	}
	switch {
	case r.Verdict == Regression && r.Accepted:
		s = "regression accepted by label " + acceptLabel + "; " + strings.TrimPrefix(s, "regression: ")
	case r.Verdict == Regression:
		s += "; " + AcceptHint(acceptLabel)
	case r.Verdict == Failed:
		s += "; retry with /perf (the label does not clear it)"
		if r.Reason != "" {
			s += ": " + r.Reason
		}
	}
	return s
}

// MergedStatusDescription is StatusDescription for a merged report.
func MergedStatusDescription(m *Merged, acceptLabel string) string {
	s := fmt.Sprintf("%s across %d cases", m.Verdict, len(m.Cases))
	counts := m.Counts()
	var facts []string
	for _, w := range countWords {
		if n := counts[w.v]; n > 0 {
			facts = append(facts, fmt.Sprintf("%d %s", n, w.word))
		}
	}
	if len(facts) > 0 {
		s += " (" + strings.Join(facts, ", ") + ")"
	}
	switch GateState(m.Verdict, !m.Gates()) {
	case StatusFailure:
		s += "; " + AcceptHint(acceptLabel)
	case StatusError:
		s += "; retry with /perf (the label does not clear it)"
	default:
		if m.Verdict == Regression {
			s = "regression accepted by label " + acceptLabel + "; " + s
		}
	}
	return s
}

// AcceptHint says how to accept a regression.
func AcceptHint(label string) string { return "add label " + label + " to accept" }

// PendingDescription is the description of the status while sha is being
// measured on gpu ("" when not known yet).
func PendingDescription(sha, gpu string) string {
	if gpu == "" {
		return fmt.Sprintf("measuring %s…", shortSHA(sha))
	}
	return fmt.Sprintf("measuring %s on %s…", shortSHA(sha), gpu)
}

// ForkPendingDescription is the description of the status that holds a
// fork's pull request until a maintainer measures it.
func ForkPendingDescription(sha string) string {
	return fmt.Sprintf("waiting for a maintainer's /perf on %s", shortSHA(sha))
}

// WithMeasuring returns body, an existing comment, with a line right under
// its marker that says sha is being measured since since and that the
// result below is for the commit the comment measured; a measuring line
// already there is replaced. The final upsert replaces the whole body.
func WithMeasuring(body, sha string, since time.Time) string {
	marker, rest, _ := strings.Cut(body, "\n")
	if strings.HasPrefix(rest, comment.MeasuringPrefix) {
		_, rest, _ = strings.Cut(rest, "\n")
		rest = strings.TrimPrefix(rest, "\n")
	}
	old := "an earlier commit"
	if s, ok := ParseState(body); ok {
		old = Code(shortSHA(s.Head))
	}
	line := fmt.Sprintf(comment.MeasuringPrefix+"%s since %s; the result below is for %s", Code(shortSHA(sha)), since.UTC().Format("2006-01-02 15:04 UTC"), old)
	return marker + "\n" + line + "\n\n" + rest
}

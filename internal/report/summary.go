package report

import (
	"fmt"
	"strings"
)

// The step summaries of the jobs that publish no report, in the
// headline's grammar: "## EMOJI diffperf: what happened", then a
// paragraph. Every argument is untrusted text and is escaped here.

// FailedSummary is the summary of a job that failed before it had a
// result: why is the error, with the secrets already removed.
func FailedSummary(why string) string {
	return fmt.Sprintf("## %s diffperf: failed\n\n%s\n", verdictEmoji[Failed], Escape(why))
}

// ForkWaitingSummary is the summary of mode gate holding pull request pr
// of the fork headRepo at pending: the status statusContext on head
// waits for a maintainer's /perf.
func ForkWaitingSummary(pr int, headRepo, statusContext, head string) string {
	return fmt.Sprintf("## ⏳ diffperf: waiting for a maintainer\n\n#%d comes from a fork (%s): the status **%s** on %s stays pending until a maintainer comments `/perf`.\n",
		pr, Escape(headRepo), Escape(statusContext), Code(head))
}

// RedecidedSummary is the summary of mode gate after the accept label
// came or went: n regressions measured at head are now accepted or not.
func RedecidedSummary(n int, head string, accepted bool, acceptLabel string) string {
	word := "accepted"
	if !accepted {
		word = "not accepted"
	}
	return fmt.Sprintf("## diffperf: gate re-decided\n\n%d regression(s) measured at %s are now %s (label **%s**); nothing was measured.\n",
		n, Code(head), word, Escape(acceptLabel))
}

// Dispatch is a /perf request that was dispatched, for its summary.
type Dispatch struct {
	// User asked on pull request PR; Why says why they may (their
	// permission, or the list that names them).
	User string
	PR   int
	Why  string
	// Workflow was dispatched on Ref at SHA, with the overrides Keys.
	Workflow, Ref, SHA string
	Keys               []string
}

// DispatchedSummary is the summary of mode command after a /perf
// request was dispatched.
func DispatchedSummary(d Dispatch) string {
	s := fmt.Sprintf("## 👀 diffperf: /perf dispatched\n\n%s asked on #%d (%s); dispatched %s on %s at %s, pinned now.",
		Escape("@"+d.User), d.PR, d.Why, Escape(d.Workflow), Escape(d.Ref), Code(d.SHA))
	if len(d.Keys) > 0 {
		set := make([]string, len(d.Keys))
		for i, k := range d.Keys {
			set[i] = fmt.Sprintf("`%s`", k)
		}
		s += " Overrides: " + strings.Join(set, ", ") + "."
	}
	return s + "\n"
}

// HistoryHeading is the heading of a history job's summary: head measured
// against base.
func HistoryHeading(head, base string) string {
	return fmt.Sprintf("## diffperf history: %s against %s\n\n", Code(short(head)), Code(short(base)))
}

// CaseHeading is the heading of one case's table in `history show`: key
// is a stored key (letters, digits, ._-, safe in code), name the case's
// name when it differs.
func CaseHeading(key, name string) string {
	h := "### `" + key + "`"
	if name != "" && name != key {
		h += " (" + Escape(name) + ")"
	}
	return h
}

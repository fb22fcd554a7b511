package report

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

// State is what a comment remembers of its verdict, on its hidden second
// line, so that adding the accept label later can turn a failing gate into
// a note without measuring again, as long as the pull request's head is
// still the one measured.
type State struct {
	Version  int     `json:"v"`
	Base     string  `json:"base"` // the SHA measured as base
	Head     string  `json:"head"` // the SHA measured as head
	Verdict  Verdict `json:"verdict"`
	Accepted bool    `json:"accepted,omitempty"`
	// Context is the commit status context the verdict was posted under
	// ("" when no status was posted): mode gate posts it again when the
	// accept label comes or goes.
	Context string `json:"context,omitempty"`
}

var stateSHA = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// StateLine is the hidden line that records r's verdict for its SHAs,
// and the status context it was posted under.
func StateLine(r *Result, context string) string {
	return State{Version: 1, Base: r.Base.SHA, Head: r.Head.SHA, Verdict: r.Verdict, Accepted: r.Accepted, Context: context}.line()
}

// MergedStateLine is StateLine for a merged report: the SHAs that its
// measured cases share (a case measured elsewhere does not count), its
// verdict, and the context; ok is false when the cases name no one pair of
// SHAs (nothing measured, or cells of different commits).
func MergedStateLine(m *Merged, context string) (string, bool) {
	var base, head string
	for _, c := range m.Cases {
		if c.Result == nil || c.Result.Head.SHA == "" {
			continue
		}
		if head != "" && (c.Result.Head.SHA != head || c.Result.Base.SHA != base) {
			return "", false
		}
		base, head = c.Result.Base.SHA, c.Result.Head.SHA
	}
	if !stateSHA.MatchString(head) || !stateSHA.MatchString(base) {
		return "", false
	}
	v := m.Verdict
	if v == Missing {
		v = Failed
	}
	return State{Version: 1, Base: base, Head: head, Verdict: v, Accepted: m.Accepted && m.Verdict == Regression, Context: context}.line(), true
}

func (s State) line() string {
	b, _ := json.Marshal(s) // SHAs are hex and the verdict a word: nothing to escape
	return comment.StateLine(b)
}

// ParseState reads the state a comment body records; ok is false when it
// has none, or one that is not diffperf's (SHAs must be hex).
func ParseState(body string) (State, bool) {
	payload, ok := comment.StatePayload(body)
	if !ok {
		return State{}, false
	}
	var s State
	if err := json.Unmarshal(payload, &s); err != nil || s.Version != 1 || !stateSHA.MatchString(s.Base) || !stateSHA.MatchString(s.Head) {
		return State{}, false
	}
	return s, true
}

// Accept rewrites a comment body that reports an established regression
// as accepted with label, exactly as Markdown and MarkdownMerged render an
// accepted result, without measuring again. It refuses a body whose state
// is not an unaccepted regression.
func Accept(body, label string) (string, error) {
	return setAccepted(body, label, true)
}

// Unaccept undoes Accept: the accept label went away, so the body reports
// the regression as gating again, with how to accept it.
func Unaccept(body, label string) (string, error) {
	return setAccepted(body, label, false)
}

// regressionHeading matches the heading of a regression, accepted or not,
// single (no suffix) or merged (" across N cases"), and the sentence under
// it that says how to accept or that it is accepted, if any.
var regressionHeading = regexp.MustCompile("(?m)^## " + regexp.QuoteMeta(verdictEmoji[Regression]) + ` diffperf: regression(?: \(accepted with the label \*\*[^\n]*?\*\*\))?( across \d+ cases)?\n\n(?:(?:To accept it|The regression is accepted)[^\n]*\n\n)?`)

func setAccepted(body, label string, accepted bool) (string, error) {
	s, ok := ParseState(body)
	if !ok || s.Verdict != Regression || s.Accepted == accepted {
		return "", fmt.Errorf("the comment records no regression to change (accepted %v wanted)", accepted)
	}
	loc := regressionHeading.FindStringSubmatchIndex(body)
	if loc == nil {
		return "", fmt.Errorf("the comment has no regression headline")
	}
	across := ""
	if loc[2] >= 0 {
		across = body[loc[2]:loc[3]]
	}
	s.Accepted = accepted
	body = comment.ReplaceState(body, s.line())
	loc = regressionHeading.FindStringSubmatchIndex(body)
	return body[:loc[0]] + regressionHeadingText(label, accepted, across) + body[loc[1]:], nil
}

// regressionHeadingText is the heading of a regression and the sentence
// under it, with the blank line after: accepted with label, or how to
// accept it (no sentence without a label: a run outside a pull request).
// across is "" for one case, " across N cases" for a merged report.
func regressionHeadingText(label string, accepted bool, across string) string {
	e := verdictEmoji[Regression]
	switch {
	case accepted:
		return fmt.Sprintf("## %s diffperf: regression (accepted with the label **%s**)%s\n\nThe regression is accepted: the PR carries the label **%s**, so the status passes.\n\n",
			e, Escape(label), across, Escape(label))
	case label == "":
		return fmt.Sprintf("## %s diffperf: regression%s\n\n", e, across)
	}
	return fmt.Sprintf("## %s diffperf: regression%s\n\nTo accept it, add the label **%s** to the pull request: the status then passes without measuring again.\n\n",
		e, across, Escape(label))
}

// failedHint is the sentence under the headline of a failed measurement on
// a pull request.
const failedHint = "Comment `/perf` to measure again; the accept label does not clear a failed measurement.\n\n"

package report

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
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
}

const statePrefix = "<!-- diffperf-state: "

var (
	stateLine = regexp.MustCompile(`(?m)^<!-- diffperf-state: (\{[^\n<>]*\}) -->$`)
	stateSHA  = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
)

// StateLine is the hidden line that records r's verdict for its SHAs.
func StateLine(r *Result) string {
	return State{Version: 1, Base: r.Base.SHA, Head: r.Head.SHA, Verdict: r.Verdict, Accepted: r.Accepted}.line()
}

func (s State) line() string {
	b, _ := json.Marshal(s) // SHAs are hex and the verdict a word: nothing to escape
	return statePrefix + string(b) + " -->"
}

// ParseState reads the state a comment body records; ok is false when it
// has none, or one that is not diffperf's (SHAs must be hex).
func ParseState(body string) (State, bool) {
	m := stateLine.FindStringSubmatch(body)
	if m == nil {
		return State{}, false
	}
	var s State
	if err := json.Unmarshal([]byte(m[1]), &s); err != nil || s.Version != 1 || !stateSHA.MatchString(s.Base) || !stateSHA.MatchString(s.Head) {
		return State{}, false
	}
	return s, true
}

// Accept rewrites a comment body that reports an established regression
// as accepted with label, exactly as Markdown renders an accepted result,
// without measuring again. It refuses a body whose state is not an
// unaccepted regression.
func Accept(body, label string) (string, error) {
	s, ok := ParseState(body)
	if !ok || s.Verdict != Regression || s.Accepted {
		return "", fmt.Errorf("the comment records no unaccepted regression")
	}
	heading := fmt.Sprintf("\n## %s diffperf: %s\n", verdictEmoji[Regression], Regression)
	if !strings.Contains(body, heading) {
		return "", fmt.Errorf("the comment has no regression headline")
	}
	s.Accepted = true
	body = stateLine.ReplaceAllLiteralString(body, s.line())
	return strings.Replace(body, heading, "\n"+acceptedHeading(label), 1), nil
}

// acceptedHeading is the heading of an accepted regression and the line
// that says so, up to the blank line before the facts.
func acceptedHeading(label string) string {
	return fmt.Sprintf("## %s diffperf: %s (accepted with the label **%s**)\n\nThe regression is accepted: the PR carries the label **%s**, so the check passes.\n",
		verdictEmoji[Regression], Regression, Escape(label), Escape(label))
}

package report

import (
	"fmt"
	"regexp"
	"strings"
)

// Request is who asked for a measurement with a /perf comment, and at
// which commit: the headline names them, links the comment and says when
// the pull request has moved on since.
type Request struct {
	// By is the login of the comment's author.
	By string `json:"by"`
	// URL is the comment's web address (html_url).
	URL string `json:"url,omitempty"`
	// SHA is the head commit pinned when the request was accepted: the
	// one measured.
	SHA string `json:"sha"`
	// CurrentHead is the pull request's head when the report was made; ""
	// when it could not be read.
	CurrentHead string `json:"current_head,omitempty"`
	// Moved is true when CurrentHead is known and is not SHA.
	Moved bool `json:"moved"`
}

// webURL is an address safe as a Markdown link target: http(s), and no
// blank, quote, bracket or parenthesis that could end the link.
var webURL = regexp.MustCompile(`^https?://[A-Za-z0-9._~:/?#@!$&*+,;=%-]+$`)

// shortSHA is the first 12 hex digits of a SHA, as GitHub links them.
func shortSHA(s string) string {
	if len(s) > 12 && hexSHA.MatchString(s) {
		return s[:12]
	}
	return s
}

// markdown is the request's lines in the headline section. Everything in
// it came from GitHub or a comment: the login is escaped (the mention does
// not ping), the URL is linked only when it is a plain web address, SHAs
// are shown as code only when they are hex.
func (q *Request) markdown() string {
	var b strings.Builder
	where := "in a comment"
	if webURL.MatchString(q.URL) {
		where = "in [a comment](" + q.URL + ")"
	}
	fmt.Fprintf(&b, "Requested with `/perf` by %s %s; measured at %s.\n", Escape("@"+q.By), where, Code(shortSHA(q.SHA)))
	if q.Moved {
		fmt.Fprintf(&b, "\n> [!NOTE]\n> The pull request has moved on since: its head is now %s. This report, and the commit status it posted, are for %s, the commit the request pinned (the status is on that commit, not on the new head); comment `/perf` again to measure the new head.\n",
			Code(shortSHA(q.CurrentHead)), Code(shortSHA(q.SHA)))
	}
	return b.String()
}

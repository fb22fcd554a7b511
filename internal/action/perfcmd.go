package action

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/input"
)

// The /perf command: a maintainer's comment on a pull request, such as
//
//	/perf runs=10 args="--num-inference-steps 28" case=flux
//
// which mode command turns into a workflow_dispatch of the perf workflow at
// the head SHA of that moment. See docs/perf-command.md.

// PerfKeys are the inputs a /perf comment may override, as the perf workflow
// declares them; any other key is refused by name.
var PerfKeys = []string{"runs", "max-runs", "threshold", "min-delta-ms", "prompt", "args", "model-path", "case"}

var (
	// A GitHub login: letters, digits and hyphens, at most 39 characters
	// (older accounts may have a hyphen anywhere).
	loginRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	// A workflow file name in .github/workflows, as the dispatches endpoint
	// takes it.
	workflowRE = regexp.MustCompile(`^[A-Za-z0-9._-]+\.ya?ml$`)
	// A case name: it becomes the comment key, so that each case keeps its
	// own comment.
	fullSHA = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

// parsePerfInputs reads the inputs of the /perf command (perf-users,
// perf-workflow) and of the run it dispatches (request-comment, which needs
// pr-number and head-ref as the pinned SHA).
func (c *Config) parsePerfInputs(in func(string) string) error {
	for _, login := range strings.FieldsFunc(in("perf-users"), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		if !loginRE.MatchString(login) {
			return input.Errorf("perf-users", "%q is not a GitHub login", login)
		}
		c.PerfUsers = append(c.PerfUsers, login)
	}
	c.PerfWorkflow = in("perf-workflow")
	if !workflowRE.MatchString(c.PerfWorkflow) {
		return input.Errorf("perf-workflow", "%q is not a workflow file name such as perf-dispatch.yml", c.PerfWorkflow)
	}
	if v := in("request-comment"); v != "" {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || id < 1 {
			return input.Errorf("request-comment", "%q is not a comment ID", v)
		}
		c.RequestComment = id
		if c.PRNumber == 0 {
			return input.Errorf("pr-number", "required with request-comment (the pull request the /perf comment is on)")
		}
		if !IsFullSHA(c.HeadRef) {
			return input.Errorf("head-ref", "%q: with request-comment, the full commit SHA the request pinned", c.HeadRef)
		}
	}
	return nil
}

// IsFullSHA reports whether s is a whole commit SHA as GitHub writes it:
// 40 lower-case hex digits (64 in a SHA-256 repository). A run that a
// /perf comment asked for measures such a SHA, never a branch that may
// move.
func IsFullSHA(s string) bool { return fullSHA.MatchString(s) }

// CommentEvent is an issue_comment event as mode command reads it.
// https://docs.github.com/en/webhooks/webhook-events-and-payloads#issue_comment
type CommentEvent struct {
	Owner, Repo string
	// PR is the pull request the comment is on.
	PR        int
	CommentID int64
	// User is the login of the comment's author.
	User string
	Body string
	// DefaultBranch is the repository's default branch, where the perf
	// workflow is dispatched.
	DefaultBranch string
	// Ignore, when set, says why the event asks for nothing: an edited
	// comment, a bot's, one on a plain issue, or one whose first line is no
	// /perf command. Such an event leaves no trace on GitHub.
	Ignore string
}

// ParseCommentEvent reads the payload of an issue_comment event for
// repository (GITHUB_REPOSITORY, owner/name). Other events are refused:
// mode command answers comments only.
func ParseCommentEvent(event, repository string, payload []byte) (*CommentEvent, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" {
		return nil, input.Errorf("GITHUB_REPOSITORY", "%q is not owner/name", repository)
	}
	if event != "issue_comment" {
		return nil, input.Errorf("event", "%q: mode command answers issue_comment events (a /perf comment on a pull request)", event)
	}
	var ev github.IssueCommentEvent
	if err := json.Unmarshal(payload, &ev); err != nil || ev.Comment == nil || ev.Issue == nil {
		return nil, input.Errorf("event", "the issue_comment payload is unreadable: %w", err)
	}
	cm, user := ev.GetComment(), ev.GetComment().GetUser()
	e := &CommentEvent{Owner: owner, Repo: repo, PR: ev.GetIssue().GetNumber(), CommentID: cm.GetID(), User: user.GetLogin(),
		Body: cm.GetBody(), DefaultBranch: ev.GetRepo().GetDefaultBranch()}
	switch {
	case ev.GetAction() != "created":
		e.Ignore = fmt.Sprintf("the comment was %s, not created", ev.GetAction())
	case user.GetType() == "Bot" || strings.HasSuffix(user.GetLogin(), "[bot]"):
		e.Ignore = "the comment is a bot's"
	case !ev.GetIssue().IsPullRequest():
		e.Ignore = "the comment is on an issue, not a pull request"
	case !IsPerfCommand(e.Body):
		e.Ignore = "the comment's first line is not a /perf command"
	case e.PR == 0 || e.CommentID == 0 || e.User == "":
		return nil, input.Errorf("event", "the issue_comment payload has no issue number, comment ID or author")
	}
	return e, nil
}

// IsPerfCommand reports whether the first line of a comment is a /perf
// command: "/perf" alone or followed by a blank (so /performance is not).
func IsPerfCommand(body string) bool {
	rest, ok := strings.CutPrefix(comment.FirstLine(body), "/perf")
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// ParsePerfCommand reads the key=value words on the first line of a /perf
// comment, split like a shell would (quotes keep a value with blanks in one
// word; nothing is expanded or run). Each key must be one of PerfKeys, at
// most once, and its value valid for the input of that name, as
// ParseInputs judges it; errors name the key. The values are returned
// verbatim, for the dispatch.
func ParsePerfCommand(body string) (map[string]string, error) {
	if !IsPerfCommand(body) {
		return nil, input.Errorf("/perf", "the first line does not start with /perf")
	}
	words, err := bench.SplitWords(strings.TrimPrefix(comment.FirstLine(body), "/perf"))
	if err != nil {
		return nil, input.Wrap("/perf", err)
	}
	known := map[string]bool{}
	for _, k := range PerfKeys {
		known[k] = true
	}
	set := map[string]string{}
	for _, w := range words {
		key, value, ok := strings.Cut(w, "=")
		switch {
		case !ok:
			return nil, input.Errorf("/perf", "%q is not key=value (keys: %s)", w, strings.Join(PerfKeys, ", "))
		case !known[key]:
			return nil, input.Errorf(key, "not a key /perf takes (keys: %s)", strings.Join(PerfKeys, ", "))
		case hasKey(set, key):
			return nil, input.Errorf(key, "given twice")
		case value == "" && key != "args":
			return nil, input.Errorf(key, "empty; write %s=VALUE", key)
		case key == "case" && CheckCaseName(value) != nil:
			return nil, input.Wrap("case", CheckCaseName(value))
		}
		set[key] = value
	}
	// The values must pass what the dispatched run will check. Mode command
	// needs no model, so a request that names none is valid: the perf
	// workflow does.
	if _, err := ParseInputs(func(name string) (string, bool) {
		if name == "mode" {
			return string(ModeCommand), true
		}
		v, ok := set[name]
		return v, ok
	}); err != nil {
		return nil, err
	}
	return set, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

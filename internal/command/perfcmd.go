package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// The /perf command (mode command) and the run it dispatches. See
// docs/perf-command.md.

// configureCommand reads the issue_comment event of mode command. The job
// comments on the comment's pull request, so the Target is that PR.
func (j *actionJob) configureCommand(payload []byte) (*actionJob, error) {
	ev, err := action.ParseCommentEvent(j.e.Getenv("GITHUB_EVENT_NAME"), j.e.Getenv("GITHUB_REPOSITORY"), payload)
	if err != nil {
		return nil, err
	}
	j.comment = ev
	j.tgt = &action.Target{Event: "issue_comment", Owner: ev.Owner, Repo: ev.Repo, PR: ev.PR}
	return j, nil
}

// writeRoles are the permissions that may ask for /perf without being
// listed in perf-users.
// https://docs.github.com/en/organizations/managing-user-access-to-your-organizations-repositories/managing-repository-roles/repository-roles-for-an-organization
var writeRoles = []string{"admin", "maintain", "write"}

// perfCommand answers a /perf comment: ignored events leave no trace; a
// commenter who may not ask gets 👎; a request it cannot read gets 👎 and
// a reply that says why; a good one gets 👀, and the perf workflow is
// dispatched on the default branch at the pull request's head SHA of this
// moment. Refusals are not failures (exit 0); GitHub failing is (exit 3).
func (j *actionJob) perfCommand(ctx context.Context) error {
	ev := j.comment
	dispatched := false
	defer func() { j.setOutput("dispatched", strconv.FormatBool(dispatched)) }()
	if ev.Ignore != "" {
		fmt.Fprintf(j.e.Stderr, "diffperf: nothing to do: %s\n", ev.Ignore)
		return nil
	}
	if j.cfg.Token == "" {
		return input.Errorf("github-token", "mode command needs a token: it reads permissions, reacts and dispatches")
	}
	if err := j.newCommenter(); err != nil {
		return err
	}
	gh := j.commenter
	may, why, err := j.mayAsk(ctx, ev.User)
	if err != nil {
		return err
	}
	if !may {
		j.gha.Noticef("diffperf: /perf by %s refused: %s, and not listed in perf-users", ev.User, why)
		return gh.React(ctx, ev.CommentID, "-1")
	}
	overrides, err := action.ParsePerfCommand(ev.Body)
	if err != nil {
		j.gha.Noticef("diffperf: /perf refused: %v", err)
		return j.refuse(ctx, fmt.Sprintf("`/perf` refused: %s. Nothing was started.\n\n%s", report.Escape(err.Error()), perfUsage))
	}
	if err := gh.React(ctx, ev.CommentID, "eyes"); err != nil {
		return err
	}
	pr, err := gh.PullRequest(ctx, ev.PR)
	if err != nil {
		return err
	}
	sha := pr.GetHead().GetSHA()
	if !action.IsFullSHA(sha) {
		return fmt.Errorf("pull request #%d: GitHub gave no head SHA (%q)", ev.PR, sha)
	}
	ref := ev.DefaultBranch
	if ref == "" {
		ref = pr.GetBase().GetRepo().GetDefaultBranch()
	}
	if ref == "" {
		return fmt.Errorf("pull request #%d: neither the event nor the API names the default branch", ev.PR)
	}
	inputs := map[string]string{"head-ref": sha, "pr-number": strconv.Itoa(ev.PR), "request-comment": strconv.FormatInt(ev.CommentID, 10)}
	for k, v := range overrides {
		inputs[k] = v
	}
	if err := gh.Dispatch(ctx, j.cfg.PerfWorkflow, ref, inputs); err != nil {
		// Tell the requester too: the 👀 promised a run.
		rerr := j.refuse(ctx, fmt.Sprintf("`/perf` could not start %s: %s. A maintainer should check that the workflow exists on %s and declares the inputs `head-ref`, `pr-number`, `request-comment` and every key `/perf` takes.",
			report.Escape(j.cfg.PerfWorkflow), report.Escape(githubMessage(err)), report.Escape(ref)))
		return errors.Join(err, rerr)
	}
	dispatched = true
	j.setOutput("head-sha", sha)
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var set []string
	for _, k := range keys {
		set = append(set, fmt.Sprintf("`%s`", k))
	}
	summary := fmt.Sprintf("## 👀 diffperf: /perf dispatched\n\n%s asked on #%d (%s); dispatched %s on %s at %s, pinned now.",
		report.Escape("@"+ev.User), ev.PR, why, report.Escape(j.cfg.PerfWorkflow), report.Escape(ref), report.Code(sha))
	if len(set) > 0 {
		summary += " Overrides: " + strings.Join(set, ", ") + "."
	}
	j.addSummary(summary + "\n")
	fmt.Fprintf(j.e.Stderr, "diffperf: dispatched %s on %s for #%d at %s (asked by %s)\n", j.cfg.PerfWorkflow, ref, ev.PR, sha, ev.User)
	return nil
}

// perfUsage is the help a refused request's reply ends with.
var perfUsage = "Write `key=value` words on the comment's first line, quoting values with blanks: " +
	"`/perf runs=10 threshold=3% args=\"--num-inference-steps 28\"`. Keys: `" + strings.Join(action.PerfKeys, "`, `") + "`."

// mayAsk says whether user may ask for /perf: listed in perf-users (no API
// call), or with write, maintain or admin permission on the repository; why
// says which.
func (j *actionJob) mayAsk(ctx context.Context, user string) (may bool, why string, err error) {
	for _, u := range j.cfg.PerfUsers {
		if strings.EqualFold(u, user) { // GitHub logins ignore case
			return true, "listed in perf-users", nil
		}
	}
	perm, err := j.commenter.Permission(ctx, user)
	if err != nil {
		return false, "", err
	}
	return slices.Contains(writeRoles, perm), "permission " + perm, nil
}

// refuse reacts 👎 to the request and replies with md (escaped already).
func (j *actionJob) refuse(ctx context.Context, md string) error {
	ev := j.comment
	err := j.commenter.React(ctx, ev.CommentID, "-1")
	_, rerr := j.commenter.Reply(ctx, ev.PR, ev.CommentID, md)
	return errors.Join(err, rerr)
}

// requestBase: a run that a /perf comment asked for (input
// request-comment) measures the pinned head against the pull request's
// base, as a pull_request event does, unless base-ref names another.
func (j *actionJob) requestBase(ctx context.Context) error {
	if j.cfg.RequestComment == 0 || j.cfg.BaseRef != "" {
		return nil
	}
	if j.cfg.Token == "" {
		return input.Errorf("github-token", "request-comment needs a token to read pull request #%d", j.tgt.PR)
	}
	if err := j.newCommenter(); err != nil {
		return err
	}
	pr, err := j.commenter.PullRequest(ctx, j.tgt.PR)
	if err != nil {
		return fmt.Errorf("the base of the request: %w", err)
	}
	if j.tgt.Base = pr.GetBase().GetSHA(); j.tgt.Base == "" {
		return fmt.Errorf("pull request #%d has no base SHA", j.tgt.PR)
	}
	return nil
}

// request is, for the report, who asked for this run, where, at which
// SHA, and whether the pull request has moved on since; nil for a run
// that no /perf comment asked for. What GitHub cannot answer is a
// warning and no request: the measurement stands.
func (j *actionJob) request(ctx context.Context) *report.Request {
	if j.cfg.RequestComment == 0 || j.commenter == nil {
		return nil
	}
	q := &report.Request{SHA: j.tgt.Head}
	cm, err := j.commenter.IssueComment(ctx, j.cfg.RequestComment)
	switch {
	case err != nil:
		j.gha.Warningf("diffperf: could not read the request comment %d: %v", j.cfg.RequestComment, err)
		return nil
	case !strings.HasSuffix(cm.GetIssueURL(), fmt.Sprintf("/issues/%d", j.tgt.PR)):
		j.gha.Warningf("diffperf: request-comment %d is not on pull request #%d; the report names no requester", j.cfg.RequestComment, j.tgt.PR)
		return nil
	}
	q.By, q.URL = cm.GetUser().GetLogin(), cm.GetHTMLURL()
	if pr, err := j.commenter.PullRequest(ctx, j.tgt.PR); err != nil {
		j.gha.Warningf("diffperf: could not read pull request #%d to see whether it moved on: %v", j.tgt.PR, err)
	} else {
		q.CurrentHead = pr.GetHead().GetSHA()
		q.Moved = q.CurrentHead != "" && q.CurrentHead != q.SHA
	}
	return q
}

// githubMessage is what GitHub said, without the request's method and URL
// that go-github's error carries.
func githubMessage(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return fmt.Sprintf("GitHub answered %d %s", er.Response.StatusCode, er.Message)
	}
	return err.Error()
}

package ghcomment

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

// The calls of the /perf command and of the run it dispatches. Each goes
// through call, with the retries and rate-limit waits of Upsert and
// Labels; the waits of all calls on one Commenter count against one
// Retry.MaxWait.

// Permission returns the permission user has on the repository, as GitHub
// reports it: admin, write, read or none (the maintain role reads as write,
// triage as read). A login GitHub does not know (404) has none.
// https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
func (c *Commenter) Permission(ctx context.Context, user string) (string, error) {
	var level *github.RepositoryPermissionLevel
	_, err := c.call(ctx, fmt.Sprintf("read the permission of %s", user), func() (*github.Response, error) {
		var resp *github.Response
		var err error
		level, resp, err = c.GH.Repositories.GetPermissionLevel(ctx, c.Owner, c.Repo, user)
		return resp, err
	})
	if isStatus(err, http.StatusNotFound) {
		return "none", nil
	}
	if err != nil {
		return "", err
	}
	return level.GetPermission(), nil
}

// React adds a reaction to an issue comment: content is one of GitHub's
// reactions ("eyes", "-1", "+1", ...). Adding one that is already there
// is not an error (GitHub answers 200 instead of 201).
// https://docs.github.com/en/rest/reactions/reactions#create-reaction-for-an-issue-comment
func (c *Commenter) React(ctx context.Context, commentID int64, content string) error {
	_, err := c.call(ctx, fmt.Sprintf("react %s to comment %d", content, commentID), func() (*github.Response, error) {
		_, resp, err := c.GH.Reactions.CreateIssueCommentReaction(ctx, c.Owner, c.Repo, commentID, content)
		return resp, err
	})
	return err
}

// PullRequest reads pull request n as it is now: its head SHA, its base,
// its state.
// https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request
func (c *Commenter) PullRequest(ctx context.Context, n int) (*github.PullRequest, error) {
	var pr *github.PullRequest
	_, err := c.call(ctx, fmt.Sprintf("read pull request #%d", n), func() (*github.Response, error) {
		var resp *github.Response
		var err error
		pr, resp, err = c.GH.PullRequests.Get(ctx, c.Owner, c.Repo, n)
		return resp, err
	})
	return pr, err
}

// IssueComment reads one comment of the repository's issues and pull
// requests by ID.
// https://docs.github.com/en/rest/issues/comments#get-an-issue-comment
func (c *Commenter) IssueComment(ctx context.Context, id int64) (*github.IssueComment, error) {
	var cm *github.IssueComment
	_, err := c.call(ctx, fmt.Sprintf("read comment %d", id), func() (*github.Response, error) {
		var resp *github.Response
		var err error
		cm, resp, err = c.GH.Issues.GetComment(ctx, c.Owner, c.Repo, id)
		return resp, err
	})
	return cm, err
}

// Dispatch starts workflow (a file name in .github/workflows) on ref, a
// branch or tag, with inputs, which the workflow must declare: GitHub
// answers 422 for an input it does not, or for a required one left out,
// and 404 for a workflow it does not find. The default GITHUB_TOKEN may
// dispatch (workflow_dispatch is an exception to the rule that its events
// start no runs); it needs the permission actions: write.
// A 5xx after the dispatch landed is retried like any 5xx, so a lost
// answer may start the workflow twice: the perf workflow's concurrency
// group keeps one of them queued.
// https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
// https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#using-the-github_token-in-a-workflow
func (c *Commenter) Dispatch(ctx context.Context, workflow, ref string, inputs map[string]string) error {
	req := github.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: map[string]interface{}{}}
	for k, v := range inputs {
		req.Inputs[k] = v
	}
	_, err := c.call(ctx, fmt.Sprintf("dispatch %s on %s", workflow, ref), func() (*github.Response, error) {
		return c.GH.Actions.CreateWorkflowDispatchEventByFileName(ctx, c.Owner, c.Repo, workflow, req)
	})
	return err
}

// Reply comments on pull request pr in answer to the comment with ID to
// (a refused /perf command). The reply starts with a hidden marker naming
// that comment, so a create whose answer was lost is found on listing
// again instead of being posted twice.
func (c *Commenter) Reply(ctx context.Context, pr int, to int64, body string) (*github.IssueComment, error) {
	marker := comment.MarkerLine(fmt.Sprintf("reply-%d", to))
	return c.create(ctx, pr, marker, marker+"\n"+body, nil, 0)
}

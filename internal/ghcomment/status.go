package ghcomment

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v62/github"
)

// MaxStatusDescription is the longest commit status description GitHub
// takes; it answers 422 above it.
// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
const MaxStatusDescription = 140

// Status is one commit status to post: State is pending, success, failure
// or error; Context names the check that branch protection can require;
// Description is cut to MaxStatusDescription runes; TargetURL is where the
// check's "Details" link goes ("" for none).
type Status struct {
	State, Context, Description, TargetURL string
}

// ErrStatusNotPermitted is what SetStatus returns, wrapped, when GitHub
// answers 403 or 404: the token lacks the permission statuses: write (or
// is a fork's, which is read-only).
var ErrStatusNotPermitted = errors.New("the token may not post commit statuses: the workflow needs the permission statuses: write (a fork's pull_request token never has it)")

// SetStatus posts st on the commit sha (a full SHA), with the retries of
// every other call. Posting the same context again replaces what branch
// protection sees: the newest status of a context counts.
// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
func (c *Commenter) SetStatus(ctx context.Context, sha string, st Status) error {
	desc := []rune(st.Description)
	if len(desc) > MaxStatusDescription {
		desc = append(desc[:MaxStatusDescription-1], '…')
	}
	s := &github.RepoStatus{State: github.String(st.State), Context: github.String(st.Context), Description: github.String(string(desc))}
	if st.TargetURL != "" {
		s.TargetURL = github.String(st.TargetURL)
	}
	_, err := c.call(ctx, fmt.Sprintf("post the status %s (%s) on %s", st.Context, st.State, sha), func() (*github.Response, error) {
		_, resp, err := c.GH.Repositories.CreateStatus(ctx, c.Owner, c.Repo, sha, s)
		return resp, err
	})
	if isStatus(err, http.StatusForbidden) || isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("%w: %w", ErrStatusNotPermitted, err)
	}
	return err
}

// BotComments returns the bodies of every comment of Bot's on pull
// request pr (all pages), lowest ID first, with their IDs.
func (c *Commenter) BotComments(ctx context.Context, pr int) ([]*github.IssueComment, error) {
	c.waited = 0
	return c.list(ctx, pr, func(*github.IssueComment) bool { return true })
}

// EditComment replaces the body of comment id (one of Bot's).
func (c *Commenter) EditComment(ctx context.Context, id int64, body string) (*github.IssueComment, error) {
	return c.edit(ctx, id, body, nil, 0)
}

// Package ghcomment does diffperf's GitHub REST I/O: it keeps one perf
// comment per pull request and case (create, edit in place, remove copies),
// reads the pull request's labels, does the calls of the /perf command
// (permission, reaction, pull request, workflow dispatch, reply; see
// ondemand.go), and retries what GitHub asks to be retried, within bounds.
//
// The comment is an issue comment on the pull request:
// https://docs.github.com/en/rest/issues/comments
package ghcomment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/report"
	"github.com/google/go-github/v62/github"
)

// DefaultBot is the login of the default GITHUB_TOKEN's comments.
const DefaultBot = "github-actions[bot]"

// NewGitHub builds a go-github client for apiURL (GITHUB_API_URL: the
// public API or a GitHub Enterprise Server's /api/v3), authenticated with
// token.
func NewGitHub(apiURL, token string, hc *http.Client) (*github.Client, error) {
	if apiURL == "" {
		apiURL = "https://api.github.com"
	}
	u, err := url.Parse(strings.TrimRight(apiURL, "/") + "/")
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("GITHUB_API_URL %q is not a URL", apiURL)
	}
	c := github.NewClient(hc)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	c.BaseURL = u
	return c, nil
}

// Retry bounds the retries of one operation.
type Retry struct {
	// Attempts is the most tries of one call for 5xx and network errors.
	Attempts int
	// Backoff is the first wait after a 5xx or network error; it doubles.
	Backoff time.Duration
	// MaxWait bounds the total time spent waiting, rate limits included: a
	// reset further away than what is left fails at once.
	MaxWait time.Duration
	// DefaultWait is the wait after a rate limit that names none.
	DefaultWait time.Duration
	// Sleep waits for d or until ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetry: 5 tries, 1 s doubling, 3 minutes of waiting in all.
func DefaultRetry() Retry {
	return Retry{Attempts: 5, Backoff: time.Second, MaxWait: 3 * time.Minute, DefaultWait: time.Minute, Sleep: sleep}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Commenter keeps diffperf's comment on the pull requests of one repository.
type Commenter struct {
	GH          *github.Client
	Owner, Repo string
	// Bot is the login whose comments are diffperf's; others, a human's
	// with the marker included, are never edited or deleted.
	Bot   string
	Retry Retry
	// Warn hears about retries and other things worth a log line.
	Warn func(format string, args ...any)

	waited time.Duration
}

// Outcome is what Upsert did.
type Outcome struct {
	// Action is "created", "updated", "unchanged", "skipped" or
	// "not-permitted" (the token may not write: a fork's).
	Action string
	ID     int64
	URL    string
	// Removed counts duplicate copies deleted.
	Removed int
	Warning string
}

// Upsert makes the pull request carry exactly one comment of diffperf's
// whose first line is marker, with the body render gives. It lists every
// comment (100 a page, all pages), edits the lowest-ID copy by Bot and
// deletes the others; with none, it creates one when create is true, then
// lists again and removes duplicates, so two runs at once still leave one.
// render gets the size limit; after a 422 it is asked once more with half.
// A 403 or 404 on writing is not an error: the Outcome says not-permitted.
func (c *Commenter) Upsert(ctx context.Context, pr int, marker string, create bool, render func(maxChars int) string) (Outcome, error) {
	c.waited = 0
	limit := report.MaxCommentChars
	body := render(limit)
	mine, err := c.find(ctx, pr, marker)
	if err != nil {
		return Outcome{}, err
	}
	var out Outcome
	switch {
	case len(mine) > 0:
		keep := mine[0]
		out = Outcome{Action: "unchanged", ID: keep.GetID(), URL: keep.GetHTMLURL()}
		if keep.GetBody() != body {
			edited, err := c.edit(ctx, keep.GetID(), body, render, limit)
			if err != nil {
				return c.writeFailed(err)
			}
			out.Action, out.URL = "updated", edited.GetHTMLURL()
		}
		n, err := c.remove(ctx, mine[1:])
		out.Removed = n
		if err != nil {
			return c.writeFailed(err)
		}
		return out, nil
	case !create:
		return Outcome{Action: "skipped"}, nil
	}
	created, err := c.create(ctx, pr, marker, body, render, limit)
	if err != nil {
		return c.writeFailed(err)
	}
	out = Outcome{Action: "created", ID: created.GetID(), URL: created.GetHTMLURL()}
	// Another run may have created its copy at the same time.
	mine, err = c.find(ctx, pr, marker)
	if err != nil {
		return out, err
	}
	if len(mine) > 1 {
		keep := mine[0]
		if keep.GetID() != created.GetID() {
			edited, err := c.edit(ctx, keep.GetID(), body, render, limit)
			if err != nil {
				return c.writeFailed(err)
			}
			out.Action, out.ID, out.URL = "updated", keep.GetID(), edited.GetHTMLURL()
		}
		n, err := c.remove(ctx, mine[1:])
		out.Removed = n
		if err != nil {
			return c.writeFailed(err)
		}
	}
	return out, nil
}

// Find returns the body of diffperf's comment whose first line is marker
// (the one Upsert keeps: the lowest ID), and whether there is one.
func (c *Commenter) Find(ctx context.Context, pr int, marker string) (string, bool, error) {
	c.waited = 0
	mine, err := c.find(ctx, pr, marker)
	if err != nil || len(mine) == 0 {
		return "", false, err
	}
	return mine[0].GetBody(), true, nil
}

// writeFailed turns a 403 or 404 on writing into a warning: the read-only
// token of a fork's pull request may not comment.
func (c *Commenter) writeFailed(err error) (Outcome, error) {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusForbidden || er.Response.StatusCode == http.StatusNotFound) {
		return Outcome{Action: "not-permitted", Warning: fmt.Sprintf(
			"could not write the PR comment (%d %s): the token may be read-only, as it is for pull requests from forks; the job summary and outputs carry the result",
			er.Response.StatusCode, er.Message)}, nil
	}
	return Outcome{}, err
}

// find lists every comment of the pull request and returns Bot's that start
// with marker, lowest ID first.
func (c *Commenter) find(ctx context.Context, pr int, marker string) ([]*github.IssueComment, error) {
	return c.list(ctx, pr, func(cm *github.IssueComment) bool { return report.FirstLine(cm.GetBody()) == marker })
}

// list lists every comment of the pull request (all pages) and returns
// Bot's that keep accepts, lowest ID first.
func (c *Commenter) list(ctx context.Context, pr int, keep func(*github.IssueComment) bool) ([]*github.IssueComment, error) {
	var mine []*github.IssueComment
	opt := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		var page []*github.IssueComment
		resp, err := c.call(ctx, fmt.Sprintf("list comments on #%d", pr), func() (*github.Response, error) {
			var resp *github.Response
			var err error
			page, resp, err = c.GH.Issues.ListComments(ctx, c.Owner, c.Repo, pr, opt)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, cm := range page {
			if cm.GetUser().GetLogin() == c.Bot && keep(cm) {
				mine = append(mine, cm)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].GetID() < mine[j].GetID() })
	return mine, nil
}

// create posts the comment. Before repeating a create that failed in a way
// that may have landed (5xx, network), it lists again and takes the copy it
// finds.
func (c *Commenter) create(ctx context.Context, pr int, marker, body string, render func(int) string, limit int) (*github.IssueComment, error) {
	var created *github.IssueComment
	attempt := 0
	_, err := c.call(ctx, fmt.Sprintf("create comment on #%d", pr), func() (*github.Response, error) {
		attempt++
		if attempt > 1 {
			if mine, err := c.find(ctx, pr, marker); err == nil && len(mine) > 0 {
				created = mine[0]
				return nil, nil
			}
		}
		var resp *github.Response
		var err error
		created, resp, err = c.GH.Issues.CreateComment(ctx, c.Owner, c.Repo, pr, &github.IssueComment{Body: github.String(body)})
		return resp, err
	})
	if isStatus(err, http.StatusUnprocessableEntity) && limit > 1024 {
		c.warn("GitHub refused the comment (422: %v); trying once more with a body of at most %d characters", err, limit/2)
		return c.create(ctx, pr, marker, render(limit/2), render, 0)
	}
	return created, err
}

func (c *Commenter) edit(ctx context.Context, id int64, body string, render func(int) string, limit int) (*github.IssueComment, error) {
	var edited *github.IssueComment
	_, err := c.call(ctx, fmt.Sprintf("edit comment %d", id), func() (*github.Response, error) {
		var resp *github.Response
		var err error
		edited, resp, err = c.GH.Issues.EditComment(ctx, c.Owner, c.Repo, id, &github.IssueComment{Body: github.String(body)})
		return resp, err
	})
	if isStatus(err, http.StatusUnprocessableEntity) && limit > 1024 {
		c.warn("GitHub refused the comment (422: %v); trying once more with a body of at most %d characters", err, limit/2)
		return c.edit(ctx, id, render(limit/2), render, 0)
	}
	return edited, err
}

// remove deletes the duplicate copies; one already gone (404) is fine.
func (c *Commenter) remove(ctx context.Context, dups []*github.IssueComment) (int, error) {
	n := 0
	for _, d := range dups {
		_, err := c.call(ctx, fmt.Sprintf("delete duplicate comment %d", d.GetID()), func() (*github.Response, error) {
			return c.GH.Issues.DeleteComment(ctx, c.Owner, c.Repo, d.GetID())
		})
		if isStatus(err, http.StatusNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Labels returns the names of the pull request's labels, every page.
func (c *Commenter) Labels(ctx context.Context, pr int) ([]string, error) {
	var names []string
	opt := &github.ListOptions{PerPage: 100}
	for {
		var page []*github.Label
		resp, err := c.call(ctx, fmt.Sprintf("list labels of #%d", pr), func() (*github.Response, error) {
			var resp *github.Response
			var err error
			page, resp, err = c.GH.Issues.ListLabelsByIssue(ctx, c.Owner, c.Repo, pr, opt)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, l := range page {
			names = append(names, l.GetName())
		}
		if resp.NextPage == 0 {
			return names, nil
		}
		opt.Page = resp.NextPage
	}
}

// call runs one API call with the retries docs/reliability.md describes: 5xx and network
// errors with doubling backoff up to Attempts tries; primary and secondary
// rate limits (403 or 429) after the wait GitHub names in Retry-After or
// X-RateLimit-Reset, as long as the total wait stays within MaxWait; other
// 4xx at once, without retry.
// https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
func (c *Commenter) call(ctx context.Context, what string, f func() (*github.Response, error)) (*github.Response, error) {
	r := c.Retry
	if r.Sleep == nil {
		r = DefaultRetry()
	}
	backoff := r.Backoff
	for attempt := 1; ; attempt++ {
		resp, err := f()
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return resp, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		wait, retry, why := c.classify(resp, err, backoff, r.DefaultWait)
		if !retry || (attempt >= r.Attempts && !why.rateLimit) {
			return resp, fmt.Errorf("%s: %w", what, err)
		}
		if c.waited+wait > r.MaxWait {
			return resp, fmt.Errorf("%s: %w (GitHub asks to wait %s, past the limit of %s in all)", what, err, wait.Round(time.Second), r.MaxWait)
		}
		if attempt >= r.Attempts*3 {
			return resp, fmt.Errorf("%s: %w (gave up after %d tries)", what, err, attempt)
		}
		c.warn("%s: %s; retrying in %s", what, why.text, wait.Round(time.Millisecond))
		if err := r.Sleep(ctx, wait); err != nil {
			return resp, fmt.Errorf("%s: %w", what, err)
		}
		c.waited += wait
		if !why.rateLimit {
			backoff *= 2
		}
	}
}

type reason struct {
	text      string
	rateLimit bool
}

// classify decides whether err is worth another try, and after how long.
func (c *Commenter) classify(resp *github.Response, err error, backoff, defaultWait time.Duration) (time.Duration, bool, reason) {
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		return max(time.Until(rl.Rate.Reset.Time), 0) + time.Second, true, reason{"primary rate limit exhausted", true}
	case errors.As(err, &abuse):
		wait := defaultWait // GitHub's advice is a minute when it names no time
		if abuse.RetryAfter != nil {
			wait = max(*abuse.RetryAfter, 0)
		}
		return wait, true, reason{"secondary rate limit", true}
	case errors.As(err, &er) && er.Response != nil:
		code := er.Response.StatusCode
		switch {
		case code == http.StatusTooManyRequests || (code == http.StatusForbidden && er.Response.Header.Get("Retry-After") != ""):
			// go-github v62 does not classify 429; read its headers here.
			return retryAfter(er.Response.Header, time.Now(), defaultWait), true, reason{fmt.Sprintf("rate limited (%d)", code), true}
		case code >= 500:
			return backoff, true, reason{fmt.Sprintf("GitHub answered %d", code), false}
		}
		return 0, false, reason{}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return 0, false, reason{}
	}
	var ue *url.Error
	if errors.As(err, &ue) || resp == nil {
		return backoff, true, reason{"network error: " + err.Error(), false}
	}
	return 0, false, reason{}
}

// retryAfter reads Retry-After (seconds) or X-RateLimit-Reset (epoch
// seconds), or gives def.
func retryAfter(h http.Header, now time.Time, def time.Duration) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if e, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		return max(time.Unix(e, 0).Sub(now), 0) + time.Second
	}
	return def
}

func isStatus(err error, code int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == code
}

func (c *Commenter) warn(format string, args ...any) {
	if c.Warn != nil {
		c.Warn(format, args...)
	}
}

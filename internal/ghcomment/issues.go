package ghcomment

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v62/github"
)

// Issues of the history job: one issue per confirmed change point, found
// again by the hidden marker in its body.
// https://docs.github.com/en/rest/issues/issues

// IssuesWithLabel lists every issue (open and closed, 100 a page, all
// pages) that carries label, lowest number first. Pull requests, which the
// issues API lists too, are left out.
// https://docs.github.com/en/rest/issues/issues#list-repository-issues
func (c *Commenter) IssuesWithLabel(ctx context.Context, label string) ([]*github.Issue, error) {
	c.waited = 0
	return c.listIssues(ctx, label)
}

func (c *Commenter) listIssues(ctx context.Context, label string) ([]*github.Issue, error) {
	var out []*github.Issue
	opt := &github.IssueListByRepoOptions{State: "all", Labels: []string{label}, Sort: "created", Direction: "asc",
		ListOptions: github.ListOptions{PerPage: 100}}
	for {
		var page []*github.Issue
		resp, err := c.call(ctx, fmt.Sprintf("list issues labelled %s", label), func() (*github.Response, error) {
			var resp *github.Response
			var err error
			page, resp, err = c.GH.Issues.ListByRepo(ctx, c.Owner, c.Repo, opt)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, is := range page {
			if !is.IsPullRequest() {
				out = append(out, is)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// Issue reads issue number n.
// https://docs.github.com/en/rest/issues/issues#get-an-issue
func (c *Commenter) Issue(ctx context.Context, n int) (*github.Issue, error) {
	c.waited = 0
	var is *github.Issue
	_, err := c.call(ctx, fmt.Sprintf("get issue #%d", n), func() (*github.Response, error) {
		var resp *github.Response
		var err error
		is, resp, err = c.GH.Issues.Get(ctx, c.Owner, c.Repo, n)
		return resp, err
	})
	return is, err
}

// CreateIssue opens an issue whose body holds marker. A create that fails
// after GitHub may have stored it (a 5xx, a lost answer) is not repeated
// blindly: the issues labelled labels[0] are listed first, and one of
// Bot's with the marker is taken as the created one.
// https://docs.github.com/en/rest/issues/issues#create-an-issue
func (c *Commenter) CreateIssue(ctx context.Context, marker, title, body string, labels []string) (*github.Issue, error) {
	c.waited = 0
	req := &github.IssueRequest{Title: github.String(title), Body: github.String(body), Labels: &labels}
	var created *github.Issue
	attempt := 0
	_, err := c.call(ctx, "create issue "+marker, func() (*github.Response, error) {
		attempt++
		if attempt > 1 && len(labels) > 0 {
			if found, err := c.findIssue(ctx, labels[0], marker); err == nil && found != nil {
				created = found
				return nil, nil
			}
		}
		var resp *github.Response
		var err error
		created, resp, err = c.GH.Issues.Create(ctx, c.Owner, c.Repo, req)
		return resp, err
	})
	return created, err
}

// findIssue is the lowest-numbered issue of Bot's labelled label whose body
// holds marker, or nil.
func (c *Commenter) findIssue(ctx context.Context, label, marker string) (*github.Issue, error) {
	list, err := c.listIssues(ctx, label)
	if err != nil {
		return nil, err
	}
	for _, is := range list {
		if is.GetUser().GetLogin() == c.Bot && strings.Contains(is.GetBody(), marker) {
			return is, nil
		}
	}
	return nil, nil
}

// EditIssue replaces the title, body and labels of issue n; its state is
// left as it is (a closed issue stays closed).
// https://docs.github.com/en/rest/issues/issues#update-an-issue
func (c *Commenter) EditIssue(ctx context.Context, n int, title, body string, labels []string) (*github.Issue, error) {
	c.waited = 0
	req := &github.IssueRequest{Title: github.String(title), Body: github.String(body), Labels: &labels}
	var edited *github.Issue
	_, err := c.call(ctx, fmt.Sprintf("edit issue #%d", n), func() (*github.Response, error) {
		var resp *github.Response
		var err error
		edited, resp, err = c.GH.Issues.Edit(ctx, c.Owner, c.Repo, n, req)
		return resp, err
	})
	return edited, err
}

package action

import (
	"encoding/json"
	"strings"

	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
)

// parseBisect reads mode bisect's inputs: good and bad (refs or SHAs,
// required in that mode) and issue-number, the change point's issue,
// which excludes pr-number.
func (c *Config) parseBisect(in func(string) string) error {
	c.Good, c.Bad = strings.TrimSpace(in("good")), strings.TrimSpace(in("bad"))
	if v := in("issue-number"); v != "" {
		n, err := count(v)
		if err != nil {
			return input.Wrap("issue-number", err)
		}
		c.IssueNumber = n
	}
	if c.Mode != ModeBisect {
		return nil
	}
	for _, r := range []struct{ name, ref string }{{"good", c.Good}, {"bad", c.Bad}} {
		if r.ref == "" {
			return input.Errorf(r.name, "required in mode bisect: the %s commit (a ref or SHA)", r.name)
		}
		if err := git.ValidateRef(r.ref); err != nil {
			return input.Wrap(r.name, err)
		}
	}
	if c.IssueNumber != 0 && c.PRNumber != 0 {
		return input.Errorf("issue-number", "give issue-number (the report goes to the issue) or pr-number (a comment on the pull request), not both")
	}
	return nil
}

// ParseBisectEvent reads the event of mode bisect for repository
// (owner/name): workflow_dispatch only. The target's Base and Head are
// inputs good and bad; PR is the issue or pull request that gets the
// report (an issue's number is a pull request's for the comments API).
func ParseBisectEvent(event, repository string, payload []byte, c *Config) (*Target, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" {
		return nil, input.Errorf("GITHUB_REPOSITORY", "%q is not owner/name", repository)
	}
	if event != "workflow_dispatch" {
		return nil, input.Errorf("event", "mode bisect runs on workflow_dispatch (inputs good, bad, issue-number or pr-number), not %q", event)
	}
	if len(strings.TrimSpace(string(payload))) > 0 && !json.Valid(payload) {
		return nil, input.Errorf("event", "the workflow_dispatch payload is not JSON")
	}
	t := &Target{Event: event, Owner: owner, Repo: repo, Base: c.Good, Head: c.Bad, PR: c.PRNumber}
	if c.IssueNumber != 0 {
		t.PR = c.IssueNumber
	}
	return t, nil
}

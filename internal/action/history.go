package action

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
)

// zeroSHA is what a push event's before holds when the branch is new.
const zeroSHA = "0000000000000000000000000000000000000000"

// parseHistoryBranch reads input history-branch: a branch name git takes.
func parseHistoryBranch(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := git.ValidateRef(s); err != nil || strings.ContainsAny(s, "^~:") {
		return "", input.Errorf("history-branch", "%q is not a branch name", s)
	}
	return s, nil
}

// parseHistoryLinks reads inputs dashboard-url (an http(s) address) and
// bisect-workflow (a workflow file name; set and empty turns the dispatch
// off).
func parseHistoryLinks(get func(string) (string, bool), in func(string) string, c *Config) error {
	c.DashboardURL = strings.TrimRight(strings.TrimSpace(in("dashboard-url")), "/")
	if c.DashboardURL != "" {
		u, err := url.Parse(c.DashboardURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(c.DashboardURL, " \n\r\t()<>[]") {
			return input.Errorf("dashboard-url", "%q is not an http(s) address such as https://owner.github.io/repo", c.DashboardURL)
		}
	}
	c.BisectWorkflow = strings.TrimSpace(in("bisect-workflow"))
	if v, set := get("bisect-workflow"); set && strings.TrimSpace(v) == "" {
		c.BisectWorkflow = ""
	}
	if c.BisectWorkflow != "" && !workflowRE.MatchString(c.BisectWorkflow) {
		return input.Errorf("bisect-workflow", "%q is not a workflow file name such as perf-bisect.yml (empty turns the dispatch off)", c.BisectWorkflow)
	}
	return nil
}

// ParseHistoryEvent reads the event of mode history for repository
// (owner/name). sha is GITHUB_SHA, the commit a schedule or a dispatch runs
// on.
//
//   - push: the pushed commit (after) against the previous tip (before), or
//     its first parent when before is absent or all zeros (a new branch).
//     A push to another branch than the repository's default branch, a
//     branch deletion or a tag is skipped, saying so.
//   - schedule, workflow_dispatch: the tip (input head-ref, else sha)
//     against input base-ref, else Base is left empty: the job measures it
//     against the last commit the store holds.
//
// Errors name the event field that is missing or unusable.
// https://docs.github.com/en/webhooks/webhook-events-and-payloads#push
func ParseHistoryEvent(event, repository, sha string, payload []byte, c *Config) (*Target, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" {
		return nil, input.Errorf("GITHUB_REPOSITORY", "%q is not owner/name", repository)
	}
	t := &Target{Event: event, Owner: owner, Repo: repo}
	switch event {
	case "push":
		var ev github.PushEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, input.Errorf("event", "the push payload is unreadable: %w", err)
		}
		def := ev.GetRepo().GetDefaultBranch()
		switch {
		case ev.GetDeleted():
			t.Skip = fmt.Sprintf("push deletes %s: nothing to measure", ev.GetRef())
			return t, nil
		case ev.GetRef() == "":
			return nil, input.Errorf("event", "the push payload has no ref")
		case def == "":
			return nil, input.Errorf("event", "the push payload has no repository.default_branch")
		case ev.GetRef() != "refs/heads/"+def:
			t.Skip = fmt.Sprintf("push to %s is not measured: mode history measures the default branch (%s); limit the workflow's push trigger to branches: [%s]", ev.GetRef(), def, def)
			return t, nil
		}
		t.Head = ev.GetAfter()
		if !isSHA(t.Head) {
			return nil, input.Errorf("event", "the push payload's after %q is not a commit SHA", t.Head)
		}
		t.Base = ev.GetBefore()
		switch {
		case t.Base == "" || t.Base == zeroSHA:
			t.Base = t.Head + "^"
		case !isSHA(t.Base):
			return nil, input.Errorf("event", "the push payload's before %q is not a commit SHA", t.Base)
		}
	case "schedule", "workflow_dispatch":
		if len(strings.TrimSpace(string(payload))) > 0 && !json.Valid(payload) {
			return nil, input.Errorf("event", "the %s payload is not JSON", event)
		}
		t.Head, t.Base = c.HeadRef, c.BaseRef
		if t.Head == "" {
			t.Head = sha
		}
		if t.Head == "" {
			return nil, input.Errorf("head-ref", "%s needs head-ref or GITHUB_SHA: the commit to measure", event)
		}
	default:
		return nil, input.Errorf("event", "mode history runs on push (to the default branch), schedule or workflow_dispatch, not %q", event)
	}
	return t, nil
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

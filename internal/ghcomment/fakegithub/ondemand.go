package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// What the /perf command uses: collaborator permissions, reactions to
// issue comments, pull requests, and workflow dispatches.

// Pull is a stored pull request, as GET /repos/{owner}/{repo}/pulls/{n}
// answers it. Empty fields get defaults: state open, head ref "feature" in
// the base repository, base the default branch, SHAs made from the number.
type Pull struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	Author string `json:"author"`
	State  string `json:"state"`
	// HeadRepo is the head's owner/name; "" is the base repository.
	HeadRepo string `json:"head_repo"`
	HeadRef  string `json:"head_ref"`
	HeadSHA  string `json:"head_sha"`
	BaseRef  string `json:"base_ref"`
	BaseSHA  string `json:"base_sha"`
}

// Reaction is a stored reaction to an issue comment.
type Reaction struct {
	ID        int64  `json:"id"`
	CommentID int64  `json:"comment_id"`
	User      string `json:"user"`
	Content   string `json:"content"`
	CreatedAt string `json:"created_at"`
}

// Dispatch is one workflow_dispatch that GitHub accepted (204).
type Dispatch struct {
	Workflow string            `json:"workflow"`
	Ref      string            `json:"ref"`
	Inputs   map[string]string `json:"inputs"`
	// By is the login of the token that dispatched.
	By string `json:"by"`
}

// onDemand is the state of the /perf endpoints.
type onDemand struct {
	// DefaultBranch is the repository's default branch, the one ref a
	// dispatch may name (besides refs/heads/ of it).
	defaultBranch string
	roles         map[string]string          // login -> admin, maintain, write, triage, read or none
	pulls         map[int]Pull               // number -> pull request
	workflows     map[string]map[string]bool // file -> declared input -> required
	reactions     []Reaction
	dispatches    []Dispatch
}

func newOnDemand() onDemand {
	return onDemand{defaultBranch: "main", roles: map[string]string{}, pulls: map[int]Pull{}, workflows: map[string]map[string]bool{}}
}

// SetPermission gives login a role on the repository: admin, maintain,
// write, triage, read or none. A login without one is a user GitHub does
// not know (404).
func (s *Server) SetPermission(login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[login] = role
}

// SetPull stores a pull request (and makes its number one whose comments
// exist).
func (s *Server) SetPull(p Pull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls[p.Number] = p
	s.prs[p.Number] = true
}

// Pull returns the stored pull request n with its defaults filled in.
func (s *Server) Pull(n int) Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pull(n)
}

// SetDefaultBranch names the repository's default branch ("main" unless set).
func (s *Server) SetDefaultBranch(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defaultBranch = name
}

// AddWorkflow declares a workflow file with workflow_dispatch inputs,
// each mapped to whether it is required.
func (s *Server) AddWorkflow(file string, inputs map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workflows[file] = inputs
}

// Reactions returns the reactions to a comment, oldest first.
func (s *Server) Reactions(commentID int64) []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Reaction
	for _, r := range s.reactions {
		if r.CommentID == commentID {
			out = append(out, r)
		}
	}
	return out
}

// Dispatches returns the accepted workflow dispatches, in order.
func (s *Server) Dispatches() []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Dispatch(nil), s.dispatches...)
}

func (s *Server) pull(n int) Pull {
	p := s.pulls[n]
	p.Number = n
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.Title, fmt.Sprintf("Pull request %d", n))
	def(&p.Author, "octocat")
	def(&p.State, "open")
	def(&p.HeadRepo, s.owner+"/"+s.repo)
	def(&p.HeadRef, "feature")
	def(&p.HeadSHA, fmt.Sprintf("%040x", 0xbeef0000+n))
	def(&p.BaseRef, s.defaultBranch)
	def(&p.BaseSHA, fmt.Sprintf("%040x", 0xba5e0000+n))
	return p
}

var (
	rePermission = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/collaborators/([^/]+)/permission$`)
	reReactions  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)/reactions$`)
	rePull       = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls/(\d+)$`)
	reDispatch   = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/actions/workflows/([^/]+)/dispatches$`)
)

// reactionContents are the reactions GitHub knows.
// https://docs.github.com/en/rest/reactions/reactions#about-reactions
var reactionContents = map[string]bool{"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true}

// routeOnDemand answers the /perf endpoints; it reports whether path was
// one. The caller holds s.mu.
func (s *Server) routeOnDemand(w http.ResponseWriter, method, path string, body []byte, login string, changed *bool) bool {
	repoOK := func(m []string) bool { return m[1] == s.owner && m[2] == s.repo }
	if m := rePermission.FindStringSubmatch(path); m != nil && repoOK(m) && method == http.MethodGet {
		// https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
		role, ok := s.roles[m[3]]
		if !ok {
			writeJSON(w, http.StatusNotFound, nil, apiError(m[3]+" is not a user", "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user"))
			return true
		}
		// The permission field knows admin, write, read and none only.
		perm := map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}[role]
		if perm == "" {
			perm = "none"
		}
		user := s.userJSON(m[3])
		user["role_name"] = role
		writeJSON(w, http.StatusOK, nil, map[string]any{"permission": perm, "role_name": role, "user": user})
		return true
	}
	if m := reReactions.FindStringSubmatch(path); m != nil && repoOK(m) && method == http.MethodPost {
		// https://docs.github.com/en/rest/reactions/reactions#create-reaction-for-an-issue-comment
		id, _ := strconv.ParseInt(m[3], 10, 64)
		found := false
		for _, c := range s.comments {
			found = found || c.ID == id
		}
		if !found {
			// Not in GitHub's reference for this operation, but what the
			// API answers for a comment it does not have.
			writeJSON(w, http.StatusNotFound, nil, apiError("Not Found", "https://docs.github.com/rest/reactions/reactions#create-reaction-for-an-issue-comment"))
			return true
		}
		var req struct {
			Content *string `json:"content"`
		}
		if json.Unmarshal(body, &req) != nil || req.Content == nil || !reactionContents[*req.Content] {
			writeJSON(w, http.StatusUnprocessableEntity, nil, validationOf("Reaction", "content", "invalid", "https://docs.github.com/rest/reactions/reactions#create-reaction-for-an-issue-comment"))
			return true
		}
		for _, r := range s.reactions {
			if r.CommentID == id && r.User == login && r.Content == *req.Content {
				writeJSON(w, http.StatusOK, nil, s.reactionJSON(r)) // already there
				return true
			}
		}
		s.nextID++
		r := Reaction{ID: s.nextID, CommentID: id, User: login, Content: *req.Content, CreatedAt: time.Now().UTC().Format(time.RFC3339)}
		s.reactions = append(s.reactions, r)
		*changed = true
		writeJSON(w, http.StatusCreated, nil, s.reactionJSON(r))
		return true
	}
	if m := rePull.FindStringSubmatch(path); m != nil && repoOK(m) && method == http.MethodGet {
		// https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request
		n, _ := strconv.Atoi(m[3])
		if !s.prs[n] {
			writeJSON(w, http.StatusNotFound, nil, apiError("Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"))
			return true
		}
		writeJSON(w, http.StatusOK, nil, s.pullJSON(s.pull(n)))
		return true
	}
	if m := reDispatch.FindStringSubmatch(path); m != nil && repoOK(m) && method == http.MethodPost {
		s.dispatch(w, m[3], body, login, changed)
		return true
	}
	return false
}

// dispatch answers POST .../actions/workflows/{file}/dispatches as GitHub
// does: 204 when accepted; 404 for a workflow it does not have; 422 for a
// missing or unknown ref, an input the workflow does not declare, a
// required input left out, a value that is not a string, or more than 25
// inputs.
// https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
func (s *Server) dispatch(w http.ResponseWriter, file string, body []byte, login string, changed *bool) {
	const doc = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"
	declared, ok := s.workflows[file]
	if !ok {
		writeJSON(w, http.StatusNotFound, nil, apiError("Not Found", doc))
		return
	}
	var req struct {
		Ref    *string        `json:"ref"`
		Inputs map[string]any `json:"inputs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, nil, apiError("Problems parsing JSON", doc))
		return
	}
	unprocessable := func(msg string) { writeJSON(w, http.StatusUnprocessableEntity, nil, apiError(msg, doc)) }
	switch {
	case req.Ref == nil:
		writeJSON(w, http.StatusUnprocessableEntity, nil, validationOf("Workflow", "ref", "missing_field", doc))
		return
	case *req.Ref != s.defaultBranch && *req.Ref != "refs/heads/"+s.defaultBranch:
		unprocessable("No ref found for: " + *req.Ref)
		return
	case len(req.Inputs) > 25:
		unprocessable(fmt.Sprintf("you may only define up to 25 inputs for a workflow_dispatch event, got %d", len(req.Inputs)))
		return
	}
	var unexpected []string
	inputs := map[string]string{}
	for k, v := range req.Inputs {
		if _, ok := declared[k]; !ok {
			unexpected = append(unexpected, strconv.Quote(k))
			continue
		}
		str, ok := v.(string)
		if !ok {
			unprocessable(fmt.Sprintf("Provided value for input %q is not a string", k))
			return
		}
		inputs[k] = str
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		unprocessable("Unexpected inputs provided: [" + strings.Join(unexpected, ", ") + "]")
		return
	}
	var names []string
	for k := range declared {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, given := inputs[k]; declared[k] && !given {
			unprocessable(fmt.Sprintf("Required input '%s' not provided", k))
			return
		}
	}
	s.dispatches = append(s.dispatches, Dispatch{Workflow: file, Ref: *req.Ref, Inputs: inputs, By: login})
	*changed = true
	w.WriteHeader(http.StatusNoContent)
}

// control answers the test-control endpoints under /_fake/, for the
// process version (see cmd/fakegithub):
//
//	POST /_fake/comments            {"issue": 7, "user": "alice", "body": "/perf"} -> {"id": N}
//	PUT  /_fake/permissions/{login} "write"
//	PUT  /_fake/pulls/{n}           a Pull
//	PUT  /_fake/workflows/{file}    {"input": required, ...}
func (s *Server) control(w http.ResponseWriter, method, path string, body []byte) {
	bad := func(err error) { writeJSON(w, http.StatusBadRequest, nil, apiError(err.Error(), "")) }
	rest, _ := strings.CutPrefix(path, "/_fake/")
	kind, arg, _ := strings.Cut(rest, "/")
	switch {
	case kind == "comments" && method == http.MethodPost:
		var c struct {
			Issue int    `json:"issue"`
			User  string `json:"user"`
			Body  string `json:"body"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			bad(err)
			return
		}
		writeJSON(w, http.StatusCreated, nil, map[string]int64{"id": s.AddComment(c.Issue, c.User, c.Body)})
	case kind == "permissions" && method == http.MethodPut && arg != "":
		var role string
		if err := json.Unmarshal(body, &role); err != nil {
			bad(err)
			return
		}
		s.SetPermission(arg, role)
		writeJSON(w, http.StatusOK, nil, role)
	case kind == "pulls" && method == http.MethodPut:
		var p Pull
		n, err := strconv.Atoi(arg)
		if err == nil {
			err = json.Unmarshal(body, &p)
		}
		if err != nil {
			bad(err)
			return
		}
		p.Number = n
		s.SetPull(p)
		writeJSON(w, http.StatusOK, nil, s.Pull(n))
	case kind == "workflows" && method == http.MethodPut && arg != "":
		var inputs map[string]bool
		if err := json.Unmarshal(body, &inputs); err != nil {
			bad(err)
			return
		}
		s.AddWorkflow(arg, inputs)
		writeJSON(w, http.StatusOK, nil, inputs)
	default:
		writeJSON(w, http.StatusNotFound, nil, apiError("no such control endpoint", ""))
	}
}

func (s *Server) reactionJSON(r Reaction) map[string]any {
	return map[string]any{"id": r.ID, "node_id": fmt.Sprintf("REA_%d", r.ID), "user": s.userJSON(r.User), "content": r.Content, "created_at": r.CreatedAt}
}

// pullJSON is a pull request with every field GitHub's description
// requires; those diffperf reads (number, state, head and base with their
// SHAs, refs and repositories) carry the stored values.
func (s *Server) pullJSON(p Pull) map[string]any {
	web, api := s.web(), s.apiURL(fmt.Sprintf("/repos/%s/%s", s.owner, s.repo))
	html := fmt.Sprintf("%s/%s/%s/pull/%d", web, s.owner, s.repo, p.Number)
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	link := func(href string) map[string]any { return map[string]any{"href": href} }
	labels := []any{}
	for i, l := range s.labels[p.Number] {
		labels = append(labels, map[string]any{"id": 100 + i, "node_id": "LA_" + l, "url": api + "/labels/" + l, "name": l, "description": nil, "color": "ededed", "default": false})
	}
	headOwner, _, _ := strings.Cut(p.HeadRepo, "/")
	now := time.Now().UTC().Format(time.RFC3339)
	return map[string]any{
		"id": 5000 + p.Number, "node_id": fmt.Sprintf("PR_%d", p.Number), "url": fmt.Sprintf("%s/pulls/%d", api, p.Number), "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue, "commits_url": fmt.Sprintf("%s/pulls/%d/commits", api, p.Number),
		"review_comments_url": fmt.Sprintf("%s/pulls/%d/comments", api, p.Number), "review_comment_url": api + "/pulls/comments{/number}",
		"comments_url": issue + "/comments", "statuses_url": api + "/statuses/" + p.HeadSHA,
		"number": p.Number, "state": p.State, "locked": false, "title": p.Title, "user": s.userJSON(p.Author), "body": nil, "labels": labels,
		"milestone": nil, "active_lock_reason": nil, "created_at": now, "updated_at": now, "closed_at": nil, "merged_at": nil, "merge_commit_sha": nil,
		"assignee": nil, "assignees": []any{}, "requested_reviewers": []any{}, "requested_teams": []any{},
		"head": map[string]any{"label": headOwner + ":" + p.HeadRef, "ref": p.HeadRef, "sha": p.HeadSHA, "user": s.userJSON(headOwner), "repo": s.repoJSON(p.HeadRepo)},
		"base": map[string]any{"label": s.owner + ":" + p.BaseRef, "ref": p.BaseRef, "sha": p.BaseSHA, "user": s.userJSON(s.owner), "repo": s.repoJSON(s.owner + "/" + s.repo)},
		"_links": map[string]any{"self": link(fmt.Sprintf("%s/pulls/%d", api, p.Number)), "html": link(html), "issue": link(issue), "comments": link(issue + "/comments"),
			"review_comments": link(fmt.Sprintf("%s/pulls/%d/comments", api, p.Number)), "review_comment": link(api + "/pulls/comments{/number}"),
			"commits": link(fmt.Sprintf("%s/pulls/%d/commits", api, p.Number)), "statuses": link(api + "/statuses/" + p.HeadSHA)},
		"author_association": "CONTRIBUTOR", "auto_merge": nil, "draft": false, "merged": false, "mergeable": nil, "rebaseable": nil,
		"mergeable_state": "unknown", "merged_by": nil, "comments": len(s.commentsOf(p.Number)), "review_comments": 0, "maintainer_can_modify": false,
		"commits": 1, "additions": 1, "deletions": 0, "changed_files": 1,
	}
}

// commentsOf is Comments for a caller that holds s.mu.
func (s *Server) commentsOf(issue int) []Comment {
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == issue {
			out = append(out, c)
		}
	}
	return out
}

// repoJSON is a repository (owner/name) with every field GitHub's
// description of a pull request's head and base requires.
func (s *Server) repoJSON(fullName string) map[string]any {
	owner, name, _ := strings.Cut(fullName, "/")
	web, api := s.web(), s.apiURL("/repos/"+fullName)
	r := map[string]any{
		"id": 700000 + len(fullName), "node_id": "R_" + fullName, "name": name, "full_name": fullName, "owner": s.userJSON(owner),
		"private": false, "html_url": web + "/" + fullName, "description": nil, "fork": fullName != s.owner+"/"+s.repo, "url": api,
		"clone_url": web + "/" + fullName + ".git", "git_url": "git://" + strings.TrimPrefix(strings.TrimPrefix(web, "http://"), "https://") + "/" + fullName + ".git",
		"ssh_url": "git@example.invalid:" + fullName + ".git", "svn_url": web + "/" + fullName, "mirror_url": nil, "homepage": nil, "language": nil,
		"default_branch": s.defaultBranch, "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0, "stargazers_count": 0,
		"watchers": 0, "watchers_count": 0, "size": 1, "has_downloads": true, "has_issues": true, "has_projects": false, "has_wiki": false,
		"has_pages": false, "archived": false, "disabled": false, "license": nil,
		"pushed_at": "2025-01-02T03:04:05Z", "created_at": "2025-01-02T03:04:05Z", "updated_at": "2025-01-02T03:04:05Z",
	}
	for _, u := range []string{"archive_url", "assignees_url", "blobs_url", "branches_url", "collaborators_url", "comments_url", "commits_url",
		"compare_url", "contents_url", "contributors_url", "deployments_url", "downloads_url", "events_url", "forks_url", "git_commits_url",
		"git_refs_url", "git_tags_url", "hooks_url", "issue_comment_url", "issue_events_url", "issues_url", "keys_url", "labels_url",
		"languages_url", "merges_url", "milestones_url", "notifications_url", "pulls_url", "releases_url", "stargazers_url", "statuses_url",
		"subscribers_url", "subscription_url", "tags_url", "teams_url", "trees_url"} {
		r[u] = api + "/" + strings.TrimSuffix(u, "_url")
	}
	return r
}

// validationOf is a 422 Validation Failed naming resource and field.
func validationOf(resource, field, code, doc string) map[string]any {
	return map[string]any{"message": "Validation Failed", "documentation_url": doc,
		"errors": []any{map[string]any{"resource": resource, "field": field, "code": code}}}
}

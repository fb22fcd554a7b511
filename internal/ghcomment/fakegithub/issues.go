package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Issues: what the history job files, one per confirmed change point.

// Issue is a stored issue (not a pull request).
type Issue struct {
	Number    int      `json:"number"`
	Title     string   `json:"title"`
	Body      string   `json:"body"`
	State     string   `json:"state"` // open or closed
	Labels    []string `json:"labels"`
	User      string   `json:"user"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
	ClosedAt  string   `json:"closed_at,omitempty"`
}

type issueData struct {
	issues    []Issue
	nextIssue int
}

var (
	reIssues = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues$`)
	reIssue  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/(\d+)$`)
)

// Issues returns every issue, by number.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, len(s.issues))
	for i, is := range s.issues {
		is.Labels = slices.Clone(is.Labels)
		out[i] = is
	}
	return out
}

// CloseIssue closes issue n, as a maintainer would; labels, when given,
// replace its labels. It reports whether the issue exists.
func (s *Server) CloseIssue(n int, labels ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.issues {
		if s.issues[i].Number == n {
			s.issues[i].State, s.issues[i].ClosedAt = "closed", time.Now().UTC().Format(time.RFC3339)
			if labels != nil {
				s.issues[i].Labels = labels
			}
			return true
		}
	}
	return false
}

// issueRequest is the body of a create or an update; a field left out is
// nil.
type issueRequest struct {
	Title  *string   `json:"title"`
	Body   *string   `json:"body"`
	State  *string   `json:"state"`
	Labels *[]string `json:"labels"`
}

// routeIssues answers GET and POST /repos/{owner}/{repo}/issues and GET and
// PATCH /repos/{owner}/{repo}/issues/{issue_number}; it reports whether
// path was one. The caller holds s.mu. The list filters by state (open by
// default, closed, all) and by labels (every one of a comma-separated
// list), oldest first, paginated with Link; it lists issues only, as the
// pull requests of this fake have no issue side. A create without a title,
// or a body above 65,536 characters, is answered 422.
// https://docs.github.com/en/rest/issues/issues
func (s *Server) routeIssues(w http.ResponseWriter, method, path string, q map[string][]string, body []byte, login string, changed *bool) bool {
	repoOK := func(m []string) bool { return m[1] == s.owner && m[2] == s.repo }
	if m := reIssues.FindStringSubmatch(path); m != nil && repoOK(m) {
		switch method {
		case http.MethodGet:
			state := first(q["state"])
			if state == "" {
				state = "open"
			}
			if state != "open" && state != "closed" && state != "all" {
				writeJSON(w, http.StatusUnprocessableEntity, nil, map[string]any{"message": "Validation Failed",
					"documentation_url": "https://docs.github.com/rest/issues/issues#list-repository-issues",
					"errors":            []any{map[string]any{"resource": "Issue", "field": "state", "code": "invalid"}}})
				return true
			}
			var want []string
			if l := first(q["labels"]); l != "" {
				want = strings.Split(l, ",")
			}
			var list []Issue
			for _, is := range s.issues {
				if (state == "all" || is.State == state) && hasAll(is.Labels, want) {
					list = append(list, is)
				}
			}
			if first(q["direction"]) == "desc" {
				slices.Reverse(list)
			}
			s.page(w, path, q, len(list), func(lo, hi int) any {
				out := []any{}
				for _, is := range list[lo:hi] {
					out = append(out, s.issueJSON(is))
				}
				return out
			})
		case http.MethodPost:
			var req issueRequest
			if err := json.Unmarshal(body, &req); err != nil || req.Title == nil || *req.Title == "" {
				writeJSON(w, http.StatusUnprocessableEntity, nil, issueValidation("title", "missing"))
				return true
			}
			if req.Body != nil && len([]rune(*req.Body)) > 65536 {
				writeJSON(w, http.StatusUnprocessableEntity, nil, issueValidation("body", "too long (maximum is 65536 characters)"))
				return true
			}
			if s.nextIssue == 0 {
				s.nextIssue = 100
			}
			s.nextIssue++
			now := time.Now().UTC().Format(time.RFC3339)
			is := Issue{Number: s.nextIssue, Title: *req.Title, State: "open", User: login, CreatedAt: now, UpdatedAt: now, Labels: []string{}}
			if req.Body != nil {
				is.Body = *req.Body
			}
			if req.Labels != nil {
				is.Labels = slices.Clone(*req.Labels)
			}
			s.issues = append(s.issues, is)
			*changed = true
			writeJSON(w, http.StatusCreated, map[string]string{"Location": s.apiURL(fmt.Sprintf("/repos/%s/%s/issues/%d", s.owner, s.repo, is.Number))}, s.issueJSON(is))
		default:
			writeJSON(w, http.StatusMethodNotAllowed, nil, apiError("Method Not Allowed", ""))
		}
		return true
	}
	if m := reIssue.FindStringSubmatch(path); m != nil && repoOK(m) {
		n, _ := strconv.Atoi(m[3])
		idx := slices.IndexFunc(s.issues, func(is Issue) bool { return is.Number == n })
		if idx < 0 {
			writeJSON(w, http.StatusNotFound, nil, apiError("Not Found", "https://docs.github.com/rest/issues/issues#get-an-issue"))
			return true
		}
		switch method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, nil, s.issueJSON(s.issues[idx]))
		case http.MethodPatch:
			var req issueRequest
			if err := json.Unmarshal(body, &req); err != nil {
				writeJSON(w, http.StatusUnprocessableEntity, nil, issueValidation("body", "not JSON"))
				return true
			}
			is := &s.issues[idx]
			if req.Title != nil {
				is.Title = *req.Title
			}
			if req.Body != nil {
				if len([]rune(*req.Body)) > 65536 {
					writeJSON(w, http.StatusUnprocessableEntity, nil, issueValidation("body", "too long (maximum is 65536 characters)"))
					return true
				}
				is.Body = *req.Body
			}
			if req.Labels != nil {
				is.Labels = slices.Clone(*req.Labels)
			}
			if req.State != nil && (*req.State == "open" || *req.State == "closed") {
				is.State = *req.State
			}
			is.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
			*changed = true
			writeJSON(w, http.StatusOK, nil, s.issueJSON(*is))
		default:
			writeJSON(w, http.StatusMethodNotAllowed, nil, apiError("Method Not Allowed", ""))
		}
		return true
	}
	return false
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, strings.TrimSpace(w)) {
			return false
		}
	}
	return true
}

func issueValidation(field, code string) map[string]any {
	return map[string]any{"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
		"errors": []any{map[string]any{"resource": "Issue", "field": field, "code": "custom", "message": field + " is " + code}}}
}

// issueJSON is an issue as GitHub's API gives it.
func (s *Server) issueJSON(is Issue) map[string]any {
	api := s.apiURL(fmt.Sprintf("/repos/%s/%s/issues/%d", s.owner, s.repo, is.Number))
	labels := []any{}
	for i, l := range is.Labels {
		labels = append(labels, map[string]any{"id": 200 + i, "node_id": "LA_" + l, "url": s.apiURL("/repos/" + s.owner + "/" + s.repo + "/labels/" + l),
			"name": l, "description": nil, "color": "ededed", "default": false})
	}
	var user, closedAt any
	if is.User != "" {
		user = s.userJSON(is.User)
	}
	if is.ClosedAt != "" {
		closedAt = is.ClosedAt
	}
	return map[string]any{
		"id": 5000 + is.Number, "node_id": fmt.Sprintf("I_%d", is.Number), "url": api,
		"repository_url": s.apiURL("/repos/" + s.owner + "/" + s.repo), "labels_url": api + "/labels{/name}",
		"comments_url": api + "/comments", "events_url": api + "/events",
		"html_url": fmt.Sprintf("%s/%s/%s/issues/%d", s.web(), s.owner, s.repo, is.Number),
		"number":   is.Number, "state": is.State, "title": is.Title, "body": is.Body, "user": user, "labels": labels,
		"assignee": nil, "assignees": []any{}, "milestone": nil, "locked": false, "comments": 0, "closed_at": closedAt,
		"created_at": is.CreatedAt, "updated_at": is.UpdatedAt, "author_association": "NONE",
	}
}

// Package fakegithub is a GitHub REST API stand-in for tests: issue
// comments (list with Link pagination, create, get, edit, delete), issue
// labels, commit statuses (statuses.go), and what the /perf command uses
// (collaborator permissions, reactions to comments, pull requests, workflow
// dispatches; see ondemand.go), with the status codes, headers and shapes GitHub documents,
// token checks, and scripted faults (5xx, rate limits, a write that lands
// but answers an error, resets). It runs inside httptest or as a process
// (see cmd/fakegithub) for end-to-end tests with act.
package fakegithub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/diffperf/diffperf/internal/report"
)

// Comment is a stored issue comment. User "" is a deleted user (null).
type Comment struct {
	ID        int64  `json:"id"`
	Issue     int    `json:"issue"`
	Body      string `json:"body"`
	User      string `json:"user"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// Fault is a scripted answer for the requests that match it.
type Fault struct {
	Method string         // "" matches any
	Path   *regexp.Regexp // nil matches any
	// Skip lets this many matching requests through first.
	Skip int
	// Times is how many matching requests get the fault (0 means 1).
	Times   int
	Status  int
	Headers map[string]string
	Body    string
	// Land applies the request before answering with the fault, like a
	// create that succeeded but whose answer was lost.
	Land bool
	// Reset closes the connection without an answer.
	Reset bool
	// Delay holds the request back, for concurrency tests; with Status 0
	// and no Reset, the request is then served as usual.
	Delay time.Duration
}

// Server is the fake API. Its zero value is not usable: use New.
type Server struct {
	mu       sync.Mutex
	owner    string
	repo     string
	tokens   map[string]string // token -> login
	comments []Comment
	labels   map[int][]string
	prs      map[int]bool
	statuses []Status
	nextID   int64
	faults   []*Fault
	// Requests records method, path and body of every request, in order.
	requests []Request
	// BaseURL is what URLs in answers start with (the test server's URL).
	BaseURL string
	// OnChange, when set, is called after every write with the state.
	OnChange func(State)
	// The /perf endpoints' data (see ondemand.go).
	onDemand
	// The history job's issues (see issues.go).
	issueData
}

// Request is one recorded request.
type Request struct {
	Method, Path, Query, Body string
	Header                    http.Header
}

// State is the stored data, for tests and for the process's state file.
type State struct {
	Comments   []Comment        `json:"comments"`
	Labels     map[int][]string `json:"labels"`
	Reactions  []Reaction       `json:"reactions"`
	Dispatches []Dispatch       `json:"dispatches"`
	Statuses   []Status         `json:"statuses"`
	Issues     []Issue          `json:"issues"`
}

// New serves owner/repo with pull requests prs. tokens maps each accepted
// token to the login its comments are written by.
func New(owner, repo string, tokens map[string]string, prs ...int) *Server {
	s := &Server{owner: owner, repo: repo, tokens: tokens, labels: map[int][]string{}, prs: map[int]bool{}, nextID: 1000, onDemand: newOnDemand()}
	for _, p := range prs {
		s.prs[p] = true
	}
	return s
}

// AddComment stores a comment as if user wrote it ("" for a deleted user).
func (s *Server) AddComment(issue int, user, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(issue, user, body).ID
}

func (s *Server) add(issue int, user, body string) Comment {
	s.nextID++
	now := time.Now().UTC().Format(time.RFC3339)
	c := Comment{ID: s.nextID, Issue: issue, Body: body, User: user, CreatedAt: now, UpdatedAt: now}
	s.comments = append(s.comments, c)
	return c
}

// SetLabels sets the labels of an issue or pull request.
func (s *Server) SetLabels(issue int, labels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.labels[issue] = labels
}

// Inject adds faults; each matching request consumes them in order.
func (s *Server) Inject(f ...*Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// Comments returns the comments of an issue, by ID.
func (s *Server) Comments(issue int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == issue {
			out = append(out, c)
		}
	}
	return out
}

// Requests returns the requests so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// State returns a copy of the stored data.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state()
}

func (s *Server) state() State {
	st := State{Comments: append([]Comment{}, s.comments...), Labels: map[int][]string{},
		Reactions: append([]Reaction{}, s.reactions...), Dispatches: append([]Dispatch{}, s.dispatches...),
		Statuses: append([]Status{}, s.statuses...), Issues: append([]Issue{}, s.issues...)}
	for k, v := range s.labels {
		st.Labels[k] = append([]string(nil), v...)
	}
	return st
}

var (
	reIssueComments = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$`)
	reComment       = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$`)
	reLabels        = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/(\d+)/labels$`)
)

// ServeHTTP implements http.Handler. Paths may carry a prefix such as
// /api/v3 (GitHub Enterprise Server).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Body: string(body), Header: r.Header.Clone()})
	fault := s.matchFault(r.Method, path)
	s.mu.Unlock()

	if path == "/_fake/state" {
		writeJSON(w, http.StatusOK, nil, s.State())
		return
	}
	if issue, ok := strings.CutPrefix(path, "/_fake/labels/"); ok && r.Method == http.MethodPut {
		// Test control: set an issue's labels, as a maintainer would.
		n, _ := strconv.Atoi(issue)
		var labels []string
		if err := json.Unmarshal(body, &labels); err != nil {
			writeJSON(w, http.StatusBadRequest, nil, apiError(err.Error(), ""))
			return
		}
		s.SetLabels(n, labels...)
		writeJSON(w, http.StatusOK, nil, labels)
		return
	}
	if strings.HasPrefix(path, "/_fake/") {
		s.control(w, r.Method, path, body)
		return
	}
	if fault != nil && fault.Delay > 0 {
		time.Sleep(fault.Delay)
	}
	if fault != nil && fault.Status == 0 && !fault.Reset {
		fault = nil // a delay only
	}
	if fault != nil && !fault.Land {
		s.answerFault(w, fault)
		return
	}
	login, ok := s.auth(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, nil, apiError("Bad credentials", "https://docs.github.com/rest"))
		return
	}
	rec := &recorder{ResponseWriter: w}
	if fault != nil {
		rec.discard = true // land the write, then answer with the fault
	}
	s.route(rec, r.Method, path, r.URL.Query(), body, login)
	if fault != nil {
		s.answerFault(w, fault)
	}
}

type recorder struct {
	http.ResponseWriter
	discard bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.discard {
		r.ResponseWriter.WriteHeader(code)
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.discard {
		return len(b), nil
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Header() http.Header {
	if r.discard {
		return http.Header{}
	}
	return r.ResponseWriter.Header()
}

func (s *Server) matchFault(method, path string) *Fault {
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != method) || (f.Path != nil && !f.Path.MatchString(path)) {
			continue
		}
		if f.Skip > 0 {
			f.Skip--
			continue
		}
		if f.Times <= 1 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		} else {
			f.Times--
		}
		return f
	}
	return nil
}

func (s *Server) answerFault(w http.ResponseWriter, f *Fault) {
	if f.Reset {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	for k, v := range f.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(f.Status)
	body := f.Body
	if body == "" {
		body = fmt.Sprintf(`{"message":%q,"documentation_url":"https://docs.github.com/rest"}`, http.StatusText(f.Status))
	}
	io.WriteString(w, body)
}

func (s *Server) auth(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "token "} {
		if t, ok := strings.CutPrefix(h, p); ok {
			login, ok := s.tokens[t]
			return login, ok
		}
	}
	return "", false
}

func (s *Server) route(w http.ResponseWriter, method, path string, q map[string][]string, body []byte, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	defer func() {
		if changed && s.OnChange != nil {
			s.OnChange(s.state())
		}
	}()
	repoOK := func(m []string) bool { return m[1] == s.owner && m[2] == s.repo }
	if m := reIssueComments.FindStringSubmatch(path); m != nil && repoOK(m) {
		issue, _ := strconv.Atoi(m[3])
		if !s.prs[issue] {
			writeJSON(w, http.StatusNotFound, nil, apiError("Not Found", "https://docs.github.com/rest/issues/comments#list-issue-comments"))
			return
		}
		switch method {
		case http.MethodGet:
			var list []Comment
			for _, c := range s.comments {
				if c.Issue == issue {
					list = append(list, c)
				}
			}
			sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
			s.page(w, path, q, len(list), func(lo, hi int) any {
				out := []any{}
				for _, c := range list[lo:hi] {
					out = append(out, s.commentJSON(c))
				}
				return out
			})
		case http.MethodPost:
			text, ok := commentBody(w, body)
			if !ok {
				return
			}
			c := s.add(issue, login, text)
			changed = true
			writeJSON(w, http.StatusCreated, map[string]string{"Location": s.apiURL(fmt.Sprintf("/repos/%s/%s/issues/comments/%d", s.owner, s.repo, c.ID))}, s.commentJSON(c))
		default:
			writeJSON(w, http.StatusMethodNotAllowed, nil, apiError("Method Not Allowed", ""))
		}
		return
	}
	if m := reComment.FindStringSubmatch(path); m != nil && repoOK(m) {
		id, _ := strconv.ParseInt(m[3], 10, 64)
		idx := -1
		for i, c := range s.comments {
			if c.ID == id {
				idx = i
			}
		}
		if idx < 0 {
			writeJSON(w, http.StatusNotFound, nil, apiError("Not Found", "https://docs.github.com/rest/issues/comments"))
			return
		}
		switch method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, nil, s.commentJSON(s.comments[idx]))
		case http.MethodPatch:
			text, ok := commentBody(w, body)
			if !ok {
				return
			}
			if s.comments[idx].User != login {
				writeJSON(w, http.StatusForbidden, nil, apiError("Resource not accessible by integration", "https://docs.github.com/rest/issues/comments#update-an-issue-comment"))
				return
			}
			s.comments[idx].Body = text
			s.comments[idx].UpdatedAt = time.Now().UTC().Format(time.RFC3339)
			changed = true
			writeJSON(w, http.StatusOK, nil, s.commentJSON(s.comments[idx]))
		case http.MethodDelete:
			if s.comments[idx].User != login {
				writeJSON(w, http.StatusForbidden, nil, apiError("Resource not accessible by integration", "https://docs.github.com/rest/issues/comments#delete-an-issue-comment"))
				return
			}
			s.comments = append(s.comments[:idx], s.comments[idx+1:]...)
			changed = true
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusMethodNotAllowed, nil, apiError("Method Not Allowed", ""))
		}
		return
	}
	if m := reLabels.FindStringSubmatch(path); m != nil && repoOK(m) && method == http.MethodGet {
		issue, _ := strconv.Atoi(m[3])
		labels := s.labels[issue]
		s.page(w, path, q, len(labels), func(lo, hi int) any {
			out := []any{}
			for i, l := range labels[lo:hi] {
				out = append(out, map[string]any{"id": 100 + lo + i, "node_id": "LA_" + l, "url": s.apiURL("/repos/" + s.owner + "/" + s.repo + "/labels/" + l),
					"name": l, "description": nil, "color": "ededed", "default": false})
			}
			return out
		})
		return
	}
	if s.routeOnDemand(w, method, path, body, login, &changed) {
		return
	}
	if s.routeStatuses(w, method, path, q, body, login, &changed) {
		return
	}
	if s.routeIssues(w, method, path, q, body, login, &changed) {
		return
	}
	writeJSON(w, http.StatusNotFound, nil, apiError("Not Found", "https://docs.github.com/rest"))
}

// commentBody reads the body of a create or edit request, answering 422 as
// GitHub does when it is missing or longer than 65,536 characters.
func commentBody(w http.ResponseWriter, raw []byte) (string, bool) {
	var req struct {
		Body *string `json:"body"`
	}
	if json.Unmarshal(raw, &req) != nil || req.Body == nil {
		writeJSON(w, http.StatusUnprocessableEntity, nil, validation("body", "missing_field"))
		return "", false
	}
	if len([]rune(*req.Body)) > report.MaxCommentChars {
		writeJSON(w, http.StatusUnprocessableEntity, nil, validation("body", fmt.Sprintf("too long (maximum is %d characters)", report.MaxCommentChars)))
		return "", false
	}
	return *req.Body, true
}

// page writes one page of n items with GitHub's Link header.
// https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
func (s *Server) page(w http.ResponseWriter, path string, q map[string][]string, n int, items func(lo, hi int) any) {
	per, page := 30, 1
	if v, err := strconv.Atoi(first(q["per_page"])); err == nil && v > 0 {
		per = min(v, 100)
	}
	if v, err := strconv.Atoi(first(q["page"])); err == nil && v > 0 {
		page = v
	}
	last := max((n+per-1)/per, 1)
	lo, hi := min((page-1)*per, n), min(page*per, n)
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s?per_page=%d&page=%d>; rel="%s"`, s.apiURL(path), per, p, rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	h := map[string]string{}
	if len(links) > 0 {
		h["Link"] = strings.Join(links, ", ")
	}
	writeJSON(w, http.StatusOK, h, items(lo, hi))
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *Server) apiURL(path string) string {
	return strings.TrimRight(s.BaseURL, "/") + path
}

func (s *Server) commentJSON(c Comment) map[string]any {
	web := s.web()
	var user any
	if c.User != "" {
		user = s.userJSON(c.User)
	}
	return map[string]any{
		"id": c.ID, "node_id": fmt.Sprintf("IC_%d", c.ID),
		"url":       s.apiURL(fmt.Sprintf("/repos/%s/%s/issues/comments/%d", s.owner, s.repo, c.ID)),
		"html_url":  fmt.Sprintf("%s/%s/%s/pull/%d#issuecomment-%d", web, s.owner, s.repo, c.Issue, c.ID),
		"issue_url": s.apiURL(fmt.Sprintf("/repos/%s/%s/issues/%d", s.owner, s.repo, c.Issue)),
		"body":      c.Body, "user": user, "created_at": c.CreatedAt, "updated_at": c.UpdatedAt,
		"author_association": "NONE", "performed_via_github_app": nil,
	}
}

// web is the web address that html_url fields start with.
func (s *Server) web() string {
	return strings.Replace(strings.TrimRight(s.BaseURL, "/"), "/api/v3", "", 1)
}

// userJSON is a simple-user: a login ending in [bot] is of type Bot.
func (s *Server) userJSON(login string) map[string]any {
	web := s.web()
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{
		"login": login, "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=", "avatar_url": web + "/avatars/" + login,
		"gravatar_id": "", "url": s.apiURL("/users/" + login), "html_url": web + "/" + login,
		"followers_url": s.apiURL("/users/" + login + "/followers"), "following_url": s.apiURL("/users/" + login + "/following{/other_user}"),
		"gists_url": s.apiURL("/users/" + login + "/gists{/gist_id}"), "starred_url": s.apiURL("/users/" + login + "/starred{/owner}{/repo}"),
		"subscriptions_url": s.apiURL("/users/" + login + "/subscriptions"), "organizations_url": s.apiURL("/users/" + login + "/orgs"),
		"repos_url": s.apiURL("/users/" + login + "/repos"), "events_url": s.apiURL("/users/" + login + "/events{/privacy}"),
		"received_events_url": s.apiURL("/users/" + login + "/received_events"), "type": typ, "site_admin": false,
	}
}

func apiError(msg, doc string) map[string]any {
	return map[string]any{"message": msg, "documentation_url": doc}
}

func validation(field, code string) map[string]any {
	return map[string]any{"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
		"errors": []any{map[string]any{"resource": "IssueComment", "field": field, "code": "custom", "message": field + " is " + code}}}
}

func writeJSON(w http.ResponseWriter, code int, headers map[string]string, v any) {
	for k, val := range headers {
		w.Header().Set(k, val)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

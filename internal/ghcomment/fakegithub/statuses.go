package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// Commit statuses: what diffperf's gate posts, and what tests read back.

// Status is a stored commit status.
type Status struct {
	ID          int64  `json:"id"`
	SHA         string `json:"sha"`
	State       string `json:"state"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
	Creator     string `json:"creator"`
	CreatedAt   string `json:"created_at"`
}

// MaxStatusDescription is the longest description GitHub takes (422 above).
const MaxStatusDescription = 140

var (
	reStatuses       = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/statuses/([^/]+)$`)
	reCommitStatuses = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/commits/([^/]+)/statuses$`)
	fullSHA          = regexp.MustCompile(`^[0-9a-f]{40}$`)
	statusStates     = map[string]bool{"pending": true, "success": true, "failure": true, "error": true}
)

// Statuses returns every status posted on sha, oldest first.
func (s *Server) Statuses(sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, st := range s.statuses {
		if st.SHA == sha {
			out = append(out, st)
		}
	}
	return out
}

// AllStatuses returns every status posted, oldest first.
func (s *Server) AllStatuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses...)
}

// Latest returns the newest status of context on sha, as branch protection
// reads it, and whether there is one.
func (s *Server) Latest(sha, context string) (Status, bool) {
	all := s.Statuses(sha)
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Context == context {
			return all[i], true
		}
	}
	return Status{}, false
}

// routeStatuses answers POST /repos/{owner}/{repo}/statuses/{sha} and GET
// /repos/{owner}/{repo}/commits/{ref}/statuses; it reports whether path was
// one. The caller holds s.mu. GitHub answers 422 for a state it does not
// know, a description above 140 characters, or a SHA it does not have
// (here: anything but 40 lower-case hex digits); none of these 422s is in
// its reference, which lists 201 only.
// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
// https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference
func (s *Server) routeStatuses(w http.ResponseWriter, method, path string, q map[string][]string, body []byte, login string, changed *bool) bool {
	const doc = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"
	repoOK := func(m []string) bool { return m[1] == s.owner && m[2] == s.repo }
	if m := reStatuses.FindStringSubmatch(path); m != nil && repoOK(m) && method == http.MethodPost {
		var req struct {
			State       *string `json:"state"`
			TargetURL   *string `json:"target_url"`
			Description *string `json:"description"`
			Context     *string `json:"context"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, nil, apiError("Problems parsing JSON", doc))
			return true
		}
		switch {
		case !fullSHA.MatchString(m[3]):
			writeJSON(w, http.StatusUnprocessableEntity, nil, apiError("No commit found for SHA: "+m[3], doc))
			return true
		case req.State == nil || !statusStates[*req.State]:
			writeJSON(w, http.StatusUnprocessableEntity, nil, validationOf("Status", "state", "invalid", doc))
			return true
		case req.Description != nil && len([]rune(*req.Description)) > MaxStatusDescription:
			writeJSON(w, http.StatusUnprocessableEntity, nil, validationOf("Status", "description", "custom", doc))
			return true
		}
		st := Status{SHA: m[3], State: *req.State, Context: "default", Creator: login, CreatedAt: time.Now().UTC().Format(time.RFC3339)}
		if req.Context != nil && *req.Context != "" {
			st.Context = *req.Context
		}
		if req.Description != nil {
			st.Description = *req.Description
		}
		if req.TargetURL != nil {
			st.TargetURL = *req.TargetURL
		}
		s.nextID++
		st.ID = s.nextID
		s.statuses = append(s.statuses, st)
		*changed = true
		writeJSON(w, http.StatusCreated, map[string]string{"Location": s.apiURL(path)}, s.statusJSON(st))
		return true
	}
	if m := reCommitStatuses.FindStringSubmatch(path); m != nil && repoOK(m) && method == http.MethodGet {
		var list []Status
		for i := len(s.statuses) - 1; i >= 0; i-- { // newest first, as GitHub lists them
			if st := s.statuses[i]; st.SHA == m[3] {
				list = append(list, st)
			}
		}
		s.page(w, path, q, len(list), func(lo, hi int) any {
			out := []any{}
			for _, st := range list[lo:hi] {
				out = append(out, s.statusJSON(st))
			}
			return out
		})
		return true
	}
	return false
}

func (s *Server) statusJSON(st Status) map[string]any {
	return map[string]any{
		"url": s.apiURL(fmt.Sprintf("/repos/%s/%s/statuses/%s", s.owner, s.repo, st.SHA)), "avatar_url": nil,
		"id": st.ID, "node_id": "SC_" + strconv.FormatInt(st.ID, 10), "state": st.State, "description": st.Description,
		"target_url": st.TargetURL, "context": st.Context, "created_at": st.CreatedAt, "updated_at": st.CreatedAt,
		"creator": s.userJSON(st.Creator),
	}
}

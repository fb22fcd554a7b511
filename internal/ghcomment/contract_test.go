package ghcomment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
)

// apiDoc is an OpenAPI description of GitHub's REST API.
type apiDoc struct {
	name string
	doc  map[string]any
}

// openAPIDocs are the project's hand-written excerpt (testdata, see its
// README.md), always, and the REST API subset in ../shared/github (beside
// the project root) when that folder is there; a plain clone has none, and
// checks against the project's excerpt only.
func openAPIDocs(t *testing.T) []apiDoc {
	t.Helper()
	docs := []apiDoc{{"project", readOpenAPI(t, filepath.Join("testdata", "openapi-excerpt.json"))}}
	shared := filepath.Join("..", "..", "..", "shared", "github", "rest-api-subset.openapi.json")
	if _, err := os.Stat(shared); err != nil {
		t.Logf("no ../shared/github here: checked against the project's excerpt only (%v)", err)
		return docs
	}
	return append(docs, apiDoc{"shared", readOpenAPI(t, shared)})
}

func readOpenAPI(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// ref follows a local $ref such as #/components/schemas/issue-comment.
func ref(doc map[string]any, node map[string]any) map[string]any {
	for {
		r, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		node = cur.(map[string]any)
	}
}

// check validates v against schema s and returns what does not conform.
func check(doc map[string]any, path string, s map[string]any, v any) []string {
	s = ref(doc, s)
	var errs []string
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			errs = append(errs, check(doc, path, sub.(map[string]any), v)...)
		}
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts, ok := s[key].([]any); ok {
			matched := false
			for _, sub := range alts {
				if len(check(doc, path, sub.(map[string]any), v)) == 0 {
					matched = true
				}
			}
			if !matched {
				errs = append(errs, path+": matches none of "+key)
			}
		}
	}
	if v == nil {
		if s["nullable"] == true || s["type"] == nil {
			return errs
		}
		return append(errs, path+": null but not nullable")
	}
	switch s["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want object", path, v))
		}
		for _, r := range asList(s["required"]) {
			if _, ok := obj[r]; !ok {
				errs = append(errs, path+": missing required "+r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, pv := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, check(doc, path+"."+k, ps, pv)...)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want array", path, v))
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range arr {
				errs = append(errs, check(doc, fmt.Sprintf("%s[%d]", path, i), items, it)...)
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T, want string", path, v))
		} else if enum := asList(s["enum"]); len(enum) > 0 && !contains(enum, v.(string)) {
			errs = append(errs, fmt.Sprintf("%s: %q not in %v", path, v, enum))
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok || (s["type"] == "integer" && f != float64(int64(f))) {
			errs = append(errs, fmt.Sprintf("%s: %v, want %s", path, v, s["type"]))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T, want boolean", path, v))
		}
	}
	return errs
}

func asList(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// operation finds the documented operation for a method and path template.
func operation(t *testing.T, doc map[string]any, method, tmpl string) map[string]any {
	t.Helper()
	op, ok := lookup(doc, method, tmpl)
	if !ok {
		t.Fatalf("%s %s is not in the API description", method, tmpl)
	}
	return op
}

// lookup is operation for descriptions that may lack it: an older shared
// subset has no workflow dispatches.
func lookup(doc map[string]any, method, tmpl string) (map[string]any, bool) {
	item, _ := doc["paths"].(map[string]any)[tmpl].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	return op, ok
}

// undocumented reports whether the project's excerpt marks an answer as one
// the API gives but GitHub's reference leaves out ("x-undocumented": the
// dispatch's 404 and 422). Against GitHub's own description such an answer
// is expected to be missing, and only such an answer.
func undocumented(t *testing.T, method, tmpl, code string) bool {
	t.Helper()
	op, ok := lookup(openAPIDocs(t)[0].doc, method, tmpl)
	if !ok {
		return false
	}
	r, _ := op["responses"].(map[string]any)[code].(map[string]any)
	marked, _ := r["x-undocumented"].(bool)
	return marked
}

func TestFakeAnswersAsGitHubDocuments(t *testing.T) {
	t.Parallel()
	for _, d := range openAPIDocs(t) {
		t.Run(d.name, func(t *testing.T) { fakeAnswersAsDocumented(t, d.doc) })
	}
}

func fakeAnswersAsDocumented(t *testing.T, doc map[string]any) {
	fake := fakegithub.New("octo", "perf", map[string]string{token: DefaultBot}, pr)
	ts := httptest.NewServer(fake)
	defer ts.Close()
	fake.BaseURL = ts.URL
	for i := 0; i < 3; i++ {
		fake.AddComment(pr, "alice", fmt.Sprint("hi ", i))
	}
	fake.AddComment(pr, "", "by a deleted user")
	fake.SetLabels(pr, "perf-regression-accepted", "run-ci")
	existing := fake.AddComment(pr, DefaultBot, marker+"\nx")
	// What the /perf command reads and writes.
	request := fake.AddComment(pr, "alice", "/perf runs=7")
	fake.SetPermission("alice", "maintain")
	fake.SetPull(fakegithub.Pull{Number: pr, HeadSHA: strings.Repeat("c", 40), HeadRepo: "mallory/perf"})
	fake.AddWorkflow("perf-dispatch.yml", map[string]bool{"head-ref": true, "pr-number": false})
	reactions := fmt.Sprintf("/repos/octo/perf/issues/comments/%d/reactions", request)
	const (
		permission = "/repos/{owner}/{repo}/collaborators/{username}/permission"
		react      = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
		pull       = "/repos/{owner}/{repo}/pulls/{pull_number}"
		dispatch   = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"
		statuses   = "/repos/{owner}/{repo}/statuses/{sha}"
		list       = "/repos/{owner}/{repo}/commits/{ref}/statuses"
		issues     = "/repos/{owner}/{repo}/issues"
		issue      = "/repos/{owner}/{repo}/issues/{issue_number}"
	)
	sha := strings.Repeat("a", 40)

	do := func(method, path, body string) (*http.Response, any) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v any
		if len(b) > 0 {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s %s: not JSON: %s", method, path, b)
			}
		}
		return resp, v
	}
	for i := 0; i < 3; i++ { // statuses to list, over two pages
		if resp, _ := do("POST", "/repos/octo/perf/statuses/"+sha, fmt.Sprintf(`{"state":"pending","context":"diffperf %d"}`, i)); resp.StatusCode != 201 {
			t.Fatalf("POST status: %d", resp.StatusCode)
		}
	}
	tests := []struct {
		method, path, tmpl, body string
		wantHeader               string
		wantCode                 int
	}{
		{"GET", "/repos/octo/perf/issues/7/comments?per_page=2", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "", "Link", 200},
		{"GET", "/repos/octo/perf/issues/7/comments?per_page=2&page=3", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "", "Link", 200},
		{"GET", "/repos/octo/perf/issues/99/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "", "", 404},
		{"POST", "/repos/octo/perf/issues/7/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments", `{"body":"hello"}`, "Location", 201},
		{"POST", "/repos/octo/perf/issues/7/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments", `{"body":"` + strings.Repeat("x", 65537) + `"}`, "", 422},
		{"GET", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", "", "", 200},
		{"PATCH", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", `{"body":"edited"}`, "", 200},
		{"PATCH", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", `{}`, "", 422},
		{"DELETE", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", "", "", 204},
		{"GET", "/repos/octo/perf/issues/7/labels", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "", "", 200},
		// The /perf command's calls.
		{"GET", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", request), "/repos/{owner}/{repo}/issues/comments/{comment_id}", "", "", 200},
		{"GET", "/repos/octo/perf/issues/comments/999999", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "", "", 404},
		{"GET", "/repos/octo/perf/collaborators/alice/permission", permission, "", "", 200},
		{"GET", "/repos/octo/perf/collaborators/nobody/permission", permission, "", "", 404},
		{"POST", reactions, react, `{"content":"eyes"}`, "", 201},
		{"POST", reactions, react, `{"content":"eyes"}`, "", 200},
		{"POST", reactions, react, `{"content":"thumbs-up"}`, "", 422},
		{"GET", "/repos/octo/perf/pulls/7", pull, "", "", 200},
		{"GET", "/repos/octo/perf/pulls/99", pull, "", "", 404},
		{"POST", "/repos/octo/perf/actions/workflows/perf-dispatch.yml/dispatches", dispatch, `{"ref":"main","inputs":{"head-ref":"abc","pr-number":"7"}}`, "", 204},
		{"POST", "/repos/octo/perf/actions/workflows/nope.yml/dispatches", dispatch, `{"ref":"main"}`, "", 404},
		{"POST", "/repos/octo/perf/actions/workflows/perf-dispatch.yml/dispatches", dispatch, `{"ref":"main","inputs":{"head-ref":"abc","case":"x"}}`, "", 422},
		{"POST", "/repos/octo/perf/actions/workflows/perf-dispatch.yml/dispatches", dispatch, `{"ref":"main","inputs":{"pr-number":"7"}}`, "", 422},
		// The gate's commit status, and the list the tests read back.
		{"POST", "/repos/octo/perf/statuses/" + sha, statuses, `{"state":"failure","context":"diffperf","description":"regression","target_url":"https://example.com/c"}`, "Location", 201},
		{"POST", "/repos/octo/perf/statuses/" + sha, statuses, `{"state":"success"}`, "Location", 201},
		{"GET", "/repos/octo/perf/commits/" + sha + "/statuses?per_page=2", list, "", "Link", 200},
		// The history job's issues.
		{"POST", "/repos/octo/perf/issues", issues, `{"title":"perf: E2E +5.0% at abc1234","body":"<!-- diffperf-cp:abc -->","labels":["perf-regression"]}`, "Location", 201},
		{"POST", "/repos/octo/perf/issues", issues, `{"title":"perf: E2E +5.0% at def1234","body":"<!-- diffperf-cp:def -->","labels":["perf-regression"]}`, "Location", 201},
		{"POST", "/repos/octo/perf/issues", issues, `{"body":"no title"}`, "", 422},
		{"POST", "/repos/octo/perf/issues", issues, `{"title":"t","body":"` + strings.Repeat("x", 65537) + `"}`, "", 422},
		{"GET", "/repos/octo/perf/issues?state=all&labels=perf-regression&per_page=1", issues, "", "Link", 200},
		{"GET", "/repos/octo/perf/issues?state=nope", issues, "", "", 422},
		{"GET", "/repos/octo/perf/issues/101", issue, "", "", 200},
		{"GET", "/repos/octo/perf/issues/999", issue, "", "", 404},
		{"PATCH", "/repos/octo/perf/issues/101", issue, `{"title":"perf: E2E +5.1% at abc1234","body":"edited","labels":["perf-regression"]}`, "", 200},
		{"PATCH", "/repos/octo/perf/issues/999", issue, `{"body":"x"}`, "", 404},
	}
	for _, tt := range tests {
		resp, v := do(tt.method, tt.path, tt.body)
		if resp.StatusCode != tt.wantCode {
			t.Errorf("%s %s answered %d, want %d", tt.method, tt.path, resp.StatusCode, tt.wantCode)
		}
		op, ok := lookup(doc, tt.method, tt.tmpl)
		if !ok {
			t.Logf("%s %s is not in this description; checked against the project's excerpt", tt.method, tt.tmpl)
			continue
		}
		code := fmt.Sprint(resp.StatusCode)
		r, ok := op["responses"].(map[string]any)[code].(map[string]any)
		if !ok && undocumented(t, tt.method, tt.tmpl, code) {
			t.Logf("%s %s answered %s, which the API gives and GitHub's reference leaves out", tt.method, tt.path, code)
			continue
		}
		if !ok {
			t.Errorf("%s %s answered %s, which GitHub does not document for %s", tt.method, tt.path, code, op["operationId"])
			continue
		}
		r = ref(doc, r)
		if content, ok := r["content"].(map[string]any); ok {
			schema := ref(doc, content["application/json"].(map[string]any)["schema"].(map[string]any))
			for _, e := range check(doc, "body", schema, v) {
				t.Errorf("%s %s (%s): %s", tt.method, tt.path, code, e)
			}
		} else if v != nil {
			t.Errorf("%s %s (%s): a body where GitHub documents none", tt.method, tt.path, code)
		}
		if tt.wantHeader != "" {
			if _, documented := r["headers"].(map[string]any)[tt.wantHeader]; !documented {
				t.Errorf("%s is not a documented header of %s", tt.wantHeader, op["operationId"])
			}
			if resp.Header.Get(tt.wantHeader) == "" {
				t.Errorf("%s %s: no %s header", tt.method, tt.path, tt.wantHeader)
			}
		}
	}
}

func TestRequestsCarryWhatGitHubRequires(t *testing.T) {
	t.Parallel()
	for _, d := range openAPIDocs(t) {
		t.Run(d.name, func(t *testing.T) { requestsCarryWhatIsRequired(t, d.doc) })
	}
}

func requestsCarryWhatIsRequired(t *testing.T, doc map[string]any) {
	fake, c, _ := newFake(t, false)
	fake.AddComment(pr, DefaultBot, marker+"\na")
	fake.AddComment(pr, DefaultBot, marker+"\nb")
	if _, err := c.Upsert(context.Background(), pr, marker, true, body("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upsert(context.Background(), 7, "<!-- diffperf:other -->", true, func(int) string { return "<!-- diffperf:other -->\nx" }); err != nil {
		t.Fatal(err)
	}
	// The /perf command's calls.
	ctx := context.Background()
	request := fake.AddComment(pr, "alice", "/perf runs=7")
	fake.SetPermission("alice", "write")
	fake.AddWorkflow("perf-dispatch.yml", map[string]bool{"head-ref": true, "pr-number": false})
	if _, err := c.Permission(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.React(ctx, request, "eyes"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PullRequest(ctx, pr); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IssueComment(ctx, request); err != nil {
		t.Fatal(err)
	}
	if err := c.Dispatch(ctx, "perf-dispatch.yml", "main", map[string]string{"head-ref": strings.Repeat("c", 40), "pr-number": "7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reply(ctx, pr, request, "refused"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, strings.Repeat("c", 40), Status{State: "failure", Context: "diffperf", Description: strings.Repeat("é", 200), TargetURL: "https://example.com/c"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, strings.Repeat("c", 40), Status{State: "pending", Context: "diffperf / h100"}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range fake.Requests() {
		var tmpl string
		switch {
		case strings.HasSuffix(r.Path, "/comments") && strings.Contains(r.Path, "/issues/7/"):
			tmpl = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
		case strings.HasSuffix(r.Path, "/reactions"):
			tmpl = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
		case strings.Contains(r.Path, "/issues/comments/"):
			tmpl = "/repos/{owner}/{repo}/issues/comments/{comment_id}"
		case strings.HasSuffix(r.Path, "/permission"):
			tmpl = "/repos/{owner}/{repo}/collaborators/{username}/permission"
		case strings.Contains(r.Path, "/pulls/"):
			tmpl = "/repos/{owner}/{repo}/pulls/{pull_number}"
		case strings.HasSuffix(r.Path, "/dispatches"):
			tmpl = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"
		case strings.Contains(r.Path, "/statuses/"):
			tmpl = "/repos/{owner}/{repo}/statuses/{sha}"
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
			continue
		}
		op, ok := lookup(doc, r.Method, tmpl)
		if !ok {
			t.Logf("%s %s is not in this description", r.Method, tmpl)
			continue
		}
		seen[fmt.Sprint(op["operationId"])] = true
		rb, ok := op["requestBody"].(map[string]any)
		if !ok {
			if r.Body != "" {
				t.Errorf("%s %s sends a body GitHub does not take", r.Method, r.Path)
			}
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
			t.Errorf("%s %s: body not JSON: %q", r.Method, r.Path, r.Body)
			continue
		}
		schema := rb["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		for _, e := range check(doc, "request", schema, v) {
			t.Errorf("%s %s: %s", r.Method, r.Path, e)
		}
		if r.Header.Get("Accept") == "" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, r.Header)
		}
	}
	var ops []string
	for k := range seen {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	want := "actions/create-workflow-dispatch issues/create-comment issues/delete-comment issues/get-comment issues/list-comments issues/update-comment " +
		"pulls/get reactions/create-for-issue-comment repos/create-commit-status repos/get-collaborator-permission-level"
	if _, ok := lookup(doc, "POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"); !ok {
		want = strings.TrimPrefix(want, "actions/create-workflow-dispatch ")
	}
	if strings.Join(ops, " ") != want {
		t.Errorf("operations used %v, want %s", ops, want)
	}
}

// TestSchemaCheckerRejects keeps the checker honest: a comment with a wrong
// type, a missing required field and a null user where one is required
// must not pass.
func TestSchemaCheckerRejects(t *testing.T) {
	t.Parallel()
	for _, d := range openAPIDocs(t) {
		t.Run(d.name, func(t *testing.T) {
			schema := map[string]any{"$ref": "#/components/schemas/issue-comment"}
			bad := map[string]any{"id": "42", "body": 3, "user": map[string]any{"login": 5}}
			errs := check(d.doc, "c", schema, bad)
			for _, want := range []string{"c.id: 42, want integer", "c: missing required node_id", "c.body: int, want string", "c.user: missing required id", "c.user.login: int, want string"} {
				if !strings.Contains(strings.Join(errs, "\n"), want) {
					t.Errorf("checker missed %q; it said:\n%s", want, strings.Join(errs, "\n"))
				}
			}
			// A deleted user is null, which the schema allows; a comment with
			// no user at all is not.
			var ok map[string]any
			if err := json.Unmarshal([]byte(`{"id": 1, "node_id": "IC_1", "url": "u", "html_url": "h", "issue_url": "i", "user": null,
				"created_at": "2025-01-02T03:04:05Z", "updated_at": "2025-01-02T03:04:05Z", "author_association": "NONE", "body": "b"}`), &ok); err != nil {
				t.Fatal(err)
			}
			if errs := check(d.doc, "c", schema, ok); len(errs) != 0 {
				t.Errorf("a valid comment rejected: %v", errs)
			}
			delete(ok, "user")
			if errs := check(d.doc, "c", schema, ok); strings.Join(errs, "\n") != "c: missing required user" {
				t.Errorf("a comment without user: %v", errs)
			}
		})
	}
}

// TestExcerptAgreesWithGitHub keeps the hand-written excerpt in testdata
// honest: its references resolve, it documents every operation diffperf uses
// or is about to (the /perf command), and, where ../shared/github has the
// real description, the same operation IDs, no status code GitHub does not
// document, and no required field or property type GitHub does not.
func TestExcerptAgreesWithGitHub(t *testing.T) {
	t.Parallel()
	docs := openAPIDocs(t)
	excerpt := docs[0].doc
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			if r, ok := n["$ref"].(string); ok {
				var cur any = excerpt
				for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("%s does not resolve", r)
				}
			}
			for _, v := range n {
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(excerpt)
	for _, op := range []struct{ method, tmpl, id, success string }{
		{"GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "issues/list-comments", "200"},
		{"POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "issues/create-comment", "201"},
		{"GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/get-comment", "200"},
		{"PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/update-comment", "200"},
		{"DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/delete-comment", "204"},
		{"GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "issues/list-labels-on-issue", "200"},
		{"GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", "repos/get-collaborator-permission-level", "200"},
		{"POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "reactions/create-for-issue-comment", "201"},
		{"GET", "/repos/{owner}/{repo}/pulls/{pull_number}", "pulls/get", "200"},
		{"POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", "actions/create-workflow-dispatch", "204"},
		{"POST", "/repos/{owner}/{repo}/statuses/{sha}", "repos/create-commit-status", "201"},
		{"GET", "/repos/{owner}/{repo}/commits/{ref}/statuses", "repos/list-commit-statuses-for-ref", "200"},
	} {
		mine := operation(t, excerpt, op.method, op.tmpl)
		if mine["operationId"] != op.id {
			t.Errorf("%s %s: operationId %v, want %s", op.method, op.tmpl, mine["operationId"], op.id)
		}
		if _, ok := mine["responses"].(map[string]any)[op.success]; !ok {
			t.Errorf("%s: no %s answer", op.id, op.success)
		}
		for _, d := range docs[1:] {
			item, _ := d.doc["paths"].(map[string]any)[op.tmpl].(map[string]any)
			real, ok := item[strings.ToLower(op.method)].(map[string]any)
			if !ok {
				t.Logf("%s: not in %s", op.id, d.name)
				continue
			}
			if real["operationId"] != op.id {
				t.Errorf("%s: %s calls it %v", op.id, d.name, real["operationId"])
			}
			realResponses := real["responses"].(map[string]any)
			for code, r := range mine["responses"].(map[string]any) {
				rr, ok := realResponses[code].(map[string]any)
				marked, _ := r.(map[string]any)["x-undocumented"].(bool)
				switch {
				case !ok && marked:
					continue // the excerpt says GitHub's reference leaves it out
				case !ok:
					t.Errorf("%s: %s does not document %s", op.id, d.name, code)
					continue
				case marked:
					t.Errorf("%s: %s documents %s, which the excerpt marks as undocumented", op.id, d.name, code)
				}
				sameSchema(t, op.id+" "+code, excerpt, d.doc, jsonSchema(excerpt, r.(map[string]any)), jsonSchema(d.doc, rr))
			}
			if rb, ok := mine["requestBody"].(map[string]any); ok {
				sameSchema(t, op.id+" request", excerpt, d.doc, rb["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any),
					real["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any))
			}
		}
	}
}

// jsonSchema is the JSON schema of a response, or nil when it has no body.
func jsonSchema(doc, response map[string]any) map[string]any {
	content, _ := ref(doc, response)["content"].(map[string]any)
	js, _ := content["application/json"].(map[string]any)
	s, _ := js["schema"].(map[string]any)
	return s
}

// sameSchema reports what mine (in the excerpt) claims that real (in
// GitHub's description) does not: a body, a type, a required field or a
// property, one level of objects and array items deep.
func sameSchema(t *testing.T, what string, mineDoc, realDoc, mine, real map[string]any) {
	t.Helper()
	if mine == nil {
		if real != nil {
			t.Errorf("%s: GitHub documents a body, the excerpt none", what)
		}
		return
	}
	if real == nil {
		t.Errorf("%s: the excerpt documents a body, GitHub none", what)
		return
	}
	mine, real = ref(mineDoc, mine), ref(realDoc, real)
	if mine["type"] != real["type"] {
		t.Errorf("%s: type %v, GitHub %v", what, mine["type"], real["type"])
		return
	}
	if mine["type"] == "array" {
		mine, real = ref(mineDoc, mine["items"].(map[string]any)), ref(realDoc, real["items"].(map[string]any))
	}
	realProps, _ := real["properties"].(map[string]any)
	for _, r := range asList(mine["required"]) {
		if !contains(asList(real["required"]), r) {
			t.Errorf("%s: requires %s, GitHub does not", what, r)
		}
	}
	myProps, _ := mine["properties"].(map[string]any)
	for k, p := range myProps {
		rp, ok := realProps[k].(map[string]any)
		if !ok {
			t.Errorf("%s: property %s, which GitHub does not document", what, k)
			continue
		}
		if mt, rt := ref(mineDoc, p.(map[string]any))["type"], ref(realDoc, rp)["type"]; mt != rt {
			t.Errorf("%s.%s: type %v, GitHub %v", what, k, mt, rt)
		}
	}
}

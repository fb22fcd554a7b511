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

// openAPI is the REST API subset in ../shared/github, or the test skips.
func openAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "github", "rest-api-subset.openapi.json"))
	if err != nil {
		t.Skipf("no ../shared/github here (%v): contract tests skipped", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
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
	op, ok := doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		t.Fatalf("%s %s is not in the API description", method, tmpl)
	}
	return op
}

func TestFakeAnswersAsGitHubDocuments(t *testing.T) {
	t.Parallel()
	doc := openAPI(t)
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
	tests := []struct {
		method, path, tmpl, body string
		wantHeader               string
	}{
		{"GET", "/repos/octo/perf/issues/7/comments?per_page=2", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "", "Link"},
		{"GET", "/repos/octo/perf/issues/7/comments?per_page=2&page=3", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "", "Link"},
		{"GET", "/repos/octo/perf/issues/99/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "", ""},
		{"POST", "/repos/octo/perf/issues/7/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments", `{"body":"hello"}`, "Location"},
		{"POST", "/repos/octo/perf/issues/7/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments", `{"body":"` + strings.Repeat("x", 65537) + `"}`, ""},
		{"GET", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", "", ""},
		{"PATCH", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", `{"body":"edited"}`, ""},
		{"PATCH", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", `{}`, ""},
		{"DELETE", fmt.Sprintf("/repos/octo/perf/issues/comments/%d", existing), "/repos/{owner}/{repo}/issues/comments/{comment_id}", "", ""},
		{"GET", "/repos/octo/perf/issues/7/labels", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "", ""},
	}
	for _, tt := range tests {
		resp, v := do(tt.method, tt.path, tt.body)
		op := operation(t, doc, tt.method, tt.tmpl)
		code := fmt.Sprint(resp.StatusCode)
		r, ok := op["responses"].(map[string]any)[code].(map[string]any)
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
	doc := openAPI(t)
	fake, c, _ := newFake(t, false)
	fake.AddComment(pr, DefaultBot, marker+"\na")
	fake.AddComment(pr, DefaultBot, marker+"\nb")
	if _, err := c.Upsert(context.Background(), pr, marker, true, body("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upsert(context.Background(), 7, "<!-- diffperf:other -->", true, func(int) string { return "<!-- diffperf:other -->\nx" }); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range fake.Requests() {
		var tmpl string
		switch {
		case strings.HasSuffix(r.Path, "/comments") && strings.Contains(r.Path, "/issues/7/"):
			tmpl = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
		case strings.Contains(r.Path, "/issues/comments/"):
			tmpl = "/repos/{owner}/{repo}/issues/comments/{comment_id}"
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
			continue
		}
		op := operation(t, doc, r.Method, tmpl)
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
	if want := "issues/create-comment issues/delete-comment issues/list-comments issues/update-comment"; strings.Join(ops, " ") != want {
		t.Errorf("operations used %v, want %s", ops, want)
	}
}

// TestSchemaCheckerRejects keeps the checker honest: a comment with a wrong
// type, a missing required field and a null user where one is required
// must not pass.
func TestSchemaCheckerRejects(t *testing.T) {
	t.Parallel()
	doc := openAPI(t)
	schema := map[string]any{"$ref": "#/components/schemas/issue-comment"}
	bad := map[string]any{"id": "42", "body": 3, "user": map[string]any{"login": 5}}
	errs := check(doc, "c", schema, bad)
	for _, want := range []string{"c.id: 42, want integer", "missing required node_id", "c.body: int, want string", "c.user: missing required id", "c.user.login: int, want string"} {
		if !strings.Contains(strings.Join(errs, "\n"), want) {
			t.Errorf("checker missed %q; it said:\n%s", want, strings.Join(errs, "\n"))
		}
	}
}

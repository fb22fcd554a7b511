package action

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseHistoryEvent(t *testing.T) {
	t.Parallel()
	push, err := os.ReadFile(filepath.Join("testdata", "events", "push.json"))
	if err != nil {
		t.Fatal(err)
	}
	const after, before = "2222222222222222222222222222222222222222", "1111111111111111111111111111111111111111"
	edit := func(from, to string) []byte { return []byte(strings.Replace(string(push), from, to, 1)) }
	tests := []struct {
		name, event, sha string
		payload          []byte
		cfg              Config
		want             *Target
		wantErr          string
	}{
		{name: "push", event: "push", payload: push, want: &Target{Event: "push", Owner: "octo", Repo: "perf", Base: before, Head: after}},
		{name: "new branch: first parent", event: "push", payload: edit(before, zeroSHA),
			want: &Target{Event: "push", Owner: "octo", Repo: "perf", Base: after + "^", Head: after}},
		{name: "no before: first parent", event: "push", payload: edit(`"before": "`+before+`",`, ""),
			want: &Target{Event: "push", Owner: "octo", Repo: "perf", Base: after + "^", Head: after}},
		{name: "other branch skipped", event: "push", payload: edit(`"ref": "refs/heads/main"`, `"ref": "refs/heads/feature"`),
			want: &Target{Event: "push", Owner: "octo", Repo: "perf", Skip: "push to refs/heads/feature is not measured: mode history measures the default branch (main); limit the workflow's push trigger to branches: [main]"}},
		{name: "deletion skipped", event: "push", payload: edit(`"deleted": false`, `"deleted": true`),
			want: &Target{Event: "push", Owner: "octo", Repo: "perf", Skip: "push deletes refs/heads/main: nothing to measure"}},
		{name: "schedule: tip against the store", event: "schedule", sha: after, payload: []byte(`{"schedule":"0 3 * * *"}`),
			want: &Target{Event: "schedule", Owner: "octo", Repo: "perf", Head: after}},
		{name: "dispatch with refs", event: "workflow_dispatch", payload: []byte(`{}`), cfg: Config{BaseRef: "v1", HeadRef: "main"},
			want: &Target{Event: "workflow_dispatch", Owner: "octo", Repo: "perf", Base: "v1", Head: "main"}},
		{name: "bad after", event: "push", payload: edit(`"after": "`+after+`"`, `"after": "$(touch x)"`), wantErr: `event: the push payload's after "$(touch x)" is not a commit SHA`},
		{name: "bad before", event: "push", payload: edit(`"before": "`+before+`"`, `"before": "main"`), wantErr: `event: the push payload's before "main" is not a commit SHA`},
		{name: "no default branch", event: "push", payload: edit(`"default_branch": "main", `, ""), wantErr: "event: the push payload has no repository.default_branch"},
		{name: "no ref", event: "push", payload: edit(`"ref": "refs/heads/main",`, ""), wantErr: "event: the push payload has no ref"},
		{name: "unreadable", event: "push", payload: []byte(`{"ref": 3}`), wantErr: "event: the push payload is unreadable"},
		{name: "schedule without sha", event: "schedule", payload: []byte(`{}`), wantErr: "head-ref: schedule needs head-ref or GITHUB_SHA"},
		{name: "pull request refused", event: "pull_request", payload: []byte(`{}`), wantErr: `event: mode history runs on push (to the default branch), schedule or workflow_dispatch, not "pull_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseHistoryEvent(tt.event, "octo/perf", tt.sha, tt.payload, &tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
		})
	}
}

// GitHub's own example of a push (a new branch: before is all zeros), when
// ../shared/github is beside the project.
func TestParseHistoryEventRealPush(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "github", "events", "push.payload.json"))
	if err != nil {
		t.Skipf("no ../shared/github here: %v", err)
	}
	got, err := ParseHistoryEvent("push", "Codertocat/Hello-World", "", b, &Config{})
	if err != nil {
		t.Fatal(err)
	}
	const after = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	want := &Target{Event: "push", Owner: "Codertocat", Repo: "Hello-World", Base: after + "^", Head: after}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
}

func TestHistoryBranchInput(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "diffperf-data", "perf-data": "perf-data"} {
		c, err := ParseInputs(func(name string) (string, bool) {
			switch name {
			case "history-branch":
				return in, true
			case "model-path":
				return "m", true
			}
			return "", false
		})
		if err != nil || c.HistoryBranch != want {
			t.Errorf("history-branch %q: %v, %q; want %q", in, err, c.HistoryBranch, want)
		}
	}
	for _, bad := range []string{"-x", "a..b", "main^", "a:b"} {
		_, err := ParseInputs(func(name string) (string, bool) {
			switch name {
			case "history-branch":
				return bad, true
			case "model-path":
				return "m", true
			}
			return "", false
		})
		if err == nil || !strings.HasPrefix(err.Error(), "history-branch: ") {
			t.Errorf("history-branch %q: %v, want an error naming it", bad, err)
		}
	}
}

// Inputs dashboard-url and bisect-workflow: their defaults, an empty
// bisect-workflow that turns the dispatch off, and bad values named.
func TestHistoryLinkInputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		in                    map[string]string
		wantURL, wantWorkflow string
		wantErr               string
	}{
		{"defaults", map[string]string{}, "", "perf-bisect.yml", ""},
		{"set", map[string]string{"dashboard-url": "https://perf.example.org/flux/", "bisect-workflow": "bisect.yaml"}, "https://perf.example.org/flux", "bisect.yaml", ""},
		{"dispatch off", map[string]string{"bisect-workflow": ""}, "", "", ""},
		{"not http", map[string]string{"dashboard-url": "javascript:alert(1)"}, "", "", "dashboard-url: "},
		{"breaks a link", map[string]string{"dashboard-url": "https://x.org/a)b"}, "", "", "dashboard-url: "},
		{"a path", map[string]string{"bisect-workflow": "../x.yml"}, "", "", "bisect-workflow: "},
		{"mode history with cases", map[string]string{"mode": "history", "cases": `[{"name": "a"}, {"name": "b"}]`}, "", "perf-bisect.yml", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseInputs(func(name string) (string, bool) {
				if v, ok := tt.in[name]; ok {
					return v, true
				}
				if name == "model-path" {
					return "m", true
				}
				return "", false
			})
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.DashboardURL != tt.wantURL || c.BisectWorkflow != tt.wantWorkflow {
				t.Fatalf("%v, dashboard-url %q, bisect-workflow %q; want %q, %q", err, c.DashboardURL, c.BisectWorkflow, tt.wantURL, tt.wantWorkflow)
			}
			if tt.in["cases"] != "" && (len(c.Cases) != 2 || c.Cases[0].Mode != ModeGenerate) {
				t.Errorf("cases %+v, want two of mode generate", c.Cases)
			}
		})
	}
}

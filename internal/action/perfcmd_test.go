package action

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/input"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"generate", "command"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	_, err := ParseMode("serve-it")
	if e, ok := input.As(err); !ok || e.Name != "mode" || !strings.Contains(err.Error(), `"serve-it" is not one of generate, serve, command, merge`) {
		t.Errorf("ParseMode(serve-it): %v", err)
	}
	c, err := ParseInputs(getter(map[string]string{"mode": "command"}))
	if err != nil || c.Mode != ModeCommand || c.PerfWorkflow != "perf-dispatch.yml" {
		t.Errorf("mode command without a model: %+v, %v", c, err)
	}
	if _, err := ParseInputs(getter(map[string]string{})); err == nil || !strings.Contains(err.Error(), "model-path: required") {
		t.Errorf("mode generate without a model: %v", err)
	}
}

func TestParsePerfInputs(t *testing.T) {
	t.Parallel()
	c, err := ParseInputs(getter(map[string]string{"mode": "command", "perf-users": "alice, bob\tcarol-x,,", "perf-workflow": "perf.yaml"}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alice", "bob", "carol-x"}, c.PerfUsers); diff != "" || c.PerfWorkflow != "perf.yaml" {
		t.Errorf("perf-users (-want +got):\n%s; perf-workflow %q", diff, c.PerfWorkflow)
	}
	sha := strings.Repeat("ab", 20)
	c, err = ParseInputs(getter(map[string]string{"model-path": "m", "request-comment": "3100000001", "pr-number": "42", "head-ref": sha}))
	if err != nil || c.RequestComment != 3100000001 {
		t.Errorf("request-comment: %+v, %v", c, err)
	}
	tests := []struct {
		name string
		in   map[string]string
		want string // the input named, and the message
	}{
		{"login with a space inside", map[string]string{"perf-users": "alice; rm -rf /"}, `perf-users: "alice;" is not a GitHub login`},
		{"workflow path", map[string]string{"perf-workflow": "../evil.yml"}, `perf-workflow: "../evil.yml" is not a workflow file name`},
		{"workflow not yaml", map[string]string{"perf-workflow": "perf"}, `perf-workflow: "perf" is not a workflow file name`},
		{"comment id", map[string]string{"request-comment": "12x"}, `request-comment: "12x" is not a comment ID`},
		{"request without PR", map[string]string{"request-comment": "5", "head-ref": sha}, "pr-number: required with request-comment"},
		{"request at a branch", map[string]string{"request-comment": "5", "pr-number": "42", "head-ref": "main"}, `head-ref: "main": with request-comment, the full commit SHA`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.in["model-path"] = "m"
			_, err := ParseInputs(getter(tt.in))
			if _, ok := input.As(err); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want an input error with %q", err, tt.want)
			}
		})
	}
}

func TestParsePerfCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       map[string]string
		wantErr    string // the key named, and the message
	}{
		{"bare", "/perf", map[string]string{}, ""},
		{"writer's request", "/perf runs=7 threshold=3%\nThanks!", map[string]string{"runs": "7", "threshold": "3%"}, ""},
		{"CRLF", "/perf runs=7\r\nmore", map[string]string{"runs": "7"}, ""},
		{"every key", `/perf runs=6 max-runs=10 threshold=2.5% min-delta-ms=20 prompt="a red fox" args='--num-inference-steps 28 --seed 1' model-path=black-forest-labs/FLUX.1-dev case=flux-1024`,
			map[string]string{"runs": "6", "max-runs": "10", "threshold": "2.5%", "min-delta-ms": "20", "prompt": "a red fox",
				"args": "--num-inference-steps 28 --seed 1", "model-path": "black-forest-labs/FLUX.1-dev", "case": "flux-1024"}, ""},
		{"empty args clears them", `/perf args=""`, map[string]string{"args": ""}, ""},
		// Nothing is expanded: the value arrives as written.
		{"injection stays one value", `/perf prompt="a $(touch x); echo ` + "`id`" + ` | b" args='--negative-prompt "$(id)"'`,
			map[string]string{"prompt": "a $(touch x); echo `id` | b", "args": `--negative-prompt "$(id)"`}, ""},
		{"unknown key", "/perf runs=5 command=rm", nil, "command: not a key /perf takes (keys: runs, max-runs,"},
		{"flag style", "/perf --runs 8", nil, `/perf: "--runs" is not key=value`},
		{"bad runs", "/perf runs=many", nil, `runs: "many" is not a positive whole number`},
		{"zero runs", "/perf runs=0", nil, `runs: "0" is not a positive whole number`},
		{"threshold without %", "/perf threshold=3", nil, `threshold: "3" is not a percentage`},
		{"max below runs", "/perf runs=8 max-runs=6", nil, "max-runs: 6 is less than runs (8)"},
		{"bad min-delta", "/perf min-delta-ms=-3", nil, `min-delta-ms: "-3" is not a non-negative number`},
		{"unbalanced args", `/perf args="--seed 1`, nil, "/perf: unterminated double quote"},
		{"bad args inside", `/perf args='--prompt "x'`, nil, "args: unterminated double quote"},
		{"empty value", "/perf prompt=", nil, "prompt: empty; write prompt=VALUE"},
		{"twice", "/perf runs=5 runs=9", nil, "runs: given twice"},
		{"bad case", "/perf case=a/b", nil, `case: case "a/b": a name is 1 to 64 letters`},
		{"a case that names a parent folder", "/perf case=..", nil, `case: case "..": a name is 1 to 64 letters`},
		{"a case named like the bot's reply", "/perf case=reply-1001", nil, `case: case "reply-1001": names starting with reply- are diffperf's own comment keys`},
		{"a case named like the merged comment", "/perf case=Merged-0a1b", nil, `case: case "Merged-0a1b": names starting with merged- are diffperf's own comment keys`},
		{"not a command", "/performance please", nil, "/perf: the first line does not start with /perf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePerfCommand(tt.body)
			if tt.wantErr != "" {
				if _, ok := input.As(err); !ok || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want an input error starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("overrides (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsPerfCommand(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		"/perf": true, "/perf runs=5": true, "/perf\truns=5": true, "/perf\nbody": true,
		"/performance": false, " /perf": false, "please /perf": false, "LGTM\n/perf runs=5": false, "": false, "/Perf": false,
	} {
		if got := IsPerfCommand(body); got != want {
			t.Errorf("IsPerfCommand(%q) = %v, want %v", body, got, want)
		}
	}
}

func TestParseCommentEvent(t *testing.T) {
	t.Parallel()
	payload, err := os.ReadFile(filepath.Join("testdata", "events", "issue_comment.created.pr.json"))
	if err != nil {
		t.Fatal(err)
	}
	// variant edits a copy of the fixture.
	variant := func(edit func(ev map[string]any)) []byte {
		var ev map[string]any
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatal(err)
		}
		edit(ev)
		b, _ := json.Marshal(ev)
		return b
	}
	comment := func(ev map[string]any) map[string]any { return ev["comment"].(map[string]any) }
	got, err := ParseCommentEvent("issue_comment", "octo-org/diffusion-lab", payload)
	if err != nil {
		t.Fatal(err)
	}
	want := &CommentEvent{Owner: "octo-org", Repo: "diffusion-lab", PR: 42, CommentID: 3100000001, User: "hubot", Body: "/perf --runs 8", DefaultBranch: "main"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseCommentEvent (-want +got):\n%s", diff)
	}
	ignored := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"edited", variant(func(ev map[string]any) { ev["action"] = "edited" }), "the comment was edited, not created"},
		{"deleted", variant(func(ev map[string]any) { ev["action"] = "deleted" }), "the comment was deleted, not created"},
		{"bot type", variant(func(ev map[string]any) { comment(ev)["user"].(map[string]any)["type"] = "Bot" }), "the comment is a bot's"},
		{"bot login", variant(func(ev map[string]any) { comment(ev)["user"].(map[string]any)["login"] = "diffperf-app[bot]" }), "the comment is a bot's"},
		{"plain issue", variant(func(ev map[string]any) { delete(ev["issue"].(map[string]any), "pull_request") }), "the comment is on an issue, not a pull request"},
		{"not first line", variant(func(ev map[string]any) { comment(ev)["body"] = "LGTM.\n/perf runs=5" }), "the comment's first line is not a /perf command"},
	}
	for _, tt := range ignored {
		got, err := ParseCommentEvent("issue_comment", "octo-org/diffusion-lab", tt.payload)
		if err != nil || got.Ignore != tt.want {
			t.Errorf("%s: Ignore %q, err %v; want %q", tt.name, got.Ignore, err, tt.want)
		}
	}
	for _, tt := range []struct{ event, repo, payload, want string }{
		{"pull_request", "octo-org/diffusion-lab", string(payload), `event: "pull_request": mode command answers issue_comment events`},
		{"issue_comment", "octo-org/diffusion-lab", `{"action": "created"}`, "event: the issue_comment payload is unreadable"},
		{"issue_comment", "nope", string(payload), `GITHUB_REPOSITORY: "nope" is not owner/name`},
	} {
		if _, err := ParseCommentEvent(tt.event, tt.repo, []byte(tt.payload)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s in %s: %v, want %q", tt.event, tt.repo, err, tt.want)
		}
	}
}

// TestCommentPayloads reads issue_comment payloads: the project's own (a
// comment on a pull request, and variants edited and on a plain issue), and
// GitHub's real ones from ../shared/github/events when that folder is here.
func TestCommentPayloads(t *testing.T) {
	t.Parallel()
	own, err := os.ReadFile(filepath.Join("testdata", "events", "issue_comment.created.pr.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(own, &doc); err != nil {
		t.Fatal(err)
	}
	variant := func(change func(map[string]any)) []byte {
		var d map[string]any
		_ = json.Unmarshal(own, &d)
		change(d)
		b, _ := json.Marshal(d)
		return b
	}
	type payload struct {
		name, repo, branch string
		id                 int64
		data               []byte
		want               string // why it is ignored; "" for a request to answer
	}
	payloads := []payload{
		{"project: on a pull request", "octo-org/diffusion-lab", "main", 3100000001, own, ""},
		{"project: edited", "octo-org/diffusion-lab", "main", 3100000001, variant(func(d map[string]any) { d["action"] = "edited" }), "the comment was edited, not created"},
		{"project: on an issue", "octo-org/diffusion-lab", "main", 3100000001,
			variant(func(d map[string]any) { delete(d["issue"].(map[string]any), "pull_request") }), "the comment is on an issue, not a pull request"},
	}
	dir := filepath.Join("..", "..", "..", "shared", "github", "events")
	for file, want := range map[string]string{
		"issue_comment.created.payload.json": "the comment is on an issue, not a pull request",
		"issue_comment.edited.payload.json":  "the comment was edited, not created",
	} {
		if b, err := os.ReadFile(filepath.Join(dir, file)); err == nil {
			payloads = append(payloads, payload{"shared: " + file, "Codertocat/Hello-World", "master", 492700400, b, want})
		} else {
			t.Logf("no ../shared/github/events here: %v", err)
		}
	}
	for _, p := range payloads {
		got, err := ParseCommentEvent("issue_comment", p.repo, p.data)
		if err != nil || got.Ignore != p.want || got.DefaultBranch != p.branch || got.CommentID != p.id {
			t.Errorf("%s: %+v, %v; want ignored: %q", p.name, got, err, p.want)
		}
	}
}

package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
)

// pinnedHead is the pull request's head SHA in the fake GitHub.
const pinnedHead = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"

// dispatchInputs reads the workflow_dispatch inputs that the example
// .github/workflows/perf-dispatch.yml declares, each mapped to whether it
// is required: the fake GitHub refuses (422) what it does not declare, as
// GitHub does, so these tests fail when the example and the dispatcher
// disagree.
func dispatchInputs(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", "perf-dispatch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On struct {
			WorkflowDispatch struct {
				Inputs map[string]struct {
					Required bool `yaml:"required"`
				} `yaml:"inputs"`
			} `yaml:"workflow_dispatch"`
		} `yaml:"on"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for k, v := range wf.On.WorkflowDispatch.Inputs {
		out[k] = v.Required
	}
	if len(out) == 0 {
		t.Fatal("perf-dispatch.yml declares no workflow_dispatch inputs")
	}
	return out
}

// commentPayload is an issue_comment event on octo/perf: a comment by
// user of the given type on issue 7, a pull request when onPR.
func commentPayload(t *testing.T, action, user, userType, body string, id int64, onPR bool) string {
	t.Helper()
	issue := map[string]any{"number": 7, "title": "Tile the VAE decode", "state": "open"}
	if onPR {
		issue["pull_request"] = map[string]any{"url": "https://api.github.com/repos/octo/perf/pulls/7"}
	}
	ev := map[string]any{
		"action": action, "issue": issue,
		"comment": map[string]any{"id": id, "body": body, "user": map[string]any{"login": user, "type": userType},
			"html_url": fmt.Sprintf("https://github.com/octo/perf/pull/7#issuecomment-%d", id), "author_association": "MEMBER"},
		"repository": map[string]any{"full_name": "octo/perf", "name": "perf", "owner": map[string]any{"login": "octo"}, "default_branch": "main"},
		"sender":     map[string]any{"login": user, "type": userType},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newCommandRun is the Action in mode command on a /perf comment by user
// (with role on the repository, "" for a login GitHub does not know), on
// pull request 7 whose head is pinnedHead.
func newCommandRun(t *testing.T, user, role, body string) (*actionRun, int64) {
	t.Helper()
	a := newActionRun(t, baseWL)
	a.event = "issue_comment"
	a.inputs = map[string]string{"mode": "command", "github-token": testToken}
	id := a.fake.AddComment(7, user, body)
	if role != "" {
		a.fake.SetPermission(user, role)
	}
	a.fake.SetPull(fakegithub.Pull{Number: 7, HeadSHA: pinnedHead, HeadRepo: "mallory/perf", BaseSHA: a.sha("main~1")})
	a.fake.AddWorkflow("perf-dispatch.yml", dispatchInputs(t))
	a.payload = commentPayload(t, "created", user, "User", body, id, true)
	return a, id
}

// reactions returns the bot's reactions to comment id.
func (a *actionRun) reactions(id int64) []string {
	var out []string
	for _, r := range a.fake.Reactions(id) {
		out = append(out, r.User+":"+r.Content)
	}
	return out
}

// writes are the requests that changed something on GitHub.
func (a *actionRun) writes() []string {
	var out []string
	for _, r := range a.fake.Requests() {
		if r.Method != "GET" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func TestPerfCommandDispatches(t *testing.T) {
	t.Parallel()
	a, id := newCommandRun(t, "alice", "write", "/perf runs=7 threshold=3%\nThe VAE tiling should not cost anything; let's see.")
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
	}
	want := []fakegithub.Dispatch{{Workflow: "perf-dispatch.yml", Ref: "main", By: "github-actions[bot]", Inputs: map[string]string{
		"head-ref": pinnedHead, "pr-number": "7", "request-comment": fmt.Sprint(id), "runs": "7", "threshold": "3%"}}}
	if diff := cmp.Diff(want, a.fake.Dispatches()); diff != "" {
		t.Errorf("dispatches (-want +got):\n%s", diff)
	}
	if got := a.reactions(id); !cmp.Equal(got, []string{"github-actions[bot]:eyes"}) {
		t.Errorf("reactions %v, want 👀 only", got)
	}
	if len(a.bot()) != 0 {
		t.Errorf("replied to an accepted request: %+v", a.bot())
	}
	if a.output("dispatched") != "true" || a.output("head-sha") != pinnedHead {
		t.Errorf("outputs %q", a.outputs)
	}
	if !strings.Contains(a.summary, "dispatched perf-dispatch.yml on main at `"+pinnedHead+"`") || !strings.Contains(a.summary, "@\u200balice asked on #7 (permission write)") {
		t.Errorf("summary:\n%s", a.summary)
	}
	if strings.Contains(strings.Replace(a.stdout, "::add-mask::"+testToken, "", 1)+a.stderr+a.summary+a.outputs, testToken) {
		t.Error("the token appears in the log, summary or outputs")
	}
}

func TestPerfCommandWhoMayAsk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, user, role, perfUsers string
		dispatched                  bool
		askedGitHub                 bool // the permission endpoint was called
	}{
		{"admin", "ada", "admin", "", true, true},
		{"maintainer", "max", "maintain", "", true, true},
		{"writer", "wes", "write", "", true, true},
		{"triage", "tia", "triage", "", false, true},
		{"reader", "rita", "read", "", false, true},
		{"outsider GitHub does not know", "olga", "", "", false, true},
		{"reader listed in perf-users", "Rita", "read", "bob, rita", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, id := newCommandRun(t, tt.user, tt.role, "/perf runs=7")
			if tt.perfUsers != "" {
				a.inputs["perf-users"] = tt.perfUsers
			}
			a.run()
			if a.code != ExitOK {
				t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
			}
			asked := false
			for _, r := range a.fake.Requests() {
				asked = asked || strings.HasSuffix(r.Path, "/permission")
			}
			if asked != tt.askedGitHub {
				t.Errorf("asked GitHub for the permission: %v, want %v", asked, tt.askedGitHub)
			}
			if got := len(a.fake.Dispatches()) == 1; got != tt.dispatched {
				t.Fatalf("dispatched %v, want %v", got, tt.dispatched)
			}
			wantReaction, wantOutput := "github-actions[bot]:eyes", "true"
			if !tt.dispatched {
				wantReaction, wantOutput = "github-actions[bot]:-1", "false"
			}
			if got := a.reactions(id); !cmp.Equal(got, []string{wantReaction}) {
				t.Errorf("reactions %v, want [%s]", got, wantReaction)
			}
			if a.output("dispatched") != wantOutput {
				t.Errorf("output dispatched = %q", a.output("dispatched"))
			}
			// A refused commenter gets 👎 and nothing else: no reply.
			if len(a.bot()) != 0 {
				t.Errorf("comments %+v", a.bot())
			}
		})
	}
}

func TestPerfCommandRefusesBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       []string // in the reply
		wantNot    []string
	}{
		{"unknown key", "/perf runs=7 command=rm", []string{"`/perf` refused: command: not a key /perf takes", "Nothing was started."}, nil},
		{"flag style", "/perf --runs 8", []string{`refused: /perf: "--runs" is not key=value`, "Keys: `runs`, `max-runs`"}, nil},
		{"bad value", "/perf threshold=3", []string{`refused: threshold: "3" is not a percentage`}, nil},
		{"max below runs", "/perf runs=9 max-runs=4", []string{"refused: max-runs: 4 is less than runs (9)"}, nil},
		{"hostile value", `/perf runs="<img src=x onerror=alert(1)> @org/team <!-- x"`, []string{`refused: runs: "&lt;img src=x onerror=alert(1)&gt; @` + "\u200b" + `org/team &lt;!-- x"`},
			[]string{"<img", "@org/team", "<!--"}},
		{"hostile key", "/perf <!--x-->=1 @alice=2", []string{"refused: &lt;!--x--&gt;: not a key"}, []string{"<!--x", "@alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, id := newCommandRun(t, "alice", "maintain", tt.body)
			a.run()
			if a.code != ExitOK {
				t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
			}
			if n := len(a.fake.Dispatches()); n != 0 {
				t.Errorf("%d dispatches", n)
			}
			if got := a.reactions(id); !cmp.Equal(got, []string{"github-actions[bot]:-1"}) {
				t.Errorf("reactions %v, want 👎", got)
			}
			bot := a.bot()
			if len(bot) != 1 {
				t.Fatalf("%d replies, want 1", len(bot))
			}
			if first := strings.SplitN(bot[0].Body, "\n", 2)[0]; first != fmt.Sprintf("<!-- diffperf:reply-%d -->", id) {
				t.Errorf("reply's first line %q", first)
			}
			_, text, _ := strings.Cut(bot[0].Body, "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("reply lacks %q:\n%s", w, text)
				}
			}
			for _, bad := range tt.wantNot {
				if strings.Contains(text, bad) {
					t.Errorf("reply contains %q:\n%s", bad, text)
				}
			}
			if a.output("dispatched") != "false" {
				t.Errorf("output dispatched = %q", a.output("dispatched"))
			}
		})
	}
}

func TestPerfCommandIgnoresWithoutTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		action, user, typ string
		body              string
		onPR              bool
		wantLog           string
	}{
		{"edited", "edited", "alice", "User", "/perf runs=7", true, "the comment was edited, not created"},
		{"bot by type", "created", "perfbot", "Bot", "/perf runs=7", true, "a bot's"},
		{"bot by login", "created", "renovate[bot]", "User", "/perf runs=7", true, "a bot's"},
		{"plain issue", "created", "alice", "User", "/perf runs=7", false, "on an issue, not a pull request"},
		{"not on the first line", "created", "alice", "User", "Looks good.\n/perf runs=7", true, "first line is not a /perf command"},
		{"another command", "created", "alice", "User", "/performance is fine", true, "first line is not a /perf command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, id := newCommandRun(t, tt.user, "admin", tt.body)
			a.payload = commentPayload(t, tt.action, tt.user, tt.typ, tt.body, id, tt.onPR)
			before := len(a.fake.Requests())
			a.run()
			if a.code != ExitOK || !strings.Contains(a.stderr, tt.wantLog) {
				t.Fatalf("exit %d, stderr %q; want 0 and %q", a.code, a.stderr, tt.wantLog)
			}
			if reqs := a.fake.Requests()[before:]; len(reqs) != 0 {
				t.Errorf("called GitHub: %+v", reqs)
			}
			if strings.Contains(a.stdout, "::notice") || strings.Contains(a.stdout, "::warning") || a.summary != "" {
				t.Errorf("left annotations or a summary: %q %q", a.stdout, a.summary)
			}
			if a.output("dispatched") != "false" {
				t.Errorf("output dispatched = %q", a.output("dispatched"))
			}
		})
	}
}

// TestPerfCommandInjection: shell syntax in prompt and args is data. It
// arrives verbatim, one dispatch input each, and nothing runs it.
func TestPerfCommandInjection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	x, y, z := filepath.Join(dir, "x"), filepath.Join(dir, "y"), filepath.Join(dir, "z")
	body := fmt.Sprintf(`/perf prompt="a $(touch %s)" args='--negative-prompt "$(touch %s)"; touch %s' model-path='m`+"`touch %s`'", x, y, z, filepath.Join(dir, "w"))
	a, _ := newCommandRun(t, "alice", "write", body)
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
	}
	d := a.fake.Dispatches()
	if len(d) != 1 {
		t.Fatalf("%d dispatches; stderr:\n%s\nreplies: %+v", len(d), a.stderr, a.bot())
	}
	for k, want := range map[string]string{
		"prompt":     "a $(touch " + x + ")",
		"args":       `--negative-prompt "$(touch ` + y + `)"; touch ` + z,
		"model-path": "m`touch " + filepath.Join(dir, "w") + "`",
	} {
		if got := d[0].Inputs[k]; got != want {
			t.Errorf("input %s = %q, want %q verbatim", k, got, want)
		}
	}
	for _, f := range []string{x, y, z, filepath.Join(dir, "w")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s exists: the comment reached a shell", f)
		}
	}
}

// TestPerfCommandDispatchRefused: a perf workflow that does not declare an
// input /perf sends makes GitHub answer 422; the requester is told, the job
// fails.
func TestPerfCommandDispatchRefused(t *testing.T) {
	t.Parallel()
	a, id := newCommandRun(t, "alice", "write", "/perf case=flux")
	a.fake.AddWorkflow("perf-dispatch.yml", map[string]bool{"head-ref": true, "pr-number": false, "request-comment": false})
	a.run()
	if a.code != ExitRuntime || !strings.Contains(a.stderr, `Unexpected inputs provided: ["case"]`) {
		t.Errorf("exit %d, stderr %s; want 3 naming the input", a.code, a.stderr)
	}
	if got := a.reactions(id); !cmp.Equal(got, []string{"github-actions[bot]:eyes", "github-actions[bot]:-1"}) {
		t.Errorf("reactions %v", got)
	}
	if bot := a.bot(); len(bot) != 1 || !strings.Contains(bot[0].Body, "`/perf` could not start perf-dispatch.yml") {
		t.Errorf("replies %+v", bot)
	}
	if a.output("dispatched") != "false" {
		t.Errorf("output dispatched = %q", a.output("dispatched"))
	}
}

func TestPerfCommandGitHubDown(t *testing.T) {
	t.Parallel()
	a, _ := newCommandRun(t, "alice", "write", "/perf")
	a.fake.Inject(&fakegithub.Fault{Status: 503, Times: 1000})
	a.retry = ghcomment.Retry{Attempts: 3, Backoff: time.Millisecond, MaxWait: time.Second, DefaultWait: time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { return nil }}
	a.run()
	if a.code != ExitRuntime || !strings.Contains(a.stderr, "read the permission of alice") {
		t.Errorf("exit %d, stderr %s; want 3", a.code, a.stderr)
	}
	if len(a.fake.Dispatches()) != 0 {
		t.Error("dispatched anyway")
	}
}

func TestPerfCommandRefusesOtherEvents(t *testing.T) {
	t.Parallel()
	a, _ := newCommandRun(t, "alice", "write", "/perf")
	a.event = "pull_request"
	a.run()
	if a.code != ExitInput || !strings.Contains(a.stderr, `event: "pull_request": mode command answers issue_comment events`) {
		t.Errorf("exit %d, stderr %s", a.code, a.stderr)
	}
}

// requestedRun is the run a /perf comment dispatched: the pinned head
// (main, whose workload is slower) against the pull request's base
// (main~1), with the request comment by alice.
func requestedRun(t *testing.T, currentHead string) (*actionRun, int64) {
	t.Helper()
	a := newActionRun(t, slowWL)
	id := a.fake.AddComment(7, "alice", "/perf runs=4")
	if currentHead == "" {
		currentHead = a.sha("main")
	}
	a.fake.SetPull(fakegithub.Pull{Number: 7, HeadSHA: currentHead, BaseSHA: a.sha("main~1"), HeadRepo: "mallory/perf"})
	a.event = "workflow_dispatch"
	a.payload = fmt.Sprintf(`{"ref": "refs/heads/main", "repository": {"full_name": "octo/perf", "default_branch": "main"},
		"inputs": {"head-ref": %q, "pr-number": "7", "request-comment": "%d", "runs": "4"}}`, a.sha("main"), id)
	a.inputs["head-ref"] = a.sha("main")
	a.inputs["pr-number"] = "7"
	a.inputs["request-comment"] = fmt.Sprint(id)
	a.inputs["fail-on-regression"] = "false"
	return a, id
}

func TestRequestedRunAtAnOlderSHA(t *testing.T) {
	t.Parallel()
	a, id := requestedRun(t, pinnedHead) // the PR has moved on to pinnedHead
	a.run()
	if a.code != ExitOK || a.output("verdict") != "regression" {
		t.Fatalf("exit %d, verdict %q; stderr:\n%s", a.code, a.output("verdict"), a.stderr)
	}
	bot := a.bot()
	if len(bot) != 1 {
		t.Fatalf("%d comments", len(bot))
	}
	pinned := a.sha("main")
	for _, want := range []string{
		fmt.Sprintf("Requested with `/perf` by @\u200balice in [a comment](%s/octo/perf/pull/7#issuecomment-%d); measured at `%s`.", a.apiURL, id, pinned[:12]),
		"The pull request has moved on since: its head is now `" + pinnedHead[:12] + "`.",
		"## ❌ diffperf: regression",
	} {
		if !strings.Contains(bot[0].Body, want) {
			t.Errorf("comment lacks %q:\n%.1500s", want, bot[0].Body)
		}
	}
	// It measured the pinned SHA against the PR's base, not the default
	// branch's head (which is the pinned SHA itself here).
	b, err := os.ReadFile(a.output("result-path"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Base, Head struct{ SHA string }
		Request    struct {
			By, SHA     string
			CurrentHead string `json:"current_head"`
			Moved       bool
		}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Head.SHA != pinned || res.Base.SHA != a.sha("main~1") || res.Request.By != "alice" || !res.Request.Moved || res.Request.SHA != pinned {
		t.Errorf("result: %+v", res)
	}
}

func TestRequestedRunAtTheCurrentHead(t *testing.T) {
	t.Parallel()
	a, _ := requestedRun(t, "")
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
	}
	bot := a.bot()
	if len(bot) != 1 || !strings.Contains(bot[0].Body, "Requested with `/perf` by @\u200balice") || strings.Contains(bot[0].Body, "moved on") {
		t.Errorf("comment: %+v", bot)
	}
}

func TestRequestedRunNamesNoStranger(t *testing.T) {
	t.Parallel()
	a, _ := requestedRun(t, "")
	other := a.fake.AddComment(8, "mallory", "/perf")
	a.inputs["request-comment"] = fmt.Sprint(other)
	a.run()
	if a.code != ExitOK || !strings.Contains(a.stdout, fmt.Sprintf("request-comment %d is not on pull request #7", other)) {
		t.Errorf("exit %d; stdout:\n%s", a.code, a.stdout)
	}
	if bot := a.bot(); len(bot) != 1 || strings.Contains(bot[0].Body, "mallory") || strings.Contains(bot[0].Body, "Requested with") {
		t.Errorf("comment: %+v", bot)
	}
}

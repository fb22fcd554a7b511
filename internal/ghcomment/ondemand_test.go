package ghcomment

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
)

func TestPermission(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	for role, want := range map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read", "none": "none"} {
		fake.SetPermission("u-"+role, role)
		if got, err := c.Permission(context.Background(), "u-"+role); err != nil || got != want {
			t.Errorf("role %s: permission %q, %v; want %q", role, got, err, want)
		}
	}
	// A login GitHub does not know answers 404: no permission at all.
	if got, err := c.Permission(context.Background(), "nobody"); err != nil || got != "none" {
		t.Errorf("unknown login: %q, %v", got, err)
	}
}

func TestReact(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	id := fake.AddComment(pr, "alice", "/perf")
	for i := 0; i < 2; i++ { // the second answers 200: already there
		if err := c.React(context.Background(), id, "eyes"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.React(context.Background(), id, "-1"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range fake.Reactions(id) {
		got = append(got, r.User+":"+r.Content)
	}
	if diff := cmp.Diff([]string{DefaultBot + ":eyes", DefaultBot + ":-1"}, got); diff != "" {
		t.Errorf("reactions (-want +got):\n%s", diff)
	}
	if err := c.React(context.Background(), id, "thumbs-up"); !isStatus(err, http.StatusUnprocessableEntity) {
		t.Errorf("unknown reaction: %v, want 422", err)
	}
	if err := c.React(context.Background(), 999999, "eyes"); !isStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "react eyes to comment 999999") {
		t.Errorf("unknown comment: %v, want 404 naming it", err)
	}
}

func TestPullRequestAndIssueComment(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	head := strings.Repeat("c", 40)
	fake.SetPull(fakegithub.Pull{Number: pr, HeadSHA: head, HeadRepo: "mallory/perf", BaseRef: "release", BaseSHA: strings.Repeat("b", 40)})
	got, err := c.PullRequest(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetHead().GetSHA() != head || got.GetHead().GetRepo().GetFullName() != "mallory/perf" || got.GetBase().GetRef() != "release" ||
		got.GetBase().GetRepo().GetDefaultBranch() != "main" || got.GetState() != "open" {
		t.Errorf("pull request: head %s of %s, base %s, default branch %s, state %s", got.GetHead().GetSHA(), got.GetHead().GetRepo().GetFullName(),
			got.GetBase().GetRef(), got.GetBase().GetRepo().GetDefaultBranch(), got.GetState())
	}
	if _, err := c.PullRequest(context.Background(), 99); !isStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "read pull request #99") {
		t.Errorf("unknown PR: %v", err)
	}
	id := fake.AddComment(pr, "alice", "/perf runs=7")
	cm, err := c.IssueComment(context.Background(), id)
	if err != nil || cm.GetUser().GetLogin() != "alice" || !strings.HasSuffix(cm.GetHTMLURL(), "/octo/perf/pull/7#issuecomment-"+strconv.FormatInt(id, 10)) {
		t.Errorf("comment %d: %+v, %v", id, cm, err)
	}
	if _, err := c.IssueComment(context.Background(), 999999); !isStatus(err, http.StatusNotFound) {
		t.Errorf("unknown comment: %v", err)
	}
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	fake.AddWorkflow("perf-dispatch.yml", map[string]bool{"head-ref": true, "pr-number": false, "prompt": false})
	in := map[string]string{"head-ref": strings.Repeat("a", 40), "pr-number": "7", "prompt": `a "fox" $(touch x)`}
	if err := c.Dispatch(context.Background(), "perf-dispatch.yml", "main", in); err != nil {
		t.Fatal(err)
	}
	want := []fakegithub.Dispatch{{Workflow: "perf-dispatch.yml", Ref: "main", Inputs: in, By: DefaultBot}}
	if diff := cmp.Diff(want, fake.Dispatches()); diff != "" {
		t.Errorf("dispatches (-want +got):\n%s", diff)
	}
	tests := []struct {
		name, workflow, ref string
		inputs              map[string]string
		code                int
		want                string
	}{
		{"no such workflow", "nope.yml", "main", nil, 404, "dispatch nope.yml on main"},
		{"undeclared input", "perf-dispatch.yml", "main", map[string]string{"head-ref": "x", "case": "flux"}, 422, `Unexpected inputs provided: ["case"]`},
		{"required input left out", "perf-dispatch.yml", "main", map[string]string{"prompt": "x"}, 422, "Required input 'head-ref' not provided"},
		{"unknown ref", "perf-dispatch.yml", "nope", map[string]string{"head-ref": "x"}, 422, "No ref found for: nope"},
	}
	for _, tt := range tests {
		err := c.Dispatch(context.Background(), tt.workflow, tt.ref, tt.inputs)
		if !isStatus(err, tt.code) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %d with %q", tt.name, err, tt.code, tt.want)
		}
	}
	if n := len(fake.Dispatches()); n != 1 {
		t.Errorf("%d dispatches after the refusals, want 1", n)
	}
}

func TestReplyIsPostedOnce(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	// The create lands but its answer is lost: the retry finds it.
	fake.Inject(&fakegithub.Fault{Method: http.MethodPost, Status: 502, Land: true})
	cm, err := c.Reply(context.Background(), pr, 4242, "refused: runs: \"x\" is not a positive whole number")
	if err != nil {
		t.Fatal(err)
	}
	got := fake.Comments(pr)
	if len(got) != 1 || got[0].User != DefaultBot || got[0].ID != cm.GetID() || got[0].Body != "<!-- diffperf:reply-4242 -->\nrefused: runs: \"x\" is not a positive whole number" {
		t.Errorf("replies %+v", got)
	}
}

// TestOnDemandFaults: the /perf calls retry 5xx, resets and rate limits
// like Upsert and Labels do (TestUpsertFaults, TestFaultsOnEveryCallType),
// and give up on endless 5xx.
func TestOnDemandFaults(t *testing.T) {
	t.Parallel()
	calls := []struct {
		name string
		path *regexp.Regexp
		call func(c *Commenter, fake *fakegithub.Server, comment int64) error
	}{
		{"permission", regexp.MustCompile(`/permission$`), func(c *Commenter, _ *fakegithub.Server, _ int64) error {
			p, err := c.Permission(context.Background(), "alice")
			if err == nil && p != "write" {
				t.Errorf("permission %q", p)
			}
			return err
		}},
		{"react", regexp.MustCompile(`/reactions$`), func(c *Commenter, _ *fakegithub.Server, id int64) error {
			return c.React(context.Background(), id, "eyes")
		}},
		{"pull request", regexp.MustCompile(`/pulls/7$`), func(c *Commenter, _ *fakegithub.Server, _ int64) error {
			_, err := c.PullRequest(context.Background(), pr)
			return err
		}},
		{"comment", regexp.MustCompile(`/issues/comments/\d+$`), func(c *Commenter, _ *fakegithub.Server, id int64) error {
			_, err := c.IssueComment(context.Background(), id)
			return err
		}},
		{"dispatch", regexp.MustCompile(`/dispatches$`), func(c *Commenter, _ *fakegithub.Server, _ int64) error {
			return c.Dispatch(context.Background(), "perf-dispatch.yml", "main", map[string]string{"head-ref": "abc"})
		}},
		{"reply", regexp.MustCompile(`/issues/7/comments$`), func(c *Commenter, _ *fakegithub.Server, id int64) error {
			_, err := c.Reply(context.Background(), pr, id, "no")
			return err
		}},
	}
	faults := []struct {
		name     string
		fault    fakegithub.Fault
		wantErr  string
		wantWait time.Duration
	}{
		{name: "500 twice", fault: fakegithub.Fault{Status: 500, Times: 2}},
		{name: "reset", fault: fakegithub.Fault{Reset: true}},
		// Without Retry-After: go-github would itself refuse to send until
		// a named time, which TestUpsertFaults covers with real sleeps.
		{name: "secondary limit", fault: fakegithub.Fault{Status: 403, Body: secondary}, wantWait: 2 * time.Millisecond},
		{name: "429", fault: fakegithub.Fault{Status: 429, Headers: map[string]string{"Retry-After": "2"}}, wantWait: 2 * time.Second},
		{name: "endless 503", fault: fakegithub.Fault{Status: 503, Times: 100}, wantErr: "503"},
	}
	for _, call := range calls {
		for _, f := range faults {
			t.Run(call.name+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				fake, c, waits := newFake(t, false)
				fake.SetPermission("alice", "write")
				fake.AddWorkflow("perf-dispatch.yml", map[string]bool{"head-ref": true})
				id := fake.AddComment(pr, "alice", "/perf")
				fault := f.fault
				fault.Path = call.path
				fake.Inject(&fault)
				err := call.call(c, fake, id)
				if f.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), f.wantErr) {
						t.Errorf("err = %v, want %q", err, f.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				ok := f.wantWait == 0
				for _, w := range *waits {
					ok = ok || w >= f.wantWait
				}
				if !ok {
					t.Errorf("waits %v: none honoured %s", *waits, f.wantWait)
				}
			})
		}
	}
}

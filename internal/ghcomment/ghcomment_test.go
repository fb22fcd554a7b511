package ghcomment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
)

const (
	token  = "ghs_test_token"
	marker = "<!-- diffperf:flux-h100 -->"
	pr     = 7
)

// newFake starts the fake GitHub for octo/perf with pull request 7 and
// returns it with a Commenter whose waits are recorded (and really slept
// when realSleep, as go-github itself blocks until a rate limit resets).
func newFake(t *testing.T, realSleep bool) (*fakegithub.Server, *Commenter, *[]time.Duration) {
	t.Helper()
	fake := fakegithub.New("octo", "perf", map[string]string{token: DefaultBot, "human-token": "alice", "other-bot": "renovate[bot]"}, pr)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	fake.BaseURL = ts.URL
	gh, err := NewGitHub(ts.URL, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	r := DefaultRetry()
	r.Backoff = time.Millisecond
	r.DefaultWait = 2 * time.Millisecond
	r.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		if realSleep {
			return sleep(ctx, d)
		}
		return nil
	}
	return fake, &Commenter{GH: gh, Owner: "octo", Repo: "perf", Bot: DefaultBot, Retry: r, Warn: t.Logf}, waits
}

func body(text string) func(int) string {
	return func(int) string { return marker + "\n" + text }
}

// botComments returns the bot's comments with the marker on the PR.
func botComments(fake *fakegithub.Server) []fakegithub.Comment {
	var out []fakegithub.Comment
	for _, c := range fake.Comments(pr) {
		if c.User == DefaultBot && strings.HasPrefix(c.Body, marker) {
			out = append(out, c)
		}
	}
	return out
}

func upsert(t *testing.T, c *Commenter, text string) Outcome {
	t.Helper()
	out, err := c.Upsert(context.Background(), pr, marker, true, body(text))
	if err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	return out
}

func TestUpsertCreatesThenEditsInPlace(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	first := upsert(t, c, "run 1")
	second := upsert(t, c, "run 2")
	third := upsert(t, c, "run 2")
	if first.Action != "created" || second.Action != "updated" || third.Action != "unchanged" {
		t.Errorf("actions = %s, %s, %s; want created, updated, unchanged", first.Action, second.Action, third.Action)
	}
	if first.ID != second.ID || second.ID != third.ID {
		t.Errorf("IDs %d, %d, %d: the comment was not edited in place", first.ID, second.ID, third.ID)
	}
	got := botComments(fake)
	if len(got) != 1 || got[0].Body != marker+"\nrun 2" {
		t.Errorf("comments = %+v, want one with run 2", got)
	}
	if !strings.Contains(first.URL, fmt.Sprintf("/octo/perf/pull/%d#issuecomment-%d", pr, first.ID)) {
		t.Errorf("URL = %q", first.URL)
	}
	for _, r := range fake.Requests() {
		if r.Header.Get("Authorization") != "Bearer "+token {
			t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Header.Get("Authorization"))
		}
	}
}

func TestUpsertFindsTheMarkerOnPage3(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	for i := 0; i < 230; i++ {
		fake.AddComment(pr, "alice", fmt.Sprint("chatter ", i))
	}
	id := fake.AddComment(pr, DefaultBot, marker+"\nold")
	out := upsert(t, c, "new")
	if out.Action != "updated" || out.ID != id {
		t.Fatalf("outcome %+v, want the comment %d on page 3 updated", out, id)
	}
	pages := map[string]bool{}
	for _, r := range fake.Requests() {
		if r.Method == http.MethodGet {
			if !strings.Contains(r.Query, "per_page=100") {
				t.Errorf("list without per_page=100: %s", r.Query)
			}
			pages[r.Query] = true
		}
	}
	if !pages["page=3&per_page=100"] && !pages["per_page=100&page=3"] {
		t.Errorf("page 3 never asked for: %v", pages)
	}
	if n := len(botComments(fake)); n != 1 {
		t.Errorf("%d bot comments, want 1", n)
	}
}

func TestUpsertLeavesOthersCommentsAlone(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	human := fake.AddComment(pr, "alice", marker+"\nI quoted the bot")
	otherBot := fake.AddComment(pr, "renovate[bot]", marker+"\nnot ours")
	deleted := fake.AddComment(pr, "", marker+"\nby a deleted user")
	midway := fake.AddComment(pr, DefaultBot, "text first\n"+marker)
	out := upsert(t, c, "ours")
	if out.Action != "created" {
		t.Errorf("action %s, want created: none of the existing comments is ours", out.Action)
	}
	byID := map[int64]fakegithub.Comment{}
	for _, cm := range fake.Comments(pr) {
		byID[cm.ID] = cm
	}
	for _, id := range []int64{human, otherBot, deleted, midway} {
		if _, ok := byID[id]; !ok {
			t.Errorf("comment %d was deleted", id)
		}
	}
	if byID[human].Body != marker+"\nI quoted the bot" {
		t.Error("a human's comment was edited")
	}
}

func TestUpsertCollapsesCopies(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	a := fake.AddComment(pr, DefaultBot, marker+"\ncopy a")
	fake.AddComment(pr, DefaultBot, marker+"\ncopy b")
	fake.AddComment(pr, DefaultBot, marker+"\ncopy c")
	out := upsert(t, c, "fresh")
	got := botComments(fake)
	if len(got) != 1 || got[0].ID != a || got[0].Body != marker+"\nfresh" || out.Removed != 2 {
		t.Errorf("comments %+v, outcome %+v; want only %d, updated, 2 removed", got, out, a)
	}
}

func TestUpsertConcurrent(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 4} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			fake, c, _ := newFake(t, false)
			// Hold every first list and create back so that all runs list an
			// empty PR before any creates: the worst interleaving.
			fake.Inject(&fakegithub.Fault{Method: http.MethodGet, Delay: 100 * time.Millisecond, Times: n},
				&fakegithub.Fault{Method: http.MethodPost, Delay: 50 * time.Millisecond, Times: n})
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cc := *c
					_, errs[i] = cc.Upsert(context.Background(), pr, marker, true, body(fmt.Sprint("run ", i)))
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if got := botComments(fake); len(got) != 1 {
				t.Errorf("%d upserts at once left %d comments, want 1", n, len(got))
			}
			posts := 0
			for _, r := range fake.Requests() {
				if r.Method == http.MethodPost {
					posts++
				}
			}
			if posts != n {
				t.Errorf("%d creates, want %d: the runs did not race", posts, n)
			}
		})
	}
}

var secondary = `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`

func TestUpsertFaults(t *testing.T) {
	t.Parallel()
	post := regexp.MustCompile(`/issues/7/comments$`)
	tests := []struct {
		name       string
		realSleep  bool
		faults     []*fakegithub.Fault
		wantAction string
		wantErr    string
		wantWait   time.Duration // at least one wait this long
	}{
		{name: "502 on a create that landed", faults: []*fakegithub.Fault{{Method: http.MethodPost, Status: 502, Land: true}}, wantAction: "created"},
		{name: "500 then fine", faults: []*fakegithub.Fault{{Method: http.MethodGet, Status: 500, Times: 2}}, wantAction: "created"},
		{name: "connection reset on list", faults: []*fakegithub.Fault{{Method: http.MethodGet, Reset: true}}, wantAction: "created"},
		{name: "connection reset on create", faults: []*fakegithub.Fault{{Method: http.MethodPost, Reset: true}}, wantAction: "created"},
		{name: "secondary limit with Retry-After", realSleep: true, faults: []*fakegithub.Fault{{Method: http.MethodPost, Status: 403, Headers: map[string]string{"Retry-After": "1"}, Body: secondary}}, wantAction: "created", wantWait: time.Second},
		{name: "secondary limit without Retry-After", faults: []*fakegithub.Fault{{Method: http.MethodGet, Status: 403, Body: secondary}}, wantAction: "created", wantWait: 2 * time.Millisecond},
		{name: "429 with Retry-After", faults: []*fakegithub.Fault{{Method: http.MethodPost, Status: 429, Headers: map[string]string{"Retry-After": "2"}}}, wantAction: "created", wantWait: 2 * time.Second},
		{name: "primary limit exhausted", realSleep: true, faults: []*fakegithub.Fault{{Method: http.MethodGet, Status: 403,
			Headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000", "X-RateLimit-Reset": "RESET+1"},
			Body:    `{"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`}}, wantAction: "created", wantWait: time.Second},
		{name: "primary limit resets too late", faults: []*fakegithub.Fault{{Method: http.MethodGet, Status: 403,
			Headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "RESET+3600"},
			Body:    `{"message":"API rate limit exceeded"}`}}, wantErr: "past the limit of 3m0s in all"},
		{name: "5xx that never ends", faults: []*fakegithub.Fault{{Path: post, Status: 503, Times: 100}}, wantErr: "503"},
		{name: "403 on write: fork token", faults: []*fakegithub.Fault{{Method: http.MethodPost, Status: 403, Body: `{"message":"Resource not accessible by integration"}`}}, wantAction: "not-permitted"},
		{name: "404 PR", faults: []*fakegithub.Fault{{Method: http.MethodGet, Status: 404}}, wantErr: "list comments on #7"},
		{name: "401 bad token", faults: []*fakegithub.Fault{{Method: http.MethodGet, Status: 401, Body: `{"message":"Bad credentials"}`}}, wantErr: "Bad credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, c, waits := newFake(t, tt.realSleep)
			for _, f := range tt.faults {
				if v := f.Headers["X-RateLimit-Reset"]; strings.HasPrefix(v, "RESET+") {
					add, _ := strconv.Atoi(strings.TrimPrefix(v, "RESET+"))
					f.Headers["X-RateLimit-Reset"] = strconv.FormatInt(time.Now().Add(time.Duration(add)*time.Second).Unix(), 10)
				}
			}
			fake.Inject(tt.faults...)
			start := time.Now()
			out, err := c.Upsert(context.Background(), pr, marker, true, body("x"))
			if time.Since(start) > time.Minute {
				t.Errorf("took %s", time.Since(start))
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Upsert: %v", err)
			}
			if out.Action != tt.wantAction {
				t.Errorf("action %s, want %s (%+v)", out.Action, tt.wantAction, out)
			}
			want := 1
			if tt.wantAction == "not-permitted" {
				want = 0
				if !strings.Contains(out.Warning, "read-only") {
					t.Errorf("warning %q does not explain", out.Warning)
				}
			}
			if got := botComments(fake); len(got) != want {
				t.Errorf("%d bot comments, want %d", len(got), want)
			}
			if tt.wantWait > 0 {
				ok := false
				for _, w := range *waits {
					ok = ok || w >= tt.wantWait
				}
				if !ok {
					t.Errorf("waits %v: none honoured %s", *waits, tt.wantWait)
				}
			}
		})
	}
}

func TestUpsert422RetriesShorter(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	fake.Inject(&fakegithub.Fault{Method: http.MethodPost, Status: 422, Body: `{"message":"Validation Failed","errors":[{"resource":"IssueComment","code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)"}]}`})
	var limits []int
	out, err := c.Upsert(context.Background(), pr, marker, true, func(n int) string {
		limits = append(limits, n)
		return marker + "\n" + strings.Repeat("x", min(n, 70000)-len(marker)-1)
	})
	if err != nil || out.Action != "created" {
		t.Fatalf("Upsert = %+v, %v", out, err)
	}
	if len(limits) != 2 || limits[1] != 32768 {
		t.Errorf("render limits %v, want [65536 32768]", limits)
	}
}

func TestUpsertSkipsCreateWhenAsked(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	out, err := c.Upsert(context.Background(), pr, marker, false, body("x"))
	if err != nil || out.Action != "skipped" || len(fake.Comments(pr)) != 0 {
		t.Errorf("create=false on an empty PR: %+v, %v", out, err)
	}
	// An existing comment is still kept up to date.
	fake.AddComment(pr, DefaultBot, marker+"\nold")
	if out, err = c.Upsert(context.Background(), pr, marker, false, body("new")); err != nil || out.Action != "updated" {
		t.Errorf("create=false with a comment: %+v, %v", out, err)
	}
}

func TestLabelsPaginate(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	var want []string
	for i := 0; i < 130; i++ {
		want = append(want, fmt.Sprint("label-", i))
	}
	fake.SetLabels(pr, want...)
	got, err := c.Labels(context.Background(), pr)
	if err != nil || len(got) != 130 || got[129] != "label-129" {
		t.Errorf("Labels = %d labels, %v", len(got), err)
	}
}

func TestEnterpriseBaseURL(t *testing.T) {
	t.Parallel()
	fake := fakegithub.New("octo", "perf", map[string]string{token: DefaultBot}, pr)
	ts := httptest.NewServer(fake)
	defer ts.Close()
	fake.BaseURL = ts.URL + "/api/v3"
	gh, err := NewGitHub(ts.URL+"/api/v3", token, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Commenter{GH: gh, Owner: "octo", Repo: "perf", Bot: DefaultBot}
	if _, err := c.Upsert(context.Background(), pr, marker, true, body("x")); err != nil {
		t.Fatal(err)
	}
	if p := fake.Requests()[0].Path; !strings.HasPrefix(p, "/repos/octo/perf/") {
		t.Errorf("path %q", p)
	}
	if _, err := NewGitHub("not a url", "t", nil); err == nil {
		t.Error("a bad GITHUB_API_URL was accepted")
	}
}

// TestFaultsOnEveryCallType: 5xx and connection resets on edit, delete and
// labels are retried like those on list and create (TestUpsertFaults).
func TestFaultsOnEveryCallType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault *fakegithub.Fault
		seed  int // bot copies with the marker before the upsert
	}{
		{"502 on edit", &fakegithub.Fault{Method: http.MethodPatch, Status: 502}, 1},
		{"reset on edit", &fakegithub.Fault{Method: http.MethodPatch, Reset: true}, 1},
		{"500 on delete", &fakegithub.Fault{Method: http.MethodDelete, Status: 500}, 3},
		{"reset on delete", &fakegithub.Fault{Method: http.MethodDelete, Reset: true}, 2},
		{"delete that landed but answered 502", &fakegithub.Fault{Method: http.MethodDelete, Status: 502, Land: true}, 2},
		{"403 secondary limit on edit", &fakegithub.Fault{Method: http.MethodPatch, Status: 403, Body: secondary}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, c, _ := newFake(t, false)
			for i := 0; i < tt.seed; i++ {
				fake.AddComment(pr, DefaultBot, fmt.Sprintf("%s\ncopy %d", marker, i))
			}
			fake.Inject(tt.fault)
			if _, err := c.Upsert(context.Background(), pr, marker, true, body("new")); err != nil {
				t.Fatal(err)
			}
			got := botComments(fake)
			if len(got) != 1 || got[0].Body != marker+"\nnew" {
				t.Errorf("comments %+v, want one with the new body", got)
			}
		})
	}
	t.Run("reset and 500 on labels", func(t *testing.T) {
		t.Parallel()
		fake, c, _ := newFake(t, false)
		fake.SetLabels(pr, "perf-regression-accepted")
		fake.Inject(&fakegithub.Fault{Method: http.MethodGet, Reset: true}, &fakegithub.Fault{Method: http.MethodGet, Status: 500})
		got, err := c.Labels(context.Background(), pr)
		if err != nil || len(got) != 1 || got[0] != "perf-regression-accepted" {
			t.Errorf("Labels = %v, %v", got, err)
		}
	})
}

// TestSetStatus: the description is cut to GitHub's 140 characters (the
// fake answers 422 above, as GitHub does), a 5xx is retried, and a 403 is
// ErrStatusNotPermitted.
func TestSetStatus(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	sha := strings.Repeat("b", 40)
	fake.Inject(&fakegithub.Fault{Method: "POST", Status: 502})
	if err := c.SetStatus(context.Background(), sha, Status{State: "failure", Context: "diffperf", Description: strings.Repeat("ü", 300), TargetURL: "https://example.com/c"}); err != nil {
		t.Fatal(err)
	}
	got, ok := fake.Latest(sha, "diffperf")
	if !ok || got.State != "failure" || len([]rune(got.Description)) != MaxStatusDescription || !strings.HasSuffix(got.Description, "…") || got.TargetURL != "https://example.com/c" {
		t.Errorf("status %+v", got)
	}
	if n := len(fake.Statuses(sha)); n != 1 {
		t.Errorf("%d statuses after a retried 502, want 1", n)
	}
	fake.Inject(&fakegithub.Fault{Method: "POST", Status: 403, Body: `{"message":"Resource not accessible by integration"}`})
	if err := c.SetStatus(context.Background(), sha, Status{State: "success", Context: "diffperf"}); !errors.Is(err, ErrStatusNotPermitted) {
		t.Errorf("403: %v, want ErrStatusNotPermitted", err)
	}
	// The fake refuses what GitHub refuses.
	for _, bad := range []struct{ sha, state string }{{"abc", "success"}, {sha, "done"}} {
		if err := c.SetStatus(context.Background(), bad.sha, Status{State: bad.state, Context: "diffperf"}); !isStatus(err, 422) {
			t.Errorf("%s %s: %v, want 422", bad.sha, bad.state, err)
		}
	}
}

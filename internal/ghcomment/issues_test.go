package ghcomment

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
)

func TestIssuesWithLabelPaginates(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	ctx := context.Background()
	for i := range 205 {
		label := "perf-regression"
		if i%2 == 1 {
			label = "perf-improvement"
		}
		if _, err := c.CreateIssue(ctx, fmt.Sprintf("<!-- diffperf-cp:%d -->", i), fmt.Sprint("perf ", i), "body", []string{label}); err != nil {
			t.Fatal(err)
		}
	}
	fake.CloseIssue(101) // closed ones are listed too
	got, err := c.IssuesWithLabel(ctx, "perf-regression")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 103 || got[0].GetNumber() != 101 || got[0].GetState() != "closed" {
		t.Fatalf("%d issues, first #%d %s; want 103 over two pages, #101 closed first", len(got), got[0].GetNumber(), got[0].GetState())
	}
	for _, is := range got {
		if len(is.Labels) != 1 || is.Labels[0].GetName() != "perf-regression" {
			t.Fatalf("#%d has labels %v", is.GetNumber(), is.Labels)
		}
	}
}

// A create whose answer is lost after GitHub stored the issue is not
// repeated: the retry finds the issue by its marker.
func TestCreateIssueLandedThen502(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	fake.Inject(&fakegithub.Fault{Method: http.MethodPost, Path: regexp.MustCompile(`/issues$`), Status: 502, Land: true})
	is, err := c.CreateIssue(context.Background(), "<!-- diffperf-cp:abc -->", "perf: E2E +5.0% at abc", "<!-- diffperf-cp:abc -->\nbody", []string{"perf-regression"})
	if err != nil {
		t.Fatal(err)
	}
	if all := fake.Issues(); len(all) != 1 || is.GetNumber() != all[0].Number {
		t.Fatalf("issues %+v, created #%d; want one", all, is.GetNumber())
	}
}

func TestEditAndGetIssue(t *testing.T) {
	t.Parallel()
	fake, c, _ := newFake(t, false)
	ctx := context.Background()
	is, err := c.CreateIssue(ctx, "m", "old", "m old", []string{"perf-regression"})
	if err != nil {
		t.Fatal(err)
	}
	fake.CloseIssue(is.GetNumber(), "perf-regression", "invalid")
	if _, err := c.EditIssue(ctx, is.GetNumber(), "new", "m new", []string{"perf-regression", "invalid"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Issue(ctx, is.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	if got.GetTitle() != "new" || got.GetBody() != "m new" || got.GetState() != "closed" {
		t.Errorf("issue after edit: %q %q %s; want new, m new, still closed", got.GetTitle(), got.GetBody(), got.GetState())
	}
	if _, err := c.Issue(ctx, 999); !isStatus(err, http.StatusNotFound) {
		t.Errorf("issue 999: %v, want a 404", err)
	}
}

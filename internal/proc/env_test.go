package proc

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFilterEnv(t *testing.T) {
	t.Parallel()
	env := []string{"PATH=/bin", "GITHUB_TOKEN=ghs_secret", "GH_TOKEN=x", "INPUT_GITHUB-TOKEN=ghs_secret", "INPUT_MODEL-PATH=m",
		"GITHUB_ENV=/tmp/env", "GITHUB_OUTPUT=/tmp/out", "ACTIONS_RUNTIME_TOKEN=rt", "MY_COPY=prefix-ghs_secret-suffix",
		"DIFFPERF_SIDE=evil", "HOME=/root", "CUDA_VISIBLE_DEVICES=0"}
	got := FilterEnv(env, []string{"ghs_secret"})
	want := []string{"PATH=/bin", "HOME=/root", "CUDA_VISIBLE_DEVICES=0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FilterEnv (-want +got):\n%s", diff)
	}
}

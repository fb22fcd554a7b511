package bench

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSecretValues: names with TOKEN, SECRET, KEY or PASSWORD and the
// names listed are redacted, longest first; short values and the action's
// own inputs (the comment key) are not.
func TestSecretValues(t *testing.T) {
	t.Parallel()
	env := []string{
		"HF_TOKEN=hf_abcdefghijkl",
		"wandb_api_key=0123456789abcdef0123",
		"DB_PASSWORD=correct horse",
		"MY_KEY=1",
		"INPUT_COMMENT-KEY=perf-matrix",
		"INPUT_ACCEPT-LABEL=perf-regression-accepted",
		"WANDB_ENTITY=diffperf-team",
		"PLAIN=not a secret at all",
	}
	got := SecretValues(env, []string{"WANDB_ENTITY"})
	want := []string{"0123456789abcdef0123", "hf_abcdefghijkl", "correct horse", "diffperf-team"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SecretValues (-want +got):\n%s", diff)
	}
}

package bench

import (
	"os"
	"path/filepath"
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

// TestSecretValuesReadTheHFTokenFile: the token that huggingface_hub saved
// in the model cache (HF_HOME/token, else ~/.cache/huggingface/token) or
// at HF_TOKEN_PATH is redacted; a short one is not.
func TestSecretValuesReadTheHFTokenFile(t *testing.T) {
	t.Parallel()
	home, hf, other := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(path, content string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".cache", "huggingface", "token"), "hf_fromthehomecache\n")
	write(filepath.Join(hf, "token"), "hf_fromhfhome0")
	write(filepath.Join(other, "tok"), "hf_fromtokenpath")
	write(filepath.Join(other, "short", "token"), "hf_1")
	for _, tt := range []struct {
		name string
		env  []string
		want []string
	}{
		{"home cache", []string{"HOME=" + home}, []string{"hf_fromthehomecache"}},
		{"HF_HOME", []string{"HOME=" + home, "HF_HOME=" + hf}, []string{"hf_fromhfhome0"}},
		// The path itself is redacted too: its name holds TOKEN.
		{"HF_TOKEN_PATH", []string{"HF_HOME=" + hf, "HF_TOKEN_PATH=" + filepath.Join(other, "tok")}, []string{filepath.Join(other, "tok"), "hf_fromtokenpath", "hf_fromhfhome0"}},
		{"short", []string{"HF_HOME=" + filepath.Join(other, "short")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, SecretValues(tt.env, nil)); diff != "" {
				t.Errorf("SecretValues (-want +got):\n%s", diff)
			}
		})
	}
}

package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// minSecretLen is the shortest value SecretValues redacts: a KEY=1 must
// not turn every 1 of a report into ***.
const minSecretLen = 8

// secretWords are the parts of a variable's name that mark its value as a
// secret (HF_TOKEN, AWS_SECRET_ACCESS_KEY, WANDB_API_KEY, DB_PASSWORD).
var secretWords = []string{"TOKEN", "SECRET", "KEY", "PASSWORD"}

// SecretValues are the values of env's variables whose names contain
// TOKEN, SECRET, KEY or PASSWORD (in any case; the action's INPUT_
// variables aside), or that names lists
// (input redact), and the Hugging Face token that env's token files hold
// (hfTokenFiles), 8 characters (minSecretLen) or longer. They still reach the
// benchmark (a model download needs HF_TOKEN); diffperf redacts them from
// everything it writes or publishes.
func SecretValues(env, names []string) []string {
	var out []string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(v) < minSecretLen || slices.Contains(out, v) {
			continue
		}
		upper := strings.ToUpper(k)
		// The action's own inputs are not secrets by their names: the
		// comment key (INPUT_COMMENT-KEY) names the comment's marker. The
		// token input is redacted as the token.
		named := !strings.HasPrefix(upper, "INPUT_") && slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(upper, w) })
		if slices.Contains(names, k) || named {
			out = append(out, v)
		}
	}
	for _, f := range hfTokenFiles(env) {
		b, err := os.ReadFile(f)
		if v := strings.TrimSpace(string(b)); err == nil && len(v) >= minSecretLen && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	// Longest first: a secret that holds another is replaced whole.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// hfModelCache is the Hugging Face cache of env: HF_HOME, else
// ~/.cache/huggingface; "" when neither is set.
func hfModelCache(env []string) string {
	if h := lookup(env, "HF_HOME"); h != "" {
		return h
	}
	if home := lookup(env, "HOME"); home != "" {
		return filepath.Join(home, ".cache", "huggingface")
	}
	return ""
}

// hfTokenFiles are the files where huggingface_hub keeps the token of env:
// HF_TOKEN_PATH, and token and stored_tokens in the cache (hfModelCache).
func hfTokenFiles(env []string) []string {
	var out []string
	if p := lookup(env, "HF_TOKEN_PATH"); p != "" {
		out = append(out, p)
	}
	if c := hfModelCache(env); c != "" {
		out = append(out, filepath.Join(c, "token"), filepath.Join(c, "stored_tokens"))
	}
	return out
}

// lookup is the last value of key in env, "" when it is not there.
func lookup(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if val, ok := strings.CutPrefix(kv, key+"="); ok {
			v = val
		}
	}
	return v
}

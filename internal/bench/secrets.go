package bench

import (
	"slices"
	"strings"
)

// MinSecretLen is the shortest value SecretValues redacts: a KEY=1 must
// not turn every 1 of a report into ***.
const MinSecretLen = 8

// secretWords are the parts of a variable's name that mark its value as a
// secret (HF_TOKEN, AWS_SECRET_ACCESS_KEY, WANDB_API_KEY, DB_PASSWORD).
var secretWords = []string{"TOKEN", "SECRET", "KEY", "PASSWORD"}

// SecretValues are the values of env's variables whose names contain
// TOKEN, SECRET, KEY or PASSWORD (in any case; the action's INPUT_
// variables aside), or that names lists
// (input redact), MinSecretLen characters or longer. They still reach the
// benchmark (a model download needs HF_TOKEN); diffperf redacts them from
// everything it writes or publishes.
func SecretValues(env, names []string) []string {
	var out []string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(v) < MinSecretLen || slices.Contains(out, v) {
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
	// Longest first: a secret that holds another is replaced whole.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

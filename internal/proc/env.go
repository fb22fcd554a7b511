package proc

import "strings"

// FilterEnv returns env without the GitHub token, the Action's inputs, the
// runner's command files and tokens, diffperf's own variables, and any
// variable whose value contains one of secrets.
func FilterEnv(env, secrets []string) []string {
	drop := map[string]bool{
		"GITHUB_TOKEN": true, "GH_TOKEN": true, "GITHUB_ENV": true, "GITHUB_OUTPUT": true, "GITHUB_PATH": true,
		"GITHUB_STATE": true, "GITHUB_STEP_SUMMARY": true, "ACTIONS_RUNTIME_TOKEN": true, "ACTIONS_RUNTIME_URL": true,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": true, "ACTIONS_ID_TOKEN_REQUEST_URL": true, "ACTIONS_CACHE_URL": true,
		"ACTIONS_RESULTS_URL": true,
	}
	var out []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "INPUT_") || strings.HasPrefix(k, "DIFFPERF_") {
			continue
		}
		secret := false
		for _, s := range secrets {
			secret = secret || (s != "" && strings.Contains(v, s))
		}
		if !secret {
			out = append(out, kv)
		}
	}
	return out
}

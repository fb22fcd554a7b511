package command

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	t.Parallel()
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "-trimpath", Value: "true"}, {Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"release build: the stamp wins over the module version", "v1.2.3",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260102030405-0123456789ab"}, Settings: vcs(rev, "false")},
			"diffperf v1.2.3 (commit 0123456789ab, built with go1.26.8)"},
		{"stamped from a dirty checkout", "v1.2.3",
			&debug.BuildInfo{GoVersion: "go1.26.8", Settings: vcs(rev, "true")},
			"diffperf v1.2.3 (commit 0123456789ab, dirty, built with go1.26.8)"},
		{"go install of a tag: module version, no VCS", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"diffperf v1.2.3 (built with go1.26.8)"},
		{"development build", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")},
			"diffperf (devel) (commit 0123456789ab, dirty, built with go1.26.8)"},
		{"Go's own +dirty is not said twice", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260102030405-0123456789ab+dirty"}, Settings: vcs(rev, "true")},
			"diffperf v0.0.0-20260102030405-0123456789ab+dirty (commit 0123456789ab, built with go1.26.8)"},
		{"empty module version", "",
			&debug.BuildInfo{Settings: vcs(rev, "false")},
			"diffperf (devel) (commit 0123456789ab)"},
		{"short revision kept whole", "",
			&debug.BuildInfo{Settings: vcs("abc", "false")},
			"diffperf (devel) (commit abc)"},
		{"nothing known", "", &debug.BuildInfo{}, "diffperf (devel)"},
		{"no build info", "", nil, "diffperf (devel)"},
		{"no build info, stamped", "v2.0.0-rc.1", nil, "diffperf v2.0.0-rc.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := versionLine(tt.stamped, tt.bi); got != tt.want {
				t.Errorf("versionLine(%q, ...)\n got %q\nwant %q", tt.stamped, got, tt.want)
			}
		})
	}
}

func TestVersionCLI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{"--version", []string{"--version"}, 0, "diffperf ", ""},
		{"version", []string{"version"}, 0, "diffperf ", ""},
		{"help", []string{"version", "--help"}, 0, "usage: diffperf version", ""},
		{"an argument", []string{"version", "extra"}, 2, "", `version: takes no arguments, got ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Inside GitHub Actions too: an argument always names a command.
			code, out, stderr := runCLI(t, func(k string) string {
				if k == "GITHUB_ACTIONS" {
					return "true"
				}
				return ""
			}, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			if !strings.HasPrefix(out, tt.wantOut) || (tt.wantCode == 0 && strings.Count(out, "\n") < 1) {
				t.Errorf("stdout %q, want it to start with %q", out, tt.wantOut)
			}
			if tt.wantOut == "diffperf " && strings.Count(out, "\n") != 1 {
				t.Errorf("stdout %q, want one line", out)
			}
			if !strings.Contains(stderr, tt.wantStderr) || (tt.wantStderr == "" && stderr != "") {
				t.Errorf("stderr %q, want %q", stderr, tt.wantStderr)
			}
		})
	}
}

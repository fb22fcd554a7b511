package command

import (
	"strings"
	"syscall"
)

// HideSecrets keeps the GitHub token out of reach of the benchmark when
// this process holds one: it makes the process non-dumpable, so that
// /proc/<pid>/environ and /proc/<pid>/mem of diffperf belong to root and
// another process of the same user (the PR's code) cannot read the token
// there. Children start dumpable again (execve resets the flag), which is
// all the benchmark needs. Root can still read everything; so can any
// process that runs before diffperf starts. Call it first thing in main.
// See prctl(2), PR_SET_DUMPABLE, and proc(5).
func HideSecrets(getenv func(string) string) error {
	held := false
	for _, k := range []string{"INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"} {
		held = held || strings.TrimSpace(getenv(k)) != ""
	}
	if !held {
		return nil
	}
	const prSetDumpable = 4 // <linux/prctl.h>
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

package command

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/diffperf/diffperf/internal/input"
)

// version is the release version, stamped by the release build
// (.github/release/build.sh) with
//
//	-ldflags "-X github.com/diffperf/diffperf/internal/command.version=v1.2.3"
//
// It is empty in every other build, which then reports the module version
// of its build info.
var version string

const versionUsage = `usage: diffperf version   (or diffperf --version)

Prints diffperf's version, the commit it was built from ("dirty" when the
checkout had uncommitted changes) and the Go version that built it.
`

// cmdVersion prints the version line of this binary.
func cmdVersion(args []string, e Env) error {
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		fmt.Fprint(e.Stdout, versionUsage)
		return nil
	}
	if len(args) > 0 {
		return input.Errorf("version", "takes no arguments, got %q", args)
	}
	bi, _ := debug.ReadBuildInfo() // nil without build info
	_, err := fmt.Fprintln(e.Stdout, versionLine(version, bi))
	return err
}

// versionLine formats the version of a build: the stamped version when set,
// else the main module's version from bi ("(devel)" when unknown), then
// what bi's VCS settings and Go version say, e.g.
// "diffperf v1.2.3 (commit 0123456789ab, built with go1.26.8)" or
// "diffperf (devel) (commit 0123456789ab, dirty, built with go1.26.8)".
// bi may be nil (a binary without build info).
func versionLine(stamped string, bi *debug.BuildInfo) string {
	v := stamped
	if v == "" && bi != nil {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if bi == nil {
		return "diffperf " + v
	}
	var details []string
	var revision string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision != "" {
		// 12 hex digits, as Go's pseudo-versions abbreviate a commit.
		details = append(details, "commit "+revision[:min(12, len(revision))])
	}
	// Go 1.24+ marks a dirty build's module version "+dirty" itself; say it
	// once.
	if modified && !strings.HasSuffix(v, "+dirty") {
		details = append(details, "dirty")
	}
	if bi.GoVersion != "" {
		details = append(details, "built with "+bi.GoVersion)
	}
	if len(details) == 0 {
		return "diffperf " + v
	}
	return fmt.Sprintf("diffperf %s (%s)", v, strings.Join(details, ", "))
}

package git

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
)

// commitWorkload commits a workload file, from fakerepo.
var commitWorkload = fakerepo.Commit

func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return fakerepo.Git(t, dir, args...)
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// workload is the fake's workload file with the given keys and values.
var workload = fakerepo.Workload

// newRepo makes a repository whose base and head commits carry the given
// workloads, and returns it with both SHAs.
func newRepo(t *testing.T, base, head string) (dir, baseSHA, headSHA string) {
	t.Helper()
	dir, shas := fakerepo.New(t, base, head)
	return dir, shas[0], shas[1]
}

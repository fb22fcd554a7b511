package proc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/sandbox"
)

// needBwrap is a working bubblewrap sandbox, or skips the test.
func needBwrap(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Resolve(context.Background(), "sandbox", sandbox.Bwrap, os.Getenv("PATH"))
	if err != nil {
		t.Skipf("bubblewrap is needed for this test and does not work here: %v", err)
	}
	return sb
}

// TestStopSendsSIGTERMInsideTheSandbox: a run stopped (as a timeout
// stops it) gets SIGTERM and its grace, under bubblewrap as without a
// sandbox: the fake traps it and writes a file before it exits.
func TestStopSendsSIGTERMInsideTheSandbox(t *testing.T) {
	t.Parallel()
	bwrap := needBwrap(t)
	for _, mode := range []string{"bwrap", "none"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p, _ := fakeProc(t, "trap-term", time.Minute, 30*time.Second)
			if mode == "bwrap" {
				p.Sandbox, p.Policy = bwrap, sandbox.Policy{ReadWrite: []string{p.Dir}}
			}
			r, err := p.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for !strings.Contains(r.Tail(), "trapping SIGTERM") {
				select {
				case <-r.Done():
					t.Fatalf("the fake exited before it trapped SIGTERM:\n%s", r.Tail())
				case <-time.After(10 * time.Millisecond):
				}
			}
			res := r.Stop()
			if _, err := os.Stat(filepath.Join(p.Dir, "got-sigterm")); err != nil {
				t.Errorf("sandbox %s: the benchmark never got SIGTERM (%v); it ended %s", mode, err, res.Describe(p.Timeout))
			}
		})
	}
}

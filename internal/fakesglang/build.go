package fakesglang

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Build compiles the test build of the fake, internal/fakesglang/cmd/sglang
// (the simulator plus faults on request), as a program named sglang into
// dir, and returns its path. It needs the go command, which `go test` has.
func Build(dir string) (string, error) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out := filepath.Join(dir, "sglang")
	cmd := exec.Command(goBin, "build", "-o", out, "github.com/diffperf/diffperf/internal/fakesglang/cmd/sglang")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the fake sglang: %w\n%s", err, b)
	}
	return out, nil
}

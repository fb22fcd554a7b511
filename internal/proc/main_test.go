package proc

import (
	"fmt"
	"os"
	"testing"

	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
)

// fakeBin is the fake sglang program, built once by TestMain, and fakeDir
// its folder, for PATH.
var fakeBin, fakeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakesglang-")
	if err != nil {
		panic(err)
	}
	if fakeBin, err = fakesglang.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// withFake is the test's environment with the fake sglang first on PATH.
func withFake() []string {
	return append(os.Environ(), "PATH="+fakeDir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// workload is the fake's workload file with the given keys and values.
var workload = fakerepo.Workload

// signs are the texts the tests look for in a process's output: sglang's
// signs of the diffusers fallback, as the benchmark's caller gives them.
var signs = []string{"Falling back to diffusers backend", "Using diffusers backend", "Loaded diffusers pipeline"}

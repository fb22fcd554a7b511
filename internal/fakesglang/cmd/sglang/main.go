// Command sglang is the test build of the fake sglang: the simulator of
// package fakesglang, named like the real program so that the default
// command template runs it when its folder is first on PATH, plus faults
// on request for the tests of process control and failure handling (see
// faults.go). Tests build it with fakesglang.Build, CI's act test with go
// build; no release contains it, and nothing can import it.
package main

import (
	"os"
	"time"

	"github.com/diffperf/diffperf/internal/fakesglang"
)

// sleeperEnv set to "1" makes this program sleep for an hour and do
// nothing else: the grandchild of the grandchild behaviours.
const sleeperEnv = "FAKESGLANG_SLEEPER"

func main() {
	if os.Getenv(sleeperEnv) == "1" {
		time.Sleep(time.Hour)
		return
	}
	os.Exit(fakesglang.Run(os.Args[1:], os.Stdout, os.Stderr, faults))
}

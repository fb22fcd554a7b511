// Command sglang is the fake sglang of package fakesglang as a program of
// its own, named like the real one so that the default command template
// runs it when its folder is first on PATH. Tests and CI use it; it is not
// part of a release.
package main

import (
	"os"

	"github.com/diffperf/diffperf/internal/fakesglang"
)

func main() {
	os.Exit(fakesglang.Main(os.Args[1:], os.Stdout, os.Stderr))
}

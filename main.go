// Command diffperf benchmarks sglang-diffusion before and after a change and
// reports the difference with statistics: as a CLI on any machine, and as a
// GitHub Action that comments on pull requests. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/diffperf/diffperf/internal/ghcomment"
)

// Exit codes of DESIGN.md, for the CLI and the Action alike.
const (
	exitOK         = 0
	exitRegression = 1 // a regression was established and gating is on
	exitInput      = 2 // unusable input: a flag, an action input, an event, a dump
	exitRuntime    = 3 // the benchmark, git or GitHub failed
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], env{Getenv: os.Getenv, Environ: os.Environ, Executable: os.Executable, Stdout: os.Stdout, Stderr: os.Stderr})
	code := exitCode(err)
	var es *exitStatus
	if err != nil && !errors.Is(err, errRegression) && !errors.As(err, &es) {
		if os.Getenv("GITHUB_ACTIONS") == "true" {
			// An annotation, escaped so that no line of the message can
			// start a workflow command of its own.
			fmt.Fprintln(os.Stderr, "::error::"+escapeCommand("diffperf: "+err.Error()))
		} else {
			fmt.Fprintln(os.Stderr, "diffperf:", err)
		}
	}
	stop()
	os.Exit(code)
}

// env is everything of the process that the commands may touch.
type env struct {
	Getenv         func(string) string
	Environ        func() []string // for the benchmark's environment
	Executable     func() (string, error)
	Stdout, Stderr io.Writer
	// GitHubRetry bounds GitHub retries; the zero value means
	// ghcomment.DefaultRetry (tests shorten it).
	GitHubRetry ghcomment.Retry
}

// escapeCommand escapes a workflow command's message as actions/toolkit
// does: %, CR and LF.
func escapeCommand(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// errRegression is returned when a regression was established and gating is
// on; the report has already been printed.
var errRegression = errors.New("a regression was established")

// inputError marks unusable input (exit 2); runtimeError marks a failure of
// the benchmark, git or GitHub (exit 3).
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func inputErrorf(format string, a ...any) error {
	return &inputError{fmt.Errorf(format, a...)}
}

func exitCode(err error) int {
	var es *exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &es):
		return es.code
	case errors.Is(err, errRegression):
		return exitRegression
	case isInput(err):
		return exitInput
	}
	return exitRuntime
}

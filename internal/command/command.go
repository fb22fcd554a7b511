// Package command is diffperf's command line and GitHub Action: it parses
// flags, inputs and events, wires packages protocol, bench, report and
// ghcomment together, and maps what happened to the exit codes of docs/cli.md.
// Only package main touches the process; everything here gets an Env.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// Exit codes (docs/cli.md, "Exit status"), for the CLI and the Action alike.
const (
	ExitOK         = 0
	ExitRegression = 1 // a regression was established and gating is on
	ExitInput      = 2 // unusable input: a flag, an action input, an event, a dump
	ExitRuntime    = 3 // the benchmark, git or GitHub failed
)

// Env is everything of the process that the commands may touch.
type Env struct {
	Getenv         func(string) string
	Environ        func() []string // for the benchmark's environment
	Executable     func() (string, error)
	Stdout, Stderr io.Writer
	// GitHubRetry bounds GitHub retries; the zero value means
	// ghcomment.DefaultRetry (tests shorten it).
	GitHubRetry ghcomment.Retry
}

// Main runs the command that args name, prints its error once (as an
// annotation inside GitHub Actions), and returns the exit status.
func Main(ctx context.Context, args []string, e Env) int {
	err := Run(ctx, args, e)
	var es *exitStatus
	if err != nil && !errors.Is(err, errRegression) && !errors.As(err, &es) {
		if e.Getenv("GITHUB_ACTIONS") == "true" {
			// An annotation, escaped so that no line of the message can
			// start a workflow command of its own.
			fmt.Fprintln(e.Stderr, "::error::"+escapeCommand("diffperf: "+err.Error()))
		} else {
			fmt.Fprintln(e.Stderr, "diffperf:", err)
		}
	}
	return ExitCode(err)
}

// escapeCommand escapes a workflow command's message as actions/toolkit
// does: %, CR and LF.
func escapeCommand(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// errRegression is returned when a regression was established and gating is
// on; the report has already been printed.
var errRegression = errors.New("a regression was established")

// finding is what a command that judges found, returned beside the
// error that says what kept it from its job: the document, and whether a
// regression that gates fails the command (--fail-on-regression, input
// fail-on-regression). A command that judges nothing finds nil.
type finding struct {
	doc  report.Document
	gate bool
}

// exitError is the one exit decision of a command that judged d: err,
// what kept it from doing its job, first (2 or 3); then an established
// regression that is not accepted, with gating on (1); then what was not
// measured (3). See docs/cli.md, "Exit status".
func exitError(d report.Document, gate bool, err error) error {
	if err != nil {
		return err
	}
	switch o := d.Outcome(); {
	case gate && o.Gates:
		return errRegression
	case o.Unfinished != "":
		return errors.New(o.Unfinished)
	}
	return nil
}

// exitStatus passes an exit code through unchanged (for fake-sglang).
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode maps an error of Run to the exit status of docs/cli.md: unusable input
// is any *input.Error in the chain, whichever package found it.
func ExitCode(err error) int {
	var es *exitStatus
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &es):
		return es.code
	case errors.Is(err, errRegression):
		return ExitRegression
	}
	if _, ok := input.As(err); ok {
		return ExitInput
	}
	return ExitRuntime
}

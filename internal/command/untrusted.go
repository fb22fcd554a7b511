package command

import (
	"bytes"
	"io"

	"github.com/diffperf/diffperf/internal/bench"
)

// untrusted is where a command writes text that holds what a benchmark or
// a dump wrote (a report, a log tail): w itself, or, inside GitHub Actions,
// a buffer that Close writes to w between ::stop-commands:: lines, so that
// no line of it is read as a workflow command.
type untrusted struct {
	w   io.Writer
	buf *bytes.Buffer // nil outside Actions
}

func untrustedOut(e Env, w io.Writer) *untrusted {
	u := &untrusted{w: w}
	if e.Getenv("GITHUB_ACTIONS") == "true" {
		u.buf = &bytes.Buffer{}
	}
	return u
}

func (u *untrusted) Write(p []byte) (int, error) {
	if u.buf != nil {
		return u.buf.Write(p)
	}
	return u.w.Write(p)
}

// Close writes what was buffered, framed.
func (u *untrusted) Close() error {
	if u.buf != nil {
		bench.WriteUntrusted(u.w, u.buf.String())
		u.buf.Reset()
	}
	return nil
}

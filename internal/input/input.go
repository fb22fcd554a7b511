// Package input marks the errors that mean unusable input: a flag, an
// action input, an event, a dump, a ref or a command template that diffperf
// cannot use as given. They get exit status 2 (docs/cli.md), whatever package
// found them, so every such error is an *Error, found with errors.As once,
// and it names the input so that the message points at what to fix.
package input

import (
	"errors"
	"fmt"
)

// Error is unusable input. Name is the input as the user wrote it: a flag
// ("--threshold"), an action input ("max-runs"), "event", "dump FILE",
// "ref main:x".
type Error struct {
	Name string
	Err  error
}

func (e *Error) Error() string {
	if e.Name == "" {
		return e.Err.Error()
	}
	return e.Name + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf is an *Error for the named input with a formatted message.
func Errorf(name, format string, a ...any) error {
	return &Error{Name: name, Err: fmt.Errorf(format, a...)}
}

// Wrap marks err as unusable input of the given name; nil stays nil.
func Wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Name: name, Err: err}
}

// As returns the *Error in err's chain, if there is one.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

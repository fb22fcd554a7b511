//go:build !linux

package command

// HideSecrets does nothing outside Linux: diffperf's Action runs on Linux
// runners, where it hides the token from /proc (see harden_linux.go).
func HideSecrets(getenv func(string) string) error { return nil }

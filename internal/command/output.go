package command

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// outMarker marks a folder that diffperf made, so a later run may empty it.
const outMarker = ".diffperf-out"

// prepareOut makes the output folder, or empties one that an earlier
// diffperf run made. It refuses a folder with someone else's files in it,
// and one that another user owns or could write into.
func prepareOut(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return input.Wrap("out", err)
	case len(entries) > 0:
		if _, err := os.Lstat(filepath.Join(dir, outMarker)); err != nil {
			return input.Errorf("out", "%s is not empty and was not made by diffperf; give an empty or new folder", dir)
		}
	}
	if err := bench.PrivateDir("out", dir); err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return writeFileAtomic(filepath.Join(dir, outMarker), []byte("made by diffperf; emptied by the next run that writes here\n"))
}

// writeOutputs saves result.json and report.md in dir and returns their
// paths. Each file appears whole or not at all, and without the secrets.
func writeOutputs(dir string, r *report.Result, md string, secrets []string) (mdPath, jsPath string, err error) {
	js, err := report.MarshalJSON(r)
	if err != nil {
		return "", "", err
	}
	return writePair(filepath.Join(dir, "report.md"), filepath.Join(dir, "result.json"), md, js, secrets)
}

// writePair writes a report's Markdown and JSON, JSON first (it is what
// the tools read back), each atomically and without the secrets.
func writePair(mdPath, jsPath, md string, js []byte, secrets []string) (string, string, error) {
	if err := writeFileAtomic(jsPath, []byte(bench.Redact(string(js), secrets))); err != nil {
		return "", "", err
	}
	if err := writeFileAtomic(mdPath, []byte(bench.Redact(md, secrets))); err != nil {
		return "", jsPath, err
	}
	return mdPath, jsPath, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so that a full disk or a crash never leaves a truncated
// file where a whole one is expected.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

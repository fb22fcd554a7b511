package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/input"
)

// outMarker is diffperf's manifest of an out folder: its presence marks a
// folder that diffperf made, and its lines name the entries diffperf wrote
// there ("wrote NAME") and those it found and kept ("kept NAME"). The next
// run that writes to the folder removes the written ones and nothing else.
const outMarker = ".diffperf-out"

const manifestHeader = "# diffperf's manifest of this folder: the next run that writes here removes\n" +
	"# the entries it wrote (\"wrote NAME\") and keeps every other one (\"kept NAME\").\n"

// manifest is the parsed outMarker file.
type manifest struct{ wrote, kept []string }

// readManifest reads dir's manifest; ok is false when there is none. A
// name that is not a plain entry of dir (a path, "..") is ignored, so a
// manifest that someone wrote cannot point outside the folder.
func readManifest(dir string) (m manifest, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, outMarker))
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		verb, name, _ := strings.Cut(line, " ")
		if name == "" || name == "." || name == ".." || name == outMarker || strings.ContainsAny(name, "/\\") {
			continue
		}
		switch verb {
		case "wrote":
			m.wrote = append(m.wrote, name)
		case "kept":
			m.kept = append(m.kept, name)
		}
	}
	return m, true, nil
}

func writeManifest(dir string, m manifest) error {
	var b strings.Builder
	b.WriteString(manifestHeader)
	for _, n := range m.wrote {
		fmt.Fprintf(&b, "wrote %s\n", n)
	}
	for _, n := range m.kept {
		fmt.Fprintf(&b, "kept %s\n", n)
	}
	return writeFileAtomic(filepath.Join(dir, outMarker), []byte(b.String()))
}

// prepareOut makes the output folder, or clears one that an earlier
// diffperf run made: it removes the entries that run's manifest names and
// keeps every other one. It refuses a non-empty folder without a manifest,
// and one that another user owns or could write into.
func prepareOut(dir string) error { return prepareOutTo(dir, io.Discard) }

// prepareOutTo is prepareOut, naming the entries it keeps on w.
func prepareOutTo(dir string, w io.Writer) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return input.Wrap("--out", err)
	}
	m, made, err := readManifest(dir)
	if err != nil {
		return input.Wrap("--out", err)
	}
	if len(entries) > 0 && !made {
		return input.Errorf("--out", "%s is not empty and has no manifest of diffperf (%s); give an empty or new folder", dir, outMarker)
	}
	if err := bench.PrivateDir("out", dir); err != nil {
		return err
	}
	var kept []string
	for _, e := range entries {
		switch name := e.Name(); {
		case name == outMarker:
		case slices.Contains(m.wrote, name):
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
		default:
			kept = append(kept, name)
		}
	}
	if len(kept) > 0 {
		fmt.Fprintf(w, "diffperf: %s: kept %d file(s) that diffperf did not write: %s\n", dir, len(kept), strings.Join(kept, ", "))
	}
	return writeManifest(dir, manifest{kept: kept})
}

// sealOut completes dir's manifest when a command is done with the folder:
// every entry but the kept ones is diffperf's. "" (no folder yet) is a
// no-op. A run that died before sealing leaves its files unnamed, and the
// next run keeps and lists them rather than guess.
func sealOut(dir string) error {
	if dir == "" {
		return nil
	}
	m, ok, err := readManifest(dir)
	if err != nil || !ok {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	m.wrote = nil
	for _, e := range entries {
		if n := e.Name(); n != outMarker && !slices.Contains(m.kept, n) && !strings.HasPrefix(n, "."+outMarker+".tmp-") {
			m.wrote = append(m.wrote, n)
		}
	}
	return writeManifest(dir, m)
}

// sealOutInto seals dir when a command returns, joining a failure to seal
// to *err (a deferred call).
func sealOutInto(err *error, dir string) {
	if serr := sealOut(dir); serr != nil {
		*err = errors.Join(*err, fmt.Errorf("manifest of %s: %w", dir, serr))
	}
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

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

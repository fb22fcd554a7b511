// Package profile reads the PyTorch profiler traces that `sglang generate
// --profile` writes (a gzipped Chrome trace, `*.trace.json.gz`, and the
// `.profile.json` sidecar of key_averages rows that some versions write
// beside it) and compares two of them: the time per profiled step of every
// kernel and CPU operator, by a normalised name, in base and head.
//
// The package is pure: it does no exec, network or environment access, and
// reads only the reader or file it is given. A trace is read token by token,
// so memory stays bounded by the number of distinct names, never by the size
// of the file; Limits bounds everything else. Findings (a trace without step
// markers) are notes of the result, and errors mean the input was unusable:
// each names the file.
package profile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Limits bound what a trace may hold. A trace beyond one is refused with an
// error that names the file and the limit, rather than read into memory.
type Limits struct {
	// MaxEvents is the most trace events (of any kind) a trace may hold.
	MaxEvents int64
	// MaxNameLen is the longest event name, in bytes, before normalisation.
	MaxNameLen int
	// MaxNames is the most distinct normalised names of one table.
	MaxNames int
	// MaxToken is the most bytes of one JSON token (a string, a number) the
	// reader holds at once; a longer one is refused, whatever key it is under.
	MaxToken int64
}

// DefaultLimits fit the traces of real diffusion models with room to
// spare: a 5-step profile of a 28-block DiT holds about a million events
// and a few thousand distinct kernel names.
var DefaultLimits = Limits{MaxEvents: 50_000_000, MaxNameLen: 64 << 10, MaxNames: 200_000, MaxToken: 16 << 20}

// Totals is what a table holds for one normalised name, over the whole trace.
type Totals struct {
	// Us is the summed duration in microseconds.
	Us float64
	// Calls is the number of events summed.
	Calls int64
}

// Table maps a normalised name to its totals.
type Table map[string]Totals

// Profile is one trace, summed per normalised name.
type Profile struct {
	// Name is the file the trace came from, for errors and labels.
	Name string
	// Steps is the number of profiled steps: the distinct ProfilerStep#K
	// spans (cat user_annotation), or 1 when there are none.
	Steps int
	// StepsMarked is false when the trace has no ProfilerStep#K span and
	// Steps is 1 for want of a count.
	StepsMarked bool
	// Events is the number of trace events read, of every kind.
	Events int64
	// Kernels sums the device events: cat kernel, gpu_memcpy, gpu_memset.
	Kernels Table
	// CPUOps sums the events of cat cpu_op. Operators nest (aten::linear
	// holds aten::mm), so their times are inclusive and overlap.
	CPUOps Table
	// DeviceOps holds the sidecar's rows: self device time per operator
	// (nil without a sidecar).
	DeviceOps Table
	// Sidecar is the file DeviceOps came from, empty without one.
	Sidecar string
}

// SidecarPath is the path of the `.profile.json` that sits beside the
// trace at tracePath (`X.trace.json.gz` → `X.profile.json`).
func SidecarPath(tracePath string) string {
	base := tracePath
	for _, ext := range []string{".gz", ".json", ".trace"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base + ".profile.json"
}

// ReadFile reads the trace at path, and the sidecar beside it when there
// is one (a missing sidecar is no error: older sglang writes none).
func ReadFile(path string, lim Limits) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("profile trace: %w", err)
	}
	defer f.Close()
	p, err := ReadTrace(path, f, lim)
	if err != nil {
		return nil, err
	}
	side := SidecarPath(path)
	sf, err := os.Open(side)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profile sidecar: %w", err)
	}
	defer sf.Close()
	if p.DeviceOps, err = ReadSidecar(side, sf, lim); err != nil {
		return nil, err
	}
	p.Sidecar = side
	return p, nil
}

// ReadTrace reads a Chrome trace from r; name is its file name, for errors
// and to tell its compression: a name ending in .gz must be gzip; any other
// is read as gzip when it starts as gzip does, else as plain JSON. The JSON is an object whose traceEvents key holds the
// events (other keys are skipped), or a bare array of events.
func ReadTrace(name string, r io.Reader, lim Limits) (*Profile, error) {
	p := &Profile{Name: name, Kernels: Table{}, CPUOps: Table{}}
	br := bufio.NewReader(r)
	r = br
	if magic, _ := br.Peek(2); strings.HasSuffix(name, ".gz") || bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("profile trace %s: not gzip: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	t := &traceReader{p: p, lim: lim, steps: map[int]struct{}{}}
	t.guard = &guardReader{r: r, max: lim.MaxToken}
	t.dec = json.NewDecoder(t.guard)
	t.guard.offset = t.dec.InputOffset
	if err := t.read(); err != nil {
		return nil, fmt.Errorf("profile trace %s: %w", name, err)
	}
	p.Steps, p.StepsMarked = len(t.steps), len(t.steps) > 0
	if p.Steps == 0 {
		p.Steps = 1
	}
	return p, nil
}

// guardReader refuses to be read further once the decoder holds more than
// max bytes it has not yet scanned past: one token that long would
// otherwise be buffered whole.
type guardReader struct {
	r      io.Reader
	n      int64
	max    int64
	offset func() int64
}

func (g *guardReader) Read(b []byte) (int, error) {
	if g.max > 0 && g.offset != nil && g.n-g.offset() > g.max {
		return 0, fmt.Errorf("a JSON token at byte %d is longer than %d bytes", g.offset(), g.max)
	}
	n, err := g.r.Read(b)
	g.n += int64(n)
	return n, err
}

type traceReader struct {
	p     *Profile
	lim   Limits
	dec   *json.Decoder
	guard *guardReader
	steps map[int]struct{}
}

func (t *traceReader) read() error {
	tok, err := t.token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		if err := t.events(); err != nil {
			return err
		}
	case json.Delim('{'):
		found := false
		for t.dec.More() {
			k, err := t.key()
			if err != nil {
				return err
			}
			if k != "traceEvents" || found {
				if err := t.skip(); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				continue
			}
			found = true
			tok, err := t.token()
			if err != nil {
				return err
			}
			if tok != json.Delim('[') {
				return fmt.Errorf("traceEvents is not an array")
			}
			if err := t.events(); err != nil {
				return err
			}
		}
		if _, err := t.token(); err != nil { // the closing brace
			return err
		}
		if !found {
			return fmt.Errorf("no traceEvents key: not a Chrome trace")
		}
	default:
		return fmt.Errorf("not a Chrome trace: the JSON is neither an object nor an array")
	}
	// Reading on to the end checks that nothing follows the trace, and
	// makes gzip verify its checksum.
	if _, err := t.dec.Token(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("data after the trace at byte %d", t.dec.InputOffset())
		}
		return t.wrap(err)
	}
	return nil
}

// events reads the events of an array whose '[' has been read, and its ']'.
func (t *traceReader) events() error {
	for t.dec.More() {
		t.p.Events++
		if t.p.Events > t.lim.MaxEvents {
			return fmt.Errorf("more than %d events (the limit)", t.lim.MaxEvents)
		}
		if err := t.event(); err != nil {
			return fmt.Errorf("event %d: %w", t.p.Events, err)
		}
	}
	_, err := t.token()
	return err
}

// event reads one event and adds it to its table. Events that are not
// objects, not complete ("ph": "X"), or whose fields have other types
// than the format's are skipped: a viewer would not show them either.
func (t *traceReader) event() error {
	tok, err := t.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		if d, ok := tok.(json.Delim); ok {
			return t.skipRest(d)
		}
		return nil
	}
	var ph, cat, name string
	var dur float64
	hasDur := false
	for t.dec.More() {
		k, err := t.key()
		if err != nil {
			return err
		}
		switch k {
		case "ph", "cat", "name":
			tok, err := t.token()
			if err != nil {
				return err
			}
			s, ok := tok.(string)
			if !ok {
				if d, isDelim := tok.(json.Delim); isDelim {
					if err := t.skipRest(d); err != nil {
						return err
					}
				}
				continue
			}
			switch k {
			case "ph":
				ph = s
			case "cat":
				cat = s
			default:
				if len(s) > t.lim.MaxNameLen {
					return fmt.Errorf("a name of %d bytes (the limit is %d)", len(s), t.lim.MaxNameLen)
				}
				name = s
			}
		case "dur":
			tok, err := t.token()
			if err != nil {
				return err
			}
			switch v := tok.(type) {
			case float64:
				dur, hasDur = v, true
			case json.Delim:
				if err := t.skipRest(v); err != nil {
					return err
				}
			}
		default:
			if err := t.skip(); err != nil {
				return err
			}
		}
	}
	if _, err := t.token(); err != nil { // the closing brace
		return err
	}
	if ph != "X" || name == "" {
		return nil
	}
	switch cat {
	case "user_annotation":
		if k, ok := strings.CutPrefix(name, "ProfilerStep#"); ok {
			if n, err := strconv.Atoi(k); err == nil {
				if len(t.steps) >= t.lim.MaxNames {
					return fmt.Errorf("more than %d ProfilerStep spans (the limit)", t.lim.MaxNames)
				}
				t.steps[n] = struct{}{}
			}
		}
		return nil
	case "kernel":
		return t.add(t.p.Kernels, Normalise(name), dur, hasDur)
	case "gpu_memcpy", "gpu_memset":
		// Their names are fixed strings ("Memcpy HtoD (Pageable -> Device)"):
		// kept as written.
		return t.add(t.p.Kernels, strings.TrimSpace(name), dur, hasDur)
	case "cpu_op":
		return t.add(t.p.CPUOps, Normalise(name), dur, hasDur)
	}
	return nil
}

func (t *traceReader) add(tab Table, name string, dur float64, hasDur bool) error {
	if !hasDur || !(dur >= 0) || math.IsInf(dur, 0) || name == "" {
		return nil // an event without a usable duration has nothing to add
	}
	tot, ok := tab[name]
	if !ok && len(tab) >= t.lim.MaxNames {
		return fmt.Errorf("more than %d distinct names (the limit)", t.lim.MaxNames)
	}
	tot.Us += dur
	tot.Calls++
	tab[name] = tot
	return nil
}

func (t *traceReader) token() (json.Token, error) {
	tok, err := t.dec.Token()
	if err != nil {
		return nil, t.wrap(err)
	}
	return tok, nil
}

func (t *traceReader) key() (string, error) {
	tok, err := t.token()
	if err != nil {
		return "", err
	}
	k, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("an object key is %v, not a string", tok)
	}
	return k, nil
}

// skip reads one value, of any depth, without keeping it.
func (t *traceReader) skip() error {
	tok, err := t.token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok {
		return t.skipRest(d)
	}
	return nil
}

// skipRest reads the rest of the array or object that d opened.
func (t *traceReader) skipRest(d json.Delim) error {
	if d != '[' && d != '{' {
		return fmt.Errorf("unexpected %v", d)
	}
	for depth := 1; depth > 0; {
		tok, err := t.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return nil
}

// wrap says what a read error means: the JSON ended early (a truncated
// file), or the bytes are not JSON.
func (t *traceReader) wrap(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("truncated at byte %d: %w", t.dec.InputOffset(), io.ErrUnexpectedEOF)
	case errors.As(err, &syn):
		return fmt.Errorf("not JSON at byte %d: %w", syn.Offset, err)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("corrupt gzip: %w", err)
	}
	return err
}

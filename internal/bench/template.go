// Package bench takes the measurements of sglang's code. A Workspace makes
// Checkouts, each one commit in a git worktree of its own (package git),
// set up once; a Pair of any two Checkouts runs the benchmark command, or
// sends requests to warm servers, in balanced interleaved order, each
// process under control (package proc) and in the sandbox, and records the
// dumps (package dump). Session is the Pair of a change's merge base and
// head. It reads the GPU state too; what the numbers mean is package
// report's business.
//
// A bisect opens one Checkout per commit it measures, all at once if it
// likes, and pairs them as it goes:
//
//	ws, err := bench.NewWorkspace(ctx, spec) // spec.BaseRef, HeadRef unused
//	defer ws.Close()                         // removes every worktree left
//	good, err := ws.Resolve(ctx, "v1.0")
//	cs, err := ws.CheckOut(ctx, bench.Commit{Name: "good", SHA: good}, ...)
//	ws.Begin(ctx)                            // the GPU state before
//	f := cs[0].Prepare(ctx)                  // setup, once per Checkout
//	p := bench.NewPair(cs[0], cs[2])         // a protocol.Sampler
//	protocol.Decide(ctx, p, plan)            // a batch per step: see Pair
package bench

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/input"
)

// DefaultTemplate is sglang's generate command. --warmup is rewritten to
// --warmup-mode request for sglang versions that have that flag instead.
const DefaultTemplate = "sglang generate --model-path {model} --prompt {prompt} --warmup --perf-dump-path {dump} {args}"

// Placeholders that a template may use; each fills exactly one argument,
// except {args}, which expands to its own words.
var placeholders = map[string]bool{
	"model": true, "prompt": true, "args": true, "dump": true, "side": true, "run": true, "worktree": true,
}

// servePlaceholders are those of a serve command (mode serve): {port} is
// the port diffperf picked, {run} the launch; the prompt and the dump
// belong to each request, not to the server.
var servePlaceholders = map[string]bool{
	"model": true, "args": true, "side": true, "run": true, "worktree": true, "port": true,
}

// placeholderList names the placeholders of a set, for errors.
func placeholderList(set map[string]bool) string {
	var names []string
	for _, n := range []string{"model", "prompt", "args", "dump", "side", "run", "worktree", "port"} {
		if set[n] {
			names = append(names, "{"+n+"}")
		}
	}
	return strings.Join(names, " ")
}

var placeholderRE = regexp.MustCompile(`\{([a-z_]+)\}`)

// Template is a benchmark command split into words once.
type Template struct {
	words []string
}

// ParseTemplate splits a command template into words the way a POSIX shell
// would (quotes and backslashes), without expanding anything, and checks its
// placeholders.
func ParseTemplate(s string) (*Template, error) {
	return parseTemplate("command", s, placeholders)
}

// DefaultServeTemplate is sglang's server command, for mode serve.
const DefaultServeTemplate = "sglang serve --model-path {model} --port {port} {args}"

// ParseServeTemplate is ParseTemplate for the serve command of mode serve
// (input serve-command): its placeholders are {model} {args} {side} {run}
// (the launch) {worktree} and {port}, which it must have, since diffperf
// picks the port.
func ParseServeTemplate(s string) (*Template, error) {
	t, err := parseTemplate("serve-command", s, servePlaceholders)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(t.words, func(w string) bool { return strings.Contains(w, "{port}") }) {
		return nil, input.Errorf("serve-command", "no {port}: diffperf picks a free port for each launch and must pass it to the server")
	}
	return t, nil
}

func parseTemplate(name, s string, known map[string]bool) (*Template, error) {
	words, err := SplitWords(s)
	if err != nil {
		return nil, input.Wrap(name, err)
	}
	if len(words) == 0 {
		return nil, input.Errorf(name, "empty")
	}
	for _, w := range words {
		for _, m := range placeholderRE.FindAllStringSubmatch(w, -1) {
			switch {
			case !known[m[1]] && m[1] == "port":
				return nil, input.Errorf(name, "{port} in %q is only for serve-command (mode serve)", w)
			case !known[m[1]] && placeholders[m[1]]:
				return nil, input.Errorf(name, "%s in %q is not for a server: each request carries its prompt and dump (known: %s)", m[0], w, placeholderList(known))
			case !known[m[1]]:
				return nil, input.Errorf(name, "unknown placeholder %s in %q (known: %s)", m[0], w, placeholderList(known))
			case m[1] == "args" && w != "{args}":
				return nil, input.Errorf(name, "{args} must be a word of its own, not part of %q", w)
			}
		}
	}
	return &Template{words: words}, nil
}

// vars are the values of the placeholders for one run. Args is already
// split into words.
type vars struct {
	Model, Prompt, Dump, Side, Run, Worktree string
	// Port is the server's port, in mode serve.
	Port string
	Args []string
}

// Expand returns the argument vector for one run. Values are inserted as
// they are: a prompt with quotes, $(...) or ; stays one argument, and a
// value that itself contains "{dump}" is not expanded again.
func (t *Template) expand(v vars) []string {
	vals := map[string]string{"model": v.Model, "prompt": v.Prompt, "dump": v.Dump, "side": v.Side, "run": v.Run, "worktree": v.Worktree, "port": v.Port}
	var argv []string
	for _, w := range t.words {
		if w == "{args}" {
			argv = append(argv, v.Args...)
			continue
		}
		argv = append(argv, placeholderRE.ReplaceAllStringFunc(w, func(m string) string {
			return vals[m[1:len(m)-1]]
		}))
	}
	return argv
}

// Has reports whether word is one of the template's own words.
func (t *Template) has(word string) bool { return slices.Contains(t.words, word) }

// Replace returns a copy of t with each of its own words equal to old
// replaced by the words with. A placeholder's value is not a word of the
// template, so a prompt that reads "--warmup" is left alone.
func (t *Template) replace(old string, with ...string) *Template {
	words := make([]string, 0, len(t.words))
	for _, w := range t.words {
		if w == old {
			words = append(words, with...)
			continue
		}
		words = append(words, w)
	}
	return &Template{words: words}
}

// Words returns the template's words, unexpanded.
func (t *Template) Words() []string { return append([]string(nil), t.words...) }

// SplitWords splits s into words like a POSIX shell: blanks separate words,
// single quotes keep everything, double quotes keep everything but \" \\ \$
// \` escapes, and a backslash outside quotes escapes the next character.
// Nothing is expanded: $, `, ;, |, * are ordinary characters.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\"\\$`\n", rs[j+1]) {
					j++
				}
				cur.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			i = j
		case r == '\\':
			inWord = true
			if i+1 == len(rs) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			if rs[i] != '\n' {
				cur.WriteRune(rs[i])
			}
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// QuoteWords renders argv as one shell line that SplitWords (and a POSIX
// shell) reads back into the same words: for the report's "Command" and
// "Reproduce" lines.
func QuoteWords(argv []string) string {
	out := make([]string, len(argv))
	for i, w := range argv {
		out[i] = Quote(w)
	}
	return strings.Join(out, " ")
}

var (
	safeWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)
	// A placeholder such as {dump} needs no quotes: braces expand in bash
	// only around a comma or "..", which a placeholder never has.
	placeholderWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:./-]*\{[a-z_]+\}[A-Za-z0-9_@%+=:./-]*$`)
)

// Quote quotes one word for a POSIX shell (and bash).
func Quote(w string) string {
	if safeWord.MatchString(w) || placeholderWord.MatchString(w) {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

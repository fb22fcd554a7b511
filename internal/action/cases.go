package action

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/input"
)

// Case is one benchmark setup of input cases: each field left out takes
// the value of the matching input.
type Case struct {
	// Name tells the case apart in the merged report and names its folder
	// under the out folder: 1 to 64 letters, digits, - and _.
	Name       string
	ModelPath  string
	Prompt     string
	Args       []string
	Command    *bench.Template
	CommandRaw string
	// Mode is how the case is measured; only generate for now.
	Mode Mode
	// Request is the case's request object (a JSON object) for the
	// warm-server mode, carried as given; nil when not set.
	Request json.RawMessage
}

// caseFields are the keys a case may have, as the inputs spell them.
var caseFields = []string{"name", "model-path", "prompt", "args", "command", "mode", "request"}

var caseName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// CheckCaseName says why name cannot name a case (and its folder), or nil.
func CheckCaseName(name string) error {
	if !caseName.MatchString(name) {
		return fmt.Errorf("case %q: a name is 1 to 64 letters, digits, - and _, starting with a letter or digit (it names a folder)", name)
	}
	// The keys of diffperf's own comments: a case of either name would
	// overwrite the bot's reply to a /perf comment or the merged comment.
	for _, reserved := range []string{"reply-", "merged-"} {
		if strings.HasPrefix(strings.ToLower(name), reserved) {
			return fmt.Errorf("case %q: names starting with %s are diffperf's own comment keys", name, reserved)
		}
	}
	return nil
}

// casesOwnModel reports whether the model comes from elsewhere than input
// model-path: from each case, or not needed at all (mode merge).
func casesOwnModel(in func(string) string) bool {
	return in("mode") == string(ModeMerge) || strings.TrimSpace(in("cases")) != ""
}

// parseScale reads the inputs of docs/cases.md's: mode, cases,
// results and expect-cases.
func (c *Config) parseScale(in func(string) string) error {
	c.Results = strings.Fields(in("results"))
	names := strings.FieldsFunc(in("expect-cases"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
	for _, n := range names {
		if err := CheckCaseName(n); err != nil {
			return input.Wrap("expect-cases", err)
		}
		if slices.Contains(c.ExpectCases, n) {
			return input.Errorf("expect-cases", "case %q is named twice", n)
		}
		c.ExpectCases = append(c.ExpectCases, n)
	}
	casesText := strings.TrimSpace(in("cases"))
	switch {
	case c.Mode == ModeMerge && casesText != "":
		return input.Errorf("cases", "not used with mode merge, which measures nothing (give the cases to the jobs that measure)")
	case c.Mode == ModeMerge && len(c.Results) == 0:
		return input.Errorf("results", "required with mode merge: the result.json files, folders holding them, or globs")
	case c.Mode != ModeMerge && len(c.Results) > 0:
		return input.Errorf("results", "used only with mode merge")
	}
	if casesText == "" {
		return nil
	}
	mode := c.Mode
	if mode == ModeHistory {
		mode = ModeGenerate // mode history measures each case in its own mode
	}
	var err error
	c.Cases, err = ParseCases(casesText, Case{ModelPath: c.ModelPath, Prompt: c.Prompt, Args: c.Args, Command: c.Command,
		CommandRaw: c.CommandRaw, Mode: mode})
	return err
}

// ParseCases reads input cases: a YAML or JSON list of case objects
// (`[{"name": "flux", "model-path": "..."}]`, or a YAML block list). Each
// field left out takes the value in def, which holds the inputs. args is a
// string split like a shell would, or a list of words; request is an
// object. Errors are *input.Error named "cases" and name the case.
func ParseCases(text string, def Case) ([]Case, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, input.Errorf("cases", "not a YAML or JSON list: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil, input.Errorf("cases", "not a list of cases (write [{\"name\": \"flux\", \"model-path\": \"...\"}] or a YAML list)")
	}
	var out []Case
	for i, n := range doc.Content[0].Content {
		c, err := parseCase(n, def)
		if err != nil {
			return nil, input.Errorf("cases", "case %d: %w", i+1, err)
		}
		for _, prev := range out {
			if prev.Name == c.Name {
				return nil, input.Errorf("cases", "case %q is named twice: names tell the cases' folders and rows apart", c.Name)
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, input.Errorf("cases", "the list is empty")
	}
	return out, nil
}

func parseCase(n *yaml.Node, def Case) (Case, error) {
	if n.Kind != yaml.MappingNode {
		return Case{}, fmt.Errorf("not an object with name, model-path, prompt, args, command, mode, request")
	}
	fields := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !slices.Contains(caseFields, k) {
			return Case{}, fmt.Errorf("unknown field %q (known: %s)", k, strings.Join(caseFields, ", "))
		}
		if _, dup := fields[k]; dup {
			return Case{}, fmt.Errorf("field %q given twice", k)
		}
		fields[k] = n.Content[i+1]
	}
	c := def
	c.Request = nil
	name, err := scalar(fields, "name")
	if err != nil {
		return c, err
	}
	if name == nil {
		return c, fmt.Errorf("no name")
	}
	c.Name = *name
	if err := CheckCaseName(c.Name); err != nil {
		return c, err
	}
	// From here on, errors name the case.
	bad := func(format string, a ...any) error {
		return fmt.Errorf("case %q: %s", c.Name, fmt.Sprintf(format, a...))
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"model-path", &c.ModelPath}, {"prompt", &c.Prompt}} {
		v, err := scalar(fields, f.key)
		if err != nil {
			return c, bad("%v", err)
		}
		if v != nil {
			*f.dst = *v
		}
	}
	if v, err := scalar(fields, "mode"); err != nil {
		return c, bad("%v", err)
	} else if v != nil {
		c.Mode = Mode(*v)
	}
	if v, err := scalar(fields, "command"); err != nil {
		return c, bad("%v", err)
	} else if v != nil {
		if c.Command, err = bench.ParseTemplate(*v); err != nil {
			return c, bad("%v", err)
		}
		c.CommandRaw = *v
	}
	if a := fields["args"]; a != nil {
		if c.Args, err = caseArgs(a); err != nil {
			return c, bad("args: %v", err)
		}
	}
	if r := fields["request"]; r != nil {
		if c.Request, err = requestJSON(r); err != nil {
			return c, bad("request: %v", err)
		}
	}
	switch c.Mode {
	case ModeGenerate:
		if c.Request != nil {
			return c, bad("request: only for mode serve, which cases do not support yet; a generate case takes args")
		}
	case ModeServe:
		return c, bad("mode serve is not available for cases yet: give each serve case a job of its own (a matrix), or use generate")
	default:
		return c, bad("mode %q is not generate", c.Mode)
	}
	if strings.Contains(c.CommandRaw, "{model}") && c.ModelPath == "" {
		return c, bad("model-path is required, since the command uses {model} (set it in the case or as the input)")
	}
	return c, nil
}

// scalar is the string value of key, nil when the key is absent.
func scalar(fields map[string]*yaml.Node, key string) (*string, error) {
	n := fields[key]
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return nil, fmt.Errorf("%s: not a string", key)
	}
	return &n.Value, nil
}

// caseArgs reads args: a string split like a shell would, or a list of
// words taken as they are.
func caseArgs(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return bench.SplitWords(n.Value)
	case yaml.SequenceNode:
		words := []string{}
		for _, w := range n.Content {
			if w.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("a list of words must hold strings")
			}
			words = append(words, w.Value)
		}
		return words, nil
	}
	return nil, fmt.Errorf("a string or a list of words")
}

// requestJSON turns request (a YAML or JSON object, or a string holding a
// JSON object) into compact JSON.
func requestJSON(n *yaml.Node) (json.RawMessage, error) {
	var raw []byte
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		raw = []byte(n.Value)
	} else {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("not an object")
		}
		var v map[string]any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("not representable as JSON: %w", err)
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// MergedKey is the comment key of a merged report (input cases, or mode
// merge) when comment-key is not set. It names the workflow and job that
// write the comment, not the cases, so that adding a case to the list
// edits the same comment. It cannot equal a single case's key as CaseKey
// makes them (a name, "-", then 8 hex digits): it is "merged-" and 16 hex
// digits.
func MergedKey(workflow, job string) string {
	h := sha256.Sum256([]byte("diffperf merged\x00" + workflow + "\x00" + job))
	return "merged-" + hex.EncodeToString(h[:8])
}

package action

import (
	"strings"
	"testing"
)

// TestParseBisectInputs: mode bisect needs good and bad, takes
// issue-number or pr-number but not both, and its errors name the input.
func TestParseBisectInputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		inputs  map[string]string
		wantErr string
		check   func(*Config) bool
	}{
		{"an issue", map[string]string{"good": "v1.0", "bad": "main", "issue-number": "12"}, "", func(c *Config) bool {
			return c.Good == "v1.0" && c.Bad == "main" && c.IssueNumber == 12
		}},
		{"a pull request", map[string]string{"good": "a", "bad": "b", "pr-number": "3"}, "", func(c *Config) bool { return c.PRNumber == 3 && c.IssueNumber == 0 }},
		{"no good", map[string]string{"bad": "main"}, "good: required in mode bisect", nil},
		{"no bad", map[string]string{"good": "main"}, "bad: required in mode bisect", nil},
		{"a bad ref", map[string]string{"good": "-x", "bad": "main"}, "good: ", nil},
		{"both targets", map[string]string{"good": "a", "bad": "b", "issue-number": "1", "pr-number": "2"}, "issue-number: give issue-number", nil},
		{"issue-number not a number", map[string]string{"good": "a", "bad": "b", "issue-number": "x"}, `issue-number: "x" is not a positive whole number`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := map[string]string{"mode": "bisect", "model-path": "m"}
			for k, v := range tt.inputs {
				in[k] = v
			}
			c, err := ParseInputs(func(k string) (string, bool) { v, ok := in[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("config %+v, error %v", c, err)
			}
			tgt, err := ParseBisectEvent("workflow_dispatch", "o/r", []byte(`{}`), c)
			if err != nil || tgt.Base != c.Good || tgt.Head != c.Bad || tgt.PR != c.IssueNumber+c.PRNumber {
				t.Errorf("target %+v, error %v", tgt, err)
			}
		})
	}
	if _, err := ParseBisectEvent("push", "o/r", nil, &Config{}); err == nil || !strings.Contains(err.Error(), "event: mode bisect runs on workflow_dispatch") {
		t.Errorf("push: error %v, want one naming the event", err)
	}
}

package action

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/input"
)

// Modes are the values of input mode, each with what it means.
var Modes = map[string]string{
	"generate": "a fresh `sglang generate` process for every run",
	"serve":    "warm servers: a `sglang serve` per side and launch, timed requests over HTTP",
}

// serveDefaults are the defaults of the inputs of mode serve, as
// action.yml declares them.
var serveDefaults = map[string]string{
	"mode": "generate", "serve-command": bench.DefaultServeTemplate, "launches": "2", "max-launches": "",
	"requests": "5", "warmup-requests": "1", "endpoint": bench.EndpointImages, "request": "",
}

func init() {
	for k, v := range serveDefaults {
		Defaults[k] = v
	}
}

// parseMode reads input mode and, for mode serve, its inputs (see
// serveDefaults) into c.Serve; in another mode they are ignored.
func parseMode(in func(string) string, c *Config) error {
	c.Mode = in("mode")
	if _, ok := Modes[c.Mode]; !ok {
		return input.Errorf("mode", "%q is not one of %s", c.Mode, modeList())
	}
	if c.Mode != "serve" {
		return nil
	}
	tmpl, err := bench.ParseServeTemplate(in("serve-command"))
	if err != nil {
		return err // an *input.Error named "serve-command"
	}
	s := &bench.Serve{Template: tmpl, Endpoint: in("endpoint")}
	if s.Endpoint != bench.EndpointImages && s.Endpoint != bench.EndpointVideos {
		return input.Errorf("endpoint", "%q is neither images nor videos", s.Endpoint)
	}
	if s.Request, err = bench.ParseRequestFields(in("request")); err != nil {
		return err // named "request"
	}
	if c.Launches, err = count(in("launches")); err != nil {
		return input.Wrap("launches", err)
	}
	if v := in("max-launches"); v != "" {
		if c.MaxLaunches, err = count(v); err != nil {
			return input.Wrap("max-launches", err)
		}
		if c.MaxLaunches < c.Launches {
			return input.Errorf("max-launches", "%d is less than launches (%d)", c.MaxLaunches, c.Launches)
		}
	}
	if s.Requests, err = count(in("requests")); err != nil {
		return input.Wrap("requests", err)
	}
	if s.Warmup, err = strconv.Atoi(in("warmup-requests")); err != nil || s.Warmup < 0 {
		return input.Errorf("warmup-requests", "%q is not a whole number >= 0", in("warmup-requests"))
	}
	c.ServeCommandRaw, c.RequestRaw, c.Serve = in("serve-command"), in("request"), s
	return nil
}

// modeList names the modes for errors, in order.
func modeList() string {
	names := make([]string, 0, len(Modes))
	for m := range Modes {
		names = append(names, m)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// modelCommand is the command whose {model} makes model-path required.
func (c *Config) modelCommand() string {
	if c.Mode == "serve" {
		return c.ServeCommandRaw
	}
	return c.CommandRaw
}

// serveKey is what mode serve adds to a case's key: "" otherwise, so the
// keys of generate cases do not change.
func (c *Config) serveKey() string {
	if c.Serve == nil {
		return ""
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("serve\x00%s\x00%s\x00%s\x00%d\x00%d", c.ServeCommandRaw, c.Serve.Endpoint, c.RequestRaw, c.Serve.Requests, c.Serve.Warmup)))
	return "-serve-" + hex.EncodeToString(h[:3])
}

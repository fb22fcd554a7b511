package action

import (
	"strconv"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/input"
)

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

// parseServe reads, for mode serve, its inputs (see serveDefaults) into
// c.Serve; in another mode they are ignored.
func parseServe(in func(string) string, c *Config) error {
	if c.Mode != ModeServe {
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

// modelCommand is the command whose {model} makes model-path required.
func (c *Config) modelCommand() string {
	if c.Mode == ModeServe {
		return c.ServeCommandRaw
	}
	return c.CommandRaw
}

// serveFields are what mode serve adds to a case's key: nothing
// otherwise, so the keys of generate cases do not change.
func (c *Config) serveFields() []string {
	if c.Serve == nil {
		return nil
	}
	return []string{"serve", c.ServeCommandRaw, c.Serve.Endpoint, c.RequestRaw, strconv.Itoa(c.Serve.Requests), strconv.Itoa(c.Serve.Warmup)}
}

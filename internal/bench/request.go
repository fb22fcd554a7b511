package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/proc"
)

// Bounds on what a server's answers may cost diffperf.
const (
	// maxAnswerBytes bounds one answer: an image as base64 JSON is a few
	// MiB; what is past the first KiB is read and thrown away.
	maxAnswerBytes = 1 << 30
	// maxJobBytes bounds a video job's JSON, which diffperf parses.
	maxJobBytes = 1 << 20
)

// localClient is the HTTP client of mode serve: 127.0.0.1 only, so no
// proxy, and no redirects (a server's Location could point anywhere).
func localClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// endpointPath is the request line of the endpoint.
func (m *runner) endpointPath() string {
	if m.serve.Endpoint == EndpointVideos {
		return "POST /v1/videos"
	}
	return "POST /v1/images/generations"
}

// requestBody is one request's JSON: the request input's fields, then
// prompt, model, perf_dump_path and (images) response_format b64_json.
// Keys are sorted, so both sides send the same bytes but for the dump.
func (m *runner) requestBody(dumpPath string) ([]byte, error) {
	body := map[string]any{}
	for k, v := range m.serve.Request {
		body[k] = v
	}
	body["prompt"] = m.prompt
	if m.model != "" {
		body["model"] = m.model
	}
	body["perf_dump_path"] = dumpPath
	if _, ok := body["response_format"]; !ok && m.serve.Endpoint == EndpointImages {
		body["response_format"] = "b64_json"
	}
	return json.Marshal(body)
}

// request sends srv its next request and, for a measured one, reads the
// dump the server wrote and records it as a sample of the launch. Each
// request gets the timeout; a request that fails (no answer, HTTP status
// other than 200, a failed video job, no usable dump, the server gone)
// is a Failure naming side, launch and request.
func (m *runner) request(ctx context.Context, srv *server, measured bool) (*dump.Dump, *dump.Failure) {
	srv.sent++
	n, sd := srv.sent, srv.sd
	what := fmt.Sprintf("request %d of launch %d of %s", n, srv.launch, sd.name)
	idx := len(sd.runs[srv.batch]) + 1
	name := dump.RunName(srv.batch, sd.name, idx)
	if !measured {
		what += " (warm-up)"
		name = dump.WarmupName(srv.batch, sd.name, srv.launch, n)
	}
	dumpPath := filepath.Join(m.sideDir(sd), name+".json")
	_ = os.Remove(dumpPath)
	started := time.Now()
	if measured {
		m.order++
		m.progress.RunStart(m.order, m.total, sd.name, idx)
	}
	fail := func(format string, a ...any) *dump.Failure {
		reason := what + ": " + fmt.Sprintf(format, a...) + " (server log: " + filepath.Base(srv.log) + ")"
		// The measurement ends here: stop the server first, so that the
		// tail holds all it printed about the request, not only what its
		// output pipe had passed on so far.
		_ = m.stop(srv)
		tail := srv.ended.Tail
		if measured {
			m.progress.RunEnd(m.order, m.total, sd.name, idx, 0, proc.Result{Tail: tail}, srv.log, reason)
		}
		return &dump.Failure{Side: sd.name, Launch: srv.launch, Request: n, Reason: reason, LogTail: tail}
	}
	body, err := m.requestBody(dumpPath)
	if err != nil {
		return nil, fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := m.send(ctx, srv, body); err != nil {
		var answered *answerError
		if errors.As(err, &answered) {
			return nil, fail("%v", err)
		}
		if gone := srv.exited(); gone != "" {
			return nil, fail("the server %s (the request: %v)", gone, err)
		}
		return nil, fail("%v", err)
	}
	if !measured {
		return nil, nil // its dump, if any, is not read
	}
	d, err := m.waitDump(ctx, srv, dumpPath)
	if err != nil {
		if gone := srv.exited(); gone != "" {
			return nil, fail("answered, then the server %s before its dump was usable: %v", gone, err)
		}
		return nil, fail("answered, but %v", err)
	}
	m.keep(dumpPath)
	sd.runs[srv.batch] = append(sd.runs[srv.batch], dump.Run{Index: idx, Order: m.order, Dump: d, Launch: srv.launch, Request: n, LoadMs: srv.loadMs})
	m.progress.RunEnd(m.order, m.total, sd.name, idx, d.TotalMs, proc.Result{Elapsed: time.Since(started)}, srv.log, "")
	return d, nil
}

// exited describes how the server ended when it is gone, after giving a
// dying server a moment to be reaped; "" while it runs.
func (s *server) exited() string {
	select {
	case <-s.proc.Done():
	case <-time.After(time.Second):
		return ""
	}
	return "exited: " + s.proc.Wait().Describe(0)
}

// send posts the request and, for videos, polls the job until it is
// completed; an error says what went wrong in words.
func (m *runner) send(ctx context.Context, srv *server, body []byte) error {
	path := "/v1/images/generations"
	if m.serve.Endpoint == EndpointVideos {
		path = "/v1/videos"
	}
	keep := int64(0) // an image's base64 is not needed
	if m.serve.Endpoint == EndpointVideos {
		keep = maxJobBytes
	}
	status, answer, err := m.do(ctx, http.MethodPost, srv.url+path, body, keep)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &answerError{fmt.Sprintf("POST %s answered HTTP %d: %s", path, status, snippet(answer))}
	}
	if m.serve.Endpoint != EndpointVideos {
		return nil
	}
	var job struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(answer, &job); err != nil || job.ID == "" || len(job.ID) > 512 {
		return &answerError{fmt.Sprintf("POST /v1/videos answered no job id: %s", snippet(answer))}
	}
	jobURL := srv.url + "/v1/videos/" + url.PathEscape(job.ID)
	wait := 100 * time.Millisecond
	for {
		status, answer, err := m.do(ctx, http.MethodGet, jobURL, nil, maxJobBytes)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return &answerError{fmt.Sprintf("GET /v1/videos/{id} answered HTTP %d: %s", status, snippet(answer))}
		}
		var st struct {
			Status string          `json:"status"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(answer, &st); err != nil {
			return &answerError{fmt.Sprintf("GET /v1/videos/{id} answered no JSON: %s", snippet(answer))}
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed":
			return &answerError{fmt.Sprintf("the video job failed: %s", snippet(st.Error))}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the video job was still %q after %s (the timeout)", st.Status, m.timeout)
		case <-srv.proc.Done():
			return errors.New("the server exited while the video job ran")
		case <-time.After(wait):
		}
		wait = min(wait*3/2, time.Second)
	}
}

// answerError is a server's answer that fails a request: a status other
// than 200, a failed job. The server is still up.
type answerError struct{ msg string }

func (e *answerError) Error() string { return e.msg }

// do makes one request and returns its status and the first KiB of its
// answer (all of it up to keep bytes, when keep is larger); the rest is
// read, up to maxAnswerBytes, and dropped.
func (m *runner) do(ctx context.Context, method, u string, body []byte, keep int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.serve.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return 0, nil, fmt.Errorf("no answer within %s (the timeout)", m.timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("%s %s: %v", method, strings.TrimPrefix(u, "http://"), err)
	}
	defer resp.Body.Close()
	head, err := drain(resp.Body, keep, maxAnswerBytes)
	if err != nil {
		return resp.StatusCode, head, fmt.Errorf("%s %s: reading the answer: %v", method, strings.TrimPrefix(u, "http://"), err)
	}
	return resp.StatusCode, head, nil
}

// drain reads r to its end, keeping the first keep bytes (at least 1 KiB,
// for messages), and fails past limit bytes.
func drain(r io.Reader, keep, limit int64) ([]byte, error) {
	keep = max(keep, 1<<10)
	var head bytes.Buffer
	n, err := io.Copy(&head, io.LimitReader(r, keep))
	if err != nil {
		return head.Bytes(), err
	}
	rest, err := io.Copy(io.Discard, io.LimitReader(r, limit-n+1))
	if err != nil {
		return head.Bytes(), err
	}
	if n+rest > limit {
		return head.Bytes(), fmt.Errorf("the answer is larger than %d MiB", limit>>20)
	}
	return head.Bytes(), nil
}

// snippet is the start of an answer, on one line, for messages.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return "(empty)"
	}
	if len(s) > 300 {
		s = truncate(s, 300) + " …"
	}
	return fmt.Sprintf("%q", s)
}

// waitDump waits for the dump the server writes at path, which may come
// just after its answer (or be half written): until it parses, the
// server's DumpWait passes, or ctx ends.
func (m *runner) waitDump(ctx context.Context, srv *server, path string) (*dump.Dump, error) {
	deadline := time.NewTimer(m.serve.DumpWait)
	defer deadline.Stop()
	wait := 10 * time.Millisecond
	for {
		d, err := readRunDump(path)
		if err == nil {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-deadline.C:
			return nil, err
		case <-time.After(wait):
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
}

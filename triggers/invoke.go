package triggers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// Invoker invokes a function with an event and returns its answer. An
// error is a failed invocation (retried); a *ThrottledError is a throttled
// one (retried without counting as an attempt).
type Invoker interface {
	Invoke(ctx context.Context, event []byte) (answer []byte, err error)
}

// ThrottledError is an invocation the function refused for now (HTTP 429).
type ThrottledError struct{ Msg string }

func (e *ThrottledError) Error() string { return e.Msg }

// FunctionError is an invocation that reached the function and failed.
type FunctionError struct {
	StatusCode int // the HTTP status, or 0
	Msg        string
}

func (e *FunctionError) Error() string { return e.Msg }

func errorf(format string, args ...any) error {
	return &FunctionError{Msg: fmt.Sprintf(format, args...)}
}

// maxAnswer bounds a function's answer read into memory.
const maxAnswer = 6 << 20

// HTTPInvoker POSTs the event to URL as application/json: a 2xx answer is
// success, its body the function's answer; 429 is a throttle; anything else
// (and a failed request) an error.
type HTTPInvoker struct {
	URL    string
	Client *http.Client // nil: http.DefaultClient
}

// Invoke implements Invoker.
func (h *HTTPInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := h.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &FunctionError{Msg: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, &FunctionError{StatusCode: resp.StatusCode, Msg: fmt.Sprintf("POST %s: reading the answer: %v", h.URL, err)}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, &ThrottledError{Msg: fmt.Sprintf("POST %s: %s", h.URL, resp.Status)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &FunctionError{StatusCode: resp.StatusCode, Msg: fmt.Sprintf("POST %s: %s%s", h.URL, resp.Status, excerpt(body))}
	}
	return body, nil
}

// CommandInvoker runs Command with sh -c for each invocation, the event on
// its standard input: its standard output is the answer; an exit status
// other than 0 is an error (naming the end of its standard error).
type CommandInvoker struct {
	Command string
	Dir     string // its working folder ("": the process's)
}

// Invoke implements Invoker.
func (c *CommandInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", c.Command)
	cmd.Dir = c.Dir
	cmd.Stdin = bytes.NewReader(event)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &tail{b: &errb}
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return nil, &FunctionError{Msg: fmt.Sprintf("command %q: %v%s", c.Command, err, excerpt(errb.Bytes()))}
	}
	return out.Bytes(), nil
}

// tail keeps the last 4 KiB written to it.
type tail struct{ b *bytes.Buffer }

func (t *tail) Write(p []byte) (int, error) {
	t.b.Write(p)
	if t.b.Len() > 4096 {
		rest := t.b.Bytes()[t.b.Len()-4096:]
		t.b.Reset()
		t.b.Write(rest)
	}
	return len(p), nil
}

// excerpt is ": " and the first line (at most 200 bytes) of b, or "".
func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

// isThrottle reports whether err is a throttle.
func isThrottle(err error) bool {
	var te *ThrottledError
	return errors.As(err, &te)
}

// Package browsertest drives Debian's chromium in headless mode (through
// chromedp) for the console's browser tests: it opens pages, records every
// JavaScript error, console error, Content-Security-Policy violation and
// failed request the page makes, and saves screenshots where a test can
// find them.
//
// A test that needs the browser skips, loudly, when chromium is not
// installed — and fails instead when SLUICE_REQUIRE_TOOLS=1 (as in CI).
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser is one headless chromium with one tab.
type Browser struct {
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc
	shots  string // folder of the screenshots

	mu       sync.Mutex
	problems []string
	reqURL   map[network.RequestID]string
}

// chromium finds the browser's executable.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless chromium for t, at width×height pixels. It is
// stopped at the end of the test.
func New(t testing.TB, width, height int) *Browser {
	t.Helper()
	exe := chromium()
	if exe == "" {
		msg := "SKIPPING BROWSER TEST: chromium is not installed (apt-get install chromium)"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s; SLUICE_REQUIRE_TOOLS=1 requires it", msg)
		}
		fmt.Fprintln(os.Stderr, msg)
		t.Skip(msg)
	}
	bctx, err := sharedBrowser(exe)
	if err != nil {
		t.Fatalf("starting chromium (%s): %v", exe, err)
	}
	b := &Browser{t: t, reqURL: map[network.RequestID]string{}}
	// A tab of its own, in the browser the package's tests share.
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	b.cancel = cancel
	err = chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height)))
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, log.Enable, cdp.Empty{})
	}
	if err != nil {
		b.cancel()
		t.Fatalf("opening a tab in chromium (%s): %v", exe, err)
	}
	dir, err := os.MkdirTemp("", "sluice-browser-"+sanitize(t.Name())+"-")
	if err != nil {
		t.Fatal(err)
	}
	b.shots = dir
	t.Cleanup(func() {
		b.cancel()
		if !t.Failed() {
			// Kept when the test fails, for a look at what the page showed.
			os.RemoveAll(dir)
		}
	})
	return b
}

// The browser the tests of one test binary share: starting chromium takes
// seconds, a tab a few milliseconds. It ends with the test binary.
var shared struct {
	once   sync.Once
	ctx    context.Context
	err    error
	cancel func()
}

// Close stops the shared browser, if one started, and waits for it to
// exit: for a TestMain that checks that nothing is left running.
func Close() {
	if shared.cancel != nil {
		shared.cancel()
	}
}

// sharedBrowser starts the shared browser, once.
func sharedBrowser(exe string) (context.Context, error) {
	shared.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe),
			chromedp.Flag("headless", true),
			chromedp.Flag("no-sandbox", os.Geteuid() == 0), // chromium refuses to run as root with its sandbox
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-dev-shm-usage", true),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		shared.cancel = func() { cancel(); acancel() }
		shared.ctx, shared.err = ctx, chromedp.Do(ctx) // starts the browser
	})
	return shared.ctx, shared.err
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, s)
}

// listen records the page's problems.
func (b *Browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *cdpruntime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		b.problems = append(b.problems, "javascript exception: "+msg)
	case *cdpruntime.EventConsoleAPICalled:
		if e.Type == cdpruntime.ConsoleAPICalledTypeError || e.Type == cdpruntime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			b.problems = append(b.problems, "console error: "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			b.problems = append(b.problems, fmt.Sprintf("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		b.reqURL[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 {
			b.problems = append(b.problems, fmt.Sprintf("request failed: %s: HTTP %d", e.Response.URL, int(e.Response.Status)))
		}
	case *network.EventLoadingFailed:
		// A stream the page closes itself (leaving, or replacing it) is
		// not a failure.
		if !e.Canceled {
			b.problems = append(b.problems, fmt.Sprintf("request failed: %s: %s", b.reqURL[e.RequestID], e.ErrorText))
		}
	}
}

// Problems returns what went wrong in the page so far: JavaScript
// exceptions, console errors, CSP violations, failed requests.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// NoProblems fails the test when the page had any problem.
func (b *Browser) NoProblems() {
	b.t.Helper()
	if p := b.Problems(); len(p) > 0 {
		b.Screenshot("problems")
		b.t.Errorf("the page had %d problem(s):\n  %s", len(p), strings.Join(p, "\n  "))
	}
}

// Do runs chromedp actions in the tab, for at most timeout.
func (b *Browser) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Run runs one chromedp action in the tab, for at most timeout, and
// returns its value.
func Run[T any](b *Browser, timeout time.Duration, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// Navigate opens url and waits for its load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	if err := b.Do(30*time.Second, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("opening %s: %v", url, err)
	}
}

// Eval evaluates a JavaScript expression and returns its value as T.
func Eval[T any](b *Browser, expr string) (T, error) {
	return Run(b, 10*time.Second, chromedp.Evaluate[T](expr))
}

// WaitFor polls the JavaScript expression cond (a boolean) until it is
// true, for at most timeout; the test fails with what, a screenshot and
// the page's problems otherwise.
func (b *Browser) WaitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		var ok bool
		if ok, lastErr = Eval[bool](b, "Boolean("+cond+")"); lastErr == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	path := b.Screenshot("timeout")
	b.t.Fatalf("waited %v for %s (%s); last error: %v; screenshot %s; page problems: %v", timeout, what, cond, lastErr, path, b.Problems())
}

// Screenshot saves a PNG of the whole page as name.png in the test's
// screenshot folder (kept when the test fails), prints its path and
// returns it. With SLUICE_SCREENSHOT_DIR set, a copy goes there too (how
// the README's pictures are made).
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png, err := Run(b, 20*time.Second, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	return b.save(name, png)
}

// save writes a screenshot; see Screenshot.
func (b *Browser) save(name string, png []byte) string {
	path := filepath.Join(b.shots, sanitize(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	b.t.Logf("screenshot: %s", path)
	if dir := os.Getenv("SLUICE_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, sanitize(name)+".png"), png, 0o644); err != nil {
			b.t.Errorf("SLUICE_SCREENSHOT_DIR: %v", err)
		}
	}
	return path
}

// ScreenshotNode saves a PNG of the first element matching the CSS
// selector sel, as Screenshot does.
func (b *Browser) ScreenshotNode(name, sel string) string {
	b.t.Helper()
	png, err := Run(b, 20*time.Second, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	return b.save(name, png)
}

// Context is the tab's context, for chromedp actions the helpers above do
// not cover.
func (b *Browser) Context() context.Context { return b.ctx }

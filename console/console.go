// Package console is Sluice's web console: one HTTP server per process that
// shows the jobs it runs — the job page (the plan as a graph with live rates,
// busy/backpressured/idle time, watermarks, state, checkpoints, restarts and
// errors), the live dashboards of the job's `dashboard` sinks, the
// triggers page (each function trigger's invocations, errors, throttles,
// iterator age and, for a queue, its messages waiting and in flight), the
// JSON API the pages read, and /metrics.
//
// The pages are static files embedded in the binary (web/), with the
// vendored browser libraries of console/assets; nothing loads from another
// origin and no script is inline, so the Content-Security-Policy allows
// only this origin.
//
// By default the console binds 127.0.0.1:8081, or the next free port when
// that one is taken. An address that is not loopback needs a token: every
// request then carries it as "Authorization: Bearer TOKEN" or in the
// cookie /login?token=TOKEN sets.
package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/dashboard"
	"github.com/sluicehq/sluice/console/assets"
	"github.com/sluicehq/sluice/internal/promtext"
)

// DefaultAddr is where the console listens when no address is given; when
// its port is taken, the next free one of the following DefaultPorts is
// used instead. A variable for tests.
var DefaultAddr = "127.0.0.1:8081"

// DefaultPorts is how many ports from DefaultAddr's are tried.
const DefaultPorts = 20

// Options configure a console.
type Options struct {
	// Addr is the address to listen on, HOST:PORT. Empty: DefaultAddr or
	// the next free port after it. A given address that cannot be bound is
	// an error.
	Addr string
	// AddrName is what errors call Addr (default "--ui"), e.g. the
	// environment variable it came from.
	AddrName string
	// Token, when set, must come with every request (a bearer token, or
	// the cookie /login?token= sets). Required when Addr is not loopback.
	Token string
	// Hub holds the dashboards shown (default dashboard.Default).
	Hub *dashboard.Hub
	// Metrics writes the process's metrics in Prometheus text format for
	// /metrics (e.g. promtext.Write); nil: no /metrics.
	Metrics func(w io.Writer)
}

// Server is a running console.
type Server struct {
	opt  Options
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	url  string
	// cancel ends the requests being served (their context).
	cancel context.CancelFunc

	mu       sync.Mutex
	jobs     []*Job
	triggers []func() []TriggerStatus
}

// ErrTokenRequired is the error of a console on an address that is not
// loopback without a token.
var ErrTokenRequired = errors.New("a console on an address other than loopback needs a token (--ui-token)")

// Start listens and serves the console until Close.
func Start(opt Options) (*Server, error) {
	if opt.Hub == nil {
		opt.Hub = dashboard.Default
	}
	if opt.AddrName == "" {
		opt.AddrName = "--ui"
	}
	ln, err := listen(opt.AddrName, opt.Addr)
	if err != nil {
		return nil, err
	}
	if opt.Token == "" && !isLoopback(ln.Addr()) {
		ln.Close()
		return nil, fmt.Errorf("%s %s: %w", opt.AddrName, opt.Addr, ErrTokenRequired)
	}
	s := &Server{opt: opt, ln: ln, done: make(chan struct{})}
	// Requests run under a context Close cancels, so that the pages'
	// event streams end at once rather than hold Close up.
	base, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.url = "http://" + ln.Addr().String() + "/"
	if host, port, err := net.SplitHostPort(ln.Addr().String()); err == nil && (host == "::" || host == "0.0.0.0") {
		s.url = "http://" + net.JoinHostPort(hostname(), port) + "/"
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// listen binds addr (called name in errors), or DefaultAddr and the ports
// after it when addr is empty.
func listen(name, addr string) (net.Listener, error) {
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, addr, err)
		}
		return ln, nil
	}
	host, p, _ := net.SplitHostPort(DefaultAddr)
	port, _ := strconv.Atoi(p)
	var first error
	for i := range DefaultPorts {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port+i)))
		if err == nil {
			return ln, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("console: no free port from %s to %d (%v); give one with --ui ADDR, or --ui off", DefaultAddr, port+DefaultPorts-1, first)
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

func hostname() string {
	if h, err := osHostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// URL is the console's address, e.g. http://127.0.0.1:8081/.
func (s *Server) URL() string { return s.url }

// Addr is the address the console listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, ending the pages' event streams.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// Handler is the console's routes, for Start and for tests.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(assets.Prefix, assets.Handler())
	mux.Handle("GET /ui/", http.StripPrefix("/ui/", webHandler()))
	mux.HandleFunc("GET /{$}", s.page("index.html"))
	mux.HandleFunc("GET /job", s.page("job.html"))
	mux.HandleFunc("GET /triggers", s.page("triggers.html"))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.Handle("/api/v1/dashboards", s.opt.Hub)
	mux.Handle("/api/v1/dashboards/", s.opt.Hub)
	mux.Handle("GET /api/v1/events", s.opt.Hub)
	mux.HandleFunc("GET /api/v1/jobs", s.serveJobs)
	mux.HandleFunc("GET /api/v1/job", s.serveJob)
	mux.HandleFunc("GET /api/v1/triggers", s.serveTriggers)
	if s.opt.Metrics != nil {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", promtext.ContentType)
			w.Header().Set("Cache-Control", "no-store")
			s.opt.Metrics(w)
		})
	}
	mux.HandleFunc("GET /login", s.login)
	return secure(s.opt.Token, mux)
}

// tokenCookie is the cookie /login sets.
const tokenCookie = "sluice_console"

// csp allows this origin only: no inline script or style element, no
// framing, no plugins. Styles set from script (element.style), as the
// chart libraries do, are not style elements and stay allowed.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secure adds the security headers to every response and, with a token,
// refuses requests without it (except /login, which sets it).
func secure(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if token != "" && r.URL.Path != "/login" && !authorized(token, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			http.Error(w, "unauthorized: this console needs its token (open /login?token=TOKEN, or send Authorization: Bearer TOKEN)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func authorized(token string, r *http.Request) bool {
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(auth, token) {
		return true
	}
	c, err := r.Cookie(tokenCookie)
	return err == nil && equal(c.Value, token)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// login sets the token cookie from ?token= and sends the browser to the
// console; a wrong token is refused.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if s.opt.Token == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !equal(tok, s.opt.Token) {
		http.Error(w, "unauthorized: wrong token", http.StatusUnauthorized)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

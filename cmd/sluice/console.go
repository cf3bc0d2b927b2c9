package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/console"
	"github.com/sluicehq/sluice/internal/promtext"
	"github.com/sluicehq/sluice/runtime"
)

// The environment variables that stand for --ui and --ui-token when they
// are not given.
const (
	envUI      = "SLUICE_UI"
	envUIToken = "SLUICE_UI_TOKEN"
)

// uiFlags are the web console's flags, on every command that runs a job.
type uiFlags struct {
	addr  *string
	token *string
}

func addUIFlags(fs *flag.FlagSet) uiFlags {
	return uiFlags{
		addr: fs.String("ui", "", "serve the web console at `ADDR` (HOST:PORT), or off; default: "+console.DefaultAddr+
			", or the next free port when it is taken ($"+envUI+" when set)"),
		token: fs.String("ui-token", "", "every request to the console must carry `TOKEN` (Authorization: Bearer, or the cookie "+
			"/login?token=TOKEN sets); needed when --ui is not loopback ($"+envUIToken+" when set)"),
	}
}

// uiSettings are what the flags and the environment ask of the console.
type uiSettings struct {
	off      bool
	addr     string // "": the default address or the next free port
	addrName string // --ui, or $SLUICE_UI when addr came from there
	token    string
}

// settings reads the console's flags, or the environment in their stead,
// and checks them.
func (u uiFlags) settings(fs *flag.FlagSet) (uiSettings, error) {
	addr, addrName := *u.addr, "--ui"
	if !given(fs, "ui") {
		addr, addrName = os.Getenv(envUI), envUI
	}
	token, tokenName := *u.token, "--ui-token"
	if !given(fs, "ui-token") {
		token, tokenName = os.Getenv(envUIToken), envUIToken
	}
	var s uiSettings
	switch strings.ToLower(addr) {
	case "off":
		if given(fs, "ui-token") {
			return s, usagef("--ui-token: the console is off (%s off)", addrName)
		}
		return uiSettings{off: true}, nil
	case "", "on":
	default:
		if err := checkAddr("ui", addr); err != nil {
			if addrName == envUI {
				return s, usagef("$%s %q: want HOST:PORT (e.g. 127.0.0.1:8081) or off", envUI, addr)
			}
			return s, err
		}
		s.addr, s.addrName = addr, addrName
		if addrName == envUI {
			s.addrName = "$" + envUI
		}
	}
	for _, c := range token {
		if c <= ' ' || c > '~' || strings.ContainsRune(`"',;\`, c) {
			return s, usagef("%s: the token is letters, digits and punctuation, without spaces, quotes, ',', ';' or '\\'", tokenName)
		}
	}
	s.token = token
	if s.addr != "" && s.token == "" && !loopbackHost(s.addr) {
		return s, usagef("%s %s is not a loopback address: give --ui-token TOKEN too (or $%s), so that only those with the token see the console",
			s.addrName, s.addr, envUIToken)
	}
	return s, nil
}

// loopbackHost tells whether the host of addr is a loopback address or
// localhost; an empty host (every interface) or a name is not.
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// uiConsole is a command's web console; nil when it is off.
type uiConsole struct {
	srv *console.Server
}

// startUI starts the console the flags ask for, serving the dashboards,
// the jobs added to it and /metrics, and prints its address as the
// command's first line of output. It returns nil when the console is off.
// A console that cannot listen is an error naming --ui and the address.
func (u uiFlags) start(fs *flag.FlagSet) (*uiConsole, error) {
	s, err := u.settings(fs)
	if err != nil || s.off {
		return nil, err
	}
	srv, err := console.Start(console.Options{Addr: s.addr, AddrName: s.addrName, Token: s.token, Metrics: promtext.Write})
	if err != nil {
		return nil, err
	}
	if s.token == "" {
		fmt.Fprintf(os.Stderr, "sluice: console at %s\n", srv.URL())
	} else {
		fmt.Fprintf(os.Stderr, "sluice: console at %s (with its token: open %slogin?token=TOKEN once, or send Authorization: Bearer TOKEN)\n",
			srv.URL(), srv.URL())
	}
	return &uiConsole{srv: srv}, nil
}

// close stops the console (at the end of the command).
func (c *uiConsole) close() {
	if c != nil {
		c.srv.Close()
	}
}

// job shows the job g, run at parallelism par with its metrics in set, on
// the console; the returned function is called with what the run
// returned, and the job stays shown, ended, until the console closes.
func (c *uiConsole) job(g *runtime.Graph, par int, set *metrics.Set) (ended func(error)) {
	if c == nil || g == nil {
		return func(error) {}
	}
	j := &console.Job{Name: g.Name, Plan: g.Physical(par), Metrics: set}
	c.srv.AddJob(j)
	return j.End
}

// jobMetrics returns a metrics set for a job's run, registered for
// /metrics until the returned function is called.
func jobMetrics() (*metrics.Set, func()) {
	set := metrics.NewSet()
	metrics.RegisterSet(set)
	return set, func() { metrics.UnregisterSet(set, true) }
}

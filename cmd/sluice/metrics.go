package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sluicehq/sluice/internal/promtext"
)

// serveMetrics serves Prometheus text at http://addr/metrics, with a
// # HELP and # TYPE line per metric family, and a page at / linking to it,
// until ctx ends. It returns a function that stops the server and waits
// for it.
func serveMetrics(ctx context.Context, addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", promtext.ContentType)
		promtext.Write(w)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, indexPage)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "sluice: metrics server:", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "sluice: metrics at http://%s/metrics\n", ln.Addr())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
	}, nil
}

// indexPage is the page at / of the metrics listener.
const indexPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Sluice</title></head>
<body><h1>Sluice</h1>
<p><a href="/metrics">/metrics</a>: this process's metrics in Prometheus text format.</p>
</body></html>
`

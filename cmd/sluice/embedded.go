package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	storeconn "github.com/sluicehq/sluice/connectors/store"
	slog "github.com/sluicehq/sluice/store/log"
	"github.com/sluicehq/sluice/store/server"
)

// openEmbeddedOrTemp is openEmbedded over dir, or over a temporary folder
// (removed by stop) when dir is "".
func openEmbeddedOrTemp(dir, listen string) (stop func(), err error) {
	if dir != "" {
		return openEmbedded(dir, listen)
	}
	tmp, err := os.MkdirTemp("", "sluice-store-")
	if err != nil {
		return nil, err
	}
	closeStore, err := openEmbedded(tmp, listen)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return func() { closeStore(); os.RemoveAll(tmp) }, nil
}

// openEmbedded opens the store over dir in-process and makes it the
// embedded store of tables without an 'endpoint'. With listen, it also
// serves the Kinesis API there (loopback only: the embedded store has no
// credentials), so that producers — the agent, AWS SDKs and CLI — can write
// to the streams the job reads. close stops both.
func openEmbedded(dir, listen string) (stop func(), err error) {
	return openEmbeddedWith(dir, listen, slog.CorruptionStop)
}

// openEmbeddedWith is openEmbedded with what readers do at records the
// store lost to damage on disk.
func openEmbeddedWith(dir, listen string, onCorruption slog.CorruptionPolicy) (stop func(), err error) {
	srv, err := server.New(dir, server.Options{OnCorruption: onCorruption,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "sluice: embedded store: "+format+"\n", args...)
		}})
	if errors.Is(err, server.ErrFolderInUse) {
		return nil, err // it names the folder and what to do
	}
	if err != nil {
		return nil, fmt.Errorf("embedded store %s: %w", dir, err)
	}
	storeconn.UseEmbedded(srv)
	stopHTTP := func() {}
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			storeconn.UseEmbedded(nil)
			srv.Close()
			return nil, fmt.Errorf("--store-listen %s: %w", listen, err)
		}
		if !isLoopback(ln.Addr()) {
			ln.Close()
			storeconn.UseEmbedded(nil)
			srv.Close()
			return nil, fmt.Errorf("--store-listen %s: the embedded store listens on loopback only (for other hosts, run `sluice store` with credentials)", ln.Addr())
		}
		hs, ln := srv.HTTPServer(ln)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(os.Stderr, "sluice: embedded store:", err)
			}
		}()
		fmt.Fprintf(os.Stderr, "sluice: the embedded store serves the Kinesis API at http://%s (data %s)\n", ln.Addr(), dir)
		stopHTTP = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			hs.Shutdown(ctx)
			<-done
		}
	}
	return func() {
		stopHTTP()
		storeconn.UseEmbedded(nil)
		if err := srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "sluice: embedded store:", err)
		}
	}, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	slog "github.com/sluicehq/sluice/store/log"
	"github.com/sluicehq/sluice/store/server"
)

// runStore serves the Kinesis Data Streams API over a data folder:
// sluice store --listen ADDR --data DIR [...].
func runStore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("store", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4567", "address to serve the Kinesis API on")
	data := fs.String("data", "sluice-data", "folder of the streams")
	accessKey := fs.String("access-key", "", "access key ID required (with --secret-key) in SigV4-signed requests")
	secretKey := fs.String("secret-key", "", "secret key of --access-key")
	fsync := fs.String("fsync", "group", "when writes are acknowledged: group (batched fsync), always (fsync per request) or never (unsafe)")
	retention := fs.Duration("retention", 24*time.Hour, "retention of new streams")
	region := fs.String("region", "", "the region signed requests must name (empty: any)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate file (and --tls-key)")
	tlsKey := fs.String("tls-key", "", "the key of --tls-cert")
	onCorruption := fs.String("on-corruption", "stop", "at records lost to damage on disk (reported at start): readers get an error there (stop) or skip them (skip)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice store [flags]\n\nServes Sluice's stream store with the Amazon Kinesis Data Streams API.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*accessKey == "") != (*secretKey == "") {
		return errors.New("--access-key and --secret-key go together")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	mode, err := slog.ParseFsyncMode(*fsync)
	if err != nil {
		return fmt.Errorf("--fsync: %w", err)
	}
	policy, err := slog.ParseCorruptionPolicy(*onCorruption)
	if err != nil {
		return fmt.Errorf("--on-corruption: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	if *accessKey == "" && !isLoopback(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("refusing to listen on %s without credentials: give --access-key and --secret-key, or listen on 127.0.0.1", ln.Addr())
	}
	opts := server.Options{Fsync: mode, Retention: *retention, Region: *region, OnCorruption: policy,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "sluice store: "+format+"\n", args...) }}
	if *accessKey != "" {
		opts.Credentials = map[string]string{*accessKey: *secretKey}
	}
	srv, err := server.New(*data, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(os.Stderr, "sluice store: serving the Kinesis API at %s://%s (data %s, fsync %s, on corruption %s)\n", scheme, ln.Addr(), *data, *fsync, policy)
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	<-errc
	return nil
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

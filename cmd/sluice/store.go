package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
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
	def := server.DefaultLimits()
	var lim server.Limits
	fs.IntVar(&lim.MaxConns, "max-conns", def.MaxConns, "open connections at most; more are answered 503 LimitExceededException and closed (-1: no limit)")
	fs.Int64Var(&lim.MaxInflightBytes, "max-inflight-bytes", def.MaxInflightBytes, "request body bytes held at once; requests beyond are answered 503 LimitExceededException unread (-1: no limit)")
	fs.DurationVar(&lim.HeaderTimeout, "header-timeout", def.HeaderTimeout, "time to send a request's headers")
	fs.DurationVar(&lim.BodyGrace, "body-grace", def.BodyGrace, "time to send a request body before --min-body-rate applies")
	fs.Int64Var(&lim.MinBodyRate, "min-body-rate", def.MinBodyRate, "bytes per second a request body must arrive at after --body-grace, or 408 and the connection closed (-1: no limit)")
	fs.DurationVar(&lim.IdleTimeout, "idle-timeout", def.IdleTimeout, "close keep-alive connections idle for this long")
	fs.IntVar(&lim.MaxShards, "max-shards", def.MaxShards, "shards of all streams together (each keeps its segment files open); CreateStream/SplitShard/MergeShards beyond get LimitExceededException (-1: no limit)")
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
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	if *accessKey == "" && !isLoopback(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("refusing to listen on %s without credentials: give --access-key and --secret-key, or listen on 127.0.0.1", ln.Addr())
	}
	opts := server.Options{Fsync: mode, Retention: *retention, Region: *region, Limits: lim}
	if *accessKey != "" {
		opts.Credentials = map[string]string{*accessKey: *secretKey}
	}
	srv, err := server.New(*data, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	hs, ln := srv.HTTPServer(ln)
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(os.Stderr, "sluice store: serving the Kinesis API at %s://%s (data %s, fsync %s)\n", scheme, ln.Addr(), *data, *fsync)
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

package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
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
	keyring := fs.String("keyring", "", "file of the keys streams are encrypted with at rest (StartStreamEncryption; mode 0600, created with a generated key for alias/aws/kinesis when first needed); empty: ~keyring.json in --data")
	stateDelay := fs.Duration("state-delay", server.DefaultStateDelay, "how long a stream stays CREATING, UPDATING or DELETING after the call that starts it, as in Kinesis (0s: never)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9249: the shard-level metrics streams enable with EnableEnhancedMonitoring, and every queue's metrics")
	onCorruption := fs.String("on-corruption", "stop", "at records lost to damage on disk (reported at start): readers get an error there (stop) or skip them (skip)")
	def := server.DefaultLimits()
	var lim server.Limits
	fs.IntVar(&lim.MaxConns, "max-conns", def.MaxConns, "open connections at most; more are answered 503 LimitExceededException and closed (-1: no limit)")
	fs.Int64Var(&lim.MaxInflightBytes, "max-inflight-bytes", def.MaxInflightBytes, "request body bytes held at once; requests beyond are answered 503 LimitExceededException unread (-1: no limit)")
	fs.DurationVar(&lim.HeaderTimeout, "header-timeout", def.HeaderTimeout, "time to send a request's headers")
	fs.DurationVar(&lim.BodyGrace, "body-grace", def.BodyGrace, "time to send a request body before --min-body-rate applies")
	fs.Int64Var(&lim.MinBodyRate, "min-body-rate", def.MinBodyRate, "bytes per second a request body must arrive at after --body-grace, or 408 and the connection closed (-1: no limit)")
	fs.DurationVar(&lim.IdleTimeout, "idle-timeout", def.IdleTimeout, "close keep-alive connections idle for this long")
	fs.IntVar(&lim.MaxShards, "max-shards", def.MaxShards, "shards of all streams together (each keeps its segment files open); CreateStream/SplitShard/MergeShards/UpdateShardCount beyond get LimitExceededException (-1: no limit)")
	if _, err := parseFlags(fs, command{Use: "store [flags]", MaxArgs: 0,
		About: "Serves Sluice's stream store with the Amazon Kinesis Data Streams API, and its queues with the Amazon SQS API, on one listener (Ctrl-C or SIGTERM stops)."}, args); err != nil {
		return err
	}
	if err := checkBounds(fs, positive("retention"), atLeast("max-conns", 1).or(-1, "no limit"),
		atLeast("max-inflight-bytes", 1).or(-1, "no limit"), positive("header-timeout"), positive("body-grace"),
		atLeast("min-body-rate", 1).or(-1, "no limit"), positive("idle-timeout"), atLeast("max-shards", 1).or(-1, "no limit"), notNegative("state-delay")); err != nil {
		return err
	}
	if *listen == "" {
		return usagef("--listen: give an address, e.g. 127.0.0.1:4567")
	}
	if err := checkAddr("listen", *listen); err != nil {
		return err
	}
	if err := checkAddr("metrics-addr", *metricsAddr); err != nil {
		return err
	}
	if (*accessKey == "") != (*secretKey == "") {
		return usagef("--access-key and --secret-key go together")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	fitOpenFiles(fs, &lim)
	mode, err := slog.ParseFsyncMode(*fsync)
	if err != nil {
		return usagef("--fsync: %v", err)
	}
	policy, err := slog.ParseCorruptionPolicy(*onCorruption)
	if err != nil {
		return usagef("--on-corruption: %v", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	if *accessKey == "" && !isLoopback(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("refusing to listen on %s without credentials: give --access-key and --secret-key, or listen on 127.0.0.1", ln.Addr())
	}
	opts := server.Options{Fsync: mode, Retention: *retention, Region: *region, OnCorruption: policy, Limits: lim, Keyring: *keyring,
		StateDelay: *stateDelay, Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "sluice store: "+format+"\n", args...) }}
	if opts.StateDelay == 0 {
		opts.StateDelay = -1 // no states; zero means the default in Options
	}
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
	fmt.Fprintf(os.Stderr, "sluice store: serving the Kinesis API and the SQS API at %s://%s (data %s, fsync %s, on corruption %s)\n", scheme, ln.Addr(), *data, *fsync, policy)
	stopMetrics, err := serveMetrics(ctx, *metricsAddr)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
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

// reservedFiles are the open files the store needs besides shards and
// connections: listener, folders, iterator key, stream.json rewrites, …
const reservedFiles = 256

// fitOpenFiles checks --max-shards and --max-conns against the open-files
// limit (ulimit -n; Go raises the soft limit to the hard one at start).
// Each shard keeps at least one segment file open, each connection a
// socket. When they do not fit, a default --max-shards is lowered to fit,
// and a given one is kept with a warning.
func fitOpenFiles(fs *flag.FlagSet, lim *server.Limits) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur >= 1<<62 || lim.MaxShards <= 0 { // 1<<62: unlimited
		return
	}
	conns := max(lim.MaxConns, 0)
	need := uint64(lim.MaxShards) + uint64(conns) + reservedFiles
	if need <= rl.Cur {
		return
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "max-shards" })
	if given {
		fmt.Fprintf(os.Stderr, "sluice store: warning: --max-shards %d and --max-conns %d need about %d open files, more than the limit of %d (ulimit -n)\n",
			lim.MaxShards, conns, need, rl.Cur)
		return
	}
	fit := int(max(int64(rl.Cur)-int64(conns)-reservedFiles, 1))
	fmt.Fprintf(os.Stderr, "sluice store: the open-files limit is %d (ulimit -n): --max-shards lowered from %d to %d (with --max-conns %d)\n",
		rl.Cur, lim.MaxShards, fit, conns)
	lim.MaxShards = fit
}

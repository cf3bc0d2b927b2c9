package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// defaultStoreEndpoint is where the stream tools look for a store when
// given neither --endpoint nor --store-dir: `sluice store`'s default
// --listen.
const defaultStoreEndpoint = "http://127.0.0.1:4567"

// inProcessURL is the endpoint of a store opened with --store-dir.
const inProcessURL = "http://in-process"

const streamUsage = `Usage: sluice stream COMMAND [flags]

Reads, writes and manages the streams of Sluice's stream store, like kcat
does Kafka's topics — no AWS CLI needed.

Commands:
  consume STREAM [--from trim-horizon|latest|at-timestamp T] [--format json|raw] [-e] [-n N]
                      print the records of every shard (parents before children)
  produce STREAM [--key-field F] < LINES
                      one record per input line
  list                the streams
  create STREAM --shards N [--retention D]
  describe STREAM [--json]
                      status, retention and shards (hash ranges, parents, open/closed)
  delete STREAM

Each command talks to a running store at --endpoint URL (default
` + defaultStoreEndpoint + `, where "sluice store" listens) or opens the store's
data folder in-process with --store-dir DIR (while no other process has it
open). "sluice stream COMMAND -h" lists a command's flags.
`

var streamCommands = []string{"consume", "produce", "list", "create", "describe", "delete"}

// runStream dispatches "sluice stream COMMAND".
func runStream(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, streamUsage)
		return usagef("name a command (consume, produce, list, create, describe or delete)")
	}
	switch args[0] {
	case "consume":
		return runStreamConsume(ctx, args[1:])
	case "produce":
		return runStreamProduce(ctx, args[1:])
	case "list":
		return runStreamList(ctx, args[1:])
	case "create":
		return runStreamCreate(ctx, args[1:])
	case "describe":
		return runStreamDescribe(ctx, args[1:])
	case "delete":
		return runStreamDelete(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		if args[0] == "help" && len(args) > 1 && slices.Contains(streamCommands, args[1]) {
			return runStream(ctx, []string{args[1], "-h"}) // sluice stream help COMMAND
		}
		fmt.Print(streamUsage)
		return flag.ErrHelp
	}
	hint := suggest.Hint(args[0], streamCommands)
	return usagef("unknown command %q%s; \"sluice stream -h\" lists them", args[0], hint)
}

// storeFlags are the flags that say which store a stream command talks to.
type storeFlags struct {
	endpoint, storeDir           string
	accessKey, secretKey, region string
	// mayCreate: --store-dir may name a folder that is not a store's yet
	// (stream create); other commands refuse one, a likely typo, rather
	// than make it a store's.
	mayCreate bool
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint", "", "URL of a running store, \"sluice store\" (default "+defaultStoreEndpoint+", unless --store-dir)")
	fs.StringVar(&f.storeDir, "store-dir", "", "open the store over this data folder in-process instead (while no other process has it open)")
	fs.StringVar(&f.accessKey, "access-key", "", "access key ID to sign requests with (default $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&f.secretKey, "secret-key", "", "secret key of --access-key (default $AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&f.region, "region", "", "region named in signed requests (default $AWS_REGION or $AWS_DEFAULT_REGION)")
}

// storeConn is a client of the chosen store; close releases an in-process
// store.
type storeConn struct {
	*client.Client
	where string // for messages: the endpoint or the folder
	close func()
}

// open connects to the store the flags name.
func (f *storeFlags) open() (*storeConn, error) {
	if f.endpoint != "" && f.storeDir != "" {
		return nil, usagef("give --endpoint or --store-dir, not both")
	}
	if f.storeDir != "" {
		fi, err := os.Stat(f.storeDir)
		if err != nil && !f.mayCreate || err == nil && (!fi.IsDir() || !f.mayCreate && !server.IsStoreFolder(f.storeDir)) {
			return nil, fmt.Errorf("--store-dir %s: not a folder of a store (\"sluice stream create --store-dir DIR\", \"sluice store --data DIR\" and \"sluice run --store-dir DIR\" make one)", f.storeDir)
		}
		srv, err := server.New(f.storeDir, server.Options{Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "sluice stream: store: "+format+"\n", args...)
		}})
		if errors.Is(err, server.ErrFolderInUse) {
			return nil, fmt.Errorf("--store-dir: %w (give --endpoint URL)", err)
		}
		if err != nil {
			return nil, fmt.Errorf("--store-dir %s: %w", f.storeDir, err)
		}
		c := client.New(inProcessURL, &http.Client{Transport: srv.Transport()})
		return &storeConn{Client: c, where: f.storeDir, close: func() {
			if err := srv.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "sluice stream: store:", err)
			}
		}}, nil
	}
	ep := f.endpoint
	if ep == "" {
		ep = defaultStoreEndpoint
	}
	if err := checkURL("endpoint", ep, defaultStoreEndpoint); err != nil {
		return nil, err
	}
	c := client.New(ep, nil)
	creds, err := signingCredentials(f.accessKey, f.secretKey, f.region)
	if err != nil {
		return nil, err
	}
	if creds != nil {
		c = c.WithCredentials(*creds)
	}
	return &storeConn{Client: c, where: ep, close: func() {}}, nil
}

// signingCredentials are the credentials to sign requests with: the flags', or
// else the AWS environment variables' (nil: none, unsigned requests).
func signingCredentials(accessKey, secretKey, region string) (*client.Credentials, error) {
	if accessKey == "" && secretKey == "" {
		accessKey, secretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if (accessKey == "") != (secretKey == "") {
			return nil, usagef("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: set both, or give --access-key and --secret-key")
		}
	}
	if (accessKey == "") != (secretKey == "") {
		return nil, usagef("--access-key and --secret-key go together")
	}
	if accessKey == "" {
		return nil, nil
	}
	if region == "" {
		region = client.EnvRegion()
	}
	return &client.Credentials{AccessKey: accessKey, SecretKey: secretKey, Region: region}, nil
}

// explain rewrites the errors users meet most into what to do about them:
// no store at the endpoint, a missing stream (with the nearest existing
// name and, unless deleting, how to create it), a stream that exists
// already.
func (s *storeConn) explain(ctx context.Context, stream string, deleting bool, err error) error {
	var se *store.Error
	var ne *net.OpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Code == store.ErrResourceNotFound && stream != "":
		hint := ""
		if names, lerr := s.ListStreams(ctx); lerr == nil {
			if near := suggest.Nearest(stream, names); near != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", near)
			}
		}
		if deleting {
			return fmt.Errorf("stream %q does not exist at %s%s", stream, s.where, hint)
		}
		return fmt.Errorf("stream %q does not exist at %s%s; create it with \"sluice stream create %s --shards 1\"", stream, s.where, hint, stream)
	case errors.As(err, &se) && se.Code == store.ErrResourceInUse && stream != "":
		return fmt.Errorf("stream %q already exists at %s (\"sluice stream describe %s\" shows it)", stream, s.where, stream)
	case client.Refused(err):
		return fmt.Errorf("the store at %s refuses the credentials (%v): give --access-key and --secret-key "+
			"(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) that it accepts", s.where, err)
	case errors.As(err, &ne) && ne.Op == "dial":
		return fmt.Errorf("no store answers at %s (%v): start one with \"sluice store\", or give --endpoint URL or --store-dir DIR", s.where, ne.Err)
	}
	return err
}

// withStore parses a stream command's flags and positional arguments
// (wantArgs of them, named in cmd.Use), checks them with check (when not
// nil: its error is a mistake in the command line, exit status 2) and
// runs fn with the store.
func withStore(fs *flag.FlagSet, sf *storeFlags, cmd command, args []string, wantArgs int,
	check func(pos []string) error, fn func(conn *storeConn, pos []string) error) error {
	sf.register(fs)
	pos, err := parseFlags(fs, cmd, args)
	if err != nil {
		return err
	}
	if len(pos) < wantArgs {
		noun := "stream"
		if strings.HasPrefix(cmd.Use, "queue ") {
			noun = "queue"
		}
		return usagef("name the %s (usage: sluice %s)", noun, cmd.Use)
	}
	if check != nil {
		if err := check(pos); err != nil {
			return usageError{err}
		}
	}
	conn, err := sf.open()
	if err != nil {
		return err
	}
	defer conn.close()
	stream := ""
	if len(pos) > 0 {
		stream = pos[0]
	}
	return conn.explain(context.Background(), stream, cmdName(cmd) == "stream delete", fn(conn, pos))
}

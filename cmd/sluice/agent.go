package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice/store/agent"
	"github.com/sluicehq/sluice/store/client"
)

// runAgent tails files into a stream:
// sluice agent --endpoint URL --stream S [--partition-key-field F] FILE….
func runAgent(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:4567", "URL of the Kinesis API (sluice store)")
	stream := fs.String("stream", "", "stream to send the lines to")
	keyField := fs.String("partition-key-field", "", "JSON field of each line whose value is its partition key (default: round-robin keys)")
	fromStart := fs.Bool("from-start", false, "also send the lines already in the files (default: start at their end)")
	accessKey := fs.String("access-key", "", "access key ID to sign requests with (with --secret-key)")
	secretKey := fs.String("secret-key", "", "secret key of --access-key")
	region := fs.String("region", "", "region named in signed requests")
	progress := fs.Duration("progress", 5*time.Second, "interval of the progress line on stderr")
	flush := fs.Duration("flush", 100*time.Millisecond, "longest wait of a read line before it is sent")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice agent --endpoint URL --stream S [flags] FILE...\n\nTails FILEs (following rotation) and sends each new line as a record with PutRecords,\nretrying failed records until they are written.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stream == "" {
		return errors.New("agent: --stream is required")
	}
	if fs.NArg() == 0 {
		return errors.New("agent: name at least one FILE to tail")
	}
	if (*accessKey == "") != (*secretKey == "") {
		return errors.New("--access-key and --secret-key go together")
	}
	c := client.New(*endpoint, nil)
	if *accessKey != "" {
		c = c.WithCredentials(client.Credentials{AccessKey: *accessKey, SecretKey: *secretKey, Region: *region})
	}
	a, err := agent.New(agent.Config{
		Client:            c,
		Stream:            *stream,
		Files:             fs.Args(),
		PartitionKeyField: *keyField,
		FromStart:         *fromStart,
		FlushInterval:     *flush,
		Progress:          os.Stderr,
		ProgressInterval:  *progress,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sluice agent: tailing %d file(s) into stream %s at %s\n", fs.NArg(), *stream, *endpoint)
	return a.Run(ctx)
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

func runStreamList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stream list", flag.ContinueOnError)
	var sf storeFlags
	cmd := command{Use: "stream list [flags]", About: "Prints the name of every stream, one a line.", MaxArgs: 0}
	return withStore(fs, &sf, cmd, args, 0, nil, func(conn *storeConn, _ []string) error {
		names, err := conn.ListStreams(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Println(n)
		}
		return nil
	})
}

func runStreamCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stream create", flag.ContinueOnError)
	sf := storeFlags{mayCreate: true}
	shards := fs.Int("shards", 0, "number of shards (required, 1 or more)")
	retention := fs.Duration("retention", 0, "how long the stream keeps records, whole hours from 24h to 8760h (default: the store's, 24h unless \"sluice store --retention\")")
	cmd := command{Use: "stream create STREAM --shards N [flags]", About: "Creates a stream of N shards.", MaxArgs: 1}
	hours := 0
	check := func([]string) error {
		if *shards < 1 {
			return usagef("--shards %d: give the number of shards, 1 or more (e.g. --shards 2)", *shards)
		}
		if *retention != 0 {
			if *retention < 24*time.Hour || *retention > 8760*time.Hour || *retention%time.Hour != 0 {
				return usagef("--retention %v: want whole hours from 24h to 8760h (365 days)", *retention)
			}
			hours = int(*retention / time.Hour)
		}
		return nil
	}
	return withStore(fs, &sf, cmd, args, 1, check, func(conn *storeConn, pos []string) error {
		if err := conn.CreateStream(ctx, pos[0], *shards); err != nil {
			return err
		}
		if hours != 0 {
			if err := conn.SetRetention(ctx, pos[0], hours); err != nil {
				return fmt.Errorf("stream %s created, but --retention: %w", pos[0], err)
			}
		}
		fmt.Fprintf(os.Stderr, "sluice stream: created stream %s with %d shard(s) at %s\n", pos[0], *shards, conn.where)
		return nil
	})
}

func runStreamDelete(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stream delete", flag.ContinueOnError)
	var sf storeFlags
	cmd := command{Use: "stream delete STREAM [flags]", About: "Deletes a stream and its records.", MaxArgs: 1}
	return withStore(fs, &sf, cmd, args, 1, nil, func(conn *storeConn, pos []string) error {
		if err := conn.DeleteStream(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sluice stream: deleted stream %s\n", pos[0])
		return nil
	})
}

// streamDescription is what describe prints (--json: as is).
type streamDescription struct {
	client.StreamSummary
	Shards []client.Shard
}

func runStreamDescribe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stream describe", flag.ContinueOnError)
	var sf storeFlags
	asJSON := fs.Bool("json", false, "print the DescribeStreamSummary and ListShards answers as one JSON object")
	cmd := command{Use: "stream describe STREAM [flags]",
		About: "Prints a stream's status and retention, and a table of its shards: hash key range, parents, open or closed.", MaxArgs: 1}
	return withStore(fs, &sf, cmd, args, 1, nil, func(conn *storeConn, pos []string) error {
		sum, err := conn.DescribeStreamSummary(ctx, pos[0])
		if err != nil {
			return err
		}
		shards, err := conn.ListShards(ctx, pos[0])
		if err != nil {
			return err
		}
		d := streamDescription{StreamSummary: *sum, Shards: shards}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		}
		return printDescription(d)
	})
}

func printDescription(d streamDescription) error {
	fmt.Printf("stream     %s\nstatus     %s\nretention  %s\ncreated    %s\nshards     %d open, %d closed\n\n",
		d.StreamName, d.StreamStatus, retentionText(d.RetentionPeriodHours),
		d.Created().UTC().Format(time.RFC3339), d.OpenShardCount, len(d.Shards)-d.OpenShardCount)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SHARD\tSTATE\tPARENTS\tHASH KEYS (start - end)")
	for _, sh := range d.Shards {
		state := "open"
		if !sh.Open() {
			state = "closed"
		}
		parents := strings.Join(nonEmpty(sh.ParentShardId, sh.AdjacentParentShardId), ",")
		if parents == "" {
			parents = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s - %s\n", sh.ShardId, state, parents, sh.HashKeyRange.StartingHashKey, sh.HashKeyRange.EndingHashKey)
	}
	return w.Flush()
}

func retentionText(hours int) string {
	if hours == 24 {
		return "24h (1 day)"
	}
	if hours%24 == 0 {
		return fmt.Sprintf("%dh (%d days)", hours, hours/24)
	}
	return fmt.Sprintf("%dh", hours)
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

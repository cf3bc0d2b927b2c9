package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

const queueUsage = `Usage: sluice queue COMMAND [flags]

Sends, receives and manages the queues of Sluice's store (its Amazon SQS
API) — no AWS CLI needed.

Commands:
  send QUEUE [--group G | --group-field F] [--dedup-field F] [--delay D] < LINES
                      one message per input line
  receive QUEUE [-n N] [-e] [--wait D] [--visibility D] [--keep] [--format raw|json]
                      print messages, deleting each once printed (--keep: leave them)
  list                the queues
  create QUEUE [--fifo] [--content-dedup] [--visibility D] [--delay D] [--retention D]
               [--dlq QUEUE --max-receives N] [--attr NAME=VALUE]...
  describe QUEUE [--json]
                      the queue's attributes: counts, settings, redrive policy
  purge QUEUE         delete every message
  redrive DLQ [--to QUEUE] [--rate N]
                      move a dead-letter queue's messages back (to their queues, or to QUEUE)
  delete QUEUE

Each command talks to a running store at --endpoint URL (default
` + defaultStoreEndpoint + `, where "sluice store" listens) or opens the store's
data folder in-process with --store-dir DIR (while no other process has it
open). "sluice queue COMMAND -h" lists a command's flags.
`

var queueCommands = []string{"send", "receive", "list", "create", "describe", "purge", "redrive", "delete"}

// runQueue dispatches "sluice queue COMMAND".
func runQueue(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, queueUsage)
		return usagef("name a command (%s)", strings.Join(queueCommands, ", "))
	}
	run := map[string]func(context.Context, []string) error{
		"send": runQueueSend, "receive": runQueueReceive, "list": runQueueList, "create": runQueueCreate,
		"describe": runQueueDescribe, "purge": runQueuePurge, "redrive": runQueueRedrive, "delete": runQueueDelete,
	}[args[0]]
	if run != nil {
		return run(ctx, args[1:])
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if args[0] == "help" && len(args) > 1 && slices.Contains(queueCommands, args[1]) {
			return runQueue(ctx, []string{args[1], "-h"})
		}
		fmt.Print(queueUsage)
		return flag.ErrHelp
	}
	hint := suggest.Hint(args[0], queueCommands)
	return usagef("unknown command %q%s; \"sluice queue -h\" lists them", args[0], hint)
}

// queueConn is a client of the SQS API of the chosen store.
type queueConn struct {
	*client.SQS
	where string
}

// withQueue is withStore for the queue commands: fn gets the SQS client
// and, when the command names a queue, its URL (a missing queue is an
// error naming the nearest existing one and how to create it).
func withQueue(ctx context.Context, fs *flag.FlagSet, cmd command, args []string, wantArgs int, check func(pos []string) error,
	fn func(ctx context.Context, q *queueConn, url string, pos []string) error) error {
	sf := storeFlags{mayCreate: cmdName(cmd) == "queue create"}
	return withStore(fs, &sf, cmd, args, wantArgs, check, func(conn *storeConn, pos []string) error {
		q := &queueConn{SQS: conn.SQS(), where: conn.where}
		url := ""
		if wantArgs > 0 && cmdName(cmd) != "queue create" {
			var err error
			if url, err = q.url(ctx, pos[0]); err != nil {
				return err
			}
		}
		return q.explain(ctx, pos, fn(ctx, q, url, pos))
	})
}

// url returns the URL of the queue called name.
func (q *queueConn) url(ctx context.Context, name string) (string, error) {
	url, err := q.QueueURL(ctx, name)
	var se *store.Error
	if errors.As(err, &se) && se.Code == "QueueDoesNotExist" {
		hint := ""
		if urls, lerr := q.ListQueues(ctx, ""); lerr == nil {
			names := make([]string, len(urls))
			for i, u := range urls {
				names[i] = queueName(u)
			}
			if near := suggest.Nearest(name, names); near != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", near)
			}
		}
		return "", fmt.Errorf("queue %q does not exist at %s%s; create it with \"sluice queue create %s\"", name, q.where, hint, name)
	}
	return url, err
}

// explain adds the queue's name to an API error.
func (q *queueConn) explain(_ context.Context, pos []string, err error) error {
	var se *store.Error
	if errors.As(err, &se) && len(pos) > 0 && !client.Refused(err) {
		return fmt.Errorf("queue %s: %s: %s", pos[0], se.Code, se.Message)
	}
	return err
}

// queueName is the last part of a queue's URL or ARN.
func queueName(urlOrARN string) string {
	if i := strings.LastIndexAny(urlOrARN, "/:"); i >= 0 {
		return urlOrARN[i+1:]
	}
	return urlOrARN
}

func runQueueList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue list", flag.ContinueOnError)
	prefix := fs.String("prefix", "", "only the queues whose names start with this")
	cmd := command{Use: "queue list [flags]", About: "Prints the name of every queue, one a line.", MaxArgs: 0}
	return withQueue(ctx, fs, cmd, args, 0, nil, func(ctx context.Context, q *queueConn, _ string, _ []string) error {
		urls, err := q.ListQueues(ctx, *prefix)
		if err != nil {
			return err
		}
		for _, u := range urls {
			fmt.Println(queueName(u))
		}
		return nil
	})
}

// attrFlags collects --attr NAME=VALUE.
type attrFlags map[string]string

func (a attrFlags) String() string { return "" }

func (a attrFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, e.g. --attr KmsMasterKeyId=none")
	}
	a[k] = v
	return nil
}

// seconds checks that d, the value of flag name, is whole seconds from lo
// to hi, and returns it as the API's decimal seconds.
func seconds(name string, d, lo, hi time.Duration) (string, error) {
	if d < lo || d > hi || d%time.Second != 0 {
		return "", fmt.Errorf("--%s %v: want whole seconds from %v to %v", name, d, lo, hi)
	}
	return strconv.Itoa(int(d / time.Second)), nil
}

func runQueueCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue create", flag.ContinueOnError)
	fifo := fs.Bool("fifo", false, "a FIFO queue: order per message group, deduplication (its name must end in .fifo)")
	dedup := fs.Bool("content-dedup", false, "FIFO: deduplicate by the body's SHA-256 when a message has no deduplication id")
	visibility := fs.Duration("visibility", 0, "how long a received message stays hidden (default 30s; up to 12h)")
	delay := fs.Duration("delay", 0, "how long a new message stays hidden (up to 15m)")
	retention := fs.Duration("retention", 0, "how long a message is kept (default 96h; 60s to 336h)")
	dlq := fs.String("dlq", "", "the dead-letter queue: where a message goes after --max-receives receives")
	maxReceives := fs.Int("max-receives", 0, "with --dlq: receives before a message moves to the dead-letter queue (1 to 1000)")
	attrs := attrFlags{}
	fs.Var(attrs, "attr", "any other attribute of CreateQueue, NAME=VALUE (repeatable)")
	cmd := command{Use: "queue create QUEUE [flags]", About: "Creates a queue (nothing changes when one of that name exists with the same attributes).", MaxArgs: 1}
	check := func(pos []string) error {
		fifoName := strings.HasSuffix(pos[0], ".fifo")
		if *fifo != fifoName {
			return fmt.Errorf("queue %s: a FIFO queue's name ends in .fifo, and only a FIFO queue's (give both --fifo and the suffix, or neither)", pos[0])
		}
		if *dedup && !*fifo {
			return fmt.Errorf("--content-dedup: only a FIFO queue deduplicates (add --fifo)")
		}
		for _, c := range []struct {
			name, attr string
			d          *time.Duration
			lo, hi     time.Duration
		}{
			{"visibility", "VisibilityTimeout", visibility, 0, 12 * time.Hour},
			{"delay", "DelaySeconds", delay, 0, 15 * time.Minute},
			{"retention", "MessageRetentionPeriod", retention, time.Minute, 14 * 24 * time.Hour},
		} {
			if !given(fs, c.name) {
				continue
			}
			v, err := seconds(c.name, *c.d, c.lo, c.hi)
			if err != nil {
				return err
			}
			attrs[c.attr] = v
		}
		if (*dlq == "") != (*maxReceives == 0) {
			return fmt.Errorf("--dlq and --max-receives go together")
		}
		if *dlq != "" && (*maxReceives < 1 || *maxReceives > 1000) {
			return fmt.Errorf("--max-receives %d: want 1 to 1000", *maxReceives)
		}
		if *fifo {
			attrs["FifoQueue"] = "true"
		}
		if *dedup {
			attrs["ContentBasedDeduplication"] = "true"
		}
		return nil
	}
	return withQueue(ctx, fs, cmd, args, 1, check, func(ctx context.Context, q *queueConn, _ string, pos []string) error {
		if *dlq != "" {
			dlqURL, err := q.url(ctx, *dlq)
			if err != nil {
				return fmt.Errorf("--dlq: %w", err)
			}
			a, err := q.Attributes(ctx, dlqURL, "QueueArn")
			if err != nil {
				return fmt.Errorf("--dlq %s: %w", *dlq, err)
			}
			policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": a["QueueArn"], "maxReceiveCount": *maxReceives})
			attrs["RedrivePolicy"] = string(policy)
		}
		url, err := q.CreateQueue(ctx, pos[0], attrs)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sluice queue: created queue %s at %s\n", pos[0], q.where)
		if !strings.HasPrefix(url, inProcessURL) { // a URL only this process could use
			fmt.Println(url)
		}
		return nil
	})
}

func runQueueDescribe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue describe", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the attributes as the API answers them (a JSON object)")
	cmd := command{Use: "queue describe QUEUE [flags]", About: "Prints the queue's URL and attributes: message counts, settings, redrive policy.", MaxArgs: 1}
	return withQueue(ctx, fs, cmd, args, 1, nil, func(ctx context.Context, q *queueConn, url string, _ []string) error {
		a, err := q.Attributes(ctx, url, "All")
		if err != nil {
			return err
		}
		if *asJSON {
			e := json.NewEncoder(os.Stdout)
			e.SetIndent("", "  ")
			return e.Encode(map[string]any{"QueueUrl": url, "Attributes": a})
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "QueueUrl\t%s\n", url)
		keys := make([]string, 0, len(a))
		for k := range a {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := a[k]
			if strings.HasSuffix(k, "Timestamp") {
				if s, err := strconv.ParseInt(v, 10, 64); err == nil {
					v += " (" + time.Unix(s, 0).UTC().Format(time.RFC3339) + ")"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
		return tw.Flush()
	})
}

func runQueuePurge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue purge", flag.ContinueOnError)
	cmd := command{Use: "queue purge QUEUE", About: "Deletes every message of the queue.", MaxArgs: 1}
	return withQueue(ctx, fs, cmd, args, 1, nil, func(ctx context.Context, q *queueConn, url string, pos []string) error {
		if err := q.Purge(ctx, url); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sluice queue: purged queue %s\n", pos[0])
		return nil
	})
}

func runQueueDelete(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue delete", flag.ContinueOnError)
	cmd := command{Use: "queue delete QUEUE", About: "Deletes the queue and its messages.", MaxArgs: 1}
	return withQueue(ctx, fs, cmd, args, 1, nil, func(ctx context.Context, q *queueConn, url string, pos []string) error {
		if err := q.DeleteQueue(ctx, url); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sluice queue: deleted queue %s\n", pos[0])
		return nil
	})
}

func runQueueRedrive(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue redrive", flag.ContinueOnError)
	to := fs.String("to", "", "the queue to move the messages to (default: each back to the queue it came from)")
	rate := fs.Int("rate", 0, "the most messages moved a second (0: as fast as the store goes; up to 500)")
	detach := fs.Bool("detach", false, "start the move and exit at once (default: wait for it, printing progress)")
	cmd := command{Use: "queue redrive DLQ [flags]",
		About: "Moves the messages of a dead-letter queue back to the queues they came from (or to --to), as\n" +
			"StartMessageMoveTask does, and waits for the move to end.", MaxArgs: 1}
	check := func([]string) error {
		if *rate < 0 || *rate > 500 {
			return fmt.Errorf("--rate %d: want 0 to 500", *rate)
		}
		return nil
	}
	return withQueue(ctx, fs, cmd, args, 1, check, func(ctx context.Context, q *queueConn, url string, pos []string) error {
		a, err := q.Attributes(ctx, url, "QueueArn")
		if err != nil {
			return err
		}
		src, dst := a["QueueArn"], ""
		if *to != "" {
			toURL, err := q.url(ctx, *to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			b, err := q.Attributes(ctx, toURL, "QueueArn")
			if err != nil {
				return fmt.Errorf("--to %s: %w", *to, err)
			}
			dst = b["QueueArn"]
		}
		handle, err := q.StartMoveTask(ctx, src, dst, *rate)
		if err != nil {
			return err
		}
		if *detach {
			fmt.Println(handle)
			return nil
		}
		for {
			tasks, err := q.MoveTasks(ctx, src)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(tasks, func(t client.MoveTask) bool { return t.TaskHandle == handle })
			if i < 0 && len(tasks) > 0 {
				i = 0 // the store may not name its finished tasks' handles
			}
			if i >= 0 && tasks[i].Status != "RUNNING" {
				t := tasks[i]
				fmt.Fprintf(os.Stderr, "sluice queue: moved %d of %d message(s) from %s: %s\n",
					t.ApproximateNumberOfMessagesMoved, t.ApproximateNumberOfMessagesToMove, pos[0], strings.ToLower(t.Status))
				if t.Status != "COMPLETED" {
					return fmt.Errorf("queue redrive %s: %s %s", pos[0], strings.ToLower(t.Status), t.FailureReason)
				}
				return nil
			}
			select {
			case <-ctx.Done():
				fmt.Fprintf(os.Stderr, "sluice queue: the move goes on in the store (task %s)\n", handle)
				return nil
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
}

// maxQueueMessage is SQS's limit on a message, and on a batch of them.
const maxQueueMessage = 256 << 10

func runQueueSend(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue send", flag.ContinueOnError)
	group := fs.String("group", "", "FIFO: the message group of every message")
	groupField := fs.String("group-field", "", "FIFO: every line is a JSON object whose field F is its message group")
	dedupField := fs.String("dedup-field", "", "FIFO: every line is a JSON object whose field F is its deduplication id\n"+
		"(default: the queue's content-based deduplication)")
	delay := fs.Duration("delay", 0, "standard queue: keep each message hidden this long (whole seconds, up to 15m)")
	cmd := command{Use: "queue send QUEUE [flags] < LINES",
		About: "Sends each line of standard input to QUEUE as one message (without the newline; empty lines are\n" +
			"skipped), with SendMessageBatch calls of up to 10 messages and 256 KiB, retrying what the queue refused\n" +
			"on its side with backoff. A summary goes to standard error. A message counts as sent once the store\n" +
			"acknowledges it, after an fsync.", MaxArgs: 1}
	delaySec := 0
	check := func(pos []string) error {
		if *group != "" && *groupField != "" {
			return fmt.Errorf("give --group or --group-field, not both")
		}
		fifo := strings.HasSuffix(pos[0], ".fifo")
		if fifo && *group == "" && *groupField == "" {
			return fmt.Errorf("queue %s is a FIFO queue: give each message's group (--group G or --group-field F)", pos[0])
		}
		if !fifo && (*group != "" || *groupField != "" || *dedupField != "") {
			return fmt.Errorf("--group, --group-field and --dedup-field are for FIFO queues (names ending in .fifo)")
		}
		if given(fs, "delay") {
			if fifo {
				return fmt.Errorf("--delay: a FIFO queue delays every message alike (its DelaySeconds attribute), not one by one")
			}
			v, err := seconds("delay", *delay, 0, 15*time.Minute)
			if err != nil {
				return err
			}
			delaySec, _ = strconv.Atoi(v)
		}
		return nil
	}
	return withQueue(ctx, fs, cmd, args, 1, check, func(ctx context.Context, q *queueConn, url string, pos []string) error {
		s := &queueSender{q: q, url: url, group: *group, groupField: *groupField, dedupField: *dedupField, delay: delaySec}
		start := time.Now()
		err := s.run(ctx, os.Stdin)
		el := time.Since(start)
		fmt.Fprintf(os.Stderr, "sluice queue: sent %d message(s) (%d bytes) to %s in %v (%.0f messages/s)\n",
			s.sent, s.bytes, pos[0], el.Round(time.Millisecond), float64(s.sent)/max(el.Seconds(), 1e-3))
		if err != nil && s.sent > 0 {
			return fmt.Errorf("%w (the %d message(s) sent before it are stored)", err, s.sent)
		}
		return err
	})
}

// queueSender sends lines as messages, in batches.
type queueSender struct {
	q                             *queueConn
	url                           string
	group, groupField, dedupField string
	delay                         int
	sent, bytes                   int64
}

func (s *queueSender) run(ctx context.Context, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxQueueMessage+1)
	var batch []client.SendEntry
	var lines []int
	size, line := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.send(ctx, batch, lines)
		batch, lines, size = batch[:0], lines[:0], 0
		return err
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		if !utf8.ValidString(text) {
			return fmt.Errorf("line %d: not UTF-8 text (a message body is text)", line)
		}
		e := client.SendEntry{Id: strconv.Itoa(len(batch)), MessageBody: text, DelaySeconds: s.delay, MessageGroupId: s.group}
		if s.groupField != "" || s.dedupField != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(text), &obj); err != nil {
				return fmt.Errorf("line %d: not a JSON object (--group-field/--dedup-field read one): %v", line, err)
			}
			for _, f := range []struct {
				name string
				dst  *string
			}{{s.groupField, &e.MessageGroupId}, {s.dedupField, &e.MessageDeduplicationId}} {
				if f.name == "" {
					continue
				}
				v, ok := obj[f.name]
				if !ok || v == nil {
					return fmt.Errorf("line %d: no field %q", line, f.name)
				}
				if str, ok := v.(string); ok {
					*f.dst = str
				} else {
					b, _ := json.Marshal(v)
					*f.dst = string(b)
				}
			}
		}
		if len(text) > maxQueueMessage {
			return fmt.Errorf("line %d: %d bytes, more than a message may hold (256 KiB)", line, len(text))
		}
		if len(batch) == 10 || size+len(text) > maxQueueMessage {
			if err := flush(); err != nil {
				return err
			}
			e.Id = "0"
		}
		batch = append(batch, e)
		lines = append(lines, line)
		size += len(text)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: more than a message may hold (256 KiB)", line+1)
		}
		return err
	}
	return flush()
}

// send sends a batch, retrying the entries refused on the queue's side
// with backoff; an entry refused as the sender's fault is an error naming
// its line.
func (s *queueSender) send(ctx context.Context, batch []client.SendEntry, lines []int) error {
	backoff := producerMinBackoff
	for attempt := 1; ; attempt++ {
		out, err := s.q.SendBatch(ctx, s.url, batch)
		var retry []client.SendEntry
		var retryLines []int
		if err != nil {
			var se *store.Error
			if errors.As(err, &se) && !strings.Contains(se.Code, "Throttl") && se.Code != "InternalError" && se.Code != "ServiceUnavailable" {
				return fmt.Errorf("lines %d–%d: %w", lines[0], lines[len(lines)-1], err)
			}
			retry, retryLines = batch, lines
		} else {
			byID := map[string]int{}
			for i, e := range batch {
				byID[e.Id] = i
			}
			for _, r := range out.Successful {
				s.sent++
				s.bytes += int64(len(batch[byID[r.Id]].MessageBody))
			}
			for _, f := range out.Failed {
				i := byID[f.Id]
				if f.SenderFault {
					return fmt.Errorf("line %d: %s: %s", lines[i], f.Code, f.Message)
				}
				retry, retryLines = append(retry, batch[i]), append(retryLines, lines[i])
			}
		}
		if len(retry) == 0 {
			return nil
		}
		if attempt == producerAttempts {
			if err == nil {
				err = errors.New("the queue kept refusing them")
			}
			return fmt.Errorf("lines %d–%d: not sent after %d attempts: %w", retryLines[0], retryLines[len(retryLines)-1], attempt, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, producerMaxBackoff)
		batch, lines = retry, retryLines
	}
}

func runQueueReceive(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue receive", flag.ContinueOnError)
	var count int64
	fs.Int64Var(&count, "n", 0, "exit after this many messages (0: no limit)")
	atEnd := fs.Bool("e", false, "exit when a receive finds the queue empty (default: wait for messages until Ctrl-C)")
	wait := fs.Duration("wait", 0, "how long each receive waits for a message, whole seconds up to 20s (default 20s, 1s with -e)")
	visibility := fs.Duration("visibility", 0, "hide each received message this long (default: the queue's visibility timeout)")
	keep := fs.Bool("keep", false, "leave the messages in the queue: they come back after their visibility timeout")
	format := fs.String("format", "raw", "raw: each message's body, one a line; json: a JSON object a line with messageId, body\n"+
		"(the body itself when it is JSON, else a string), sent (RFC 3339, ms), receiveCount, groupId and attributes")
	cmd := command{Use: "queue receive QUEUE [flags]",
		About: "Prints messages of QUEUE to standard output and deletes each once it is written (at least once: a\n" +
			"message printed just before a crash may be printed again by the next receive).", MaxArgs: 1}
	check := func([]string) error {
		if *format != "raw" && *format != "json" {
			return usagef("--format %q: want raw or json%s", *format, suggest.Hint(*format, []string{"raw", "json"}))
		}
		if count < 0 {
			return fmt.Errorf("-n %d: want 0 (no limit) or more", count)
		}
		if given(fs, "wait") {
			if _, err := seconds("wait", *wait, 0, 20*time.Second); err != nil {
				return err
			}
		} else if *atEnd {
			*wait = time.Second
		} else {
			*wait = 20 * time.Second
		}
		if given(fs, "visibility") {
			if _, err := seconds("visibility", *visibility, time.Second, 12*time.Hour); err != nil {
				return err
			}
		}
		return nil
	}
	return withQueue(ctx, fs, cmd, args, 1, check, func(ctx context.Context, q *queueConn, url string, pos []string) error {
		out := bufio.NewWriterSize(os.Stdout, 64<<10)
		left := count
		for left != 0 || count == 0 {
			n := 10
			if count > 0 && left < 10 {
				n = int(left)
			}
			msgs, err := q.Receive(ctx, url, client.ReceiveInput{Max: n, Wait: *wait, VisibilityTimeout: *visibility})
			if ctx.Err() != nil {
				return out.Flush()
			}
			if err != nil {
				out.Flush()
				return err
			}
			if len(msgs) == 0 {
				if *atEnd {
					break
				}
				continue
			}
			for _, m := range msgs {
				writeMessage(out, pos[0], m, *format == "json")
			}
			if err := out.Flush(); err != nil {
				return err
			}
			if !*keep {
				receipts := make([]string, len(msgs))
				for i, m := range msgs {
					receipts[i] = m.ReceiptHandle
				}
				failed, err := q.Delete(ctx, url, receipts)
				if err != nil {
					return fmt.Errorf("deleting %d printed message(s): %w", len(msgs), err)
				}
				for _, f := range failed {
					fmt.Fprintf(os.Stderr, "sluice queue: message %s printed but not deleted (%s: %s): it comes back\n",
						msgs[atoi(f.Id)].MessageId, f.Code, f.Message)
				}
			}
			left -= int64(len(msgs))
		}
		return out.Flush()
	})
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// writeMessage writes one message as --format asks.
func writeMessage(w *bufio.Writer, queue string, m client.Message, asJSON bool) {
	if !asJSON {
		w.WriteString(m.Body)
		w.WriteByte('\n')
		return
	}
	o := map[string]any{"queue": queue, "messageId": m.MessageId}
	if json.Valid([]byte(m.Body)) {
		o["body"] = json.RawMessage(m.Body)
	} else {
		o["body"] = m.Body
	}
	if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
		o["sent"] = time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	if n, err := strconv.Atoi(m.Attributes["ApproximateReceiveCount"]); err == nil {
		o["receiveCount"] = n
	}
	if g := m.Attributes["MessageGroupId"]; g != "" {
		o["groupId"] = g
	}
	if len(m.MessageAttributes) > 0 {
		attrs := map[string]any{}
		for k, a := range m.MessageAttributes {
			if a.StringValue != nil {
				attrs[k] = *a.StringValue
			} else {
				attrs[k] = a.BinaryValue
			}
		}
		o["attributes"] = attrs
	}
	b, _ := json.Marshal(o)
	w.Write(b)
	w.WriteByte('\n')
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluicehq/sluice/store/queue"
)

var storeURL = regexp.MustCompile(`at (http://\S+) \(data`)

// queueCrashLog is what the test's clients were told, across rounds.
type queueCrashLog struct {
	mu      sync.Mutex
	sent    map[string]bool
	deleted map[string]bool
	counts  map[string]int // highest ApproximateReceiveCount seen
	deletes int
}

// TestQueueCrashKeepsAcknowledged runs `sluice store`, sends, receives and
// deletes messages over the SQS API from concurrent clients, kills the
// store with SIGKILL, and does so again over the same folder; then it
// reads the queue folder (with a clock an hour ahead, so that every
// message is visible) and checks that every acknowledged message is there
// or was received, that none whose DeleteMessageBatch was acknowledged
// came back, and that receive counts did not go back.
func TestQueueCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	data := t.TempDir()
	lg := &queueCrashLog{sent: map[string]bool{}, deleted: map[string]bool{}, counts: map[string]int{}}
	for round := range 2 {
		cmd, stderr := startUntil(t, "serving the Kinesis API", "store", "--listen", "127.0.0.1:0", "--data", data)
		m := storeURL.FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no address in %q", stderr.String())
		}
		c := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(m[1]), Retryer: aws.NopRetryer{},
			Credentials: aws.AnonymousCredentials{}})
		ctx, cancel := context.WithCancel(context.Background())
		q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("crash"), Attributes: map[string]string{"VisibilityTimeout": "60"}})
		if err != nil {
			t.Fatal(err)
		}
		url := q.QueueUrl
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					var entries []types.SendMessageBatchRequestEntry
					for i := range 1 + n%5 {
						entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)),
							MessageBody: aws.String(fmt.Sprintf("r%d-w%d-%d-%d", round, w, n, i))})
					}
					out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries})
					if err != nil {
						return // the store is gone
					}
					lg.mu.Lock()
					for _, s := range out.Successful {
						var i int
						fmt.Sscan(aws.ToString(s.Id)[1:], &i)
						lg.sent[aws.ToString(entries[i].MessageBody)] = true
					}
					lg.mu.Unlock()
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
						MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
					if err != nil {
						return
					}
					if len(out.Messages) == 0 {
						continue
					}
					var entries []types.DeleteMessageBatchRequestEntry
					lg.mu.Lock()
					for i, m := range out.Messages {
						var n int
						fmt.Sscan(m.Attributes["ApproximateReceiveCount"], &n)
						lg.counts[aws.ToString(m.Body)] = max(lg.counts[aws.ToString(m.Body)], n)
						entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("d", i)), ReceiptHandle: m.ReceiptHandle})
					}
					lg.mu.Unlock()
					del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: entries})
					if err != nil {
						return
					}
					lg.mu.Lock()
					for _, s := range del.Successful {
						var i int
						fmt.Sscan(aws.ToString(s.Id)[1:], &i)
						lg.deleted[aws.ToString(out.Messages[i].Body)] = true
						lg.deletes++
					}
					lg.mu.Unlock()
				}
			})
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			lg.mu.Lock()
			n := lg.deletes
			lg.mu.Unlock()
			if n >= 400*(round+1) || time.Now().After(deadline) {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		cancel()
		wg.Wait()
	}
	if lg.deletes == 0 {
		t.Fatal("no delete was acknowledged")
	}

	s, err := queue.Open(filepath.Join(data, "~queues"), queue.Options{Now: func() time.Time { return time.Now().Add(time.Hour) }, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, err := s.Queue("crash")
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]int{}
	zero := time.Duration(0)
	for {
		got, err := q.Receive(context.Background(), queue.ReceiveOptions{Max: 10, Wait: &zero})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		for _, m := range got {
			live[m.Body] = m.ReceiveCount
		}
	}
	for b := range lg.sent {
		c, ok := live[b]
		switch {
		case lg.deleted[b] && ok:
			t.Errorf("%s came back after its delete was acknowledged", b)
		case !lg.deleted[b] && !ok && lg.counts[b] == 0:
			t.Errorf("%s was acknowledged and is lost", b)
		case ok && c <= lg.counts[b]:
			t.Errorf("%s: receive count %d now, %d was seen before the kill", b, c, lg.counts[b])
		}
	}
	t.Logf("%d sent, %d deleted, %d left", len(lg.sent), len(lg.deleted), len(live))
}

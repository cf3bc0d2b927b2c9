package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// BenchmarkSQSSendReceiveLatency measures the time from SendMessage's call
// to the message's arrival at a consumer long-polling with the SDK (one
// message in flight at a time; every send is fsync'd before it is
// acknowledged), and reports its p50 and p99.
func BenchmarkSQSSendReceiveLatency(b *testing.B) {
	c := sqsBenchClient(b)
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("lat")})
	if err != nil {
		b.Fatal(err)
	}
	url := out.QueueUrl
	lat := make([]time.Duration, 0, b.N)
	got := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
			if err != nil {
				b.Error(err)
				return
			}
			for _, m := range r.Messages {
				ns, _ := strconv.ParseInt(aws.ToString(m.Body), 10, 64)
				lat = append(lat, time.Duration(time.Now().UnixNano()-ns))
				if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: m.ReceiptHandle}); err != nil {
					b.Error(err)
					return
				}
				got <- struct{}{}
			}
		}
	})
	b.ResetTimer()
	for range b.N {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(strconv.FormatInt(time.Now().UnixNano(), 10))}); err != nil {
			b.Fatal(err)
		}
		<-got
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSQSSendBatchThroughput sends batches of ten 256-byte messages
// from 8 concurrent SDK clients and reports messages per second.
func BenchmarkSQSSendBatchThroughput(b *testing.B) {
	c := sqsBenchClient(b)
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("tp")})
	if err != nil {
		b.Fatal(err)
	}
	body := aws.String(strings.Repeat("x", 256))
	entries := make([]types.SendMessageBatchRequestEntry, 10)
	for i := range entries {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)), MessageBody: body}
	}
	b.SetParallelism(4) // 4 × GOMAXPROCS clients
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: out.QueueUrl, Entries: entries}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*10)/time.Since(start).Seconds(), "msgs/s")
}

func sqsBenchClient(b *testing.B) *sqs.Client {
	s, err := New(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	b.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
		Credentials: aws.AnonymousCredentials{}})
}

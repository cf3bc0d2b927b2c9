package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/internal/promtext"
	"github.com/sluicehq/sluice/store"
)

func TestEnhancedMonitoringConformance(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.failExactly("EnableEnhancedMonitoring", obj{"StreamName": "s"}, store.ErrValidation,
		"1 validation error detected: Value null at 'shardLevelMetrics' failed to satisfy constraint: Member must not be null")
	c.failExactly("EnableEnhancedMonitoring", obj{"StreamName": "s", "ShardLevelMetrics": []string{}}, store.ErrValidation,
		"1 validation error detected: Value '[]' at 'shardLevelMetrics' failed to satisfy constraint: Member must have length greater than or equal to 1")
	c.failExactly("DisableEnhancedMonitoring", obj{"StreamName": "s", "ShardLevelMetrics": []string{"IncomingBytes", "Bogus"}}, store.ErrValidation,
		"1 validation error detected: Value '[IncomingBytes, Bogus]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: "+
			"[Member must satisfy enum value set: [IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, "+
			"ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]]")
	eight := strings.Split("ALL,ALL,ALL,ALL,ALL,ALL,ALL,ALL", ",")
	c.failExactly("EnableEnhancedMonitoring", obj{"StreamName": "s", "ShardLevelMetrics": eight}, store.ErrValidation,
		"1 validation error detected: Value '[ALL, ALL, ALL, ALL, ALL, ALL, ALL, ALL]' at 'shardLevelMetrics' failed to satisfy constraint: Member must have length less than or equal to 7")
	c.failExactly("EnableEnhancedMonitoring", obj{"StreamName": "nope", "ShardLevelMetrics": []string{"ALL"}}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")

	out := c.do("EnableEnhancedMonitoring", obj{"StreamName": "s", "ShardLevelMetrics": []string{"OutgoingBytes", "IncomingBytes"}})
	if fmt.Sprint(out) != "map[CurrentShardLevelMetrics:[] DesiredShardLevelMetrics:[IncomingBytes OutgoingBytes] StreamARN:"+streamS+" StreamName:s]" {
		t.Fatalf("enable: %v", out)
	}
	out = c.do("EnableEnhancedMonitoring", obj{"StreamARN": streamS, "ShardLevelMetrics": []string{"ALL"}})
	if fmt.Sprint(out["CurrentShardLevelMetrics"], out["DesiredShardLevelMetrics"]) != "[IncomingBytes OutgoingBytes] "+
		"[IncomingBytes IncomingRecords OutgoingBytes OutgoingRecords WriteProvisionedThroughputExceeded ReadProvisionedThroughputExceeded IteratorAgeMilliseconds]" {
		t.Fatalf("enable ALL: %v", out)
	}
	out = c.do("DisableEnhancedMonitoring", obj{"StreamName": "s", "ShardLevelMetrics": []string{"IteratorAgeMilliseconds", "IncomingRecords"}})
	want := "[IncomingBytes OutgoingBytes OutgoingRecords WriteProvisionedThroughputExceeded ReadProvisionedThroughputExceeded]"
	if fmt.Sprint(out["DesiredShardLevelMetrics"]) != want {
		t.Fatalf("disable: %v", out)
	}
	describe := func() string {
		t.Helper()
		d := c.do("DescribeStream", obj{"StreamName": "s"})["StreamDescription"]
		sum := c.do("DescribeStreamSummary", obj{"StreamName": "s"})["StreamDescriptionSummary"]
		a, b := fmt.Sprint(field(d, "EnhancedMonitoring")), fmt.Sprint(field(sum, "EnhancedMonitoring"))
		if a != b {
			t.Fatalf("DescribeStream says %s, DescribeStreamSummary %s", a, b)
		}
		return a
	}
	if got := describe(); got != "[map[ShardLevelMetrics:"+want+"]]" {
		t.Fatalf("DescribeStream: %s", got)
	}
	// Kept across a restart.
	s.Close()
	_, c = startServer(t, dir, Options{})
	if got := describe(); got != "[map[ShardLevelMetrics:"+want+"]]" {
		t.Fatalf("DescribeStream after restart: %s", got)
	}
	c.do("DisableEnhancedMonitoring", obj{"StreamName": "s", "ShardLevelMetrics": []string{"ALL"}})
	if got := describe(); got != "[map[ShardLevelMetrics:[]]]" {
		t.Fatalf("DescribeStream after disabling all: %s", got)
	}
}

// scrape reads the Prometheus text of the process's metrics from a real
// /metrics endpoint and returns the lines of metrics of stream.
func scrape(t *testing.T, url, stream string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, `stream="`+stream+`"`) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

// TestShardMetricsOnMetricsEndpoint puts and gets records through the AWS
// SDK and scrapes the per-shard counters from /metrics: they count what
// was written and read, follow splits, and are gone once disabled or the
// stream deleted.
func TestShardMetricsOnMetricsEndpoint(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	ms := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", promtext.ContentType)
		promtext.Write(w)
	}))
	defer ms.Close()
	kc := sdkClient(c.url, "AKID", "secret")
	ctx := context.Background()
	name := aws.String("monitored")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	put := func(data, key string) {
		t.Helper()
		if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, Data: []byte(data), PartitionKey: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	put("before", "k") // not counted: monitoring is off
	if got := scrape(t, ms.URL, "monitored"); got != "" {
		t.Fatalf("metrics before enabling:\n%s", got)
	}
	if _, err := kc.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{StreamName: name,
		ShardLevelMetrics: []types.MetricsName{types.MetricsNameAll}}); err != nil {
		t.Fatal(err)
	}
	put("hello", "k1")
	if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: name, Records: []types.PutRecordsRequestEntry{
		{Data: []byte("ab"), PartitionKey: aws.String("p")}, {Data: []byte("cde"), PartitionKey: aws.String("q")}}}); err != nil {
		t.Fatal(err)
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: name, ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(3)})
	if err != nil || len(recs.Records) != 3 {
		t.Fatalf("GetRecords: %v %v", recs, err)
	}
	shard0 := `{stream="monitored",shard="shardId-000000000000"}`
	want := strings.Join([]string{
		"sluice_store_shard_incoming_bytes_total" + shard0 + " 14", // "hello"+"k1", "ab"+"p", "cde"+"q"
		"sluice_store_shard_incoming_records_total" + shard0 + " 3",
		"sluice_store_shard_iterator_age_milliseconds" + shard0 + " " + fmt.Sprint(aws.ToInt64(recs.MillisBehindLatest)),
		"sluice_store_shard_outgoing_bytes_total" + shard0 + " 13", // "before", "hello", "ab"
		"sluice_store_shard_outgoing_records_total" + shard0 + " 3",
		"sluice_store_shard_read_provisioned_throughput_exceeded_total" + shard0 + " 0",
		"sluice_store_shard_write_provisioned_throughput_exceeded_total" + shard0 + " 0",
	}, "\n")
	if got := scrape(t, ms.URL, "monitored"); got != want {
		t.Fatalf("metrics:\n%s\nwant:\n%s", got, want)
	}
	// Help text of the family, as /metrics writes it.
	resp, _ := http.Get(ms.URL + "/metrics")
	all, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(all), "# HELP sluice_store_shard_incoming_records_total Records written to a store shard (enhanced monitoring: IncomingRecords).") {
		t.Fatal("no help text for sluice_store_shard_incoming_records_total")
	}

	// A split: the children get counters, the parent keeps its counts.
	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: name, ShardToSplit: aws.String("shardId-000000000000"),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, ms.URL, "monitored")
	if !strings.Contains(got, "sluice_store_shard_incoming_records_total"+shard0+" 3") ||
		!strings.Contains(got, `sluice_store_shard_incoming_records_total{stream="monitored",shard="shardId-000000000002"} 0`) {
		t.Fatalf("metrics after the split:\n%s", got)
	}

	// Disabling some metrics removes their series; disabling all, every one.
	if _, err := kc.DisableEnhancedMonitoring(ctx, &kinesis.DisableEnhancedMonitoringInput{StreamName: name,
		ShardLevelMetrics: []types.MetricsName{types.MetricsNameIncomingBytes}}); err != nil {
		t.Fatal(err)
	}
	got = scrape(t, ms.URL, "monitored")
	if strings.Contains(got, "incoming_bytes") || !regexp.MustCompile(`(?m)^sluice_store_shard_incoming_records_total.*shardId-000000000000"\} 3$`).MatchString(got) {
		t.Fatalf("metrics after disabling IncomingBytes:\n%s", got)
	}
	if _, err := kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: name}); err != nil {
		t.Fatal(err)
	}
	if got := scrape(t, ms.URL, "monitored"); got != "" {
		t.Fatalf("metrics after DeleteStream:\n%s", got)
	}
}

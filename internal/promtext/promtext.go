// Package promtext writes the process's metrics in Prometheus text format,
// with a # HELP text and a # TYPE line for every metric family: what
// --metrics-addr and the console serve at /metrics.
package promtext

import (
	"bytes"
	"io"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// ContentType is the Content-Type of what Write writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Write writes every registered metric (metrics.RegisterSet, and the
// process's own) in Prometheus text format, each family with its # HELP
// and # TYPE lines: VictoriaMetrics writes the # HELP line with the
// family's name only, and Write gives it its text.
func Write(w io.Writer) {
	metrics.ExposeMetadata(true) // # TYPE lines, and the # HELP lines filled in below
	var b bytes.Buffer
	metrics.WritePrometheus(&b, true)
	out := make([]byte, 0, b.Len()+b.Len()/4)
	for line := range strings.Lines(b.String()) {
		if fam, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "# HELP "); ok && !strings.Contains(fam, " ") {
			out = append(out, "# HELP "+fam+" "+Help(fam)+"\n"...)
			continue
		}
		out = append(out, line...)
	}
	w.Write(out)
}

// Help returns the help text of a metric family.
func Help(fam string) string {
	if h, ok := sluiceHelp[fam]; ok {
		return h
	}
	if h, ok := storeShardHelp[fam]; ok {
		return h
	}
	if h, ok := queueHelp[fam]; ok {
		return h
	}
	words := strings.ReplaceAll(fam, "_", " ")
	switch {
	case strings.HasPrefix(fam, "go_"):
		return "Go runtime: " + strings.TrimPrefix(words, "go ") + "."
	case strings.HasPrefix(fam, "process_"):
		return "The process: " + strings.TrimPrefix(words, "process ") + "."
	}
	return strings.ToUpper(words[:1]) + words[1:] + "."
}

// sluiceHelp is the help text of Sluice's own metric families.
var sluiceHelp = map[string]string{
	"sluice_operator_rows_in_total":               "Rows an operator subtask received.",
	"sluice_operator_rows_out_total":              "Rows an operator subtask emitted.",
	"sluice_operator_batches_in_total":            "Batches of rows an operator subtask received.",
	"sluice_operator_late_rows_dropped_total":     "Rows an operator subtask dropped because they arrived after the watermark had passed them.",
	"sluice_operator_bad_records_total":           "Input records a source could not decode, skipped (and written to errors.path when set).",
	"sluice_operator_state_bytes":                 "Memory an operator subtask's state takes, as the operator estimates it, in bytes (refreshed at most every 2 s).",
	"sluice_operator_state_keys":                  "Keys (or key and window groups) an operator subtask holds in state.",
	"sluice_operator_busy_seconds_total":          "Time an operator subtask spent processing, in seconds (per second: Flink's busyTimeMsPerSecond / 1000).",
	"sluice_operator_backpressured_seconds_total": "Time an operator subtask spent blocked on a full downstream lane, in seconds.",
	"sluice_operator_idle_seconds_total":          "Time an operator subtask spent waiting for input, in seconds.",
	"sluice_operator_watermark_lag_seconds":       "Wall-clock time minus an operator subtask's watermark, in seconds (0 before the first watermark).",
	"sluice_source_millis_behind_latest":          "How far a source subtask's reading of a partition (a store shard) is behind its newest record, in milliseconds.",
	"sluice_source_offset_lag":                    "Records of a partition (a Kafka topic partition) a source subtask has yet to read: the high watermark minus the next offset.",
	"sluice_checkpoint_duration_seconds":          "Time from a checkpoint's start to its completion, in seconds.",
	"sluice_checkpoint_size_bytes":                "Size of the last completed checkpoint, in bytes.",
	"sluice_checkpoint_restore_bytes":             "Size of the state the job's latest run was restored from, in bytes.",
	"sluice_checkpoint_restore_seconds":           "Time the job's latest run took to read and verify the checkpoint it was restored from, in seconds.",
	"sluice_checkpoint_last_completed_id":         "ID of the last completed checkpoint.",
	"sluice_checkpoint_alignment_seconds":         "Time an operator subtask waited for checkpoint barriers to align, in seconds.",
	"sluice_checkpoints_completed_total":          "Checkpoints completed.",
	"sluice_checkpoints_failed_total":             "Checkpoints that failed.",
	"sluice_job_restarts_total":                   "Restarts of the job after a failure.",
	"sluice_delivery_records_total":               "Records a delivery sink wrote into delivered objects.",
	"sluice_delivery_bytes_total":                 "Bytes of the objects a delivery sink delivered.",
	"sluice_delivery_objects_total":               "Objects a delivery sink delivered.",
	"sluice_delivery_retries_total":               "Writes of an object a delivery sink tried again after a failure.",
	"sluice_delivery_errors_total":                "Failed deliveries of a delivery sink, by type of error.",
	"sluice_sns_published_total":                  "Messages published to a topic.",
	"sluice_sns_filtered_out_total":               "Messages a subscription's filter policy left out.",
	"sluice_sns_deliveries_total":                 "Messages delivered to a subscription's endpoint.",
	"sluice_sns_delivery_retries_total":           "Deliveries to a subscription's endpoint tried again.",
	"sluice_sns_delivery_failures_total":          "Deliveries to a subscription's endpoint that failed.",
	"sluice_sns_dead_letters_total":               "Messages a subscription gave up on: sent to its dead-letter target, or dropped without one.",
	"sluice_sns_queue_full_total":                 "Messages that found a subscription's queue full (its endpoint not keeping up).",
	"sluice_sns_delivery_seconds":                 "Time from publishing a message to its delivery to a subscription's endpoint, in seconds.",
	"sluice_alarm_instances":                      "Instances (hosts) of an alarm in each state.",
}

// storeShardHelp is the help text of the store's shard-level metrics
// (enhanced monitoring, store/server/monitoring.go).
var storeShardHelp = map[string]string{
	"sluice_store_shard_incoming_bytes_total":                        "Bytes (data and partition keys) written to a store shard (enhanced monitoring: IncomingBytes).",
	"sluice_store_shard_incoming_records_total":                      "Records written to a store shard (enhanced monitoring: IncomingRecords).",
	"sluice_store_shard_outgoing_bytes_total":                        "Record data bytes GetRecords returned from a store shard (enhanced monitoring: OutgoingBytes).",
	"sluice_store_shard_outgoing_records_total":                      "Records GetRecords returned from a store shard (enhanced monitoring: OutgoingRecords).",
	"sluice_store_shard_write_provisioned_throughput_exceeded_total": "Writes to a store shard refused for throughput (enhanced monitoring; the store does not throttle shards: always 0).",
	"sluice_store_shard_read_provisioned_throughput_exceeded_total":  "Reads of a store shard refused for throughput (enhanced monitoring; the store does not throttle shards: always 0).",
	"sluice_store_shard_iterator_age_milliseconds":                   "MillisBehindLatest of the last GetRecords answer of a store shard (enhanced monitoring: IteratorAgeMilliseconds).",
}

// queueHelp is the help text of the store's queue metrics
// (store/server/sqs_metrics.go).
var queueHelp = map[string]string{
	"sluice_queue_messages_visible":                    "Messages of a queue a receive could take now (ApproximateNumberOfMessages).",
	"sluice_queue_messages_in_flight":                  "Messages of a queue received and neither deleted nor visible again (ApproximateNumberOfMessagesNotVisible).",
	"sluice_queue_messages_delayed":                    "Messages of a queue whose delay has not passed (ApproximateNumberOfMessagesDelayed).",
	"sluice_queue_oldest_message_age_seconds":          "Age of the oldest message of a queue, in seconds (0 for an empty queue).",
	"sluice_queue_messages_sent_total":                 "Messages sent to a queue (deduplicated sends to a FIFO queue not counted) since the store opened.",
	"sluice_queue_messages_received_total":             "Messages a queue handed out to receives (each receive of a message counts) since the store opened.",
	"sluice_queue_messages_deleted_total":              "Messages deleted from a queue by DeleteMessage(Batch) since the store opened.",
	"sluice_queue_messages_moved_to_dead_letter_total": "Messages moved from a queue to its dead-letter queue (RedrivePolicy) since the store opened.",
	"sluice_queue_sent_bytes_total":                    "Bytes of the messages sent to a queue (bodies and message attributes) since the store opened.",
}

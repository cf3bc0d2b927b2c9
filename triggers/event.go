package triggers

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Record is one record of a stream read by a trigger.
type Record struct {
	SequenceNumber string
	PartitionKey   string
	Data           []byte
	Arrival        time.Time // the store's approximate arrival time
}

// appendEvent appends Lambda's Kinesis event for recs of shard to dst.
func appendEvent(dst []byte, streamARN, region, shard string, recs []Record) []byte {
	dst = append(dst, `{"Records":[`...)
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":`...)
		dst = appendString(dst, r.PartitionKey)
		dst = append(dst, `,"sequenceNumber":`...)
		dst = appendString(dst, r.SequenceNumber)
		dst = append(dst, `,"data":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Data)
		dst = append(dst, `","approximateArrivalTimestamp":`...)
		dst = strconv.AppendFloat(dst, float64(r.Arrival.UnixMilli())/1000, 'f', 3, 64)
		dst = append(dst, `},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":`...)
		dst = appendString(dst, shard+":"+r.SequenceNumber)
		dst = append(dst, `,"eventName":"aws:kinesis:record","awsRegion":`...)
		dst = appendString(dst, region)
		dst = append(dst, `,"eventSourceARN":`...)
		dst = appendString(dst, streamARN)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// Failure is the record a trigger sends to its on-failure destination for
// a batch it gave up on: Lambda's shape for a stream event source.
type Failure struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"` // RetryAttemptsExhausted
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext struct {
		StatusCode    int    `json:"statusCode"`
		FunctionError string `json:"functionError"`
		ErrorMessage  string `json:"errorMessage"`
	} `json:"responseContext"`
	Version          string    `json:"version"`
	Timestamp        string    `json:"timestamp"`
	KinesisBatchInfo BatchInfo `json:"KinesisBatchInfo"`
}

// BatchInfo describes the records of a failed batch.
type BatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

const isoMillis = "2006-01-02T15:04:05.000Z"

// itemFailures reads a function's answer when it reports batch item
// failures: the index in recs of the first record it names, -1 when it
// names none (success). An answer it cannot read as such, or that names a
// record not in the batch, fails the whole batch (index 0), as Lambda does.
func itemFailures(body []byte, recs []Record) (int, error) {
	named, err := failedItems(body, func(id string) int { return indexOf(recs, id) })
	if err != nil {
		return 0, err
	}
	if len(named) == 0 {
		return -1, nil
	}
	return slices.Min(named), nil
}

// failedItems reads an answer {"batchItemFailures":[{"itemIdentifier":…}]}:
// the indexes of the items it names (index maps an identifier to its
// item's, -1 for none), none for an empty answer. An answer it cannot
// read, or that names an item not in the batch, is an error: the whole
// batch failed, as Lambda has it.
func failedItems(body []byte, index func(id string) int) ([]int, error) {
	if len(trimSpace(body)) == 0 {
		return nil, nil
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, errorf("the answer is not a batchItemFailures response: %v", err)
	}
	var named []int
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return nil, errorf("the answer names a batch item failure without itemIdentifier")
		}
		i := index(*f.ItemIdentifier)
		if i < 0 {
			return nil, errorf("the answer names itemIdentifier %q, not an item of the batch", *f.ItemIdentifier)
		}
		named = append(named, i)
	}
	return named, nil
}

func indexOf(recs []Record, seq string) int {
	for i, r := range recs {
		if r.SequenceNumber == seq {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/store"
)

// Conformance tests: each case sends one raw request and wants AWS's exact
// answer (status, __type and message, or the exact body).

// rawRequest is one request as a client may send it, malformed or not.
type rawRequest struct {
	method, path, target, contentType, body string
}

// sendRequest sends r to url and returns the status, the Content-Type and the body.
func sendRequest(t *testing.T, url string, r rawRequest) (int, string, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/"
	}
	req, err := http.NewRequest(r.method, url+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.target != "" {
		req.Header.Set("X-Amz-Target", r.target)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

const (
	amzJSON         = "application/x-amz-json-1.1"
	accessDeniedXML = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
)

// jsonAnswer is an error answer as the store writes it.
func jsonAnswer(typ, msgKey, msg string) string {
	if msgKey == "" {
		return `{"__type":"` + typ + `"}` + "\n"
	}
	return `{"__type":"` + typ + `","` + msgKey + `":"` + msg + `"}` + "\n"
}

func TestRequestLevelAnswersAsAWS(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	list := "Kinesis_20131202.ListStreams"
	for _, tc := range []struct {
		name   string
		req    rawRequest
		status int
		ctype  string
		body   string
	}{
		{"GET", rawRequest{method: "GET", target: list}, 403, "", accessDeniedXML},
		{"PUT", rawRequest{method: "PUT", target: list, contentType: amzJSON, body: "{}"}, 403, "", accessDeniedXML},
		{"DELETE", rawRequest{method: "DELETE"}, 403, "", accessDeniedXML},
		{"another path", rawRequest{path: "/streams", target: list, contentType: amzJSON, body: "{}"}, 403, "", accessDeniedXML},
		{"unknown content type, no target", rawRequest{contentType: "text/plain", body: "{}"}, 403, "", accessDeniedXML},
		{"unknown content type, no operation", rawRequest{target: "Kinesis_20131202", contentType: "text/plain", body: "{}"}, 403, "", accessDeniedXML},
		{"unknown content type", rawRequest{target: list, contentType: "application/x-amz-json-1.0", body: "{}"}, 404, "", "<UnknownOperationException/>\n"},
		{"no target", rawRequest{contentType: amzJSON, body: "{}"}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
		{"empty body, unknown content type", rawRequest{target: list, contentType: "text/plain"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"empty body, unknown operation", rawRequest{target: "Kinesis_20131202.Whatever", contentType: amzJSON}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
		{"unknown operation", rawRequest{target: "Kinesis_20131202.Whatever", contentType: amzJSON, body: "{}"}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
		{"unknown service", rawRequest{target: "whatever.ListStreams", contentType: amzJSON, body: "{}"}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
		{"empty body", rawRequest{target: list, contentType: amzJSON}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"blank body", rawRequest{target: list, contentType: amzJSON, body: "  \n"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"not JSON", rawRequest{target: list, contentType: amzJSON, body: "hello"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"JSON not an object", rawRequest{target: list, contentType: amzJSON, body: "true"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"null", rawRequest{target: list, contentType: amzJSON, body: "null"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"ok", rawRequest{target: list, contentType: amzJSON, body: "{}"}, 200, amzJSON, `{"HasMoreStreams":false,"StreamNames":[],"StreamSummaries":[]}` + "\n"},
		{"ok without content type", rawRequest{target: list, body: "{}"}, 200, amzJSON, `{"HasMoreStreams":false,"StreamNames":[],"StreamSummaries":[]}` + "\n"},
	} {
		status, ctype, body := sendRequest(t, c.url, tc.req)
		if status != tc.status || ctype != tc.ctype || body != tc.body {
			t.Errorf("%s: got %d %q %q, want %d %q %q", tc.name, status, ctype, body, tc.status, tc.ctype, tc.body)
		}
	}
}

func TestAuthErrorsAreStatus400BeforeTheBody(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{Credentials: map[string]string{"AKID": "secret"}})
	list := "Kinesis_20131202.ListStreams"
	for _, tc := range []struct {
		name   string
		req    rawRequest
		status int
		body   string
	}{
		// The target and an empty body are checked before authentication, as AWS does.
		{"unknown operation", rawRequest{target: "Kinesis_20131202.Whatever", contentType: amzJSON, body: "{}"}, 400, jsonAnswer("UnknownOperationException", "", "")},
		{"empty body", rawRequest{target: list, contentType: amzJSON}, 400, jsonAnswer("SerializationException", "", "")},
		{"unsigned", rawRequest{target: list, contentType: amzJSON, body: "{}"}, 400, jsonAnswer("MissingAuthenticationTokenException", "message", "Missing Authentication Token")},
	} {
		status, _, body := sendRequest(t, c.url, tc.req)
		if status != tc.status || body != tc.body {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, status, body, tc.status, tc.body)
		}
	}
}

// answer is an expected answer: status 200 with ok (when not nil) holding
// for the decoded body, or 400 with the error type and message.
type answer struct {
	typ, msg string
	ok       func(out map[string]any) bool
}

// opCase is one request of an operation and AWS's answer to it.
type opCase struct {
	name, body string
	want       answer
}

func okAnswer(check func(out map[string]any) bool) answer { return answer{ok: check} }

func fails(typ, msg string) answer { return answer{typ: typ, msg: msg} }

func invalid(msgs ...string) answer {
	s := "s"
	if len(msgs) == 1 {
		s = ""
	}
	return fails("ValidationException", fmt.Sprintf("%d validation error%s detected: %s", len(msgs), s, strings.Join(msgs, "; ")))
}

func null(field string) string {
	return "Value null at '" + field + "' failed to satisfy constraint: Member must not be null"
}

func badValue(value, field, constraint string) string {
	return "Value '" + value + "' at '" + field + "' failed to satisfy constraint: " + constraint
}

const (
	namePat   = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
	min1      = "Member must have length greater than or equal to 1"
	max128    = "Member must have length less than or equal to 128"
	seqPat    = `Member must satisfy regular expression pattern: 0|([1-9]\d{0,128})`
	hashPat   = `Member must satisfy regular expression pattern: 0|([1-9]\d{0,38})`
	noStream  = "Either StreamName or StreamARN should be provided."
	account   = " under account 000000000000"
	long129   = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	serialize = "SerializationException"
)

// runCases sends each case to op and checks the answer exactly.
func runCases(t *testing.T, url, op string, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		status, _, body := sendRequest(t, url, rawRequest{target: targetPrefix + op, contentType: amzJSON, body: tc.body})
		var out map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Errorf("%s %s: answer %q is not JSON: %v", op, tc.name, body, err)
			continue
		}
		if tc.want.typ == "" {
			if status != http.StatusOK || tc.want.ok != nil && !tc.want.ok(out) {
				t.Errorf("%s %s: got %d %s", op, tc.name, status, body)
			}
			continue
		}
		key := "message"
		if tc.want.typ == serialize {
			key = "Message"
		}
		msg, _ := out[key].(string)
		if status != http.StatusBadRequest || out["__type"] != tc.want.typ || msg != tc.want.msg {
			t.Errorf("%s %s:\n got %d %s %q\nwant 400 %s %q", op, tc.name, status, out["__type"], msg, tc.want.typ, tc.want.msg)
		}
	}
}

// conformanceServer serves a store with stream "s" of two shards holding
// one record each.
func conformanceServer(t *testing.T) *client {
	t.Helper()
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 2})
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "a", "ExplicitHashKey": "0", "Data": b64("x")})
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "a", "ExplicitHashKey": "340282366920938463463374607431768211455", "Data": b64("y")})
	return c
}

func TestCreateStreamConformance(t *testing.T) {
	c := conformanceServer(t)
	runCases(t, c.url, "CreateStream", []opCase{
		{"new stream", `{"StreamName":"t","ShardCount":1}`, okAnswer(nil)},
		{"on demand", `{"StreamName":"od","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`, okAnswer(nil)},
		{"nothing", `{}`, invalid(null("streamName"))},
		{"no shard count", `{"StreamName":"v"}`, invalid(null("shardCount"))},
		{"empty name", `{"StreamName":"","ShardCount":0}`, invalid(badValue("0", "shardCount", "Member must have value greater than or equal to 1"), badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"long name", `{"StreamName":"` + long129 + `","ShardCount":2147483647}`, invalid(badValue("2147483647", "shardCount", "Member must have value less than or equal to 100000"), badValue(long129, "streamName", max128))},
		{"bad mode", `{"StreamName":"m","StreamModeDetails":{"StreamMode":"FAST"}}`, invalid(badValue("FAST", "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]"))},
		{"name of a folder", `{"StreamName":"..","ShardCount":1}`, fails("ValidationException", fmt.Sprintf(store.MsgStreamName, ".."))},
		{"exists", `{"StreamName":"s","ShardCount":1}`, fails("ResourceInUseException", "Stream s"+account+" already exists.")},
		{"too many shards", `{"StreamName":"u","ShardCount":1025}`, fails("LimitExceededException", "This request would exceed the shard limit of 1024 shards per stream.")},
		{"name a number", `{"StreamName":1,"ShardCount":1}`, fails(serialize, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String")},
		{"name a bool", `{"StreamName":true,"ShardCount":1}`, fails(serialize, "class java.lang.Boolean can not be converted to an String")},
		{"name a list", `{"StreamName":[],"ShardCount":1}`, fails(serialize, "Start of list found where not expected")},
		{"name an object", `{"StreamName":{},"ShardCount":1}`, fails(serialize, "Start of structure or map found where not expected.")},
		{"count a string", `{"StreamName":"v","ShardCount":"1"}`, fails(serialize, "class java.lang.String can not be converted to an Integer")},
		{"count a bool", `{"StreamName":"v","ShardCount":false}`, fails(serialize, "class java.lang.Boolean can not be converted to an Integer")},
	})
}

// streamCases are the answers of an operation whose only field is the
// stream reference.
func streamCases(found answer) []opCase {
	return []opCase{
		{"found", `{"StreamName":"s"}`, found},
		{"by ARN", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`, found},
		{"nothing", `{}`, fails("InvalidArgumentException", noStream)},
		{"null", `{"StreamName":null}`, fails("InvalidArgumentException", noStream)},
		{"empty name", `{"StreamName":""}`, invalid(badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"long name", `{"StreamName":"` + long129 + `"}`, invalid(badValue(long129, "streamName", max128))},
		{"bad ARN", `{"StreamARN":"s"}`, invalid(badValue("s", "streamARN", `Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\d{12}:stream/\S+`))},
		{"unknown", `{"StreamName":"nope"}`, fails("ResourceNotFoundException", "Stream nope"+account+" not found.")},
		{"name a number", `{"StreamName":5}`, fails(serialize, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String")},
	}
}

func TestDescribeStreamSummaryConformance(t *testing.T) {
	c := conformanceServer(t)
	runCases(t, c.url, "DescribeStreamSummary", streamCases(okAnswer(func(out map[string]any) bool {
		return field(out["StreamDescriptionSummary"], "OpenShardCount") == 2.0
	})))
}

func TestDescribeStreamConformance(t *testing.T) {
	c := conformanceServer(t)
	shards := func(ids ...string) answer {
		return okAnswer(func(out map[string]any) bool {
			got := list(field(out["StreamDescription"], "Shards"))
			if len(got) != len(ids) {
				return false
			}
			for i, id := range ids {
				if field(got[i], "ShardId") != id {
					return false
				}
			}
			return true
		})
	}
	runCases(t, c.url, "DescribeStream", append(streamCases(shards("shardId-000000000000", "shardId-000000000001")), []opCase{
		{"limit", `{"StreamName":"s","Limit":1}`, shards("shardId-000000000000")},
		{"after a short id", `{"StreamName":"s","ExclusiveStartShardId":"shardId-0"}`, shards("shardId-000000000001")},
		{"bad paging", `{"StreamName":"s","Limit":0,"ExclusiveStartShardId":""}`, invalid(badValue("0", "limit", "Member must have value greater than or equal to 1"), badValue("", "exclusiveStartShardId", namePat), badValue("", "exclusiveStartShardId", min1))},
		{"limit too big", `{"StreamName":"s","Limit":10001}`, invalid(badValue("10001", "limit", "Member must have value less than or equal to 10000"))},
	}...))
}

func TestDeleteStreamConformance(t *testing.T) {
	c := conformanceServer(t)
	cases := streamCases(okAnswer(nil))
	cases[1].want = fails("ResourceNotFoundException", "Stream s"+account+" not found.") // deleted by the case before
	runCases(t, c.url, "DeleteStream", cases)
}

func TestListStreamsConformance(t *testing.T) {
	c := conformanceServer(t)
	c.do("CreateStream", obj{"StreamName": "t", "ShardCount": 1})
	names := func(want ...string) answer {
		return okAnswer(func(out map[string]any) bool { return fmt.Sprint(out["StreamNames"]) == fmt.Sprint(want) })
	}
	runCases(t, c.url, "ListStreams", []opCase{
		{"all", `{}`, names("s", "t")},
		{"limit", `{"Limit":1}`, names("s")},
		{"after", `{"ExclusiveStartStreamName":"s"}`, names("t")},
		{"bad", `{"Limit":0,"ExclusiveStartStreamName":""}`, invalid(badValue("0", "limit", "Member must have value greater than or equal to 1"), badValue("", "exclusiveStartStreamName", namePat), badValue("", "exclusiveStartStreamName", min1))},
		{"long", `{"Limit":1000000,"ExclusiveStartStreamName":"` + long129 + `"}`, invalid(badValue("1000000", "limit", "Member must have value less than or equal to 10000"), badValue(long129, "exclusiveStartStreamName", max128))},
		{"bad token", `{"NextToken":"!"}`, fails("InvalidArgumentException", "NextToken is not valid.")},
		{"limit a string", `{"Limit":"1"}`, fails(serialize, "class java.lang.String can not be converted to an Integer")},
	})
}

func TestPutRecordConformance(t *testing.T) {
	c := conformanceServer(t)
	seq := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "a", "Data": b64("z")})["SequenceNumber"].(string)
	big := base64.StdEncoding.EncodeToString(make([]byte, store.MaxRecordBytes+1))
	bigValue := "java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]"
	long257 := strings.Repeat("k", 257)
	stored := okAnswer(func(out map[string]any) bool { return out["ShardId"] != nil && out["SequenceNumber"] != nil })
	runCases(t, c.url, "PutRecord", []opCase{
		{"stored", `{"StreamName":"s","PartitionKey":"a","Data":"eA=="}`, stored},
		{"empty data", `{"StreamName":"s","PartitionKey":"a","Data":""}`, stored},
		{"by ARN", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","PartitionKey":"a","Data":"eA=="}`, stored},
		{"ordered after a number", `{"StreamName":"s","PartitionKey":"a","Data":"eA==","SequenceNumberForOrdering":"` + seq + `"}`, stored},
		{"nothing", `{}`, invalid(null("partitionKey"), null("data"))},
		{"no stream", `{"PartitionKey":"a","Data":"eA=="}`, fails("InvalidArgumentException", noStream)},
		{"empty fields", `{"StreamName":"","PartitionKey":"","Data":"","ExplicitHashKey":"","SequenceNumberForOrdering":""}`, invalid(
			badValue("", "sequenceNumberForOrdering", seqPat), badValue("", "partitionKey", min1), badValue("", "explicitHashKey", hashPat),
			badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"too long", `{"StreamName":"` + long129 + `","PartitionKey":"` + long257 + `","Data":"` + big + `"}`, invalid(
			badValue(long257, "partitionKey", "Member must have length less than or equal to 256"),
			badValue(bigValue, "data", "Member must have length less than or equal to 1048576"), badValue(long129, "streamName", max128))},
		{"hash key out of range", `{"StreamName":"s","PartitionKey":"a","Data":"","ExplicitHashKey":"340282366920938463463374607431768211456"}`,
			fails("InvalidArgumentException", "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was 340282366920938463463374607431768211456")},
		{"number for ordering not of the stream", `{"StreamName":"s","PartitionKey":"a","Data":"","SequenceNumberForOrdering":"5"}`,
			fails("InvalidArgumentException", "ExclusiveMinimumSequenceNumber 5 used in PutRecord on stream s"+account+" is invalid.")},
		{"unknown stream", `{"StreamName":"nope","PartitionKey":"a","Data":""}`, fails("ResourceNotFoundException", "Stream nope"+account+" not found.")},
		{"base64 length", `{"StreamName":"s","PartitionKey":"a","Data":"abc"}`, fails(serialize, "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3")},
		{"base64 character", `{"StreamName":"s","PartitionKey":"a","Data":"ab.d"}`, fails(serialize, "'ab.d' can not be converted to a Blob: Invalid Base64 character: '.'")},
		{"base64 padding inside", `{"StreamName":"s","PartitionKey":"a","Data":"a=cd"}`, fails(serialize, "'a=cd' can not be converted to a Blob: Invalid Base64 character: 'c'")},
		{"base64 last character", `{"StreamName":"s","PartitionKey":"a","Data":"QR=="}`, fails(serialize, "'QR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected")},
		{"data a number", `{"StreamName":"s","PartitionKey":"a","Data":12}`, fails(serialize, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob")},
		{"data a bool", `{"StreamName":"s","PartitionKey":"a","Data":true}`, fails(serialize, "class java.lang.Boolean can not be converted to a Blob")},
		{"data a list", `{"StreamName":"s","PartitionKey":"a","Data":[]}`, fails(serialize, "Start of list found where not expected")},
		{"key a number", `{"StreamName":"s","PartitionKey":1,"Data":""}`, fails(serialize, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String")},
	})
}

func TestPutRecordsConformance(t *testing.T) {
	c := conformanceServer(t)
	stored := func(n int) answer {
		return okAnswer(func(out map[string]any) bool {
			return len(list(out["Records"])) == n && out["FailedRecordCount"] == 0.0
		})
	}
	var many, blank []string
	for range store.MaxPutRecords + 1 {
		many = append(many, `{"PartitionKey":"a","Data":""}`)
		blank = append(blank, `{"PartitionKey":"","Data":""}`)
	}
	entries := strings.TrimSuffix(strings.Repeat("com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310, ", 501), ", ")
	blankKey := func(i int) string { return badValue("", fmt.Sprintf("records.%d.member.partitionKey", i), min1) }
	heavy := `{"PartitionKey":"k","Data":"` + base64.StdEncoding.EncodeToString(make([]byte, store.MaxRecordBytes)) + `"}`
	runCases(t, c.url, "PutRecords", []opCase{
		{"stored", `{"StreamName":"s","Records":[{"PartitionKey":"a","Data":"eA=="},{"PartitionKey":"b","Data":""}]}`, stored(2)},
		{"nothing", `{}`, invalid(null("records"))},
		{"no stream", `{"Records":[{"PartitionKey":"a","Data":""}]}`, fails("InvalidArgumentException", noStream)},
		{"empty", `{"StreamName":"","Records":[]}`, invalid(badValue("[]", "records", min1), badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"empty entry fields", `{"StreamName":"s","Records":[{"PartitionKey":"","ExplicitHashKey":""}]}`, invalid(
			blankKey(1), badValue("", "records.1.member.explicitHashKey", hashPat), null("records.1.member.data"))},
		{"too many", `{"StreamName":"s","Records":[` + strings.Join(many, ",") + `]}`, invalid(badValue("["+entries+"]", "records", "Member must have length less than or equal to 500"))},
		{"ten errors at most", `{"StreamName":"s","Records":[` + strings.Join(blank, ",") + `]}`, invalid(badValue("["+entries+"]", "records", "Member must have length less than or equal to 500"),
			blankKey(1), blankKey(2), blankKey(3), blankKey(4), blankKey(5), blankKey(6), blankKey(7), blankKey(8), blankKey(9))},
		{"over 5 MiB", `{"StreamName":"s","Records":[` + strings.Repeat(heavy+",", 4) + heavy + `]}`, fails("InvalidArgumentException", "Records size exceeds 5 MB limit (got 5242885 bytes)")},
		{"unknown stream", `{"StreamName":"nope","Records":[{"PartitionKey":"a","Data":""}]}`, fails("ResourceNotFoundException", "Stream nope"+account+" not found.")},
		{"records not a list", `{"StreamName":"s","Records":"x"}`, fails(serialize, "Expected list or null")},
		{"records an object", `{"StreamName":"s","Records":{}}`, fails(serialize, "Start of structure or map found where not expected.")},
		{"entry not a structure", `{"StreamName":"s","Records":["x"]}`, fails(serialize, "Expected null")},
		{"bad base64", `{"StreamName":"s","Records":[{"PartitionKey":"a","Data":"abc"}]}`, fails(serialize, "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3")},
	})
}

func TestGetShardIteratorConformance(t *testing.T) {
	c := conformanceServer(t)
	seq := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "a", "ExplicitHashKey": "0", "Data": b64("z")})["SequenceNumber"].(string)
	other := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "a", "ExplicitHashKey": "340282366920938463463374607431768211455", "Data": b64("z")})["SequenceNumber"].(string)
	issued := okAnswer(func(out map[string]any) bool { return out["ShardIterator"] != nil })
	gsi := func(shard, typ, extra string) string {
		return `{"StreamName":"s","ShardId":"` + shard + `","ShardIteratorType":"` + typ + `"` + extra + `}`
	}
	sequence := func(typ, also string) string {
		return "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified " + typ + " and " + also + " StartingSequenceNumber."
	}
	enum := "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
	runCases(t, c.url, "GetShardIterator", []opCase{
		{"trim horizon", gsi("shardId-000000000000", "TRIM_HORIZON", ""), issued},
		{"latest by ARN", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","ShardId":"shardId-000000000001","ShardIteratorType":"LATEST"}`, issued},
		{"at a number", gsi("shardId-000000000000", "AT_SEQUENCE_NUMBER", `,"StartingSequenceNumber":"`+seq+`"`), issued},
		{"at a time", gsi("shardId-000000000000", "AT_TIMESTAMP", `,"Timestamp":1500000000`), issued},
		{"short id shardId-1", gsi("shardId-1", "LATEST", ""), issued},
		{"short id 1", gsi("1", "LATEST", ""), issued},
		{"short id x-1", gsi("x-1", "LATEST", ""), issued},
		{"short id shardId-00001", gsi("shardId-00001", "LATEST", ""), issued},
		{"short id -0", gsi("-0", "LATEST", ""), issued},
		{"nothing", `{}`, invalid(null("shardId"), null("shardIteratorType"))},
		{"no stream", `{"ShardId":"1","ShardIteratorType":"LATEST"}`, fails("InvalidArgumentException", noStream)},
		{"empty fields", `{"StreamName":"","ShardId":"","ShardIteratorType":"","StartingSequenceNumber":""}`, invalid(
			badValue("", "shardId", namePat), badValue("", "shardId", min1), badValue("", "shardIteratorType", enum),
			badValue("", "startingSequenceNumber", seqPat), badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"long", `{"StreamName":"` + long129 + `","ShardId":"` + long129 + `","ShardIteratorType":"LATEST"}`, invalid(
			badValue(long129, "shardId", max128), badValue(long129, "streamName", max128))},
		{"id of no shard's form", gsi("ABKLFD8", "LATEST", ""), fails("ResourceNotFoundException", "Could not find shard ABKLFD8 in stream s"+account+".")},
		{"index too big", gsi("2147483648", "LATEST", ""), fails("ResourceNotFoundException", "Could not find shard 2147483648 in stream s"+account+".")},
		{"exponent", gsi("2.14E4", "LATEST", ""), fails("ResourceNotFoundException", "Could not find shard 2.14E4 in stream s"+account+".")},
		{"no such shard", gsi("shardId-5", "LATEST", ""), fails("ResourceNotFoundException", "Shard shardId-000000000005 in stream s"+account+" does not exist")},
		{"unknown stream", `{"StreamName":"nope","ShardId":"2147483647","ShardIteratorType":"LATEST"}`, fails("ResourceNotFoundException", "Shard shardId-002147483647 in stream nope"+account+" does not exist")},
		{"latest with a number", gsi("0", "LATEST", `,"StartingSequenceNumber":"5"`), fails("InvalidArgumentException", sequence("LATEST", "also a"))},
		{"trim horizon with a number", gsi("0", "TRIM_HORIZON", `,"StartingSequenceNumber":"5"`), fails("InvalidArgumentException", sequence("TRIM_HORIZON", "also a"))},
		{"at without a number", gsi("0", "AT_SEQUENCE_NUMBER", ""), fails("InvalidArgumentException", sequence("AT_SEQUENCE_NUMBER", "no"))},
		{"after without a number", gsi("0", "AFTER_SEQUENCE_NUMBER", ""), fails("InvalidArgumentException", sequence("AFTER_SEQUENCE_NUMBER", "no"))},
		{"number of another shard", gsi("0", "AT_SEQUENCE_NUMBER", `,"StartingSequenceNumber":"`+other+`"`), fails("InvalidArgumentException",
			"Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000")},
		{"number of no number's form", gsi("0", "AT_SEQUENCE_NUMBER", `,"StartingSequenceNumber":"5"`), fails("InvalidArgumentException",
			"StartingSequenceNumber 5 used in GetShardIterator on shard shardId-000000000000 in stream s"+account+" is invalid.")},
		{"at a time without one", gsi("0", "AT_TIMESTAMP", ""), fails("InvalidArgumentException",
			"Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")},
		{"timestamp a string", gsi("0", "AT_TIMESTAMP", `,"Timestamp":"x"`), fails(serialize, "class java.lang.String can not be converted to milliseconds since epoch")},
		{"timestamp a bool", gsi("0", "AT_TIMESTAMP", `,"Timestamp":true`), fails(serialize, "class java.lang.Boolean can not be converted to milliseconds since epoch")},
	})
}

func TestGetShardIteratorRefusesATimestampInTheFuture(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	_, c := startServer(t, t.TempDir(), Options{Now: func() time.Time { return now }})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	runCases(t, c.url, "GetShardIterator", []opCase{
		{"now", `{"StreamName":"s","ShardId":"0","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1800000000}`, okAnswer(nil)},
		{"a millisecond later", `{"StreamName":"s","ShardId":"0","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1800000000.001}`, fails("InvalidArgumentException",
			"The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: 1800000000001, currentTimestampInMillis: 1800000000000")},
	})
}

func TestGetRecordsConformance(t *testing.T) {
	c := conformanceServer(t)
	it := c.iterator("s", "shardId-000000000000", "TRIM_HORIZON", nil)
	long513 := strings.Repeat("a", 513)
	runCases(t, c.url, "GetRecords", []opCase{
		{"read", `{"ShardIterator":"` + it + `"}`, okAnswer(func(out map[string]any) bool { return len(list(out["Records"])) == 1 })},
		{"limit", `{"ShardIterator":"` + it + `","Limit":1}`, okAnswer(nil)},
		{"nothing", `{}`, invalid(null("shardIterator"))},
		{"empty", `{"ShardIterator":"","Limit":0}`, invalid(badValue("0", "limit", "Member must have value greater than or equal to 1"), badValue("", "shardIterator", min1))},
		{"long", `{"ShardIterator":"` + long513 + `","Limit":100000}`, invalid(badValue("100000", "limit", "Member must have value less than or equal to 10000"),
			badValue(long513, "shardIterator", "Member must have length less than or equal to 512"))},
		{"not an iterator", `{"ShardIterator":"garbage"}`, fails("InvalidArgumentException", "Invalid ShardIterator.")},
		{"limit a string", `{"ShardIterator":"x","Limit":"1"}`, fails(serialize, "class java.lang.String can not be converted to an Integer")},
	})
	c.do("DeleteStream", obj{"StreamName": "s"})
	runCases(t, c.url, "GetRecords", []opCase{
		{"stream deleted", `{"ShardIterator":"` + it + `"}`, fails("ResourceNotFoundException", "Shard shardId-000000000000 in stream s"+account+" does not exist")},
	})
}

func TestListShardsConformance(t *testing.T) {
	c := conformanceServer(t)
	ids := func(want ...string) answer {
		return okAnswer(func(out map[string]any) bool {
			var got []string
			for _, sh := range list(out["Shards"]) {
				got = append(got, field(sh, "ShardId").(string))
			}
			return fmt.Sprint(got) == fmt.Sprint(want)
		})
	}
	runCases(t, c.url, "ListShards", []opCase{
		{"all", `{"StreamName":"s"}`, ids("shardId-000000000000", "shardId-000000000001")},
		{"after a short id", `{"StreamName":"s","ExclusiveStartShardId":"0"}`, ids("shardId-000000000001")},
		{"filter after a short id", `{"StreamName":"s","ShardFilter":{"Type":"AFTER_SHARD_ID","ShardId":"shardId-0"}}`, ids("shardId-000000000001")},
		{"neither token nor stream", `{}`, fails("InvalidArgumentException", "Either NextToken or StreamName should be provided.")},
		{"token and stream", `{"StreamName":"s","NextToken":"abc"}`, fails("InvalidArgumentException", "NextToken and StreamName cannot be provided together.")},
		{"bad token", `{"NextToken":"abc"}`, fails("InvalidArgumentException", "NextToken is not valid.")},
		{"bad fields", `{"StreamName":"","ExclusiveStartShardId":"","MaxResults":0,"NextToken":""}`, invalid(
			badValue("", "exclusiveStartShardId", namePat), badValue("", "exclusiveStartShardId", min1),
			badValue("0", "maxResults", "Member must have value greater than or equal to 1"), badValue("", "nextToken", min1),
			badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"bad filter", `{"StreamName":"s","ShardFilter":{"Type":"SOMETIME"}}`, invalid(badValue("SOMETIME", "shardFilter.type",
			"Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]"))},
		{"filter without type", `{"StreamName":"s","ShardFilter":{}}`, invalid(null("shardFilter.type"))},
		{"unknown stream", `{"StreamName":"nope"}`, fails("ResourceNotFoundException", "Stream nope"+account+" not found.")},
	})
}

func TestRetentionConformance(t *testing.T) {
	c := conformanceServer(t)
	for _, op := range []string{"IncreaseStreamRetentionPeriod", "DecreaseStreamRetentionPeriod"} {
		runCases(t, c.url, op, []opCase{
			{"same", `{"StreamName":"s","RetentionPeriodHours":24}`, okAnswer(nil)},
			{"nothing", `{}`, invalid(null("retentionPeriodHours"))},
			{"no stream", `{"RetentionPeriodHours":24}`, fails("InvalidArgumentException", noStream)},
			{"empty", `{"StreamName":"","RetentionPeriodHours":-1}`, invalid(badValue("-1", "retentionPeriodHours", "Member must have value greater than or equal to 1"),
				badValue("", "streamName", namePat), badValue("", "streamName", min1))},
			{"over a year", `{"StreamName":"s","RetentionPeriodHours":8761}`, invalid(badValue("8761", "retentionPeriodHours", "Member must have value less than or equal to 8760"))},
			{"under a day", `{"StreamName":"s","RetentionPeriodHours":23}`, fails("InvalidArgumentException", "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.")},
			{"unknown stream", `{"StreamName":"nope","RetentionPeriodHours":25}`, fails("ResourceNotFoundException", "Stream nope"+account+" not found.")},
			{"hours a string", `{"StreamName":"s","RetentionPeriodHours":"25"}`, fails(serialize, "class java.lang.String can not be converted to an Integer")},
		})
	}
	runCases(t, c.url, "IncreaseStreamRetentionPeriod", []opCase{
		{"increase", `{"StreamName":"s","RetentionPeriodHours":48}`, okAnswer(nil)},
		{"shorter", `{"StreamName":"s","RetentionPeriodHours":25}`, fails("InvalidArgumentException",
			"Requested retention period (25 hours) for stream s can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API.")},
	})
	runCases(t, c.url, "DecreaseStreamRetentionPeriod", []opCase{
		{"longer", `{"StreamName":"s","RetentionPeriodHours":49}`, fails("InvalidArgumentException",
			"Requested retention period (49 hours) for stream s can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API.")},
		{"decrease", `{"StreamName":"s","RetentionPeriodHours":24}`, okAnswer(nil)},
	})
}

func TestSplitShardConformance(t *testing.T) {
	c := conformanceServer(t)
	split := func(shard, key string) string {
		return `{"StreamName":"s","ShardToSplit":"` + shard + `","NewStartingHashKey":"` + key + `"}`
	}
	outside := func(key, shard, start, end string) answer {
		return fails("InvalidArgumentException", "NewStartingHashKey "+key+" used in SplitShard() on shard "+shard+" in stream s"+account+
			" is not both greater than one plus the shard's StartingHashKey "+start+" and less than the shard's EndingHashKey "+end+".")
	}
	const end0, start1, max = "170141183460469231731687303715884105727", "170141183460469231731687303715884105728", "340282366920938463463374607431768211455"
	runCases(t, c.url, "SplitShard", []opCase{
		{"nothing", `{}`, invalid(null("newStartingHashKey"), null("shardToSplit"))},
		{"no stream", `{"ShardToSplit":"0","NewStartingHashKey":"5"}`, fails("InvalidArgumentException", noStream)},
		{"empty", `{"StreamName":"","ShardToSplit":"","NewStartingHashKey":""}`, invalid(badValue("", "newStartingHashKey", hashPat),
			badValue("", "streamName", namePat), badValue("", "streamName", min1), badValue("", "shardToSplit", namePat), badValue("", "shardToSplit", min1))},
		{"id of no shard's form", split("ABKLFD8", "5"), fails("ResourceNotFoundException", "Could not find shard ABKLFD8 in stream s"+account+".")},
		{"no such shard", split("shardId-5", "5"), fails("ResourceNotFoundException", "Could not find shard shardId-000000000005 in stream s"+account+".")},
		{"unknown stream", `{"StreamName":"nope","ShardToSplit":"0","NewStartingHashKey":"5"}`, fails("ResourceNotFoundException", "Stream nope"+account+" not found.")},
		{"key too small", split("shard-0", "1"), outside("1", "shardId-000000000000", "0", end0)},
		{"key at the end", split("shard-0", end0), outside(end0, "shardId-000000000000", "0", end0)},
		{"key much too big", split("shard-1", "999999999999999999999999999999999999999"), outside("999999999999999999999999999999999999999", "shardId-000000000001", start1, max)},
		{"split by a short id", split("shard-0", "2"), okAnswer(nil)},
		{"closed", split("0", "5"), fails("ResourceInUseException", "Shard shardId-000000000000 in stream s"+account+
			" has already been merged or split, and thus is not eligible for merging or splitting.")},
	})
}

func TestMergeShardsConformance(t *testing.T) {
	c := conformanceServer(t)
	c.do("CreateStream", obj{"StreamName": "three", "ShardCount": 3})
	merge := func(stream, a, b string) string {
		return `{"StreamName":"` + stream + `","ShardToMerge":"` + a + `","AdjacentShardToMerge":"` + b + `"}`
	}
	runCases(t, c.url, "MergeShards", []opCase{
		{"nothing", `{}`, invalid(null("shardToMerge"), null("adjacentShardToMerge"))},
		{"no stream", `{"ShardToMerge":"0","AdjacentShardToMerge":"1"}`, fails("InvalidArgumentException", noStream)},
		{"empty", merge("", "", ""), invalid(badValue("", "shardToMerge", namePat), badValue("", "shardToMerge", min1),
			badValue("", "adjacentShardToMerge", namePat), badValue("", "adjacentShardToMerge", min1), badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"long", merge(long129, long129, long129), invalid(badValue(long129, "shardToMerge", max128), badValue(long129, "adjacentShardToMerge", max128), badValue(long129, "streamName", max128))},
		{"unknown stream", merge("nope", "x-0", "2147483647"), fails("ResourceNotFoundException", "Stream nope"+account+" not found.")},
		{"id too big", merge("s", "x-0", "2147483648"), fails("ResourceNotFoundException", "Could not find shard 2147483648 in stream s"+account+".")},
		{"no such shard", merge("s", "shardId-5", "x-0"), fails("ResourceNotFoundException", "Could not find shard shardId-000000000005 in stream s"+account+".")},
		{"not adjacent", merge("three", "0", "2"), fails("InvalidArgumentException", "Shards shardId-000000000000 and shardId-000000000002 in stream three"+account+
			" are not an adjacent pair of shards eligible for merging")},
		{"merged by short ids", merge("s", "shardId-1", "0"), okAnswer(nil)},
	})
}

// The AWS SDK for Go v2 sees the store's errors as AWS's: typed where the
// SDK has a type, with the type's code and the message otherwise, and
// authentication failures as 400s.
func TestSDKSeesAWSErrors(t *testing.T) {
	creds := map[string]string{"AKIDTEST": "test-secret"}
	_, c := startServer(t, t.TempDir(), Options{Credentials: creds, Region: "us-east-1"})
	ctx := context.Background()
	kc := sdkClient(c.url, "AKIDTEST", "test-secret")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var notFound *types.ResourceNotFoundException
	_, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-7"), ShardIteratorType: types.ShardIteratorTypeLatest})
	if !errors.As(err, &notFound) || notFound.ErrorMessage() != "Shard shardId-000000000007 in stream s under account 000000000000 does not exist" {
		t.Fatalf("GetShardIterator of a missing shard: %v", err)
	}
	var invalidArg *types.InvalidArgumentException
	_, err = kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("0"),
		ShardIteratorType: types.ShardIteratorTypeLatest, StartingSequenceNumber: aws.String("5")})
	if !errors.As(err, &invalidArg) || !strings.HasSuffix(invalidArg.ErrorMessage(), "Request specified LATEST and also a StartingSequenceNumber.") {
		t.Fatalf("LATEST with a number: %v", err)
	}
	var apiErr smithy.APIError
	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x"), SequenceNumberForOrdering: aws.String("x")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" || apiErr.ErrorMessage() !=
		`1 validation error detected: Value 'x' at 'sequenceNumberForOrdering' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\d{0,128})` {
		t.Fatalf("PutRecord with a bad SequenceNumberForOrdering: %v", err)
	}
	var respErr *awshttp.ResponseError
	bad := sdkClient(c.url, "AKIDOTHER", "x")
	if _, err := bad.ListStreams(ctx, &kinesis.ListStreamsInput{}); !errors.As(err, &respErr) || respErr.HTTPStatusCode() != 400 ||
		!errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnrecognizedClientException" {
		t.Fatalf("unknown access key: %v", err)
	}
}

// Integer fields are read as AWS reads them: fractions dropped, numbers
// beyond 32 bits clamped, so the constraint messages show those values.
func TestIntegerFieldsAsAWS(t *testing.T) {
	c := conformanceServer(t)
	runCases(t, c.url, "ListStreams", []opCase{
		{"fraction", `{"Limit":1.9}`, okAnswer(func(out map[string]any) bool { return len(list(out["StreamNames"])) == 1 })},
		{"below one after rounding down", `{"Limit":0.5}`, invalid(badValue("0", "limit", "Member must have value greater than or equal to 1"))},
		{"beyond 32 bits", `{"Limit":1e12}`, invalid(badValue("2147483647", "limit", "Member must have value less than or equal to 10000"))},
		{"far below", `{"Limit":-1e300}`, invalid(badValue("-2147483648", "limit", "Member must have value greater than or equal to 1"))},
		{"list", `{"Limit":[1]}`, fails(serialize, "Start of list found where not expected")},
		{"object", `{"Limit":{}}`, fails(serialize, "Start of structure or map found where not expected.")},
	})
}

func TestGetRecordsExpiredIteratorAsAWS(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	_, c := startServer(t, t.TempDir(), Options{Now: func() time.Time { return clock() }})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	clock = func() time.Time { return now.Add(5*time.Minute + time.Second) }
	runCases(t, c.url, "GetRecords", []opCase{
		{"expired", `{"ShardIterator":"` + it + `"}`, fails("ExpiredIteratorException", "Iterator expired. The iterator was created at time Sun Dec 06 10:00:00 UTC 2026 "+
			"while right now it is Sun Dec 06 10:05:01 UTC 2026 which is further in the future than the tolerated delay of 300000 milliseconds.")},
	})
}

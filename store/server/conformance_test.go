package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/store"
)

// Conformance tests: each case sends one raw request and wants AWS's exact
// answer (status, __type and message, or the exact body).

// rawRequest is one request as a client may send it, malformed or not.
type rawRequest struct {
	method, path, target, contentType, body string
}

// send sends r to url and returns the status, the Content-Type and the body.
func send(t *testing.T, url string, r rawRequest) (int, string, string) {
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
	amzJSON      = "application/x-amz-json-1.1"
	accessDenied = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
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
		{"GET", rawRequest{method: "GET", target: list}, 403, "", accessDenied},
		{"PUT", rawRequest{method: "PUT", target: list, contentType: amzJSON, body: "{}"}, 403, "", accessDenied},
		{"DELETE", rawRequest{method: "DELETE"}, 403, "", accessDenied},
		{"another path", rawRequest{path: "/streams", target: list, contentType: amzJSON, body: "{}"}, 403, "", accessDenied},
		{"unknown content type, no target", rawRequest{contentType: "text/plain", body: "{}"}, 403, "", accessDenied},
		{"unknown content type, no operation", rawRequest{target: "Kinesis_20131202", contentType: "text/plain", body: "{}"}, 403, "", accessDenied},
		{"unknown content type", rawRequest{target: list, contentType: "application/x-amz-json-1.0", body: "{}"}, 404, "", "<UnknownOperationException/>\n"},
		{"no target", rawRequest{contentType: amzJSON, body: "{}"}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
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
		status, ctype, body := send(t, c.url, tc.req)
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
		status, _, body := send(t, c.url, tc.req)
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
		status, _, body := send(t, url, rawRequest{target: targetPrefix + op, contentType: amzJSON, body: tc.body})
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
		{"nothing", `{}`, invalid(null("shardCount"), null("streamName"))},
		{"empty name", `{"StreamName":"","ShardCount":0}`, invalid(badValue("0", "shardCount", "Member must have value greater than or equal to 1"), badValue("", "streamName", namePat), badValue("", "streamName", min1))},
		{"long name", `{"StreamName":"` + long129 + `","ShardCount":2147483647}`, invalid(badValue("2147483647", "shardCount", "Member must have value less than or equal to 100000"), badValue(long129, "streamName", max128))},
		{"bad mode", `{"StreamName":"m","StreamModeDetails":{"StreamMode":"FAST"}}`, invalid(null("shardCount"), badValue("FAST", "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]"))},
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

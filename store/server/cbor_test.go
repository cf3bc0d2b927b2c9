package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/fxamacker/cbor/v2"

	"github.com/sluicehq/sluice/store/eventstream"
	slog "github.com/sluicehq/sluice/store/log"
)

// cborMaps decodes CBOR maps into map[string]any, as encoding/json does.
var cborMaps = func() cbor.DecMode {
	dm, err := cbor.DecOptions{DefaultMapType: reflect.TypeFor[map[string]any]()}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// javaTime is a timestamp as the AWS SDK for Java writes it in CBOR: tag 1
// over a whole number of epoch milliseconds.
type javaTime int64

// encodeJava appends v as the AWS SDK for Java's Jackson generator writes
// it: maps and arrays of indefinite length, blobs ([]byte) as byte strings,
// javaTime as tag 1 over milliseconds, everything else as fxamacker/cbor
// encodes it.
func encodeJava(t testing.TB, enc *cbor.Encoder, v any) {
	t.Helper()
	var err error
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		err = enc.StartIndefiniteMap()
		for _, k := range keys {
			if err == nil {
				err = enc.Encode(k)
			}
			encodeJava(t, enc, v[k])
		}
		if err == nil {
			err = enc.EndIndefinite()
		}
	case []any:
		err = enc.StartIndefiniteArray()
		for _, e := range v {
			encodeJava(t, enc, e)
		}
		if err == nil {
			err = enc.EndIndefinite()
		}
	case javaTime:
		err = enc.Encode(cbor.Tag{Number: 1, Content: int64(v)})
	default:
		err = enc.Encode(v)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func javaCBOR(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	encodeJava(t, cbor.NewEncoder(&buf), v)
	return buf.Bytes()
}

// cborClient speaks CBOR as the AWS SDK for Java does: the same headers
// (Content-Type application/x-amz-cbor-1.1, X-Amz-Target, SigV4 over the
// CBOR body), Jackson's encoding.
type cborClient struct {
	t           testing.TB
	url         string
	key, secret string
}

type cborAnswer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// send posts body as operation op.
func (c *cborClient) send(op string, body []byte) cborAnswer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", CBORContentType)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	if c.key != "" {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: c.key, SecretAccessKey: c.secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now()); err != nil {
			c.t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	a := cborAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if ct := resp.Header.Get("Content-Type"); ct != CBORContentType {
		c.t.Fatalf("%s: answered Content-Type %q, want %q: %q", op, ct, CBORContentType, raw)
	}
	if err := cborMaps.Unmarshal(raw, &a.body); err != nil {
		c.t.Fatalf("%s: answer is not a CBOR map: %v: %x", op, err, raw)
	}
	return a
}

// do sends in as op and returns the answer, which must be a success.
func (c *cborClient) do(op string, in map[string]any) cborAnswer {
	c.t.Helper()
	a := c.send(op, javaCBOR(c.t, in))
	if a.status != http.StatusOK {
		c.t.Fatalf("%s: status %d: %v", op, a.status, a.body)
	}
	return a
}

// fail sends in as op, which must fail with status, code and msg (when not
// empty), in CBOR and in X-Amzn-ErrorType.
func (c *cborClient) fail(op string, body []byte, status int, code, msg string) {
	c.t.Helper()
	a := c.send(op, body)
	if a.status != status || a.body["__type"] != code || a.header.Get("X-Amzn-ErrorType") != code {
		c.t.Fatalf("%s: got %d %v (X-Amzn-ErrorType %q), want %d %s", op, a.status, a.body, a.header.Get("X-Amzn-ErrorType"), status, code)
	}
	got, _ := a.body["message"].(string)
	if code == "SerializationException" {
		got, _ = a.body["Message"].(string) // as AWS; none for a body that does not parse
	}
	if msg != "" && got != msg && !strings.Contains(got, msg) {
		c.t.Fatalf("%s: message %q, want %q", op, got, msg)
	}
}

// tagMillis decodes item, which must be tag 1 over a whole number (of
// epoch milliseconds, as the Java SDK reads it).
func tagMillis(t testing.TB, item cbor.RawMessage) int64 {
	t.Helper()
	var tag cbor.RawTag
	if err := cbor.Unmarshal(item, &tag); err != nil || tag.Number != 1 {
		t.Fatalf("timestamp %x is not tag 1: %v", []byte(item), err)
	}
	if major := tag.Content[0] >> 5; major > 1 {
		t.Fatalf("timestamp %x does not hold an integer (major type %d)", []byte(item), major)
	}
	var ms int64
	if err := cbor.Unmarshal(tag.Content, &ms); err != nil {
		t.Fatal(err)
	}
	return ms
}

type cborRecord struct {
	SequenceNumber              string
	PartitionKey                string
	Data                        cbor.RawMessage
	ApproximateArrivalTimestamp cbor.RawMessage
}

type cborGetRecords struct {
	Records           []cborRecord
	NextShardIterator string
}

// byteString decodes item, which must be a byte string.
func byteString(t testing.TB, item cbor.RawMessage) []byte {
	t.Helper()
	if len(item) == 0 || item[0]>>5 != 2 {
		t.Fatalf("blob %x is not a byte string", []byte(item))
	}
	var b []byte
	if err := cbor.Unmarshal(item, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCBORJavaSDKClient drives the store as the AWS SDK for Java does by
// default, in CBOR and signed: create, describe, list shards, put binary
// records, read them back byte for byte with tag-1 timestamps, and seek
// with an AT_TIMESTAMP iterator given as tag 1.
func TestCBORJavaSDKClient(t *testing.T) {
	creds := map[string]string{"AKIDJAVA": "java-secret"}
	_, ts := serveSigned(t, creds)
	c := &cborClient{t: t, url: ts.URL, key: "AKIDJAVA", secret: "java-secret"}

	before := time.Now().UnixMilli()
	c.do("CreateStream", map[string]any{"StreamName": "java", "ShardCount": 1})
	sum := c.do("DescribeStreamSummary", map[string]any{"StreamName": "java"})
	var summary struct {
		StreamDescriptionSummary struct {
			StreamName              string
			StreamCreationTimestamp cbor.RawMessage
			OpenShardCount          int
		}
	}
	if err := cbor.Unmarshal(sum.raw, &summary); err != nil {
		t.Fatal(err)
	}
	d := summary.StreamDescriptionSummary
	if created := tagMillis(t, d.StreamCreationTimestamp); d.StreamName != "java" || d.OpenShardCount != 1 || created < before-1000 || created > time.Now().UnixMilli() {
		t.Fatalf("DescribeStreamSummary: %+v (created %d, test began %d)", d, created, before)
	}
	desc := c.do("DescribeStream", map[string]any{"StreamName": "java"})
	if status := field(desc.body["StreamDescription"], "StreamStatus"); status != "ACTIVE" {
		t.Fatalf("DescribeStream: %v", desc.body)
	}
	shards := list(c.do("ListShards", map[string]any{"StreamName": "java"}).body["Shards"])
	if len(shards) != 1 || field(shards[0], "ShardId") != "shardId-000000000000" {
		t.Fatalf("ListShards: %v", shards)
	}

	every := make([]byte, 256) // every byte value, NUL and invalid UTF-8 included
	for i := range every {
		every[i] = byte(i)
	}
	want := [][]byte{every, {}, []byte("\xff\xfe\x00"), bytes.Repeat([]byte{0x80}, 70000)}
	put := c.do("PutRecord", map[string]any{"StreamName": "java", "PartitionKey": "k", "Data": want[0]})
	if put.body["ShardId"] != "shardId-000000000000" || put.body["SequenceNumber"] == "" {
		t.Fatalf("PutRecord: %v", put.body)
	}
	time.Sleep(5 * time.Millisecond) // so the next records arrive a millisecond later at least
	mid := time.Now().UnixMilli()
	time.Sleep(5 * time.Millisecond)
	var recs []any
	for _, d := range want[1:] {
		recs = append(recs, map[string]any{"PartitionKey": "p", "Data": d})
	}
	puts := c.do("PutRecords", map[string]any{"StreamName": "java", "Records": recs})
	if n, _ := puts.body["FailedRecordCount"].(uint64); n != 0 || len(list(puts.body["Records"])) != 3 {
		t.Fatalf("PutRecords: %v", puts.body)
	}
	after := time.Now().UnixMilli()

	it := c.do("GetShardIterator", map[string]any{"StreamName": "java", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})
	var got cborGetRecords
	if err := cbor.Unmarshal(c.do("GetRecords", map[string]any{"ShardIterator": it.body["ShardIterator"]}).raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != len(want) || got.NextShardIterator == "" {
		t.Fatalf("GetRecords: %d records, want %d", len(got.Records), len(want))
	}
	for i, r := range got.Records {
		if data := byteString(t, r.Data); !bytes.Equal(data, want[i]) {
			t.Fatalf("record %d: data %x, want %x", i, data[:min(len(data), 16)], want[i][:min(len(want[i]), 16)])
		}
		if ms := tagMillis(t, r.ApproximateArrivalTimestamp); ms < before || ms > after {
			t.Fatalf("record %d: arrival %d outside [%d, %d]", i, ms, before, after)
		}
	}

	// AT_TIMESTAMP between the PutRecord and the PutRecords: the last three.
	it = c.do("GetShardIterator", map[string]any{"StreamName": "java", "ShardId": "shardId-000000000000",
		"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": javaTime(mid)})
	got = cborGetRecords{}
	if err := cbor.Unmarshal(c.do("GetRecords", map[string]any{"ShardIterator": it.body["ShardIterator"], "Limit": 10}).raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 3 || got.Records[0].SequenceNumber != list(puts.body["Records"])[0].(map[string]any)["SequenceNumber"] {
		t.Fatalf("AT_TIMESTAMP %d: %d records %+v", mid, len(got.Records), got.Records)
	}
}

// TestCBORErrors checks errors reach a CBOR client in CBOR, with the type
// in __type and X-Amzn-ErrorType and the message the JSON path answers,
// and that bodies that are not CBOR are SerializationException.
func TestCBORErrors(t *testing.T) {
	_, jc := startServer(t, t.TempDir(), Options{})
	c := &cborClient{t: t, url: jc.url}
	status, js := jc.raw("DescribeStream", obj{"StreamName": "missing"})
	if status != http.StatusBadRequest {
		t.Fatalf("JSON DescribeStream of a missing stream: %d %v", status, js)
	}
	c.fail("DescribeStream", javaCBOR(t, map[string]any{"StreamName": "missing"}), http.StatusBadRequest, "ResourceNotFoundException", js["message"].(string))
	c.fail("Nonsense", javaCBOR(t, map[string]any{}), http.StatusBadRequest, "UnknownOperationException", "")
	c.fail("CreateStream", javaCBOR(t, map[string]any{"StreamName": "s", "ShardCount": "two"}), http.StatusBadRequest, "SerializationException", "")
	c.do("CreateStream", map[string]any{"StreamName": "s", "ShardCount": 1})
	c.fail("GetRecords", javaCBOR(t, map[string]any{"ShardIterator": "nope"}), http.StatusBadRequest, "InvalidArgumentException", "Invalid ShardIterator.")

	bad := map[string][]byte{
		"JSON, not CBOR":      []byte(`{"StreamName":"s"}`),
		"truncated":           javaCBOR(t, map[string]any{"StreamName": "s"})[:5],
		"two items":           append(javaCBOR(t, map[string]any{}), 0xa0),
		"a lone break":        {0xff},
		"an integer map key":  {0xa1, 0x01, 0x02},
		"invalid UTF-8":       {0xa1, 0x61, 'k', 0x62, 0xff, 0xfe},
		"a NaN":               {0xa1, 0x61, 'k', 0xf9, 0x7e, 0x00},
		"tag 1 over a string": {0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x61, 'x'},
		"too deep":            append(bytes.Repeat([]byte{0x81}, 100), 0x00),
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			c := &cborClient{t: t, url: jc.url}
			c.fail("ListShards", body, http.StatusBadRequest, "SerializationException", "cannot parse CBOR request")
		})
	}
}

// TestCBORBodyLimits checks a CBOR request is held to the same body limit,
// refused in CBOR.
func TestCBORBodyLimits(t *testing.T) {
	_, jc := startServer(t, t.TempDir(), Options{})
	c := &cborClient{t: t, url: jc.url}
	huge := javaCBOR(t, map[string]any{"StreamName": "s", "PartitionKey": "k", "Data": make([]byte, 10<<20)})
	c.fail("PutRecord", huge, http.StatusBadRequest, "ValidationException", "request body exceeds")
}

// TestCBORSigV4Failure checks an authentication failure is answered in
// CBOR to a CBOR client.
func TestCBORSigV4Failure(t *testing.T) {
	_, jc := startServer(t, t.TempDir(), Options{Credentials: map[string]string{"AKID": "right"}, Region: "us-east-1"})
	c := &cborClient{t: t, url: jc.url, key: "AKID", secret: "wrong"}
	a := c.send("ListStreams", javaCBOR(t, map[string]any{}))
	if a.status < 400 || a.body["__type"] == nil || a.body["message"] == nil {
		t.Fatalf("wrongly signed request: %d %v", a.status, a.body)
	}
}

// normalJSON decodes a JSON document as the oracle of the transcoders
// sees it: numbers as float64, blobs as canonical base64, and the numbers of timestamp fields as whole epoch
// milliseconds.
func normalJSON(t testing.TB, js []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, js)
	}
	return normalize(v, "", false)
}

// normalize rewrites a decoded document for comparison: v came from JSON
// (fromCBOR false: seconds, base64) or from fxamacker/cbor (milliseconds
// under tag 1, which fxamacker reads as a time of that many seconds).
func normalize(v any, key string, fromCBOR bool) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalize(e, k, fromCBOR)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e, key, fromCBOR)
		}
		return out
	case string:
		if cborBlobFields[key] { // canonical base64
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				return base64.StdEncoding.EncodeToString(b)
			}
		}
		return v
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case time.Time:
		return float64(v.Unix()) + float64(v.Nanosecond())/1e9
	case big.Int:
		f, _ := new(big.Float).SetInt(&v).Float64()
		return normalNumber(f, key, fromCBOR)
	case uint64:
		return normalNumber(float64(v), key, fromCBOR)
	case int64:
		return normalNumber(float64(v), key, fromCBOR)
	case float64:
		return normalNumber(v, key, fromCBOR)
	}
	return v
}

func normalNumber(f float64, key string, fromCBOR bool) any {
	switch {
	case cborTimestampFields[key] && fromCBOR:
		return fmt.Sprintf("a timestamp without tag 1: %v", f) // equal to nothing JSON gives
	case cborTimestampFields[key]:
		return math.Round(f * 1000)
	}
	return f
}

// FuzzCBORAnswerTranscode checks jsonToCBOR against encoding/json and
// fxamacker/cbor: any JSON document becomes CBOR that decodes to the same
// value, with blob fields as byte strings and timestamps as tag 1 over
// milliseconds.
func FuzzCBORAnswerTranscode(f *testing.F) {
	for _, s := range []string{
		`{"Records":[{"Data":"AAEC/w==","ApproximateArrivalTimestamp":1700000000.123,"PartitionKey":"k\u00e9\n"}],"MillisBehindLatest":0}`,
		`{"StreamDescription":{"StreamCreationTimestamp":1.5,"Shards":[],"HasMoreShards":false,"X":null}}`,
		`[1,-1,18446744073709551615,-9223372036854775808,1e300,-0.0,"",{"Data":"not base64!"},{"Data":""}]`,
		`{"__type":"ResourceNotFoundException","message":"Stream s under account 000000000000 not found."}`,
		`"\ud83d\ude00 \\ \" \u0000"`,
		`{"Timestamp":1e300,"EndedAt":-1e300}`, // beyond int64 milliseconds
		`{"StartedAt":-0.0004,"EndedAt":0.0015,"EarliestAllowedEndAt":-1765012345.678}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var v any
		if json.Unmarshal([]byte(js), &v) != nil {
			return // not JSON, or numbers beyond float64 the oracle cannot read
		}
		c, err := jsonToCBOR(nil, []byte(js))
		if err != nil {
			t.Fatalf("%q: %v", js, err)
		}
		var got any
		if err := cborMaps.Unmarshal(c, &got); err != nil {
			if cbor.Wellformed(c) == nil && strings.Contains(err.Error(), "overflows Go's int64") {
				return // a timestamp beyond any time (tag 1 over a float), which fxamacker cannot read as a time.Time
			}
			t.Fatalf("%q: answer %x is not CBOR: %v", js, c, err)
		}
		if want, got := normalJSON(t, []byte(js)), normalize(got, "", true); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", js, got, want)
		}
	})
}

// FuzzCBORRequestTranscode checks cborToJSON against fxamacker/cbor: any
// CBOR document either is refused or becomes JSON of the same value, with
// byte strings as base64 and timestamps (tag 1 over milliseconds) as
// seconds.
func FuzzCBORRequestTranscode(f *testing.F) {
	for _, v := range []any{
		map[string]any{"StreamName": "s", "Records": []any{map[string]any{"Data": []byte{0, 1, 0xff}, "PartitionKey": "é"}}},
		map[string]any{"Timestamp": javaTime(1700000000123), "StreamCreationTimestamp": uint64(1500), "N": -1, "F": 1.25, "B": true, "Z": nil},
		map[string]any{"Timestamp": javaTime(-1)},
	} {
		f.Add(javaCBOR(f, v))
	}
	f.Add([]byte{0xbf, 0x61, 'a', 0x5f, 0x41, 1, 0x41, 2, 0xff, 0x61, 'b', 0x7f, 0x61, 'x', 0x61, 'y', 0xff, 0xff}) // indefinite strings
	f.Add([]byte{0xa1, 0x64, 'D', 'a', 't', 'a', 0xd8, 0x2a, 0x43, 1, 2, 3})                                        // an unknown tag
	f.Add([]byte{0xa1, 0x61, 'f', 0xf9, 0x3c, 0x00})                                                                // a half float
	f.Add([]byte{0xa1, 0x61, 'n', 0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})                            // -2^64
	f.Fuzz(func(t *testing.T, doc []byte) {
		js, err := cborToJSON(nil, doc)
		if err != nil {
			return
		}
		if !json.Valid(js) {
			t.Fatalf("%x: not JSON: %q", doc, js)
		}
		var want any
		if err := cborNoTags.Unmarshal(doc, &want); err != nil || hasTimestampField(doc) {
			return // tags (bignums, times) and timestamps fxamacker reads otherwise: validity only
		}
		got := normalize(mustJSON(t, js), "", true)
		if want := normalize(want, "", true); !reflect.DeepEqual(got, want) {
			t.Fatalf("%x:\n got %#v\nwant %#v", doc, got, want)
		}
	})
}

func mustJSON(t testing.TB, js []byte) any {
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// cborNoTags decodes like cborMaps but refuses tags.
var cborNoTags = func() cbor.DecMode {
	dm, err := cbor.DecOptions{DefaultMapType: reflect.TypeFor[map[string]any](), TagsMd: cbor.TagsForbidden}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// hasTimestampField reports whether doc may name a timestamp field.
func hasTimestampField(doc []byte) bool {
	for k := range cborTimestampFields {
		if bytes.Contains(doc, []byte(k)) {
			return true
		}
	}
	return false
}

// blob is a Data value: base64 in JSON, a byte string in CBOR.
type blob []byte

// asJSON turns a request tree into what encoding/json writes as the JSON
// protocol's request: blobs base64, timestamps seconds.
func asJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = asJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = asJSON(e)
		}
		return out
	case blob:
		return []byte(v)
	case javaTime:
		return json.Number(strconv.FormatFloat(float64(v)/1000, 'f', 3, 64))
	}
	return v
}

// asCBOR turns a request tree into what the Java SDK writes.
func asCBOR(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = asCBOR(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = asCBOR(e)
		}
		return out
	case blob:
		return []byte(v)
	}
	return v
}

// twin is a store spoken to in JSON and its twin spoken to in CBOR: the
// same clock, the same iterator key, the same requests, so the same state.
type twin struct {
	t          testing.TB
	jsonURL    string
	cborURL    string
	realBefore int64 // a real time before any record
}

func newTwin(t testing.TB) *twin {
	clock := time.Date(2020, 1, 2, 3, 4, 5, 6e6, time.UTC) // before every record, so MillisBehindLatest is 0
	key := bytes.Repeat([]byte{7}, 32)
	tw := &twin{t: t, realBefore: time.Now().UnixMilli()}
	for _, url := range []*string{&tw.jsonURL, &tw.cborURL} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, keyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := New(dir, Options{Now: func() time.Time { return clock }, Fsync: slog.FsyncNever})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		t.Cleanup(func() { ts.Close(); s.Close() })
		*url = ts.URL
	}
	return tw
}

type twinAnswer struct {
	status int
	typ    string
	body   any
}

// both sends req as op to both stores and checks they answer alike; it
// returns the JSON store's answer.
func (tw *twin) both(op string, req map[string]any) twinAnswer {
	t := tw.t
	t.Helper()
	js, err := json.Marshal(asJSON(req))
	if err != nil {
		t.Fatal(err)
	}
	ja := tw.post(tw.jsonURL, "application/x-amz-json-1.1", op, js)
	ca := tw.post(tw.cborURL, CBORContentType, op, javaCBOR(t, asCBOR(req)))
	if ja.status != ca.status || ja.typ != ca.typ || !reflect.DeepEqual(ja.body, ca.body) {
		t.Fatalf("%s %s:\nJSON %d %s %#v\nCBOR %d %s %#v", op, js, ja.status, ja.typ, ja.body, ca.status, ca.typ, ca.body)
	}
	return ja
}

func (tw *twin) post(url, contentType, op string, body []byte) twinAnswer {
	t := tw.t
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Content-Type"); got != contentType {
		t.Fatalf("%s: answered Content-Type %q to %q", op, got, contentType)
	}
	a := twinAnswer{status: resp.StatusCode, typ: resp.Header.Get("X-Amzn-ErrorType")}
	var v any
	if contentType == CBORContentType {
		if err := cborMaps.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: answer is not CBOR: %v: %x", op, err, raw)
		}
		v = normalize(v, "", true)
	} else {
		v = normalJSON(t, raw)
	}
	a.body = tw.unclock(v, "")
	return a
}

// unclock replaces the record arrival times, which come from the real
// clock of each store's log, after checking they are times.
func (tw *twin) unclock(v any, key string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = tw.unclock(e, k)
		}
	case []any:
		for i, e := range v {
			v[i] = tw.unclock(e, key)
		}
	case float64:
		if key == "ApproximateArrivalTimestamp" {
			if ms := int64(v); ms < tw.realBefore || ms > time.Now().UnixMilli() {
				tw.t.Fatalf("arrival time %d outside [%d, now]", ms, tw.realBefore)
			}
			return "arrival"
		}
	}
	return v
}

// FuzzCBORMatchesJSON sends the same operations, as JSON to one store and
// as CBOR (as the Java SDK writes them) to its twin, and checks every
// answer is the same once both encodings are read: status, error type,
// message and every field, blobs and timestamps included.
func FuzzCBORMatchesJSON(f *testing.F) {
	f.Add(uint8(0), "s", "k", []byte("hello"), int64(0))
	f.Add(uint8(1), "s", "k\x00é", []byte{0, 0xff, 0x80}, int64(3))
	f.Add(uint8(2), "s", "k", []byte{}, int64(2))
	f.Add(uint8(2), "s", "k", []byte{}, int64(9))
	f.Add(uint8(2), "s", "k", []byte{}, int64(-4))
	f.Add(uint8(3), "s", "", []byte(nil), int64(1))
	f.Add(uint8(4), "missing", "", []byte(nil), int64(0))
	f.Add(uint8(5), "s", "", []byte(nil), int64(0))
	f.Add(uint8(6), "", "", []byte(nil), int64(1))
	f.Add(uint8(7), "t", "", []byte(nil), int64(2))
	f.Add(uint8(8), "s", "team", []byte("data"), int64(0))
	f.Add(uint8(9), "s", "", []byte(nil), int64(5))
	f.Add(uint8(1), "s", "k", bytes.Repeat([]byte{1}, 2000), int64(600))
	tw := newTwin(f)
	tw.both("CreateStream", map[string]any{"StreamName": "s", "ShardCount": 2})
	f.Fuzz(func(t *testing.T, op uint8, name, key string, data []byte, n int64) {
		tw.t = t
		defer func() { tw.t = f }()
		if data == nil {
			data = []byte{}
		}
		// Both clients send text as UTF-8 (the Java SDK's strings are
		// Unicode; encoding/json writes U+FFFD for bytes that are not).
		name, key = strings.ToValidUTF8(name, "\uFFFD"), strings.ToValidUTF8(key, "\uFFFD")
		shard := fmt.Sprintf("shardId-%012d", uint64(n)%3)
		switch op % 10 {
		case 0:
			tw.both("PutRecord", map[string]any{"StreamName": name, "PartitionKey": key, "Data": blob(data)})
		case 1:
			recs := []any{}
			for i := range int(uint64(n) % 4) {
				recs = append(recs, map[string]any{"PartitionKey": key + strconv.Itoa(i), "Data": blob(data[:len(data)*i/4])})
			}
			tw.both("PutRecords", map[string]any{"StreamName": name, "Records": recs})
		case 2:
			types := []string{"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "NOPE"}
			req := map[string]any{"StreamName": name, "ShardId": shard, "ShardIteratorType": types[uint64(n)%uint64(len(types))]}
			// Times an hour clear of every record's arrival, or at the edges.
			stamps := []int64{0, -1, tw.realBefore - 3600_000, time.Now().UnixMilli() + 3600_000, math.MaxInt64 / 2}
			if req["ShardIteratorType"] == "AT_TIMESTAMP" && n >= 0 {
				req["Timestamp"] = javaTime(stamps[uint64(n)/6%uint64(len(stamps))])
			}
			if key != "" {
				req["StartingSequenceNumber"] = key
			}
			it := tw.both("GetShardIterator", req)
			if it.status != http.StatusOK {
				return
			}
			jit := field(it.body, "ShardIterator") // the same in both: same key, clock and position
			for range 2 {
				page := tw.both("GetRecords", map[string]any{"ShardIterator": jit, "Limit": int(uint64(n)%5 + 1)})
				if jit = field(page.body, "NextShardIterator"); jit == nil {
					break
				}
			}
		case 3:
			req := map[string]any{"StreamName": name}
			if n > 0 {
				req["MaxResults"] = n % 3
			}
			tw.both("ListShards", req)
		case 4:
			tw.both("DescribeStream", map[string]any{"StreamName": name})
		case 5:
			tw.both("DescribeStreamSummary", map[string]any{"StreamName": name})
		case 6:
			tw.both("ListStreams", map[string]any{"Limit": n % 20})
		case 7:
			tw.both("CreateStream", map[string]any{"StreamName": name, "ShardCount": n % 3})
		case 8:
			tw.both("AddTagsToStream", map[string]any{"StreamName": name, "Tags": map[string]any{key: strings.ToValidUTF8(string(data), "\uFFFD")}})
			tw.both("ListTagsForStream", map[string]any{"StreamName": name})
		case 9: // wrong types
			tw.both("DescribeStream", map[string]any{"StreamName": n})
			tw.both("PutRecord", map[string]any{"StreamName": name, "PartitionKey": key, "Data": n})
			tw.both("GetShardIterator", map[string]any{"StreamName": name, "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": name})
		}
	})
}

// BenchmarkCBORvsJSON measures PutRecords (100 records of 1 KiB) and
// GetRecords (1000 records of 1 KiB) through the store's in-process
// transport, in JSON and in CBOR, in the same run: the cost of the
// transcoding on top of the server's work. The client's encoding and
// decoding are outside the clock (bodies built before; answers read but
// not decoded).
func BenchmarkCBORvsJSON(b *testing.B) {
	s, err := New(b.TempDir(), Options{Fsync: slog.FsyncNever})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	hc := &http.Client{Transport: s.Transport()}
	post := func(b *testing.B, contentType, op string, body []byte) []byte {
		req, err := http.NewRequest(http.MethodPost, "http://store/", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Amz-Target", targetPrefix+op)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d %v %q", op, resp.StatusCode, err, out[:min(len(out), 200)])
		}
		return out
	}
	js := func(v map[string]any) []byte {
		m, err := json.Marshal(asJSON(v))
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	encodings := []struct {
		name, contentType string
		encode            func(map[string]any) []byte
	}{
		{"json", "application/x-amz-json-1.1", js},
		{"cbor", CBORContentType, func(v map[string]any) []byte { return javaCBOR(b, asCBOR(v)) }},
	}
	post(b, "application/x-amz-json-1.1", "CreateStream", js(map[string]any{"StreamName": "read", "ShardCount": 1}))
	post(b, "application/x-amz-json-1.1", "CreateStream", js(map[string]any{"StreamName": "write", "ShardCount": 1}))
	data := bytes.Repeat([]byte("0123456789abcdef"), benchRecordBytes/16)
	batch := func(stream string, n int) map[string]any {
		recs := make([]any, n)
		for i := range recs {
			recs[i] = map[string]any{"PartitionKey": strconv.Itoa(i), "Data": blob(data)}
		}
		return map[string]any{"StreamName": stream, "Records": recs}
	}
	for range 2 {
		post(b, "application/x-amz-json-1.1", "PutRecords", js(batch("read", 500)))
	}
	for _, e := range encodings {
		b.Run("PutRecords/"+e.name, func(b *testing.B) {
			body := e.encode(batch("write", benchPerCall))
			b.SetBytes(int64(benchPerCall * len(data)))
			b.ReportAllocs()
			for b.Loop() {
				post(b, e.contentType, "PutRecords", body)
			}
		})
	}
	it := func(b *testing.B) string {
		var out struct{ ShardIterator string }
		raw := post(b, "application/x-amz-json-1.1", "GetShardIterator",
			js(map[string]any{"StreamName": "read", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}))
		if err := json.Unmarshal(raw, &out); err != nil {
			b.Fatal(err)
		}
		return out.ShardIterator
	}
	for _, e := range encodings {
		b.Run("GetRecords/"+e.name, func(b *testing.B) {
			body := e.encode(map[string]any{"ShardIterator": it(b), "Limit": 1000})
			b.SetBytes(int64(1000 * len(data)))
			b.ReportAllocs()
			for b.Loop() {
				post(b, e.contentType, "GetRecords", body)
			}
		})
	}
}

// BenchmarkCBORTranscode measures the transcoders alone: a PutRecords
// request (100 records of 1 KiB) from CBOR to JSON, and a GetRecords
// answer (1000 records of 1 KiB) from JSON to CBOR.
func BenchmarkCBORTranscode(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), benchRecordBytes/16)
	recs := make([]any, benchPerCall)
	for i := range recs {
		recs[i] = map[string]any{"PartitionKey": strconv.Itoa(i), "Data": data}
	}
	put := javaCBOR(b, map[string]any{"StreamName": "s", "Records": recs})
	b.Run("PutRecords-request", func(b *testing.B) {
		b.SetBytes(int64(len(put)))
		dst := make([]byte, 0, 2*len(put))
		for b.Loop() {
			var err error
			if dst, err = cborToJSON(dst[:0], put); err != nil {
				b.Fatal(err)
			}
		}
	})
	answer := []byte(`{"MillisBehindLatest":0,"NextShardIterator":"AAAAAAAAAAFcy8ktHkNOp","Records":[`)
	for i := range 1000 {
		if i > 0 {
			answer = append(answer, ',')
		}
		answer = append(answer, `{"SequenceNumber":"10157793424500600000000000000000000100000000000000000026","ApproximateArrivalTimestamp":1765012345.678,"Data":`...)
		answer = appendJSONBytes(answer, data)
		answer = append(answer, `,"PartitionKey":"k","EncryptionType":"NONE"}`...)
	}
	answer = append(answer, "]}\n"...)
	b.Run("GetRecords-answer", func(b *testing.B) {
		b.SetBytes(int64(len(answer)))
		dst := make([]byte, 0, len(answer))
		for b.Loop() {
			var err error
			if dst, err = jsonToCBOR(dst[:0], answer); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// jacksonCBORJars are the class path of Jackson's CBOR module (Debian's
// libjackson2-dataformat-cbor), which TestCBORJacksonClient needs.
var jacksonCBORJars = []string{"/usr/share/java/jackson-dataformat-cbor.jar", "/usr/share/java/jackson-core.jar"}

// TestCBORJacksonClient runs testdata/JacksonKinesisClient.java, a client
// on Jackson's CBOR generator and parser (the library under the AWS SDK for
// Java), against the store: binary data back byte for byte, timestamps
// readable as the SDK reads them (a long of milliseconds), an AT_TIMESTAMP
// iterator from a tag-1 timestamp, and an error in CBOR. It needs java and
// the Jackson jars; without them it is skipped.
func TestCBORJacksonClient(t *testing.T) {
	unavailable := func(msg string) {
		msg = "SKIPPING the CBOR test with Jackson, the Java SDK's CBOR library: " + msg
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip(msg)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		unavailable("no java on PATH (Debian: apt-get install default-jdk-headless)")
	}
	for _, jar := range jacksonCBORJars {
		if _, err := os.Stat(jar); err != nil {
			unavailable(fmt.Sprintf("no %s (Debian: apt-get install libjackson2-dataformat-cbor)", jar))
		}
	}
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	_, c := startServer(t, t.TempDir(), Options{})
	before := time.Now().UnixMilli()
	cmd := exec.Command(java, "-cp", strings.Join(jacksonCBORJars, ":"), "testdata/JacksonKinesisClient.java", c.url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("java client: %v\n%s", err, out)
	}
	after := time.Now().UnixMilli()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	_, missing := c.raw("DescribeStream", obj{"StreamName": "missing"}) // the message the JSON path answers
	want := []string{"put shardId-000000000000", "record " + hex.EncodeToString(every), "record fffe00", "at_timestamp 1", "created",
		fmt.Sprintf("error DescribeStream 400 %s %s %s %s", CBORContentType, missing["__type"], missing["__type"], missing["message"])}
	if len(lines) != len(want) {
		t.Fatalf("java client printed:\n%s", out)
	}
	for i, w := range want {
		got := lines[i]
		if strings.HasPrefix(w, "record ") || w == "created" {
			ms, err := strconv.ParseInt(got[strings.LastIndexByte(got, ' ')+1:], 10, 64)
			if err != nil || ms < before-1000 || ms > after {
				t.Fatalf("line %d %q: time %d not in [%d, %d]", i, got, ms, before, after)
			}
			got = got[:strings.LastIndexByte(got, ' ')]
		}
		if got != w {
			t.Fatalf("line %d: got %q, want %q\n%s", i, got, w, out)
		}
	}
}

// TestCBORInflightBudget checks the JSON a CBOR request is transcoded into
// counts against MaxInflightBytes with its body: a request alone always
// passes, and one that finds the budget taken by others is refused.
func TestCBORInflightBudget(t *testing.T) {
	const limit = 768 << 10
	s, jc := startServer(t, t.TempDir(), Options{Limits: Limits{MaxInflightBytes: limit}})
	c := &cborClient{t: t, url: jc.url}
	c.do("CreateStream", map[string]any{"StreamName": "s", "ShardCount": 1})
	put := map[string]any{"StreamName": "s", "PartitionKey": "k", "Data": make([]byte, 300<<10)}
	c.do("PutRecord", put) // body (512 KiB counted) and its JSON (512 KiB) over the limit, but alone
	if got := s.InflightBytes(); got != 0 {
		t.Fatalf("%d bytes still counted in flight after the request", got)
	}
	// Others hold all but what the body takes: the JSON it becomes does not fit.
	held, ok := s.inflight.take(limit - int64(bufCap(len(javaCBOR(t, put))+1)))
	if !ok {
		t.Fatal("cannot take the budget")
	}
	defer s.inflight.give(held)
	c.fail("PutRecord", javaCBOR(t, put), http.StatusServiceUnavailable, "LimitExceededException", "too many request bytes in flight")
}

// TestCBOREveryOperation sends every operation the store serves, as JSON
// to one store and as CBOR to its twin, with an empty request and one
// naming a stream that does not exist, and checks the answers are the same:
// an operation added to the operations map speaks CBOR with nothing of its
// own.
func TestCBOREveryOperation(t *testing.T) {
	tw := newTwin(t)
	ops := make([]string, 0, len(operations))
	for op := range operations {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	absent := map[string]any{"StreamName": "absent", "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/absent",
		"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/absent", "ConsumerName": "c", "ShardId": "shardId-000000000000",
		"ConsumerARN": "arn:aws:kinesis:us-east-1:000000000000:stream/absent/consumer/c:1"}
	for _, op := range ops {
		tw.both(op, map[string]any{})
		if op != "CreateStream" {
			tw.both(op, absent)
		}
	}
	// Timestamps of other operations than the records'.
	tw.both("UpdateAccountSettings", map[string]any{"MinimumThroughputBillingCommitment": map[string]any{"Status": "ENABLED"}})
	if a := tw.both("DescribeAccountSettings", map[string]any{}); field(field(a.body, "MinimumThroughputBillingCommitment"), "StartedAt") == nil {
		t.Fatalf("DescribeAccountSettings: %v", a.body)
	}
}

// TestCBORSubscriptionHoldsNoBudget checks a CBOR SubscribeToShard, once
// streaming, holds none of MaxInflightBytes: neither its body nor the JSON
// it was transcoded into.
func TestCBORSubscriptionHoldsNoBudget(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}}, false)
	consumer := e.activeConsumer(t, e.createStream(t, "java", 1), "kcl")
	body := javaCBOR(t, map[string]any{"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
		"StartingPosition": map[string]any{"Type": "LATEST"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", targetPrefix+"SubscribeToShard")
	req.Header.Set("Content-Type", CBORContentType)
	resp, err := e.proto.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := eventstream.NewDecoder(resp.Body).Decode(); err != nil { // the initial response: streaming
		t.Fatal(err)
	}
	if n := e.s.InflightBytes(); n != 0 {
		t.Fatalf("a streaming CBOR subscription holds %d in-flight bytes", n)
	}
}

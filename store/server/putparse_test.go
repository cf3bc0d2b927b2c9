package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// putParseSeeds are PutRecords and PutRecord bodies: the shapes SDKs send,
// which the fast parsers must accept, and near misses they must leave to
// encoding/json.
var putParseSeeds = []struct {
	body string
	fast bool // the fast parser of its operation accepts it
}{
	{`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"}]}`, true},
	{`{"Records":[{"PartitionKey":"k","ExplicitHashKey":"12","Data":"aGVsbG8gd29ybGQ="},{"Data":"","PartitionKey":"é"}],"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`, true},
	{" \t\r\n{ \"StreamName\" : \"s\" , \"Records\" : [ { \"Data\" : \"AAEC\" , \"PartitionKey\" : \"k\" } , {} ] } \n", true},
	{`{"StreamName":"s","Records":[]}`, true},
	{`{}`, true},
	{`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"}]}`, true},
	{`{"StreamName":"s","Data":"aGk=","PartitionKey":"k","ExplicitHashKey":"1"}`, true},
	{`{"PartitionKey":"日本","Data":"/+/+","StreamARN":"a"}`, true},
	{`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"}]} x`, false},
	{`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"}]`, false},
	{`{"streamname":"s","Records":[]}`, false},
	{`{"StreamName":"s","Records":[{"data":"aGk=","PartitionKey":"k"}]}`, false},
	{`{"StreamName":"s","StreamName":"t","Records":[]}`, false},
	{`{"StreamName":"s","Records":[{"Data":"aGk=","Data":"aGk=","PartitionKey":"k"}]}`, false},
	{`{"StreamName":null,"Records":[]}`, false},
	{`{"StreamName":"s","Records":null}`, false},
	{`{"StreamName":"s","Records":[null]}`, false},
	{`{"StreamName":"s","Records":[{"Data":null,"PartitionKey":"k"}]}`, false},
	{`{"StreamName":"s\u0041","Records":[]}`, false},
	{`{"StreamName":"s\"","Records":[]}`, false},
	{`{"StreamName":"s","Records":[{"Data":"aG\/k=","PartitionKey":"k"}]}`, false},
	{`{"StreamName":"s","Records":[{"Data":"aGk","PartitionKey":"k"}]}`, false},
	{`{"StreamName":"s","Records":[{"Data":"a\nGk=","PartitionKey":"k"}]}`, false},
	{"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"aGk=\",\"PartitionKey\":\"\xff\"}]}", false},
	{"{\"StreamName\":\"s\\t\",\"Records\":[]}", false},
	{"{\"StreamName\":\"s\t\",\"Records\":[]}", false},
	{`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k",}]}`, false},
	{`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"},]}`, false},
	{`{"StreamName":"s","ShardCount":1,"Records":[]}`, false},
	{`{"StreamName":1,"Records":[]}`, false},
	{`[]`, false},
	{`{"Data":"aGk=","PartitionKey":"k","Records":[]}`, false},
	{"\ufeff{}", false},
}

// FuzzPutRecordsParse checks the fast PutRecords and PutRecord parsers
// against encoding/json: whenever one accepts a body, encoding/json accepts
// it too and yields the same request.
func FuzzPutRecordsParse(f *testing.F) {
	for _, s := range putParseSeeds {
		f.Add([]byte(s.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := string(body)
		if got, ok := parsePutRecords(body, make([]byte, 0, putDataCap(len(body)))); ok {
			var want putRecordsIn
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("PutRecords %q: fast parser accepts, encoding/json says %v", body, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("PutRecords %q: fast parser gives %+v, encoding/json %+v", body, got, want)
			}
		}
		if got, ok := parsePutRecord(body, make([]byte, 0, putDataCap(len(body)))); ok {
			var want putRecordIn
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("PutRecord %q: fast parser accepts, encoding/json says %v", body, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("PutRecord %q: fast parser gives %+v, encoding/json %+v", body, got, want)
			}
		}
		if string(body) != orig {
			t.Fatalf("parsers changed the body %q to %q", orig, body)
		}
	})
}

// TestPutRecordsParseShapes checks which seeds the fast parsers take, so
// the common shapes do not silently fall back to encoding/json.
func TestPutRecordsParseShapes(t *testing.T) {
	for _, s := range putParseSeeds {
		body := []byte(s.body)
		_, many := parsePutRecords(body, make([]byte, 0, putDataCap(len(body))))
		_, one := parsePutRecord(body, make([]byte, 0, putDataCap(len(body))))
		isOne := strings.Contains(s.body, `"Data"`) && !strings.Contains(s.body, `"Records"`)
		if got := (isOne && one) || (!isOne && many); got != s.fast {
			t.Errorf("%q: fast parser accepts = %v, want %v", s.body, got, s.fast)
		}
	}
}

// TestJSONOut checks the hand-written encoders against encoding/json.
func TestJSONOut(t *testing.T) {
	for _, s := range []string{"", "shardId-000000000001", "a<b>&c", "q\"uote\\", "tab\t", "é日本", "\xff", "\u2028", "ctl\x01"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("string %q: got %s, want %s", s, got, want)
		}
		if got := appendJSONString(nil, []byte(s)); string(got) != string(want) {
			t.Errorf("bytes %q: got %s, want %s", s, got, want)
		}
	}
	for _, f := range []float64{0, 1, -1, 1.5, 1700000000.123, 1e-7, 1e21, 123456789012.345, -0.001, 1e20, math.SmallestNonzeroFloat64} {
		want, _ := json.Marshal(f)
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Errorf("float %v: got %s, want %s", f, got, want)
		}
	}
	for _, d := range [][]byte{nil, {}, {0}, []byte("hello world")} {
		want, _ := json.Marshal(d)
		if got := appendJSONBytes(nil, d); string(got) != string(want) {
			t.Errorf("bytes %v: got %s, want %s", d, got, want)
		}
	}
}

// TestAnswersAsEncoder: the hand-encoded answers of PutRecords, PutRecord
// and GetRecords are byte for byte what json.Encoder wrote for the same
// values before.
func TestAnswersAsEncoder(t *testing.T) {
	s, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	serve := func(op, body string) []byte {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", op, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	// same re-encodes got through the value types the answers were built
	// from before and compares.
	same := func(got []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(got, v); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("answer\n%s\nwant\n%s", got, want.Bytes())
		}
	}
	serve("CreateStream", `{"StreamName":"s","ShardCount":2}`)
	type putResult struct {
		SequenceNumber string `json:",omitempty"`
		ShardId        string `json:",omitempty"`
		ErrorCode      string `json:",omitempty"`
		ErrorMessage   string `json:",omitempty"`
	}
	same(serve("PutRecords", `{"StreamName":"s","Records":[{"Data":"","PartitionKey":"<&>"},{"Data":"aGk=","PartitionKey":"é\u2028"},{"Data":"/w==","PartitionKey":"k"}]}`),
		&struct {
			EncryptionType    string
			FailedRecordCount int
			Records           []putResult
		}{})
	same(serve("PutRecord", `{"StreamName":"s","Data":"aGk=","PartitionKey":"x"}`),
		&struct{ EncryptionType, SequenceNumber, ShardId string }{})
	type recordOut struct {
		SequenceNumber              string
		ApproximateArrivalTimestamp float64
		Data                        []byte
		PartitionKey                string
		EncryptionType              string
	}
	type answer struct {
		ChildShards        []childShard `json:",omitempty"`
		MillisBehindLatest int64
		NextShardIterator  string `json:",omitempty"`
		Records            []recordOut
	}
	for _, shard := range []string{"shardId-000000000000", "shardId-000000000001"} {
		var it struct{ ShardIterator string }
		json.Unmarshal(serve("GetShardIterator", `{"StreamName":"s","ShardId":"`+shard+`","ShardIteratorType":"TRIM_HORIZON"}`), &it)
		same(serve("GetRecords", `{"ShardIterator":"`+it.ShardIterator+`","Limit":1}`), &answer{})
		same(serve("GetRecords", `{"ShardIterator":"`+it.ShardIterator+`"}`), &answer{})
	}
	// A closed shard read to its end answers its children.
	var it struct{ ShardIterator string }
	json.Unmarshal(serve("GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"LATEST"}`), &it)
	serve("MergeShards", `{"StreamName":"s","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000001"}`)
	same(serve("GetRecords", `{"ShardIterator":"`+it.ShardIterator+`"}`), &answer{})
}

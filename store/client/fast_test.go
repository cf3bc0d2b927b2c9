package client

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzGetRecordsDecode: whenever the fast decoder takes an answer,
// encoding/json takes it too and reads the very same records.
func FuzzGetRecordsDecode(f *testing.F) {
	for _, s := range []string{
		`{"Records":[],"MillisBehindLatest":0,"NextShardIterator":"AAAA"}`,
		`{"Records":[{"SequenceNumber":"1","ApproximateArrivalTimestamp":1764068400.123,"Data":"aGk=","PartitionKey":"k","EncryptionType":"NONE"}],"MillisBehindLatest":12,"NextShardIterator":"x"}`,
		` { "NextShardIterator" : "it" , "Records" : [ { "Data" : "" , "PartitionKey" : "é" } , {"Data":"AAEC","SequenceNumber":"22"} ] } `,
		`{"Records":[{"Data":"aGk="}],"ChildShards":[{"ShardId":"shardId-000000000002","ParentShards":["shardId-000000000000"]}]}`,
		`{"Records":[{"Data":"aGk=","data":"aGk="}]}`,
		`{"Records":[{"Data":"aGk=","PartitionKey":"a\"b"}]}`,
		`{"Records":[{"Data":"aG k="}]}`,
		`{"Records":[{"Data":"aGk="},],"MillisBehindLatest":01}`,
		`{"Records":[{"Data":"aGk=","ApproximateArrivalTimestamp":-1.5e3}]}x`,
		`{"Records":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast GetRecordsOutput
		if !decodeGetRecords(data, &fast) {
			return
		}
		var slow GetRecordsOutput
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast decoder took %q, encoding/json refuses it: %v", data, err)
		}
		if len(fast.Records) != len(slow.Records) {
			t.Fatalf("%q: %d records, encoding/json %d", data, len(fast.Records), len(slow.Records))
		}
		for i := range fast.Records {
			a, b := fast.Records[i], slow.Records[i]
			if !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("%q: record %d data %q, encoding/json %q", data, i, a.Data, b.Data)
			}
			a.Data, b.Data = nil, nil
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: record %d %+v, encoding/json %+v", data, i, a, b)
			}
		}
		fast.Records, slow.Records = nil, nil
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: %+v, encoding/json %+v", data, fast, slow)
		}
	})
}

// FuzzPutRecordsEncode: the hand-written request body is JSON that
// encoding/json reads back as the records given.
func FuzzPutRecordsEncode(f *testing.F) {
	f.Add("s", []byte("hello"), "key", "")
	f.Add("s.t-u_1", []byte{0, 1, 2, 255}, "k\"\\\n\x01\xffé", "340282366920938463463374607431768211455")
	f.Fuzz(func(t *testing.T, stream string, data []byte, key, ehk string) {
		recs := []PutRecordsEntry{{Data: data, PartitionKey: key, ExplicitHashKey: ehk}, {Data: nil, PartitionKey: "x"}}
		body := appendPutRecords(nil, stream, recs)
		var got struct {
			StreamName string
			Records    []PutRecordsEntry
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%q: not JSON: %v", body, err)
		}
		want, _ := json.Marshal(struct {
			StreamName string
			Records    []PutRecordsEntry
		}{stream, recs})
		var exp struct {
			StreamName string
			Records    []PutRecordsEntry
		}
		_ = json.Unmarshal(want, &exp)
		if got.StreamName != exp.StreamName || len(got.Records) != 2 {
			t.Fatalf("%q: read back %+v, want %+v", body, got, exp)
		}
		for i := range got.Records {
			g, e := got.Records[i], exp.Records[i]
			if !bytes.Equal(g.Data, e.Data) || g.PartitionKey != e.PartitionKey || g.ExplicitHashKey != e.ExplicitHashKey {
				t.Fatalf("%q: record %d read back %+v, want %+v", body, i, g, e)
			}
		}
	})
}

// FuzzPutRecordsDecode: whenever the fast decoder takes a PutRecords
// answer, encoding/json reads the very same results.
func FuzzPutRecordsDecode(f *testing.F) {
	for _, s := range []string{
		`{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}],"EncryptionType":"NONE"}`,
		`{"FailedRecordCount":1,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded"},{}]}`,
		` {"Records" : [ ] , "FailedRecordCount" : 0 } `,
		`{"FailedRecordCount":1.5,"Records":[]}`,
		`{"Records":[{"ShardId":"a","ShardId":"b"}]}`,
		`{"Records":[{"ErrorMessage":"a\nb"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast PutRecordsOutput
		if !decodePutRecords(data, &fast) {
			return
		}
		var slow PutRecordsOutput
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast decoder took %q, encoding/json refuses it: %v", data, err)
		}
		if len(fast.Records) == 0 && len(slow.Records) == 0 {
			fast.Records, slow.Records = nil, nil
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: %+v, encoding/json %+v", data, fast, slow)
		}
	})
}

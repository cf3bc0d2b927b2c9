package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"

	"github.com/sluicehq/sluice/store"
)

// Every form AWS accepts for a shard id names the shard of its index:
// anything without '-' before the first '-', then the index with any
// zeros in front; ids of other forms name no shard.
func TestShardIdsResolveAsAWS(t *testing.T) {
	resolves := func(prefix string, zeros uint8, idx uint32) bool {
		prefix = strings.ReplaceAll(prefix, "-", "")
		n := uint64(idx % 2147483648)
		id := prefix + "-" + strings.Repeat("0", int(zeros%20)) + strconv.FormatUint(n, 10)
		got, ok := shardIndex(id)
		bare, bareOK := shardIndex(strings.Repeat("0", int(zeros%20)) + strconv.FormatUint(n, 10))
		return ok && got == n && bareOK && bare == n
	}
	if err := quick.Check(resolves, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "shardId-", "shardId", "ABKLFD8", "2.14E4", "2147483648", "shardId-002147483648", "a-b-1", "x-+1", "x- 1", "99999999999999999999999"} {
		if n, ok := shardIndex(id); ok {
			t.Errorf("shardIndex(%q) = %d, want no shard", id, n)
		}
	}
	for id, want := range map[string]uint64{"shardId-1": 1, "1": 1, "x-1": 1, "shardId-00001": 1, "-0": 0, "a-1-2": 1, "shard-2147483647": 2147483647} {
		if n, ok := shardIndex(id); !ok || n != want {
			t.Errorf("shardIndex(%q) = %d, %v, want %d", id, n, ok, want)
		}
	}
}

// FuzzBlobBase64 checks the blob decoder against strict standard base64:
// it accepts exactly the strings that decode, to the same bytes, and
// otherwise answers a SerializationException naming the value.
func FuzzBlobBase64(f *testing.F) {
	for _, s := range []string{"", "eA==", "QR==", "abc", "a=cd", "ab.d", "====", "QUJD", "QQ=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // not a JSON string
		}
		in, _ := json.Marshal(s)
		var b jsonBlob
		err := b.UnmarshalJSON(in)
		want, werr := base64.StdEncoding.Strict().DecodeString(s)
		if strings.ContainsAny(s, "\r\n") {
			return // the standard decoder skips newlines; AWS does not
		}
		switch {
		case (err == nil) != (werr == nil):
			t.Fatalf("%q: blob says %v, base64 %v", s, err, werr)
		case err == nil && string(b) != string(want):
			t.Fatalf("%q: blob %x, base64 %x", s, b, want)
		case err != nil:
			var ae *store.Error
			if !errors.As(err, &ae) || ae.Code != errSerialization || !strings.HasPrefix(ae.Message, "'"+s+"' can not be converted to a Blob: ") {
				t.Fatalf("%q: %v", s, err)
			}
		}
	})
}

// BenchmarkPutRecordsValidation measures AWS's checks of a full
// PutRecords request after its fast parse: 500 records.
func BenchmarkPutRecordsValidation(b *testing.B) {
	var recs []string
	for i := range store.MaxPutRecords {
		recs = append(recs, `{"PartitionKey":"user-`+strconv.Itoa(i)+`","Data":"eyJ1c2VyX2lkIjoxfQ=="}`)
	}
	body := []byte(`{"StreamName":"clicks","Records":[` + strings.Join(recs, ",") + `]}`)
	in, ok := parsePutRecords(body, make([]byte, 0, putDataCap(len(body))))
	if !ok {
		b.Fatal("not parsed")
	}
	b.ReportAllocs()
	for b.Loop() {
		var c checker
		c.records(len(in.Records), true, func(i int) putEntryJSON { return fastEntry(&in.Records[i]) })
		ref := fastRef(&in.streamRef)
		c.stream(ref)
		if err := c.errStream(ref); err != nil {
			b.Fatal(err)
		}
	}
}

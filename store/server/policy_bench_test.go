package server

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// BenchmarkAuthorizeCall measures the policy check of a PutRecords request
// of 500 records of 1 KiB: free while no stream has a policy, one scan of
// the body's top level once one has.
func BenchmarkAuthorizeCall(b *testing.B) {
	s, err := New(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.createStream([]byte(`{"StreamName":"s","ShardCount":1}`)); err != nil {
		b.Fatal(err)
	}
	type rec struct{ Data, PartitionKey string }
	recs := make([]rec, 500)
	for i := range recs {
		recs[i] = rec{base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 1024))), "key"}
	}
	body, _ := json.Marshal(map[string]any{"StreamName": "s", "Records": recs})
	c := &call{body: body, principal: "K"}
	run := func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := s.authorizeCall(c, "PutRecords"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no-policy", run)
	doc := `{"Statement":{"Effect":"Allow","Principal":{"AWS":"K"},"Action":"kinesis:Put*","Resource":"*"}}`
	in, _ := json.Marshal(map[string]string{"ResourceARN": streamS, "Policy": doc})
	if _, err := s.putResourcePolicy(in); err != nil {
		b.Fatal(err)
	}
	b.Run("policy", run)
}

package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// sdkServer starts a server over dir and an SDK client for it; stop
// closes both.
func sdkServer(t *testing.T, dir string, opts Options) (kc *kinesis.Client, stop func()) {
	t.Helper()
	s, err := New(dir, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	return sdkClient(ts.URL, "AKID", "secret"), func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// shardFilesContain reports whether any segment file under dir holds needle.
func shardFilesContain(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".seg") {
			return err
		}
		b, err := os.ReadFile(p)
		found = found || bytes.Contains(b, needle)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// readStream reads every record of every shard of a stream from the
// trim horizon.
func readStream(t *testing.T, kc *kinesis.Client, name string) map[string]types.Record {
	t.Helper()
	ctx := context.Background()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]types.Record{}
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			gr, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range gr.Records {
				out[string(r.Data)] = r
			}
			if len(gr.Records) == 0 {
				break
			}
			iter = gr.NextShardIterator
		}
	}
	return out
}

func putSome(t *testing.T, kc *kinesis.Client, name, prefix string, n int, want types.EncryptionType) {
	t.Helper()
	ctx := context.Background()
	var entries []types.PutRecordsRequestEntry
	for i := range n {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("pk", i)), Data: fmt.Appendf(nil, "%s-%03d", prefix, i)})
	}
	out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 || out.EncryptionType != want {
		t.Fatalf("PutRecords: %+v, %v; want EncryptionType %s", out, err, want)
	}
	pr, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("one"), Data: []byte(prefix + "-one")})
	if err != nil || pr.EncryptionType != want {
		t.Fatalf("PutRecord: %+v, %v; want EncryptionType %s", pr, err, want)
	}
}

// TestStartStopStreamEncryption goes start → write → stop → write with the
// SDK, and checks that every record reads back byte-exact with the
// EncryptionType it was written with, before and after a restart, and that
// the records written encrypted are not in the shard files.
func TestStartStopStreamEncryption(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	kc, stop := sdkServer(t, dir, Options{})
	name := aws.String("enc")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	putSome(t, kc, "enc", "plainA", 10, types.EncryptionTypeNone)
	if _, err := kc.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: name,
		EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(DefaultKMSAlias)}); err != nil {
		t.Fatalf("StartStreamEncryption: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyringFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file: %v, %v; want mode 0600", fi, err)
	}
	desc, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: name})
	if err != nil || desc.StreamDescription.EncryptionType != types.EncryptionTypeKms || aws.ToString(desc.StreamDescription.KeyId) != DefaultKMSAlias {
		t.Fatalf("DescribeStream: %+v, %v", desc.StreamDescription, err)
	}
	putSome(t, kc, "enc", "SECRET", 10, types.EncryptionTypeKms)
	// Stop names the stream and the key by their ARNs.
	var ring keyringFile
	b, _ := os.ReadFile(filepath.Join(dir, KeyringFile))
	if err := json.Unmarshal(b, &ring); err != nil || len(ring.Keys) != 1 || ring.Keys[0].Aliases[0] != DefaultKMSAlias {
		t.Fatalf("keyring %s: %v", b, err)
	}
	keyARN := "arn:aws:kms:us-east-1:000000000000:key/" + ring.Keys[0].ID
	if _, err := kc.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamARN: desc.StreamDescription.StreamARN,
		EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("StopStreamEncryption: %v", err)
	}
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: name})
	if err != nil || sum.StreamDescriptionSummary.EncryptionType != types.EncryptionTypeNone || sum.StreamDescriptionSummary.KeyId != nil {
		t.Fatalf("DescribeStreamSummary after stop: %+v, %v", sum.StreamDescriptionSummary, err)
	}
	putSome(t, kc, "enc", "plainB", 10, types.EncryptionTypeNone)

	check := func(kc *kinesis.Client) {
		t.Helper()
		recs := readStream(t, kc, "enc")
		if len(recs) != 33 {
			t.Fatalf("read %d records, want 33", len(recs))
		}
		for data, r := range recs {
			want := types.EncryptionTypeNone
			if strings.HasPrefix(data, "SECRET") {
				want = types.EncryptionTypeKms
			}
			if r.EncryptionType != want {
				t.Fatalf("record %q: EncryptionType %q, want %q", data, r.EncryptionType, want)
			}
		}
	}
	check(kc)
	stop()
	if shardFilesContain(t, dir, []byte("SECRET")) {
		t.Fatal("a record written encrypted is in plaintext in a shard file")
	}
	if !shardFilesContain(t, dir, []byte("plainB-003")) {
		t.Fatal("records written after StopStreamEncryption are not plaintext (the check above proves nothing)")
	}
	kc, stop = sdkServer(t, dir, Options{})
	defer stop()
	check(kc)
}

// TestEncryptedStreamStaysEncryptedAfterRestart writes with encryption on
// across a restart and a split: stream.json keeps the key, and the logs of
// new shards get it too.
func TestEncryptedStreamStaysEncryptedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.do("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"})
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("SECRET-before-restart")})
	s.Close()
	_, c = startServer(t, dir, Options{})
	if out := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("SECRET-after-restart")}); out["EncryptionType"] != "KMS" {
		t.Fatalf("PutRecord after restart: %v", out)
	}
	c.do("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "170141183460469231731687303715884105728"})
	for i := range 4 {
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": fmt.Sprint("k", i), "Data": b64(fmt.Sprint("SECRET-child-", i))})
	}
	kc := sdkClient(c.url, "AKID", "secret")
	recs := readStream(t, kc, "s")
	if len(recs) != 6 {
		t.Fatalf("read %d records, want 6", len(recs))
	}
	for data, r := range recs {
		if r.EncryptionType != types.EncryptionTypeKms {
			t.Fatalf("record %q: EncryptionType %q", data, r.EncryptionType)
		}
	}
	if shardFilesContain(t, dir, []byte("SECRET")) {
		t.Fatal("plaintext of an encrypted record in a shard file")
	}
}

func writeKeyring(t *testing.T, path string, keys ...ringKey) {
	t.Helper()
	b, err := json.Marshal(keyringFile{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func material(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

const (
	testKeyID     = "1234abcd-12ab-34cd-56ef-1234567890ab"
	disabledKeyID = "0987dcba-09fe-87dc-65ba-ab0987654321"
)

// TestEncryptionKeyIdForms names keys in each of KMS's forms and checks
// the errors for keys that are not there or disabled, with their types,
// statuses and messages.
func TestEncryptionKeyIdForms(t *testing.T) {
	dir := t.TempDir()
	ring := filepath.Join(t.TempDir(), "ring.json")
	writeKeyring(t, ring, ringKey{ID: testKeyID, Aliases: []string{"alias/mine"}, Material: material(1)},
		ringKey{ID: disabledKeyID, Aliases: []string{"alias/off"}, Material: material(2), Disabled: true})
	_, c := startServer(t, dir, Options{Keyring: ring, Region: "eu-west-1"})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	for _, id := range []string{testKeyID, "arn:aws:kms:eu-west-1:000000000000:key/" + testKeyID, "alias/mine",
		"arn:aws:kms:eu-west-1:000000000000:alias/mine"} {
		c.do("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": id})
		d := c.do("DescribeStreamSummary", obj{"StreamName": "s"})["StreamDescriptionSummary"]
		if field(d, "EncryptionType") != "KMS" || field(d, "KeyId") != id {
			t.Fatalf("after StartStreamEncryption with %s: %v", id, d)
		}
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("SECRET-" + id)})
	}
	f := func(op string, in obj, code, msg string) {
		t.Helper()
		status, out := c.raw(op, in)
		if status != 400 || out["__type"] != code || out["message"] != msg {
			t.Fatalf("%s %v: %d %v; want 400 %s %q", op, in, status, out, code, msg)
		}
	}
	start := func(keyID any) obj {
		return obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": keyID}
	}
	f("StartStreamEncryption", start("alias/nope"), "KMSNotFoundException", "Alias arn:aws:kms:eu-west-1:000000000000:alias/nope is not found.")
	f("StartStreamEncryption", start("11111111-2222-3333-4444-555555555555"), "KMSNotFoundException",
		"Key 'arn:aws:kms:eu-west-1:000000000000:key/11111111-2222-3333-4444-555555555555' does not exist")
	f("StartStreamEncryption", start("not-a-key"), "KMSNotFoundException", "Invalid keyId not-a-key")
	f("StartStreamEncryption", start("arn:aws:kms:us-east-1:000000000000:key/"+testKeyID), "KMSNotFoundException",
		"Invalid arn arn:aws:kms:us-east-1:000000000000:key/"+testKeyID)
	f("StartStreamEncryption", start("alias/off"), "KMSDisabledException", "arn:aws:kms:eu-west-1:000000000000:key/"+disabledKeyID+" is disabled.")
	f("StartStreamEncryption", start(disabledKeyID), "KMSDisabledException", "arn:aws:kms:eu-west-1:000000000000:key/"+disabledKeyID+" is disabled.")
	f("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "NONE", "KeyId": testKeyID}, "InvalidArgumentException",
		"Encryption type NONE is not supported. Use KMS.")
	f("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "AES", "KeyId": testKeyID}, "ValidationException",
		"1 validation error detected: Value 'AES' at 'encryptionType' failed to satisfy constraint: Member must satisfy enum value set: [KMS, NONE]")
	f("StartStreamEncryption", obj{"StreamName": "s", "KeyId": testKeyID}, "ValidationException",
		"1 validation error detected: Value null at 'encryptionType' failed to satisfy constraint: Member must not be null")
	f("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS"}, "ValidationException",
		"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	f("StartStreamEncryption", obj{"StreamName": "nope", "EncryptionType": "KMS", "KeyId": testKeyID}, "ResourceNotFoundException",
		"Stream nope under account 000000000000 not found.")
	f("StopStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/off"}, "InvalidArgumentException",
		"Key alias/off is not the key stream s is encrypted with.")
	// The failures changed nothing.
	d := c.do("DescribeStream", obj{"StreamName": "s"})["StreamDescription"]
	if field(d, "EncryptionType") != "KMS" || field(d, "KeyId") != "arn:aws:kms:eu-west-1:000000000000:alias/mine" {
		t.Fatalf("DescribeStream: %v", d)
	}
	c.do("StopStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/mine"})
	if shardFilesContain(t, dir, []byte("SECRET")) {
		t.Fatal("plaintext of an encrypted record in a shard file")
	}
	// The keyring was not touched: no AWS-managed key was made.
	var got keyringFile
	b, _ := os.ReadFile(ring)
	if json.Unmarshal(b, &got); len(got.Keys) != 2 {
		t.Fatalf("keyring now holds %d keys", len(got.Keys))
	}
}

// TestMissingKeyStopsTheStore checks that a store whose encrypted stream's
// key is gone from the keyring does not start, and says which stream,
// shard and key.
func TestMissingKeyStopsTheStore(t *testing.T) {
	dir := t.TempDir()
	ring := filepath.Join(t.TempDir(), "ring.json")
	writeKeyring(t, ring, ringKey{ID: testKeyID, Material: material(1)})
	s, c := startServer(t, dir, Options{Keyring: ring})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.do("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": testKeyID})
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("SECRET")})
	s.Close()
	writeKeyring(t, ring)
	s2, err := New(dir, Options{Keyring: ring})
	if err == nil {
		s2.Close()
		t.Fatal("New started without the key of an encrypted stream")
	}
	for _, want := range []string{"stream s", "shardId-000000000000", testKeyID} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("New error %q does not name %q", err, want)
		}
	}
}

// TestKeyringReadableByOthersIsReported checks the warning about a keyring
// file that others than its owner may read, and that a malformed keyring
// stops the store with an error naming the file.
func TestKeyringReadableByOthersIsReported(t *testing.T) {
	ring := filepath.Join(t.TempDir(), "ring.json")
	writeKeyring(t, ring, ringKey{ID: testKeyID, Material: material(1)})
	if err := os.Chmod(ring, 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	s, err := New(t.TempDir(), Options{Keyring: ring, Logf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(lines) != 1 || !strings.Contains(lines[0], ring) || !strings.Contains(lines[0], "chmod 600") {
		t.Fatalf("log lines %q", lines)
	}
	for _, bad := range []ringKey{{ID: "k1", Material: material(1)}, {ID: testKeyID, Material: "c2hvcnQ="},
		{ID: testKeyID, Material: material(1), Aliases: []string{"mine"}}} {
		writeKeyring(t, ring, bad)
		if s, err := New(t.TempDir(), Options{Keyring: ring}); err == nil || !strings.Contains(err.Error(), ring) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("keyring with %+v: New error %v", bad, err)
		}
	}
}

// tamperSealedFrame changes a ciphertext byte of the first frame of an
// encrypted segment and fixes the frame's CRC, so that only the
// authentication tag can tell, and returns the frame's offset.
func tamperSealedFrame(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const off = 88 // the encrypted segment header's size
	if len(b) < off+8 || string(b[:8]) != "SLUICEE1" {
		t.Fatalf("%s is not an encrypted segment with frames", path)
	}
	n := binary.LittleEndian.Uint32(b[off:])
	body := b[off+8 : off+8+int(n)]
	body[18+12+1] ^= 0x01 // past seq, timestamp, hdrLen and nonce
	binary.LittleEndian.PutUint32(b[off+4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return off
}

// TestTamperedEncryptedRecordIsReportedAsDamage checks that a record whose
// ciphertext was changed on disk (with its CRC made to match) is reported
// at start as damage with its place, and that a reader gets AWS's
// InternalFailure there instead of altered data.
func TestTamperedEncryptedRecordIsReportedAsDamage(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.do("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"})
	for i := range 5 {
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64(fmt.Sprint("SECRET-", i))})
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "s", "shardId-000000000000", "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("%d segments", len(segs))
	}
	off := tamperSealedFrame(t, segs[0])
	var ls lines
	_, c = startServer(t, dir, Options{Logf: ls.logf})
	if got := ls.with("stream s shard shardId-000000000000", "DAMAGED", segs[0], fmt.Sprintf("offset %d", off), "1 record lost"); len(got) != 1 {
		t.Fatalf("want one line reporting the damaged shard, got:\n%s", ls.String())
	}
	if got := ls.with("authentication failed", fmt.Sprintf("offset %d", off)); len(got) != 1 {
		t.Fatalf("want the damage's reason, got:\n%s", ls.String())
	}
	data, status, fail := readShard(c, "s", "shardId-000000000000")
	if status != 500 || fail["__type"] != "InternalFailure" || len(data) != 0 {
		t.Fatalf("reading into the damage: status %d %v after %d records", status, fail, len(data))
	}
}

// TestDisabledKeyRefusesPutsAndReads disables a stream's key in the
// keyring file while the store runs: puts to the stream and reads of the
// records encrypted with it answer KMSDisabledException, as Kinesis does,
// the key cannot be chosen again, encryption with it can be stopped, the
// store still starts, and enabling the key again makes the records
// readable.
func TestDisabledKeyRefusesPutsAndReads(t *testing.T) {
	dir := t.TempDir()
	ring := filepath.Join(t.TempDir(), "ring.json")
	key := ringKey{ID: testKeyID, Aliases: []string{"alias/k"}, Material: material(3)}
	writeKeyring(t, ring, key)
	s, c := startServer(t, dir, Options{Keyring: ring})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.do("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/k"})
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("SECRET-1")})
	off := key
	off.Disabled = true
	writeKeyring(t, ring, off)
	disabledMsg := "arn:aws:kms:us-east-1:000000000000:key/" + testKeyID + " is disabled."
	put := obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("SECRET-2")}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, out := c.raw("PutRecord", put)
		if status == 400 && out["__type"] == "KMSDisabledException" && out["message"] == disabledMsg {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PutRecord with the key disabled: %d %v", status, out)
		}
	}
	c.fail("PutRecords", obj{"StreamName": "s", "Records": []obj{{"PartitionKey": "k", "Data": b64("x")}}}, "KMSDisabledException")
	_, status, fail := readShard(c, "s", "shardId-000000000000")
	if status != 400 || fail["__type"] != "KMSDisabledException" || fail["message"] != disabledMsg {
		t.Fatalf("GetRecords with the key disabled: %d %v", status, fail)
	}
	c.fail("StartStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/k"}, "KMSDisabledException")
	c.do("StopStreamEncryption", obj{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/k"})
	if out := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("plain-3")}); out["EncryptionType"] != "NONE" {
		t.Fatalf("PutRecord after stop: %v", out)
	}
	s.Close()

	_, c = startServer(t, dir, Options{Keyring: ring}) // starts with the key disabled
	writeKeyring(t, ring, key)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, status, fail := readShard(c, "s", "shardId-000000000000")
		// Puts went on until the store saw the key disabled (within keyRecheck).
		if status == 200 && len(data) >= 2 && data[0] == b64("SECRET-1") && data[len(data)-1] == b64("plain-3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetRecords with the key enabled again: %d %v %q", status, fail, data)
		}
	}
}

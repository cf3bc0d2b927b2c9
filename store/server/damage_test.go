package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	slog "github.com/sluicehq/sluice/store/log"
)

// flipInFrame flips a byte in the payload of frame k of a segment file
// and returns the frame's offset.
func flipInFrame(t *testing.T, path string, k int) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(16) // segment header
	for i := 0; i < k; i++ {
		off += 8 + int64(binary.LittleEndian.Uint32(data[off:]))
	}
	data[off+8+18+2] ^= 0x10 // past the frame head and the record's fixed fields
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return off
}

// readShard reads a shard from TRIM_HORIZON until it ends or fails, and
// returns the payloads read and the failing reply, if any.
func readShard(c *client, stream, shard string) (data []string, status int, failure map[string]any) {
	it := c.iterator(stream, shard, "TRIM_HORIZON", nil)
	for range 1000 {
		status, out := c.raw("GetRecords", obj{"ShardIterator": it, "Limit": 7})
		if status != http.StatusOK {
			return data, status, out
		}
		recs := list(out["Records"])
		for _, r := range recs {
			data = append(data, field(r, "Data").(string))
		}
		next, ok := out["NextShardIterator"].(string)
		if len(recs) == 0 || !ok {
			return data, http.StatusOK, nil
		}
		it = next
	}
	c.t.Fatal("GetRecords does not end")
	return nil, 0, nil
}

// A bad byte in a sealed segment: the store reports the damaged shard at
// start (stream, shard, file, offset, records), a reader gets an error at
// the damage instead of a silent end, and with skip it reads every intact
// record, the later segments included.
func TestDamagedShardIsReportedAndReadersGetAnError(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{SegmentBytes: 1 << 10})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	for i := range 60 {
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64(fmt.Sprintf("record-%03d", i))})
	}
	s.Close()
	shardDir := filepath.Join(dir, "s", "shardId-000000000000")
	segs, _ := filepath.Glob(filepath.Join(shardDir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	victim := segs[1]
	off := flipInFrame(t, victim, 2)

	var ls lines
	s, c = startServer(t, dir, Options{SegmentBytes: 1 << 10, Logf: ls.logf})
	if got := ls.with("stream s shard shardId-000000000000", "DAMAGED", victim, fmt.Sprintf("offset %d", off), "1 record lost"); len(got) != 1 {
		t.Fatalf("want one line reporting the damaged shard, got:\n%s", ls.String())
	}
	data, status, fail := readShard(c, "s", "shardId-000000000000")
	msg, _ := fail["message"].(string)
	if status != http.StatusInternalServerError || fail["__type"] != "InternalFailure" || !strings.Contains(msg, "shardId-000000000000") {
		t.Fatalf("reading into the damage: status %d %v after %d records, want 500 InternalFailure naming the shard", status, fail, len(data))
	}
	if strings.Contains(msg, dir) || strings.Contains(msg, ".seg") {
		t.Fatalf("error names a server file: %q", msg)
	}
	if !regexp.MustCompile(`Record [0-9]{56} of shard shardId-000000000000 is lost`).MatchString(msg) {
		t.Fatalf("error does not name the lost records by their API sequence numbers: %q", msg)
	}
	// Writes go on.
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("after")})

	s.Close() // one server over a folder at a time
	ls = lines{}
	_, c = startServer(t, dir, Options{SegmentBytes: 1 << 10, OnCorruption: slog.CorruptionSkip, Logf: ls.logf})
	data, status, fail = readShard(c, "s", "shardId-000000000000")
	if status != http.StatusOK || len(data) != 60 || data[59] != b64("after") {
		t.Fatalf("skip: read %d records (status %d %v), want 59 intact and the one written after", len(data), status, fail)
	}
	if len(ls.with("skipped", victim)) != 1 {
		t.Fatalf("skip not logged once:\n%s", ls.String())
	}
}

// A shard whose log is read-only after corruption refuses PutRecord with
// an error that names the shard and no server file.
func TestPutRecordErrorNamesNoServerPath(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{SegmentBytes: 1 << 10})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	for i := range 40 {
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64(fmt.Sprint(i))})
	}
	s.Close()
	shardDir := filepath.Join(dir, "s", "shardId-000000000000")
	segs, _ := filepath.Glob(filepath.Join(shardDir, "*.seg"))
	// A stray copy of a segment that overlaps the next one.
	data, _ := os.ReadFile(segs[1])
	base := binary.LittleEndian.Uint64(data[8:]) + 1
	binary.LittleEndian.PutUint64(data[8:], base)
	if err := os.WriteFile(filepath.Join(shardDir, fmt.Sprintf("%020d.seg", base)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var ls lines
	_, c = startServer(t, dir, Options{SegmentBytes: 1 << 10, Logf: ls.logf})
	if len(ls.with("shardId-000000000000", "read-only")) != 1 {
		t.Fatalf("read-only shard not reported:\n%s", ls.String())
	}
	status, out := c.raw("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("x")})
	msg, _ := out["message"].(string)
	if status != http.StatusInternalServerError || out["__type"] != "InternalFailure" || !strings.Contains(msg, "shardId-000000000000") {
		t.Fatalf("PutRecord on a read-only shard: %d %v", status, out)
	}
	if strings.Contains(msg, dir) || strings.Contains(msg, ".seg") {
		t.Fatalf("PutRecord error names a server file: %q", msg)
	}
}

// A log refusing writes (disk full) answers 503 ServiceUnavailable, which
// AWS SDKs retry, naming the shard and the cause but no server file.
func TestRefusedWriteIsServiceUnavailable(t *testing.T) {
	s, err := New(t.TempDir(), Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cause := fmt.Errorf("%w: cannot write segment /srv/data/s/shardId-000000000001/00000000000000000001.seg: %w", slog.ErrUnavailable,
		&os.PathError{Op: "write", Path: "/srv/data/s/shardId-000000000001/00000000000000000001.seg", Err: syscall.ENOSPC})
	rec := httptest.NewRecorder()
	status, code, msg := s.failure(inShard("shardId-000000000001", cause))
	writeError(rec, status, code, msg)
	var out map[string]string
	if err := json.NewDecoder(rec.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || out["__type"] != "ServiceUnavailable" || rec.Header().Get("X-Amzn-ErrorType") != "ServiceUnavailable" {
		t.Fatalf("reply %d %v", rec.Code, out)
	}
	if !strings.Contains(out["message"], "shardId-000000000001") || !strings.Contains(out["message"], "no space left on device") || strings.Contains(out["message"], "/srv") {
		t.Fatalf("message %q", out["message"])
	}
	if !errors.Is(cause, syscall.ENOSPC) {
		t.Fatal("cause lost")
	}
}

// A stream whose metadata cannot be replaced on disk (here stream.json has
// become a folder, so the rename over it fails) answers SplitShard,
// AddTagsToStream and IncreaseStreamRetentionPeriod with a 500 InternalFailure that names no
// server file; the store's log gets the cause.
func TestMetadataWriteFailureNamesNoServerPath(t *testing.T) {
	dir := t.TempDir()
	var ls lines
	_, c := startServer(t, dir, Options{Logf: ls.logf})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	meta := filepath.Join(dir, "s", metaFile)
	if err := os.Remove(meta); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(meta, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		op string
		in obj
	}{
		{"SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "1000"}},
		{"AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"a": "b"}}},
		{"IncreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": 48}},
	} {
		status, out := c.raw(call.op, call.in)
		msg, _ := out["message"].(string)
		if status != http.StatusInternalServerError || out["__type"] != "InternalFailure" {
			t.Fatalf("%s: %d %v, want 500 InternalFailure", call.op, status, out)
		}
		if strings.Contains(msg, dir) || strings.Contains(msg, metaFile) {
			t.Fatalf("%s error names a server file: %q", call.op, msg)
		}
	}
	if len(ls.with(metaFile)) == 0 {
		t.Fatalf("the cause is not logged:\n%s", ls.String())
	}
	for _, ln := range ls.with("?") {
		t.Errorf("log line with an unknown shard: %q", ln)
	}
}

// The DAMAGED line at start counts the records lost in good English and,
// when the damage lost none (a bad segment header), does not tell of
// readers getting an error.
func TestDamageSummaryCountsRecords(t *testing.T) {
	for _, tc := range []struct {
		dmg  []slog.Damage
		want string
		not  string
	}{
		{[]slog.Damage{{File: "a.seg", Offset: 0, FirstSeq: 7001, NextSeq: 7001, Exact: true}}, "no record lost", "error"},
		{[]slog.Damage{{File: "a.seg", Offset: 16, FirstSeq: 1, NextSeq: 2, Exact: true}}, "; 1 record lost; readers get an error", "1 records"},
		{[]slog.Damage{{File: "a.seg", FirstSeq: 1, NextSeq: 2, Exact: true}, {File: "a.seg", FirstSeq: 5, NextSeq: 7}}, "; up to 3 records lost;", "1 records"},
	} {
		got := damageSummary(tc.dmg, slog.CorruptionStop)
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
			t.Errorf("damageSummary(%v) = %q, want %q and not %q", tc.dmg, got, tc.want, tc.not)
		}
	}
}

// A deleted newest segment file after a clean shutdown: the store reports
// the missing records at start, and a new record gets a sequence number
// past every one handed out before, so a consumer's checkpoint never
// points at a different record.
func TestDeletedNewestSegmentIsReportedAndNotReused(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{SegmentBytes: 1 << 10})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	var last string
	for i := range 60 {
		out := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64(fmt.Sprintf("record-%03d", i))})
		last = out["SequenceNumber"].(string)
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "s", "shardId-000000000000", "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	if err := os.Remove(segs[len(segs)-1]); err != nil {
		t.Fatal(err)
	}
	var ls lines
	_, c = startServer(t, dir, Options{SegmentBytes: 1 << 10, Logf: ls.logf})
	if got := ls.with("stream s shard shardId-000000000000", "DAMAGED", "records lost"); len(got) != 1 {
		t.Fatalf("want one DAMAGED line, got:\n%s", ls.String())
	}
	if got := ls.with("are missing (newest segment truncated or deleted)"); len(got) != 1 {
		t.Fatalf("want one line naming the missing records, got:\n%s", ls.String())
	}
	out := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("after")})
	if seq := out["SequenceNumber"].(string); seq <= last {
		t.Fatalf("new record got %s, not past %s handed out before", seq, last)
	}
}

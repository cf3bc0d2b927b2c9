package runtime

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// ckBenchState is the size of the state restored by the restore benchmarks.
const ckBenchState = 64 << 20

// writeBenchCheckpoint writes checkpoint 1 of about size bytes of random
// state, spread over every subtask of j's operators, through opt.
func writeBenchCheckpoint(b testing.TB, j *ckJob, opt *CheckpointOptions, size int) {
	b.Helper()
	w, err := newCheckpointWriter(opt, 1, false, "ck", j.g)
	if err != nil {
		b.Fatal(err)
	}
	var subtasks int
	for _, n := range j.g.Nodes {
		subtasks += n.Parallelism
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range j.g.Nodes {
		for st := range n.Parallelism {
			data := make([]byte, size/subtasks)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			if err := w.add(n.ID, st, data); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.commit(false); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRestoreFromS3: reading and verifying a 64 MB checkpoint from an
// S3-compatible server (gofakes3, in memory, over loopback HTTP); MB/s is
// the restore throughput.
func BenchmarkRestoreFromS3(b *testing.B) {
	s, _ := fakeBucket(b, "bench")
	j := newCkJob(1, 2, -1)
	writeBenchCheckpoint(b, j, &CheckpointOptions{Store: s}, ckBenchState)
	b.SetBytes(ckBenchState)
	b.ResetTimer()
	for b.Loop() {
		if _, err := LoadCheckpointFrom(s, "chk-000001"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestoreFromFolder: the same checkpoint read from a local folder.
func BenchmarkRestoreFromFolder(b *testing.B) {
	dir := b.TempDir()
	j := newCkJob(1, 2, -1)
	writeBenchCheckpoint(b, j, &CheckpointOptions{Dir: dir}, ckBenchState)
	b.SetBytes(ckBenchState)
	b.ResetTimer()
	for b.Loop() {
		if _, err := LoadCheckpoint(filepath.Join(dir, "chk-000001")); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLargeCheckpointRoundTripsThroughS3: a state larger than minio-go's
// multipart threshold (16 MiB) reads back whole from the bucket.
func TestLargeCheckpointRoundTripsThroughS3(t *testing.T) {
	s, _ := fakeBucket(t, "big")
	j := newCkJob(1, 2, -1)
	writeBenchCheckpoint(t, j, &CheckpointOptions{Store: s}, 24<<20)
	c, err := LoadCheckpointFrom(s, "chk-000001")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, b := range c.blobs {
		n += len(b)
	}
	if n < 24<<20-64 {
		t.Fatalf("restored %d bytes of state", n)
	}
}

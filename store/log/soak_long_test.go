//go:build long

package log

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakRoundsEnv sets the number of rounds of TestSoakKill9WithBitFlips
// (default 100), e.g. SLUICE_LOG_SOAK_ROUNDS=10 for a quick check.
const soakRoundsEnv = "SLUICE_LOG_SOAK_ROUNDS"

// frameAt is an intact frame of a segment file.
type frameAt struct {
	off, size int64
	seq       uint64
}

// intactFrames lists the valid frames of a segment file, passing over
// damage the way recovery does.
func intactFrames(t *testing.T, path string) []frameAt {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []frameAt
	var next uint64
	if len(data) >= segHeaderSize {
		next = binary.LittleEndian.Uint64(data[8:])
	}
	for off := segHeaderSize; off < len(data); {
		rec, n, err := decodeFrame(data[off:], nil)
		if err == nil && rec.Seq == next {
			out = append(out, frameAt{int64(off), int64(n), rec.Seq})
			off += n
			next++
			continue
		}
		p, seq, ok := nextValidFrame(data[off:], 1, next)
		if !ok {
			break
		}
		off, next = off+p, seq
	}
	return out
}

// TestSoakKill9WithBitFlips kills a log under 8 writers with SIGKILL, round
// after round, and between rounds flips a random byte in random intact
// frames. After each round: every acknowledged record whose frame is
// intact reads back, every flipped record is reported by Damage, and no
// sequence number was acknowledged twice.
func TestSoakKill9WithBitFlips(t *testing.T) {
	rounds := 100
	if n, err := strconv.Atoi(os.Getenv(soakRoundsEnv)); err == nil && n > 0 {
		rounds = n
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	acked := map[uint64]uint64{} // seq → payload id
	flipped := map[uint64]bool{} // seqs whose frames were damaged
	opts := Options{SegmentBytes: 16 << 10, OnCorruption: CorruptionSkip, Logf: func(string, ...any) {}}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashWritersEnv+"=8")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a random moment after the writers have started.
		var stdout bytes.Buffer
		started := make(chan struct{})
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			b := make([]byte, 64<<10)
			once := false
			for {
				n, err := pipe.Read(b)
				stdout.Write(b[:n])
				if !once && bytes.Count(stdout.Bytes(), []byte("\n")) > 1 {
					once = true
					close(started)
				}
				if err != nil {
					return
				}
			}
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Logf("round %d: no ack within 10s", round)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		cmd.Process.Kill()
		<-copied
		cmd.Wait()
		if strings.Contains(stderr.String(), "open:") || strings.Contains(stderr.String(), "append:") {
			t.Fatalf("round %d: child failed: %s", round, stderr.String())
		}
		got := 0
		for _, ln := range strings.Split(stdout.String(), "\n") {
			f := strings.Fields(ln)
			if len(f) != 3 {
				continue
			}
			first, err1 := strconv.ParseUint(f[0], 10, 64)
			n, err2 := strconv.ParseUint(f[1], 10, 64)
			id, err3 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			for j := range n {
				if prev, ok := acked[first+j]; ok {
					t.Fatalf("round %d: sequence number %d acknowledged twice (payloads %d and %d)", round, first+j, prev, id+j)
				}
				acked[first+j] = id + j
			}
			got++
		}

		l, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		dmg := l.Damage()
		damaged := func(seq uint64) bool {
			for _, d := range dmg {
				if seq >= d.FirstSeq && seq < d.NextSeq {
					return true
				}
			}
			return false
		}
		read := map[uint64][]byte{}
		for seq := l.FirstSeq(); seq < l.NextSeq(); {
			recs, next, err := l.Read(seq, 1000, 1<<20)
			if err != nil || next <= seq {
				t.Fatalf("round %d: Read(%d): next %d, %v", round, seq, next, err)
			}
			for _, r := range recs {
				read[r.Seq] = r.Data
			}
			seq = next
		}
		for seq := range flipped {
			if !damaged(seq) {
				t.Fatalf("round %d: damaged record %d not reported (damage %+v)", round, seq, dmg)
			}
			if _, ok := read[seq]; ok {
				t.Fatalf("round %d: damaged record %d read back", round, seq)
			}
		}
		for seq, id := range acked {
			if flipped[seq] {
				continue
			}
			data, ok := read[seq]
			if !ok || !bytes.Equal(data, crashPayload(id)) {
				t.Fatalf("round %d: acknowledged record %d (intact frame) reads back %q, present %v", round, seq, data, ok)
			}
		}
		t.Logf("round %d: %d acks, %d records acknowledged, %d flipped, %d damaged regions, NextSeq %d",
			round, got, len(acked), len(flipped), len(dmg), l.NextSeq())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}

		// Damage random intact frames of random segments.
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for range 1 + rng.IntN(3) {
			path := dir + "/" + files[rng.IntN(len(files))].Name()
			frames := intactFrames(t, path)
			if len(frames) == 0 {
				continue
			}
			fr := frames[rng.IntN(len(frames))]
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			b := []byte{0}
			off := fr.off + rng.Int64N(fr.size)
			f.ReadAt(b, off)
			b[0] ^= byte(1 + rng.IntN(255))
			f.WriteAt(b, off)
			f.Close()
			flipped[fr.seq] = true
		}
	}
}

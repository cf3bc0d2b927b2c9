package log

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	crashEnv        = "SLUICE_LOG_CRASH_CHILD_DIR"
	crashWritersEnv = "SLUICE_LOG_CRASH_CHILD_WRITERS" // default 4
	crashKeyEnv     = "SLUICE_LOG_CRASH_CHILD_KEY"     // set: encrypt with crashKeys' key of that id
)

// crashKeys is the keyring of the encrypted crash test.
var crashKeys = newTestKeys(keyA)

// crashOptions are the options of the crash test's log, encrypted with
// the key named keyID unless it is "".
func crashOptions(keyID string) Options {
	o := Options{SegmentBytes: 16 << 10}
	if keyID != "" {
		o.Keys = crashKeys.get
	}
	return o
}

// TestCrashChild is the child of TestCrashKill9: it appends forever from
// several goroutines and prints "first count id" for every acknowledged
// Append.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("only run as the child of TestCrashKill9")
	}
	keyID := os.Getenv(crashKeyEnv)
	l, err := Open(dir, crashOptions(keyID))
	if err == nil && keyID != "" {
		err = l.SetEncryption(keyID, crashKeys[keyID])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	writers := 4
	if n, err := strconv.Atoi(os.Getenv(crashWritersEnv)); err == nil && n > 0 {
		writers = n
	}
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				n := 1 + (i+w)%4
				recs := make([][]byte, n)
				for j := range recs {
					recs[j] = crashPayload(uint64(w*1000000 + i*10 + j))
				}
				first, err := l.Append(recs, nil)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				mu.Lock()
				// One line per ack, flushed at once so a kill loses no printed ack.
				fmt.Fprintf(out, "%d %d %d\n", first, n, w*1000000+i*10)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func crashPayload(id uint64) []byte {
	return fmt.Appendf(nil, "crash-%d-%s", id, strings.Repeat("z", int(id%200)))
}

func TestCrashKill9(t *testing.T) { crashKill9(t, "") }

// TestCrashKill9Encrypted is TestCrashKill9 with every record encrypted:
// torn tails, group commit and recovery hold for sealed frames, and no
// payload reaches the files in plaintext.
func TestCrashKill9Encrypted(t *testing.T) {
	dir := crashKill9(t, keyA)
	if filesContain(t, dir, []byte("crash-")) {
		t.Fatal("plaintext of an encrypted record found in a segment file")
	}
}

// crashKill9 kills a child appending to a log (encrypted with keyID unless
// it is "") several times and checks every acknowledged record after each
// crash; it returns the log's folder.
func crashKill9(t *testing.T, keyID string) string {
	if testing.Short() {
		t.Skip("crash test skipped in -short")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	type ack struct{ n, id uint64 }
	acked := map[uint64]ack{} // first seq → ack
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashKeyEnv+"="+keyID)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()
		if strings.Contains(stderr.String(), "open:") || strings.Contains(stderr.String(), "append:") {
			t.Fatalf("round %d child failed: %s", round, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		got := 0
		for _, ln := range lines {
			f := strings.Fields(ln)
			if len(f) != 3 {
				continue // test framework output or a torn last line
			}
			first, err1 := strconv.ParseUint(f[0], 10, 64)
			n, err2 := strconv.ParseUint(f[1], 10, 64)
			id, err3 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			acked[first] = ack{n, id}
			got++
		}
		if got == 0 {
			t.Logf("round %d: no acks printed (stderr %q)", round, stderr.String())
		}

		l, err := Open(dir, quiet(t, crashOptions(keyID)))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		// Every acknowledged record reads back intact, in order.
		for first, a := range acked {
			recs, _, err := l.Read(first, int(a.n), 1<<20)
			if err != nil || uint64(len(recs)) != a.n {
				t.Fatalf("round %d: Read(%d) = %d records, %v; want %d", round, first, len(recs), err, a.n)
			}
			for j, r := range recs {
				if r.Seq != first+uint64(j) || !bytes.Equal(r.Data, crashPayload(a.id+uint64(j))) || r.KeyID != keyID {
					t.Fatalf("round %d: seq %d holds %q", round, first+uint64(j), r.Data)
				}
			}
		}
		// And the whole log is a gap-free sequence.
		seq := l.FirstSeq()
		for seq < l.NextSeq() {
			_, next, err := l.Read(seq, 1000, 1<<20)
			if err != nil || next <= seq {
				t.Fatalf("round %d: Read(%d): next %d, %v", round, seq, next, err)
			}
			seq = next
		}
		t.Logf("round %d: %d acks this round, %d total, NextSeq %d", round, got, len(acked), l.NextSeq())
		l.Close()
	}
	return dir
}

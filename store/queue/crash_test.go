package queue

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The kill -9 test runs this test binary as a child (crashChildEnv names
// its folder) with concurrent senders and receivers that print a line
// after each acknowledged call:
//
//	S body        Send acknowledged
//	R body count  received, with its receive count
//	D body        Delete acknowledged
const (
	crashChildEnv = "SLUICE_QUEUE_CRASH_CHILD"
	crashRoundEnv = "SLUICE_QUEUE_CRASH_ROUND"
	crashQueue    = "crash"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir, os.Getenv(crashRoundEnv))
		return
	}
	if dir := os.Getenv(moveChildEnv); dir != "" {
		moveChild(dir)
		return
	}
	os.Exit(m.Run())
}

func crashChild(dir, round string) {
	compactMin = 32 << 10 // rewrite the log often, so that kills meet rewrites
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	q, err := s.Create(crashQueue, map[string]string{AttrVisibilityTimeout: "60"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		out.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for n := 0; ; n++ {
				k := 1 + n%5
				in := make([]SendInput, k)
				for i := range in {
					in[i].Body = fmt.Sprintf("r%s-w%d-%d-%d", round, w, n, i)
				}
				res, err := q.Send(ctx, in)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				for i, r := range res {
					if r.Err == nil {
						say("S %s", in[i].Body)
					}
				}
			}
		})
	}
	wait := time.Second
	for range 3 {
		wg.Go(func() {
			for {
				got, err := q.Receive(ctx, ReceiveOptions{Max: 10, Wait: &wait})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				receipts := make([]string, len(got))
				for i, m := range got {
					say("R %s %d", m.Body, m.ReceiveCount)
					receipts[i] = m.Receipt
				}
				if len(got) == 0 {
					continue
				}
				if _, err := q.Delete(ctx, receipts); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				for _, m := range got {
					say("D %s", m.Body)
				}
			}
		})
	}
	wg.Wait()
}

// TestCrashKeepsAcknowledged kills a process sending, receiving and
// deleting messages with SIGKILL, three times over the same folder, and
// checks after each: every acknowledged send is there, or was received
// (its delete may have been under way at the kill), no message whose delete was acknowledged came back, and
// receive counts did not go back.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	sent, deleted := map[string]bool{}, map[string]bool{}
	counts := map[string]int{}
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		deletes := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				mu.Lock()
				switch {
				case len(f) == 2 && f[0] == "S":
					sent[f[1]] = true
				case len(f) == 3 && f[0] == "R":
					n, _ := strconv.Atoi(f[2])
					counts[f[1]] = max(counts[f[1]], n)
				case len(f) == 2 && f[0] == "D":
					deleted[f[1]] = true
					deletes++
				}
				mu.Unlock()
			}
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			n := deletes
			mu.Unlock()
			if n >= 1000 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		_ = cmd.Wait()
		if deletes == 0 {
			t.Fatalf("round %d: no delete acknowledged before the kill", round)
		}

		s, err := Open(dir, Options{Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		q, err := s.Queue(crashQueue)
		if err != nil {
			t.Fatal(err)
		}
		live := map[string]int{}
		q.mu.Lock()
		for _, m := range q.msgs {
			live[m.body] = int(m.count)
		}
		q.mu.Unlock()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		lost, back, counted := 0, 0, 0
		for b := range sent {
			c, ok := live[b]
			switch {
			case deleted[b] && ok:
				back++
				t.Errorf("round %d: %s came back after its delete was acknowledged", round, b)
			case !deleted[b] && !ok && counts[b] == 0: // a received one may have had a delete under way at the kill
				lost++
				t.Errorf("round %d: %s was acknowledged and is lost", round, b)
			case ok && c < counts[b]:
				counted++
				t.Errorf("round %d: %s has receive count %d, it was received with %d", round, b, c, counts[b])
			}
		}
		fi, _ := os.Stat(filepath.Join(dir, crashQueue, logFile))
		t.Logf("round %d: %d sent, %d deleted, %d live; %d lost, %d back, %d counts lower; log %d bytes", round, len(sent), len(deleted), len(live), lost, back, counted, fi.Size())
		if t.Failed() {
			return
		}
	}
}

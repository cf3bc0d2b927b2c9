package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// queueTool runs "sluice queue ARGS" and fails the test when it fails.
func queueTool(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	out, errOut, err := runTool(t, stdin, append([]string{"queue"}, args...)...)
	if err != nil {
		t.Fatalf("sluice queue %q: %v\n%s", args, err, errOut)
	}
	return out, errOut
}

// queueCounts is a queue's ApproximateNumberOfMessages and …NotVisible.
func queueCounts(t *testing.T, name string, where ...string) (visible, inFlight string) {
	t.Helper()
	out, _ := queueTool(t, "", append([]string{"describe", name, "--json"}, where...)...)
	var d struct{ Attributes map[string]string }
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("describe --json: %v\n%s", err, out)
	}
	return d.Attributes["ApproximateNumberOfMessages"], d.Attributes["ApproximateNumberOfMessagesNotVisible"]
}

func TestQueueToolsSendReceiveAndRedrive(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	queueTool(t, "", "create", "work-dlq", ep)
	out, _ := queueTool(t, "", "create", "work", "--dlq", "work-dlq", "--max-receives", "1", "--visibility", "1s", ep)
	if !strings.HasSuffix(strings.TrimSpace(out), "/000000000000/work") {
		t.Fatalf("create printed %q, want the queue's URL", out)
	}
	var lines []string
	for i := range 25 {
		lines = append(lines, fmt.Sprintf(`{"n":%d}`, i))
	}
	if _, errOut := queueTool(t, strings.Join(lines, "\n")+"\n\n", "send", "work", ep); !strings.Contains(errOut, "sent 25 message(s)") {
		t.Fatalf("send said %q", errOut)
	}
	if v, f := queueCounts(t, "work", ep); v != "25" || f != "0" {
		t.Fatalf("after send: %s visible, %s in flight", v, f)
	}

	// receive deletes what it printed.
	first, _ := queueTool(t, "", "receive", "work", "-n", "10", ep)
	got := splitLines(first)
	if len(got) != 10 {
		t.Fatalf("receive -n 10 printed %d lines:\n%s", len(got), first)
	}
	if v, f := queueCounts(t, "work", ep); v != "15" || f != "0" {
		t.Fatalf("after receive -n 10: %s visible, %s in flight", v, f)
	}
	// --keep leaves them: hidden for their visibility timeout, then back —
	// and with maxReceiveCount 1, the next receive moves them to the DLQ.
	kept, _ := queueTool(t, "", "receive", "work", "--keep", "--wait", "0s", "-e", "-n", "15", ep)
	if n := len(splitLines(kept)); n != 15 {
		t.Fatalf("receive --keep printed %d lines", n)
	}
	if v, f := queueCounts(t, "work", ep); v != "0" || f != "15" {
		t.Fatalf("after receive --keep: %s visible, %s in flight", v, f)
	}
	time.Sleep(1100 * time.Millisecond)
	if again, _ := queueTool(t, "", "receive", "work", "-e", ep); again != "" {
		t.Fatalf("messages received past maxReceiveCount:\n%s", again)
	}
	if v, _ := queueCounts(t, "work-dlq", ep); v != "15" {
		t.Fatalf("the dead-letter queue holds %s messages, want 15", v)
	}
	if _, errOut := queueTool(t, "", "redrive", "work-dlq", ep); !strings.Contains(errOut, "moved 15 of 15 message(s) from work-dlq: completed") {
		t.Fatalf("redrive said %q", errOut)
	}
	rest, _ := queueTool(t, "", "receive", "work", "-e", "--format", "json", ep)
	for _, l := range splitLines(rest) {
		var m struct {
			Body         json.RawMessage
			MessageID    string `json:"messageId"`
			ReceiveCount int    `json:"receiveCount"`
			Sent         string
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.MessageID == "" || m.Sent == "" {
			t.Fatalf("receive --format json line %q: %v", l, err)
		}
		got = append(got, string(m.Body))
	}
	slices.Sort(got)
	slices.Sort(lines)
	if !slices.Equal(got, lines) {
		t.Fatalf("received %d distinct bodies, want the 25 sent:\n%v", len(slices.Compact(got)), got)
	}
}

func TestQueueToolsFIFOInProcess(t *testing.T) {
	sd := "--store-dir=" + t.TempDir() + "/data" // create makes it
	queueTool(t, "", "create", "orders.fifo", "--fifo", "--content-dedup", sd)
	in := `{"g":"a","v":1}
{"g":"b","v":1}
{"g":"a","v":2}
{"g":"a","v":2}
{"g":"b","v":2}
{"g":"a","v":3}
`
	queueTool(t, in, "send", "orders.fifo", "--group-field", "g", sd)
	out, _ := queueTool(t, "", "receive", "orders.fifo", "-e", "--format", "json", sd)
	perGroup := map[string][]int{}
	for _, l := range splitLines(out) {
		var m struct {
			Body    struct{ V int }
			GroupID string `json:"groupId"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		perGroup[m.GroupID] = append(perGroup[m.GroupID], m.Body.V)
	}
	// The repeated line is a duplicate within 5 minutes: sent once.
	if fmt.Sprint(perGroup) != "map[a:[1 2 3] b:[1 2]]" {
		t.Fatalf("per group: %v\n%s", perGroup, out)
	}
}

func TestQueueToolMistakes(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	queueTool(t, "", "create", "jobs", ep)
	queueTool(t, "", "create", "f.fifo", "--fifo", ep)
	for _, c := range []struct {
		stdin  string
		args   []string
		status int
		says   string
	}{
		{"", []string{"receive", "job", "-e", ep}, 1, `queue "job" does not exist at ` + url + ` (did you mean "jobs"?); create it with "sluice queue create job"`},
		{"x\n", []string{"send", "f.fifo", ep}, 2, "is a FIFO queue: give each message's group"},
		{"x\n", []string{"send", "f.fifo", "--group-field", "g", ep}, 1, "line 1: not a JSON object"},
		{"", []string{"create", "plain", "--fifo", ep}, 2, "a FIFO queue's name ends in .fifo"},
		{"", []string{"create", "q2", "--dlq", "jobs", ep}, 2, "--dlq and --max-receives go together"},
		{"", []string{"create", "q2", "--visibility", "1.5s", ep}, 2, "--visibility 1.5s: want whole seconds"},
		{"", []string{"create", "q2", "--dlq", "nope", "--max-receives", "3", ep}, 1, `--dlq: queue "nope" does not exist`},
		{"", []string{"receive", ep}, 2, "name the queue"},
		{"", []string{"recieve", "jobs", ep}, 2, `did you mean "receive"?`},
		{"", []string{"list", "--endpoint=http://127.0.0.1:1"}, 1, "no store answers at http://127.0.0.1:1"},
	} {
		_, errOut, err := runTool(t, c.stdin, append([]string{"queue"}, c.args...)...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.status || !strings.Contains(errOut, c.says) {
			t.Errorf("sluice queue %q: %v, want exit status %d saying %q; it said:\n%s", c.args, err, c.status, c.says, errOut)
		}
	}
}

// A following receive stops at SIGTERM (and SIGINT) within its long poll,
// having printed and deleted what it received.
func TestQueueReceiveStopsOnSignal(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	queueTool(t, "", "create", "jobs", ep)
	queueTool(t, "one\n", "send", "jobs", ep)
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		cmd := exec.Command(binary, "queue", "receive", "jobs", ep)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // inside its 20 s long poll
		start := time.Now()
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil || time.Since(start) > 5*time.Second {
				t.Errorf("%v: exit %v after %v\n%s", sig, err, time.Since(start), errOut.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v: still receiving 10 s later", sig)
		}
		if sig == syscall.SIGTERM && out.String() != "one\n" {
			t.Errorf("printed %q, want the message sent", out.String())
		}
	}
	if v, f := queueCounts(t, "jobs", ep); v != "0" || f != "0" {
		t.Fatalf("after receive: %s visible, %s in flight (the printed message is deleted)", v, f)
	}
}

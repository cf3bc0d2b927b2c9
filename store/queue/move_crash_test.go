package queue

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// moveChildEnv names the folder of the child of TestMoveTaskResumesAfterKill.
const moveChildEnv = "SLUICE_QUEUE_MOVE_CHILD"

const moveCrashMessages = 300

// moveChild fills the dead-letter queue "dead" (of "jobs"), starts a move
// task to "jobs" at 200 messages a second, says "started", and runs until
// it is killed.
func moveChild(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fail(err)
	}
	dead, err := s.Create("dead", nil, nil)
	if err != nil {
		fail(err)
	}
	if _, err := s.Create("jobs", map[string]string{AttrRedrivePolicy: `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":5}`}, nil); err != nil {
		fail(err)
	}
	for i := range moveCrashMessages / 10 {
		in := make([]SendInput, 10)
		for j := range in {
			in[j].Body = fmt.Sprint("m", i*10+j)
		}
		if _, err := dead.Send(context.Background(), in); err != nil {
			fail(err)
		}
	}
	if _, err := s.StartMove("dead", "jobs", 200); err != nil {
		fail(err)
	}
	fmt.Println("started")
	select {}
}

// TestMoveTaskResumesAfterKill kills a process with SIGKILL while its move
// task runs, opens the folder again and sees the task resume and finish:
// every message is in the destination exactly once and none is left.
func TestMoveTaskResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), moveChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "started" {
		t.Fatalf("the child said %q", sc.Text())
	}
	time.Sleep(300 * time.Millisecond) // some batches moved, most not
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	b, err := os.ReadFile(filepath.Join(dir, "dead", metaFile))
	if err != nil {
		t.Fatal(err)
	}
	var kept meta
	if err := json.Unmarshal(b, &kept); err != nil || kept.Move == nil || kept.Move.Status != MoveRunning || kept.Move.Moved >= moveCrashMessages {
		t.Fatalf("the task kept at the kill: %s", b) // not killed mid-task
	}

	s, err := Open(dir, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var task MoveTask
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		tasks := s.MoveTasks("dead")
		if len(tasks) != 1 {
			t.Fatalf("move tasks after the kill: %+v", tasks)
		}
		task = tasks[0]
		if task.Status == MoveCompleted {
			break
		}
		if task.Status != MoveRunning || time.Now().After(deadline) {
			t.Fatalf("the task after the kill: %+v", task)
		}
	}
	if task.ToMove != moveCrashMessages || task.Moved > moveCrashMessages || task.Moved < moveCrashMessages/2 {
		t.Fatalf("the completed task: %+v", task)
	}
	bodies := map[string]int{}
	for _, name := range []string{"dead", "jobs"} {
		q, err := s.Queue(name)
		if err != nil {
			t.Fatal(err)
		}
		q.mu.Lock()
		for _, m := range q.msgs {
			bodies[name+" "+m.body]++
		}
		q.mu.Unlock()
	}
	for i := range moveCrashMessages {
		if n := bodies[fmt.Sprint("jobs m", i)]; n != 1 {
			t.Errorf("m%d is in the destination %d times", i, n)
		}
		delete(bodies, fmt.Sprint("jobs m", i))
	}
	if len(bodies) != 0 {
		var left []string
		for b := range bodies {
			left = append(left, b)
		}
		t.Errorf("left over: %s", strings.Join(left, ", "))
	}
	t.Logf("killed with %d counted moved; the task counted %d of %d", kept.Move.Moved, task.Moved, task.ToMove)
}

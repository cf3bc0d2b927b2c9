package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentFailsFastOnAMissingStreamAndSaysHowToCreateIt: `sluice agent`
// over a stream the store does not have exits 1 at once with one message
// naming the stream and the store and the commands that create it, each
// prefix once.
func TestAgentFailsFastOnAMissingStreamAndSaysHowToCreateIt(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "agent", "--endpoint", url, "--stream", "nope", filepath.Join(t.TempDir(), "app.log"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the agent did not stop by itself:\n%s", out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1:\n%s", err, out)
	}
	want := `sluice: agent: stream "nope" does not exist on the store at ` + url + ": create it with " +
		"`sluice stream create nope --shards 1 --endpoint " + url + "` or " +
		"`aws kinesis create-stream --stream-name nope --shard-count 1 --endpoint-url " + url + "`, then start the agent again\n"
	if s := string(out); !strings.HasSuffix(s, want) {
		t.Fatalf("output:\n%s\nwant it to end with:\n%s", s, want)
	}
	for _, doubled := range []string{"sluice: sluice", "agent: agent", "sluice agent: sluice"} {
		if strings.Contains(string(out), doubled) {
			t.Fatalf("%q in:\n%s", doubled, out)
		}
	}
}

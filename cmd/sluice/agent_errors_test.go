package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	if s := string(out); strings.Contains(s, "tailing") {
		t.Fatalf("output:\n%s\nwant no announcement of tailing before the stream is found", s)
	}
	if s := string(out); !strings.HasSuffix(s, want) {
		t.Fatalf("output:\n%s\nwant it to end with:\n%s", s, want)
	}
	for _, doubled := range []string{"sluice: sluice", "agent: agent", "sluice agent: sluice"} {
		if strings.Contains(string(out), doubled) {
			t.Fatalf("%q in:\n%s", doubled, out)
		}
	}
}

// TestAgentSignsWithTheAWSEnvironmentLikeTheStreamTools: against a store
// that checks signatures, the agent takes AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY as the stream tools do, and a secret key the store
// refuses stops it at once, saying so, instead of retrying for ever.
func TestAgentSignsWithTheAWSEnvironmentLikeTheStreamTools(t *testing.T) {
	url, _ := startStore(t, t.TempDir(), "--access-key", "AK", "--secret-key", "SK")
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=AK", "AWS_SECRET_ACCESS_KEY=SK", "AWS_DEFAULT_REGION=us-east-1")
	create := exec.Command(binary, "stream", "create", "s", "--shards", "1", "--endpoint", url)
	create.Env = env
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	log := filepath.Join(t.TempDir(), "app.log")
	os.WriteFile(log, []byte("line 1\nline 2\n"), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bad := exec.CommandContext(ctx, binary, "agent", "--endpoint", url, "--stream", "s", "--from-start", log)
	bad.Env = append(env, "AWS_SECRET_ACCESS_KEY=wrong")
	out, err := bad.CombinedOutput()
	var exit *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &exit) || exit.ExitCode() != 1 ||
		!strings.Contains(string(out), "the store refuses the credentials (InvalidSignatureException") ||
		!strings.Contains(string(out), "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("agent with a wrong secret key: %v (want exit 1 at once, saying the store refuses the credentials):\n%s", err, out)
	}

	list := exec.Command(binary, "stream", "list", "--endpoint", url)
	list.Env = append(env, "AWS_SECRET_ACCESS_KEY=wrong")
	if out, err := list.CombinedOutput(); err == nil || !strings.Contains(string(out), "the store at "+url+" refuses the credentials") {
		t.Fatalf("stream list with a wrong secret key: %v\n%s", err, out)
	}

	agent := exec.Command(binary, "agent", "--endpoint", url, "--stream", "s", "--from-start", "--flush", "10ms", log)
	agent.Env = env
	var agentOut bytes.Buffer
	agent.Stderr = &agentOut
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer agent.Process.Kill()
	consume := exec.CommandContext(ctx, binary, "stream", "consume", "s", "-n", "2", "--endpoint", url)
	consume.Env = env
	got, err := consume.Output()
	if err != nil || string(got) != "line 1\nline 2\n" {
		t.Fatalf("consumed %q, %v; agent said:\n%s", got, err, agentOut.String())
	}
	agent.Process.Signal(syscall.SIGTERM)
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent after SIGTERM: %v\n%s", err, agentOut.String())
	}
}

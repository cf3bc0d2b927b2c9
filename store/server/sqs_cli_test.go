package server

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// awsCLI returns a runner of the AWS CLI against url, signing with the
// test credentials; it skips t without the CLI (fails it under
// SLUICE_REQUIRE_TOOLS=1).
func awsCLI(t *testing.T, url string) func(args ...string) map[string]any {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		msg := "the AWS CLI (aws) is not installed"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip("SKIPPED LOUDLY: " + msg)
	}
	home := t.TempDir()
	return func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=test-secret",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1", "AWS_CONFIG_FILE="+home+"/none", "AWS_SHARED_CREDENTIALS_FILE="+home+"/none",
			"AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		m := map[string]any{}
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return m
	}
}

// TestSQSWithAWSCLI creates a queue, sends and receives a message with
// the AWS CLI (each call starts Python: the SDK tests cover the rest).
func TestSQSWithAWSCLI(t *testing.T) {
	_, ts := serveSigned(t, map[string]string{"AKIDTEST": "test-secret"})
	aws := awsCLI(t, ts.URL)
	url, _ := aws("sqs", "create-queue", "--queue-name", "cli", "--attributes", "VisibilityTimeout=40")["QueueUrl"].(string)
	if !strings.HasSuffix(url, "/000000000000/cli") {
		t.Fatalf("create-queue: %q", url)
	}
	sent := aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
		"--message-attributes", `{"k":{"DataType":"String","StringValue":"v"}}`)
	if sent["MessageId"] == nil || sent["MD5OfMessageAttributes"] == nil {
		t.Fatalf("send-message: %v", sent)
	}
	got := aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "1",
		"--attribute-names", "All", "--message-attribute-names", "All")
	msgs, _ := got["Messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("receive-message: %v", got)
	}
	m := msgs[0].(map[string]any)
	if m["Body"] != "from the cli" || m["Attributes"].(map[string]any)["ApproximateReceiveCount"] != "1" {
		t.Fatalf("receive-message: %v", m)
	}
}

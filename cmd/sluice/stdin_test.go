package main

import (
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestRunDashOnATerminalSaysSoAndStopsAtCtrlC: "sluice run -" and
// "sluice explain -" typed at a terminal say they read the job from
// standard input, and Ctrl-C before Ctrl-D stops them (exit status 130)
// instead of being ignored while the read waits.
func TestRunDashOnATerminalSaysSoAndStopsAtCtrlC(t *testing.T) {
	for _, command := range []string{"run", "explain"} {
		t.Run(command, func(t *testing.T) {
			cmd := exec.Command(binary, command, "-")
			tty, err := pty.Start(cmd)
			if err != nil {
				t.Fatal(err)
			}
			defer tty.Close()
			t.Cleanup(func() { cmd.Process.Kill() })
			var out lockedBuffer
			go io.Copy(&out, tty)
			for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "Ctrl-D ends it"); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no hint that the job is read from standard input: %q", out.String())
				}
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			tty.Write([]byte("CREATE TABLE t (k BIGINT)\r\x03"))
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 130 {
					t.Fatalf("exit %v after Ctrl-C, want status 130: %q", err, out.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("still reading 5 s after Ctrl-C: %q", out.String())
			}
			for deadline := time.Now().Add(2 * time.Second); !strings.Contains(out.String(), "sluice: interrupted"); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) { // what it wrote may still be on its way from the terminal
					t.Fatalf("no word of the interruption: %q", out.String())
				}
			}
		})
	}
}


// TestSecondSIGINTStopsAtOnce: a command still stopping after the first
// signal — a store waiting for a request under way — stops at once at the
// second.
func TestSecondSIGINTStopsAtOnce(t *testing.T) {
	cmd, stderr := startUntil(t, "serving the Kinesis API", "store", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	m := regexp.MustCompile(`at http://(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no address in %q", stderr.String())
	}
	// A request whose headers have begun keeps the connection active, so
	// a graceful shutdown waits for it.
	conn, err := net.Dial("tcp", m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(200 * time.Millisecond) // the server has read the first bytes
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		t.Fatalf("stopped at the first signal (%v), while a request was under way: the test proves nothing", err)
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatalf("still running 1 s after a second SIGINT:\n%s", stderr.String())
	}
}

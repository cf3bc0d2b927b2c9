package dashboard

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
)

// smallBuffers is a test server whose connections have 4 KiB socket send
// buffers, so that a client that does not read blocks its stream soon.
func smallBuffers(h *Hub) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
			_ = tc.SetWriteBuffer(4096)
		}
	}
	srv.Start()
	return srv
}

// dial opens an event stream of dashboard id that reads nothing yet.
func dial(t *testing.T, srv *httptest.Server, id string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /api/v1/dashboards/%s/events HTTP/1.1\r\nHost: x\r\n\r\n", id)
	return tc
}

// waitClients waits until dashboard d serves n event streams.
func waitClients(t *testing.T, d *Dashboard, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); d.clients.Load() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d event streams, want %d", d.clients.Load(), n)
		}
	}
}

// rowsBatch is a batch of n rows (i, i) from i = from.
func rowsBatch(from, n int) *runtime.Batch {
	b := batch(runtime.Insert)
	for i := from; i < from+n; i++ {
		b.Cols[0].AppendInt(int64(i))
		b.Cols[1].AppendInt(int64(i))
		b.Kinds = append(b.Kinds, runtime.Insert)
		b.N++
	}
	return b
}

// TestClientsAtOneVersionShareOneSnapshot: five clients that connect at
// the same version cost one snapshot's encoding, not five.
func TestClientsAtOneVersionShareOneSnapshot(t *testing.T) {
	h := NewHub()
	defer h.Close()
	d := testBoard(t, h, "sh", map[string]string{"retain": "100000 rows"})
	d.write(rowsBatch(0, 50000))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 5 {
		c := dial(t, srv, "sh")
		defer c.Close()
	}
	waitClients(t, d, 5)
	for deadline := time.Now().Add(5 * time.Second); d.built.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot encoded")
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := d.built.Load(); n != 1 {
		t.Errorf("%d snapshots encoded for 5 clients at one version, want 1", n)
	}
}

// TestSlowClientGetsAtMostOneSnapshotPerInterval: a client that reads too
// slowly to follow 200,000 changes falls behind again and again, but is
// sent no snapshot beyond its first within SnapshotInterval, and the
// writers finish.
func TestSlowClientGetsAtMostOneSnapshotPerInterval(t *testing.T) {
	h := NewHub()
	h.EventInterval = time.Millisecond
	h.SnapshotInterval = time.Hour
	defer h.Close()
	d := testBoard(t, h, "sl", map[string]string{"retain": "1000 rows"})
	srv := smallBuffers(h)
	defer srv.Close()
	c := dial(t, srv, "sl")
	defer c.Close()
	waitClients(t, d, 1)
	// The client reads slowly: it falls behind the remembered changes
	// while the writers run.
	go func() { _, _ = io.Copy(io.Discard, &slowReader{c}) }()
	d.write(rowsBatch(0, 100))
	for deadline := time.Now().Add(5 * time.Second); d.deltas.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no delta sent")
		}
	}
	for i := 100; i < 200000; i += 100 {
		d.write(rowsBatch(i, 100))
		if i%10000 == 0 {
			time.Sleep(5 * time.Millisecond) // let the stream try to follow
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n, b := d.snapshots.Load(), d.built.Load(); n != 1 || b != 1 {
		t.Errorf("%d snapshots sent, %d encoded, want 1 (the first)", n, b)
	}
}

// slowReader reads at most 64 bytes a millisecond.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return s.r.Read(p[:min(len(p), 64)])
}

// TestStalledClientIsDroppedAfterWriteTimeout: a client that never reads
// is dropped once a write has waited WriteTimeout, and its goroutine ends.
func TestStalledClientIsDroppedAfterWriteTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := NewHub()
	h.WriteTimeout = 200 * time.Millisecond
	d := testBoard(t, h, "wt", map[string]string{"retain": "100000 rows"})
	d.write(rowsBatch(0, 50000)) // a snapshot of ~700 KB: more than the buffers
	srv := smallBuffers(h)
	var conns []net.Conn
	for range 5 {
		conns = append(conns, dial(t, srv, "wt"))
	}
	waitClients(t, d, 5)
	waitClients(t, d, 0)
	for _, c := range conns {
		c.Close()
	}
	h.Close()
	srv.Close()
}

// TestSharedDeltaIsNeverAnOlderEmptyOne: clients share a recent delta,
// but not one without changes when there are changes now: the client
// would wait for a next change that may never come.
func TestSharedDeltaIsNeverAnOlderEmptyOne(t *testing.T) {
	d := testBoard(t, NewHub(), "em", nil)
	if dl, _, _ := d.delta(0, time.Hour); !dl.ok || dl.version != 0 {
		t.Fatalf("delta of nothing: ok %v, version %d", dl.ok, dl.version)
	}
	d.write(rowsBatch(0, 3))
	if dl, _, _ := d.delta(0, time.Hour); dl.version != 3 {
		t.Errorf("delta after 3 rows: version %d, want 3", dl.version)
	}
	d.write(rowsBatch(3, 2))
	if dl, _, _ := d.delta(0, time.Hour); dl.version != 3 {
		t.Errorf("a younger shared delta: version %d, want 3 (shared)", dl.version)
	}
	if dl, _, _ := d.delta(0, 0); dl.version != 5 {
		t.Errorf("delta to now: version %d, want 5", dl.version)
	}
}

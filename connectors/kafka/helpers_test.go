package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// schema is the tables' columns: a user, a number and an event time.
var schema = runtime.NewSchema(
	runtime.Field{Name: "user", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "n", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
)

// base is the event time of the test records.
const base = int64(1_790_000_000_000)

// startCluster starts a one-broker in-process Kafka with topic "clicks" of
// parts partitions and returns its address.
func startCluster(t testing.TB, parts int32, opts ...kfake.Opt) string {
	t.Helper()
	_, addr := startClusterC(t, parts, opts...)
	return addr
}

// startClusterC is startCluster, also returning the cluster.
func startClusterC(t testing.TB, parts int32, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(parts, "clicks")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// testClient returns a kafka-go client of addr whose connections close
// with the test.
func testClient(t testing.TB, addr string) *kafka.Client {
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}
}

// produce writes values to a partition of topic, record i at time at(i).
func produce(t testing.TB, addr, topic string, part int, values [][]byte, at func(i int) time.Time) {
	t.Helper()
	recs := make([]kafka.Record, len(values))
	for i, v := range values {
		recs[i] = kafka.Record{Value: kafka.NewBytes(v)}
		if at != nil {
			recs[i].Time = at(i)
		}
	}
	res, err := testClient(t, addr).Produce(context.Background(), &kafka.ProduceRequest{Topic: topic, Partition: part,
		RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(recs...)})
	if err == nil && res.Error != nil {
		err = res.Error
	}
	if err != nil {
		t.Fatalf("produce to %s/%d: %v", topic, part, err)
	}
}

// click is the JSON of one record: user u, number n, event time base+ms.
func click(u string, n int, ms int64) []byte {
	return fmt.Appendf(nil, `{"user":%q,"n":%d,"ts":%d}`, u, n, base+ms)
}

// clickRow is the row click(u, n, ms) decodes to, as rttest formats it.
func clickRow(u string, n int, ms int64) string {
	return rttest.Format([]runtime.Value{runtime.StringValue(u), runtime.IntValue(int64(n)), runtime.TimeValue(base + ms)})
}

// fill writes n records to each partition of "clicks": record i of
// partition p is user "u<p>", number p*1000+i.
func fill(t *testing.T, addr string, parts, n int) []string {
	t.Helper()
	var want []string
	for p := range parts {
		vals := make([][]byte, n)
		for i := range n {
			vals[i] = click(fmt.Sprint("u", p), p*1000+i, int64(i))
			want = append(want, clickRow(fmt.Sprint("u", p), p*1000+i, int64(i)))
		}
		produce(t, addr, "clicks", p, vals, nil)
	}
	slices.Sort(want)
	return want
}

func table(addr string, opts map[string]string) connectors.Table {
	o := map[string]string{"topic": "clicks", "properties.bootstrap.servers": addr}
	for k, v := range opts {
		o[k] = v
	}
	return connectors.Table{Name: "t", Schema: schema, Options: o, TimeColumn: 2}
}

// driven are source subtasks driven by hand, as the runtime would.
type driven struct {
	srcs []runtime.Source
	ctxs []*runtime.Context
}

func openSources(t *testing.T, tab connectors.Table, par int, restore [][]byte) *driven {
	t.Helper()
	return openSourcesLogged(t, tab, par, restore, nil)
}

// openSourcesLogged is openSources with the sources' log lines written to
// log (nil: standard error).
func openSourcesLogged(t *testing.T, tab connectors.Table, par int, restore [][]byte, log io.Writer) *driven {
	t.Helper()
	d, err := tryOpenLogged(tab, par, restore, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.close() })
	return d
}

func tryOpen(tab connectors.Table, par int, restore [][]byte) (*driven, error) {
	return tryOpenLogged(tab, par, restore, nil)
}

func tryOpenLogged(tab connectors.Table, par int, restore [][]byte, log io.Writer) (*driven, error) {
	newSrc, _, err := factory{}.NewSource(tab)
	if err != nil {
		return nil, err
	}
	d := &driven{}
	for i := range par {
		s := newSrc()
		if restore != nil {
			if err := s.(runtime.CheckpointedSource).RestorePositions(restore); err != nil {
				d.close()
				return nil, err
			}
		}
		ctx := rttest.NewContext("src", i, par)
		if log != nil {
			ctx.SetLogger(slog.New(runtime.NewLineHandler(log, nil)))
		}
		if err := s.Open(ctx); err != nil {
			s.Close()
			d.close()
			return nil, err
		}
		d.srcs, d.ctxs = append(d.srcs, s), append(d.ctxs, ctx)
	}
	return d, nil
}

// poll polls every subtask in turn until n rows have come (or, n < 0,
// until every subtask has ended) and returns them, sorted.
func (d *driven) poll(t *testing.T, n int) []string {
	t.Helper()
	out, err := d.tryPoll(n, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func (d *driven) tryPoll(n int, wait time.Duration) ([]string, error) {
	var out []string
	ended := make([]bool, len(d.srcs))
	deadline := time.Now().Add(wait)
	for (n < 0 || len(out) < n) && time.Now().Before(deadline) {
		all := true
		for i, s := range d.srcs {
			if ended[i] {
				continue
			}
			all = false
			b, _, err := s.Poll(context.Background())
			if errors.Is(err, io.EOF) {
				ended[i] = true
				continue
			}
			if err != nil {
				return out, err
			}
			if b != nil {
				out = append(out, rttest.Strings(b)...)
			}
		}
		if all {
			return out, nil
		}
	}
	if n >= 0 && len(out) < n || n < 0 && slices.Contains(ended, false) {
		return out, fmt.Errorf("polled %d rows before the deadline (want %d)", len(out), n)
	}
	return out, nil
}

func (d *driven) snapshot(t *testing.T) [][]byte {
	t.Helper()
	var pos [][]byte
	for _, s := range d.srcs {
		p, err := s.(runtime.CheckpointedSource).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p)
	}
	return pos
}

func (d *driven) close() {
	for _, s := range d.srcs {
		s.Close()
	}
	d.srcs = nil
}

func nil2ctx() *runtime.Context { return rttest.NewContext("sink", 0, 1) }

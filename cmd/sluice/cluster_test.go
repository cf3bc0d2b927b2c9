package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A job that several processes share (--cluster kafka) on an in-process
// Kafka broker and an in-memory S3 server: processes are killed, paused and
// started while it runs; what they publish together must equal, as a
// multiset, what one process publishes reading the same input.

const clusterParts = 12

// clusterBroker starts a broker with the topics (clusterParts partitions
// each) that accepts short session timeouts.
func clusterBroker(t testing.TB, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(clusterParts, topics...),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// clickEvent is one record of the input: ts grows with i.
type clickEvent struct {
	user, page string
	ts         int64
}

const clusterT0 = int64(1764064800000)

// clickEvents are n clicks over about a minute of event time.
func clickEvents(n int, seed uint64) []clickEvent {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]clickEvent, n)
	for i := range out {
		out[i] = clickEvent{user: fmt.Sprintf("u%d", rng.IntN(300)), page: fmt.Sprintf("p%d", rng.IntN(40)),
			ts: clusterT0 + int64(i)*60_000/int64(n)}
	}
	return out
}

// produceKeyed writes events to topic keyed by key(e), partitioned as
// Kafka's Java client does (murmur2); each partition gets its events in
// time order.
func produceKeyed(t testing.TB, broker, topic string, evs []clickEvent, key func(clickEvent) string) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(broker, ",")...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		BatchSize: 1000, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: tr}
	defer w.Close()
	msgs := make([]kafka.Message, len(evs))
	for i, e := range evs {
		msgs[i] = kafka.Message{Key: []byte(key(e)), Value: fmt.Appendf(nil, `{"user_id":%q,"page":%q,"ts":%d}`, e.user, e.page, e.ts)}
	}
	for len(msgs) > 0 {
		n := min(len(msgs), 2000)
		if err := w.WriteMessages(context.Background(), msgs[:n]...); err != nil {
			t.Fatal(err)
		}
		msgs = msgs[n:]
	}
}

// produceFlush writes to every partition of topic a record an hour after
// the input, so that every task's watermark passes all of the input's
// windows (its page, "_flush", is left out of the comparison).
func produceFlush(t testing.TB, broker, topic string) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(strings.Split(broker, ",")...), Transport: tr}
	for p := range clusterParts {
		_, err := cl.Produce(context.Background(), &kafka.ProduceRequest{Topic: topic, Partition: p, RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes(fmt.Appendf(nil, `{"user_id":"_flush","page":"_flush","ts":%d}`, clusterT0+3_600_000))})})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// clusterJob writes the job file: the tables (%[1]s the broker, %[2]s the
// group, %[3]s the bounded option, %[4]s the output folder) and query.
func clusterJob(t testing.TB, dir, name, sql, broker, group string, bounded bool, out string) string {
	t.Helper()
	b := ""
	if bounded {
		b = ", 'scan.bounded.mode' = 'latest-offset'"
	}
	path := filepath.Join(dir, name+".sql")
	if err := os.WriteFile(path, fmt.Appendf(nil, sql, broker, group, b, out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// published reads the lines of the files an exactly-once file sink has
// published in dir (not its hidden ones), sorted, without the "_flush"
// rows.
func published(t testing.TB, dir string) []string {
	t.Helper()
	var lines []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if !strings.Contains(sc.Text(), "_flush") {
				lines = append(lines, sc.Text())
			}
		}
	}
	slices.Sort(lines)
	return lines
}

// member is one process of a shared job.
type member struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan error
}

func (m *member) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.Write(p)
}

func (m *member) output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

// memberEnv is added to the environment of the processes startMember
// starts (benchmarks set it).
var memberEnv []string

// startMember starts `sluice run job --cluster kafka` with checkpoints in
// s3://ckpt/<group> on the S3 server at endpoint.
func startMember(t testing.TB, name, job, group, endpoint string, extra ...string) *member {
	t.Helper()
	args := append([]string{"run", job, "--cluster", "kafka", "--checkpoint-dir", "s3://ckpt/" + group,
		"--checkpoint-s3-endpoint", endpoint, "--checkpoint-interval", "200ms", "--cluster-session-timeout", "1500ms"}, extra...)
	m := &member{name: name, cmd: exec.Command(binary, args...), done: make(chan error, 1)}
	m.cmd.Env = append(append(os.Environ(), "AWS_ACCESS_KEY_ID=ak", "AWS_SECRET_ACCESS_KEY=sk"), memberEnv...)
	if dir := os.Getenv("SLUICE_BENCH_PROFILE_DIR"); dir != "" {
		m.cmd.Env = append(m.cmd.Env, "SLUICE_CPUPROFILE="+filepath.Join(dir, name+".prof"))
	}
	m.cmd.Stdout, m.cmd.Stderr = m, m
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	t.Cleanup(func() {
		m.cmd.Process.Signal(syscall.SIGCONT)
		m.cmd.Process.Kill()
		<-m.done
		if t.Failed() || testing.Verbose() {
			t.Logf("%s:\n%s", m.name, m.output())
		}
	})
	return m
}

// waitUntil polls cond every 50 ms until it holds, failing after within.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runsTasks reports whether m has been given tasks (it logs each
// generation's).
func (m *member) runsTasks() bool { return strings.Contains(m.output(), "this process runs tasks [") }

// sameMultiset fails unless got equals want line for line.
func sameMultiset(t *testing.T, want, got []string, what string) {
	t.Helper()
	if slices.Equal(want, got) {
		return
	}
	missing, extra := lineDiff(want, got)
	t.Fatalf("%s: %d lines, one process wrote %d: missing %d %.3q, extra (duplicated or wrong) %d %.3q", what, len(got), len(want), len(missing), missing, len(extra), extra)
}

// lineDiff returns the lines of want that got lacks and those got has
// beyond want, as multisets.
func lineDiff(want, got []string) (missing, extra []string) {
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for _, l := range want {
		if seen[l] == 0 {
			missing = append(missing, l)
		} else {
			seen[l]--
		}
	}
	for l, n := range seen {
		for range n {
			extra = append(extra, l)
		}
	}
	return missing, extra
}

// noMoreThan fails if got holds a line more often than want does: a
// duplicate, or a row one process never wrote.
func noMoreThan(t *testing.T, want, got []string, what string) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range want {
		seen[l]++
	}
	for _, l := range got {
		if seen[l]--; seen[l] < 0 {
			t.Fatalf("%s: %q published more often than one process writes it", what, l)
		}
	}
}

// reference runs the job once, in one process, bounded, and returns what
// it published.
func reference(t testing.TB, dir, sql, broker string) []string {
	t.Helper()
	out := filepath.Join(dir, "reference")
	job := clusterJob(t, dir, "reference", sql, broker, "reference", true, out)
	if got, err := exec.Command(binary, "run", job, "--parallelism", "2").CombinedOutput(); err != nil {
		t.Fatalf("the reference run: %v\n%s", err, got)
	}
	lines := published(t, out)
	if len(lines) == 0 {
		t.Fatal("the reference run published nothing")
	}
	return lines
}

const windowedClicksSQL = `
CREATE TABLE clicks (user_id VARCHAR, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '%[1]s', 'properties.group.id' = '%[2]s',
        'scan.startup.mode' = 'earliest-offset'%[3]s, 'key.fields' = '%[5]s', 'format' = 'json');
CREATE TABLE counts WITH ('connector' = 'file', 'path' = '%[4]s', 'format' = 'json');
INSERT INTO counts SELECT page, TUMBLE_START(ts, INTERVAL '5' SECOND) AS window_start, COUNT(*) AS n, COUNT(DISTINCT user_id) AS users
  FROM clicks GROUP BY page, TUMBLE(ts, INTERVAL '5' SECOND);
`

// sharedRun drives a shared job through a kill, a late joiner and a
// pause, and checks its output against one process's.
type sharedRun struct {
	broker, endpoint, dir string
	sql                   string
	topics                []string
	key                   func(clickEvent) string
	events                []clickEvent
}

func newSharedRun(t testing.TB, sql string, key func(clickEvent) string, topics ...string) *sharedRun {
	all := slices.Clone(topics)
	for _, topic := range topics {
		all = append(all, sharedPrefix+topic)
	}
	r := &sharedRun{broker: clusterBroker(t, all...), endpoint: fakeS3(t), dir: t.TempDir(), sql: sql, topics: topics, key: key,
		events: clickEvents(24000, 7)}
	return r
}

// sharedPrefix starts the names of the topics the shared job reads: the
// reference run reads the same input from topics of its own, all at once,
// while the shared job gets it in phases.
const sharedPrefix = "s_"

// sharedSQL is the job's SQL reading the shared job's topics.
func (r *sharedRun) sharedSQL() string {
	return strings.ReplaceAll(r.sql, "'topic' = '", "'topic' = '"+sharedPrefix)
}

// produce writes events[from:to] to every topic, with prefix.
func (r *sharedRun) produce(t testing.TB, prefix string, from, to int) {
	for _, topic := range r.topics {
		produceKeyed(t, r.broker, prefix+topic, r.events[from:to], r.key)
	}
}

func (r *sharedRun) flush(t testing.TB, prefix string) {
	for _, topic := range r.topics {
		produceFlush(t, r.broker, prefix+topic)
	}
}

// referenceOutput writes the whole input to the reference topics and
// returns what one process publishes reading them.
func (r *sharedRun) referenceOutput(t testing.TB) []string {
	r.produce(t, "", 0, len(r.events))
	r.flush(t, "")
	return reference(t, r.dir, r.sql, r.broker)
}

// TestSharedJobSurvivesKillAndJoin: the clickstream's windowed counts,
// input keyed by page and grouped by page (no repartition), run by three
// processes; one is killed with SIGKILL mid-run and a fourth starts later.
// The union of what they published equals one process's output.
func TestSharedJobSurvivesKillAndJoin(t *testing.T) {
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "page")
	r := newSharedRun(t, sql, func(e clickEvent) string { return e.page }, "clicks")
	r.killAndJoin(t)
}

// TestSharedJobRepartitionsByGroupKey: the same with the input keyed by
// user and grouped by page: the rows go through a repartition topic.
func TestSharedJobRepartitionsByGroupKey(t *testing.T) {
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "user_id")
	r := newSharedRun(t, sql, func(e clickEvent) string { return e.user }, "clicks")
	r.killAndJoin(t)
}

func (r *sharedRun) killAndJoin(t *testing.T) {
	n := len(r.events)
	want := r.referenceOutput(t)
	// The shared job gets its input in three phases: the first before a
	// process is killed, the second before another joins, the last after.
	out := filepath.Join(r.dir, "shared")
	job := clusterJob(t, r.dir, "shared", r.sharedSQL(), r.broker, "shared", false, out)
	r.produce(t, sharedPrefix, 0, n*4/10)
	a := startMember(t, "a", job, "shared", r.endpoint, "--metrics-addr", "127.0.0.1:0")
	b := startMember(t, "b", job, "shared", r.endpoint)
	c := startMember(t, "c", job, "shared", r.endpoint)
	waitUntil(t, 30*time.Second, "the three processes run tasks", func() bool { return a.runsTasks() && b.runsTasks() && c.runsTasks() })
	waitUntil(t, 30*time.Second, "output published", func() bool { return len(published(t, out)) > 0 })
	b.cmd.Process.Kill()
	r.produce(t, sharedPrefix, n*4/10, n*7/10)
	d := startMember(t, "d", job, "shared", r.endpoint)
	waitUntil(t, 30*time.Second, "the late process runs tasks", d.runsTasks)
	r.produce(t, sharedPrefix, n*7/10, n)
	r.flush(t, sharedPrefix)
	waitUntil(t, 60*time.Second, "the shared job's output equals one process's", func() bool {
		got := published(t, out)
		noMoreThan(t, want, got, "while running")
		return len(got) == len(want)
	})
	sameMultiset(t, want, published(t, out), "after a kill and a late joiner")
	// Each process serves what it owns, its rebalances and restores, and
	// its tasks' lag per partition.
	url := regexp.MustCompile(`metrics at (http://\S+)`).FindStringSubmatch(a.output())
	if url == nil {
		t.Fatalf("a does not say where its metrics are:\n%s", a.output())
	}
	resp, err := http.Get(url[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, re := range []string{
		`sluice_cluster_owned_partitions\{job="shared",group="shared"\} [1-9]`,
		`sluice_cluster_rebalances_total\{job="shared",group="shared"\} [1-9]`,
		`sluice_cluster_generation\{job="shared",group="shared"\} [1-9]`,
		`sluice_cluster_task_restores_total\{job="shared",group="shared"\} [0-9]+`,
		`sluice_cluster_task_restore_bytes_total\{job="shared",group="shared"\} [0-9]+`,
		`sluice_source_offset_lag\{job="shared/task-[0-9]+",operator="clicks",operator_id="0",subtask="[0-9]+",partition="s_clicks/[0-9]+"\} 0`,
		`sluice_operator_rows_in_total\{job="shared/task-[0-9]+",operator="[^"]*",operator_id="[0-9]+",subtask="[0-9]+"\} [1-9]`,
	} {
		if !regexp.MustCompile(re).Match(body) {
			t.Errorf("/metrics of a process has no line like %s", re)
		}
	}
	for _, m := range []*member{a, c, d} {
		m.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, m := range []*member{a, c, d} {
		select {
		case err := <-m.done:
			m.done <- err
			if err != nil {
				t.Errorf("%s ended with %v after SIGTERM", m.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20 s of SIGTERM", m.name)
		}
	}
}

const intervalJoinSQL = `
CREATE TABLE clicks (user_id VARCHAR, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '%[1]s', 'properties.group.id' = '%[2]s',
        'scan.startup.mode' = 'earliest-offset'%[3]s, 'key.fields' = 'user_id', 'format' = 'json');
CREATE TABLE views (user_id VARCHAR, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'views', 'properties.bootstrap.servers' = '%[1]s', 'properties.group.id' = '%[2]s',
        'scan.startup.mode' = 'earliest-offset'%[3]s, 'key.fields' = 'user_id', 'format' = 'json');
CREATE TABLE joined WITH ('connector' = 'file', 'path' = '%[4]s', 'format' = 'json');
INSERT INTO joined SELECT c.user_id, c.page, v.page AS viewed, c.ts, v.ts AS viewed_at
  FROM clicks c JOIN views v ON c.user_id = v.user_id AND v.ts BETWEEN c.ts - INTERVAL '2' SECOND AND c.ts;
`

// TestSharedIntervalJoinOfCoPartitionedTopics: an interval join of two
// topics keyed alike by the join column, run by three processes through
// a kill and a late joiner.
func TestSharedIntervalJoinOfCoPartitionedTopics(t *testing.T) {
	r := newSharedRun(t, intervalJoinSQL, func(e clickEvent) string { return e.user }, "clicks", "views")
	r.killAndJoin(t)
}

// TestPausedProcessPublishesNothingForTasksItLost: a process paused with
// SIGSTOP past the session timeout loses its tasks to another; resumed,
// it finds its checkpoints refused and publishes nothing for them, while
// the job's output ends equal to one process's.
func TestPausedProcessPublishesNothingForTasksItLost(t *testing.T) {
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "page")
	r := newSharedRun(t, sql, func(e clickEvent) string { return e.page }, "clicks")
	n := len(r.events)
	want := r.referenceOutput(t)
	out := filepath.Join(r.dir, "shared")
	job := clusterJob(t, r.dir, "shared", r.sharedSQL(), r.broker, "shared", false, out)
	r.produce(t, sharedPrefix, 0, n/2)
	a := startMember(t, "a", job, "shared", r.endpoint)
	b := startMember(t, "b", job, "shared", r.endpoint)
	waitUntil(t, 30*time.Second, "both processes run tasks", func() bool { return a.runsTasks() && b.runsTasks() })
	waitUntil(t, 30*time.Second, "output published", func() bool { return len(published(t, out)) > 0 })
	waitUntil(t, 30*time.Second, "the paused-to-be process runs its tasks", func() bool {
		return len(tasksOf(a.output())) > 0 && (strings.Contains(a.output(), "starts without a checkpoint") || strings.Contains(a.output(), "restored checkpoint"))
	})
	time.Sleep(500 * time.Millisecond) // a few checkpoint intervals: a checkpoint of its is under way when it stops
	gens := strings.Count(b.output(), "generation")
	a.cmd.Process.Signal(syscall.SIGSTOP)
	paused := time.Now()
	waitUntil(t, 30*time.Second, "the running process takes every task", func() bool {
		return strings.Count(b.output(), "generation") > gens && len(tasksOf(b.output())) == clusterParts
	})
	t.Logf("the paused process's tasks moved %v after the pause", time.Since(paused).Round(time.Millisecond))
	r.produce(t, sharedPrefix, n/2, n)
	r.flush(t, sharedPrefix)
	time.Sleep(500 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGCONT)
	waitUntil(t, 60*time.Second, "the shared job's output equals one process's", func() bool {
		got := published(t, out)
		noMoreThan(t, want, got, "while running")
		return len(got) == len(want)
	})
	// Let the resumed process find out and settle, then look again.
	waitUntil(t, 30*time.Second, "the resumed process finds its checkpoints refused", func() bool {
		return strings.Contains(a.output(), "does not count")
	})
	time.Sleep(2 * time.Second)
	sameMultiset(t, want, published(t, out), "after a pause past the session timeout")
}

// TestSharedJobStartErrors: what cannot be shared is an error at start
// that names the cause.
func TestSharedJobStartErrors(t *testing.T) {
	broker := clusterBroker(t, "clicks", "views")
	cl := &kafka.Client{Addr: kafka.TCP(broker), Transport: &kafka.Transport{}}
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()
	if _, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "few", NumPartitions: 3, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck")
	kafkaTable := func(name, topic, group string) string {
		g := ""
		if group != "" {
			g = fmt.Sprintf(", 'properties.group.id' = '%s'", group)
		}
		return fmt.Sprintf(`CREATE TABLE %s (user_id VARCHAR, page VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = '%s', 'properties.bootstrap.servers' = '%s'%s, 'format' = 'json');
`, name, topic, broker, g)
	}
	sink := fmt.Sprintf("CREATE TABLE out WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');\n", filepath.Join(dir, "out"))
	for _, c := range []struct{ name, sql, want string }{
		{"datagen", "CREATE TABLE gen (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');\n" + sink +
			"INSERT INTO out SELECT n FROM gen;", "table gen reads connector 'datagen': a job shared by several processes reads kafka tables only"},
		{"no group", kafkaTable("clicks", "clicks", "") + sink + "INSERT INTO out SELECT page FROM clicks;", `option "properties.group.id": a job shared by several processes needs a consumer group`},
		{"two groups", kafkaTable("clicks", "clicks", "g") + kafkaTable("views", "views", "h") + sink +
			"INSERT INTO out SELECT c.page FROM clicks c JOIN views v ON c.user_id = v.user_id AND v.ts BETWEEN c.ts - INTERVAL '1' SECOND AND c.ts;",
			"the tables of a shared job name one group"},
		{"partitions differ", kafkaTable("clicks", "clicks", "g") + kafkaTable("views", "few", "g") + sink +
			"INSERT INTO out SELECT c.page FROM clicks c JOIN views v ON c.user_id = v.user_id AND v.ts BETWEEN c.ts - INTERVAL '1' SECOND AND c.ts;",
			"few"},
	} {
		t.Run(c.name, func(t *testing.T) {
			job := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".sql")
			os.WriteFile(job, []byte(c.sql), 0o644)
			out, err := exec.Command(binary, "run", job, "--cluster", "kafka", "--checkpoint-dir", ck).CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Fatalf("%v\n%s\nwant %q", err, out, c.want)
			}
		})
	}
	for args, want := range map[string]string{
		"--cluster kafka": "--cluster kafka needs --checkpoint-dir",
		"--cluster zookeeper --checkpoint-dir " + ck:                  `--cluster "zookeeper"`,
		"--cluster kafka --checkpoint-dir " + ck + " --parallelism 4": "--parallelism does not apply with --cluster",
		"--checkpoint-shared --checkpoint-dir " + ck:                  "--checkpoint-shared needs --cluster",
	} {
		out, err := exec.Command(binary, append([]string{"run", filepath.Join(dir, "datagen.sql")}, strings.Fields(args)...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: %v\n%s\nwant %q", args, err, out, want)
		}
	}
}

// TestLocalCheckpointFolderWithPeersIsRefused: two processes that keep
// their checkpoints in folders of their own machine cannot share a job:
// the state of a task could not follow it. The group's member metadata
// tells, and the processes stop with an error that says so.
func TestLocalCheckpointFolderWithPeersIsRefused(t *testing.T) {
	broker := clusterBroker(t, "clicks")
	dir := t.TempDir()
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "page")
	job := clusterJob(t, dir, "job", sql, broker, "local", false, filepath.Join(dir, "out"))
	run := func(name string) *member {
		m := &member{name: name, cmd: exec.Command(binary, "run", job, "--cluster", "kafka", "--checkpoint-dir", filepath.Join(dir, "ck-"+name),
			"--cluster-session-timeout", "1500ms"), done: make(chan error, 1)}
		m.cmd.Stdout, m.cmd.Stderr = m, m
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { m.done <- m.cmd.Wait() }()
		t.Cleanup(func() { m.cmd.Process.Kill(); <-m.done })
		return m
	}
	a := run("a")
	waitUntil(t, 30*time.Second, "the first process runs tasks", a.runsTasks)
	b := run("b")
	// Whichever sees the other first stops (the other may then run on
	// alone, which a local folder allows).
	const want = "is local but the group has other members"
	waitUntil(t, 30*time.Second, "a process refuses to share with a local checkpoint folder", func() bool {
		for _, m := range []*member{a, b} {
			select {
			case err := <-m.done:
				m.done <- err
				if err != nil && strings.Contains(m.output(), want) {
					return true
				}
			default:
			}
		}
		return false
	})
}

// TestExplainClusterShowsTheCut: sluice explain --cluster kafka shows the
// plan each task runs, with the repartition topics a GROUP BY on another
// key than the input's needs, and none when the input is keyed alike.
func TestExplainClusterShowsTheCut(t *testing.T) {
	dir := t.TempDir()
	for key, want := range map[string][]string{
		"user_id": {`cluster: kafka group "g"; tasks: one per partition of clicks`, "cluster: repartition topic g-1-repartition: keyed by page",
			"repartition 1: write g-1-repartition", "repartition 1: read g-1-repartition"},
		"page": {"cluster: no repartition: every keyed exchange is keyed like the input"},
	} {
		sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", key)
		job := clusterJob(t, dir, "by_"+key, sql, "127.0.0.1:9", "g", false, filepath.Join(dir, "out"))
		out, err := exec.Command(binary, "explain", job, "--cluster", "kafka").CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("input keyed by %s: explain lacks %q:\n%s", key, w, out)
			}
		}
		if key == "page" {
			if strings.Contains(string(out), "repartition 1") {
				t.Errorf("input keyed by page: a repartition:\n%s", out)
			}
			// The plan of one process says which exchange the input is
			// keyed like.
			out, err := exec.Command(binary, "explain", job).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "(keyed by input)") {
				t.Errorf("explain without --cluster: %v\n%s", err, out)
			}
		}
	}
}

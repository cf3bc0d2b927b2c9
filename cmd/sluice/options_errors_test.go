package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// explainErr runs sluice explain on a job file holding job and returns its
// standard error, failing the test when explain succeeds.
func explainErr(t *testing.T, job string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.sql")
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "explain", path)
	cmd.Dir = filepath.Dir(path)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("explain accepted the job:\n%s\n%s", job, out)
	}
	return strings.TrimSpace(strings.ReplaceAll(string(out), path, "job.sql"))
}

// TestBadOptionValueIsPlacedAtTheOption: a value a connector refuses is
// reported at the option's line:column in its CREATE TABLE, for a source
// and for a sink, not at the place the table is used.
func TestBadOptionValueIsPlacedAtTheOption(t *testing.T) {
	for _, c := range []struct{ name, job, want string }{
		{"source", `CREATE TABLE s (a INT) WITH ('connector' = 'datagen',
  'number-of-rows' = '-5');
CREATE TABLE o WITH ('connector' = 'print');
INSERT INTO o SELECT a FROM s;
`, `sluice: job.sql:2:3: table s: option "number-of-rows": "-5" must be at least 0`},
		{"sink", `CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE o WITH ('connector' = 'print', 'standard-error' = 'maybe');
INSERT INTO o SELECT a FROM s;
`, `sluice: job.sql:2:45: table o: option "standard-error": "maybe" is not true or false`},
		{"checked by the connector", `CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
  'fields.a.min' = '10', 'fields.a.max' = '3');
CREATE TABLE o WITH ('connector' = 'print');
INSERT INTO o SELECT a FROM s;
`, `sluice: job.sql:2:3: table s: option "fields.a.min": min 10 is greater than max 3`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := explainErr(t, c.job); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestOptionOfAnotherFormatOrDestinationIsRefused: an option that the
// table's format or destination does not use is an error at the option,
// not silently ignored.
func TestOptionOfAnotherFormatOrDestinationIsRefused(t *testing.T) {
	const src = "CREATE TABLE s (a INT, b VARCHAR) WITH ('connector' = 'datagen', 'number-of-rows' = '5');\n"
	for _, c := range []struct{ name, table, want string }{
		{"file csv delimiter with json", `'connector' = 'file', 'path' = 'out', 'csv.field-delimiter' = ';'`,
			`sluice: job.sql:2:60: table o: option "csv.field-delimiter" is only used with 'format' = 'csv'`},
		{"file csv header with json", `'connector' = 'file', 'path' = 'out', 'csv.header' = 'true'`,
			`sluice: job.sql:2:60: table o: option "csv.header" is only used with 'format' = 'csv'`},
		{"kafka csv delimiter with json", `'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '127.0.0.1:9', 'csv.field-delimiter' = ';'`,
			`sluice: job.sql:2:108: table o: option "csv.field-delimiter" is only used with 'format' = 'csv' or 'key.format' = 'csv'`},
		{"kafka key format without key fields", `'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '127.0.0.1:9', 'key.format' = 'raw'`,
			`sluice: job.sql:2:108: table o: option "key.format" is only used with 'key.fields'`},
		{"kafka topic and pattern", `'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '127.0.0.1:9', 'topic-pattern' = 't.*'`,
			`sluice: job.sql:2:108: table o: options "topic" and "topic-pattern" exclude each other`},
		{"delivery s3 option with a folder", `'connector' = 'delivery', 'destination' = 'file:///tmp/x', 's3.region' = 'eu-west-1'`,
			`sluice: job.sql:2:81: table o: option "s3.region" is only used with a destination s3://…`},
		{"delivery http key with a folder", `'connector' = 'delivery', 'destination' = 'file:///tmp/x', 'http.access-key' = 'k'`,
			`sluice: job.sql:2:81: table o: option "http.access-key" is only used with a destination http://…`},
	} {
		t.Run(c.name, func(t *testing.T) {
			job := src + "CREATE TABLE o WITH (" + c.table + ");\nINSERT INTO o SELECT a, b FROM s;\n"
			if got := explainErr(t, job); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	// Still taken where they are used.
	for _, table := range []string{
		`'connector' = 'file', 'path' = 'out', 'format' = 'csv', 'csv.field-delimiter' = ';', 'csv.header' = 'true'`,
		`'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '127.0.0.1:9', 'key.fields' = 'a', 'key.format' = 'csv', 'csv.field-delimiter' = ';'`,
		`'connector' = 'delivery', 'destination' = 'file:///tmp/x', 'error-destination' = 's3://b/e', 's3.endpoint' = '127.0.0.1:9'`,
	} {
		path := filepath.Join(t.TempDir(), "job.sql")
		job := src + "CREATE TABLE o WITH (" + table + ");\nINSERT INTO o SELECT a, b FROM s;\n"
		if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(binary, "explain", path).CombinedOutput(); err != nil {
			t.Errorf("explain refused %s: %v\n%s", table, err, out)
		}
	}
}

// TestSubscriptionEndpointIsRequiredWhereUsed: 'endpoint' is required by
// the protocols that deliver to one, at the protocol option, and refused
// by stdout, which has none.
func TestSubscriptionEndpointIsRequiredWhereUsed(t *testing.T) {
	for _, c := range []struct{ with, want string }{
		{`'protocol' = 'http'`, `sluice: job.sql:2:42: topic ops: subscription p: option "protocol" = 'http' needs option "endpoint"`},
		{`'protocol' = 'stdout', 'endpoint' = 'x'`,
			`sluice: job.sql:2:65: topic ops: subscription p: option "endpoint" is only used with 'protocol' = 'http' or 'https' or 'file' or 'store' or 'sqs'`},
	} {
		job := "CREATE TOPIC ops;\nCREATE SUBSCRIPTION p ON TOPIC ops WITH (" + c.with + ");\n"
		if got := explainErr(t, job); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// TestIdleTimeoutIsCheckedAsEveryOption: 'scan.watermark.idle-timeout'
// refuses a negative duration, in the form of every option's error.
func TestIdleTimeoutIsCheckedAsEveryOption(t *testing.T) {
	for v, want := range map[string]string{
		"-1s": `sluice: job.sql:1:53: table s: option "scan.watermark.idle-timeout": "-1s" must be at least 0`,
		"x":   `sluice: job.sql:1:53: table s: option "scan.watermark.idle-timeout": "x" is not a duration (e.g. 500ms, 10 s, 1 min)`,
	} {
		job := "CREATE TABLE s (i INT) WITH ('connector'='datagen', 'scan.watermark.idle-timeout'='" + v + "');\n" +
			"CREATE TABLE o WITH ('connector'='print');\nINSERT INTO o SELECT i FROM s;\n"
		if got := explainErr(t, job); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// TestAlarmOptionErrorsArePlacedAtTheOption: the alarm sink's checks
// across options (M of N, the topic) are errors at the option.
func TestAlarmOptionErrorsArePlacedAtTheOption(t *testing.T) {
	const job = `CREATE TABLE cpu (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TOPIC ops;
CREATE TABLE high_cpu (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH ('connector' = 'alarm',
  'topic' = '%s', 'alarm-name' = 'HighCPU', 'metric' = 'avg_cpu', 'period' = 'period_end',
  'comparison' = 'GreaterThanThreshold', 'threshold' = '90',
  'evaluation-periods' = '3', 'datapoints-to-alarm' = '%s');
INSERT INTO high_cpu SELECT host, TUMBLE_END(ts, INTERVAL '10' SECOND) AS period_end, AVG(cpu) AS avg_cpu
  FROM cpu GROUP BY host, TUMBLE(ts, INTERVAL '10' SECOND);
`
	for _, c := range []struct{ topic, m, want string }{
		{"ops", "4", `sluice: job.sql:7:31: table high_cpu: option "datapoints-to-alarm": 4 is more than 'evaluation-periods' (3): M breaching datapoints are looked for among the last N periods`},
		{"opz", "2", `sluice: job.sql:5:3: table high_cpu: option "topic": no topic "opz" in this job: create it first with CREATE TOPIC opz`},
	} {
		if got := explainErr(t, fmt.Sprintf(job, c.topic, c.m)); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// TestConnectorErrorAtUseDoesNotRepeatTheTable: a connector's error that
// is about no single option stands at the table's use, naming the table
// once.
func TestConnectorErrorAtUseDoesNotRepeatTheTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.sql")
	job := "CREATE TABLE k (a INT) WITH ('connector' = 'store', 'stream' = 'x');\n" +
		"CREATE TABLE o WITH ('connector' = 'print');\nINSERT INTO o SELECT a FROM k;\n"
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "run", path).CombinedOutput()
	want := path + `:3:29: table k: option "endpoint" is absent and the job has no embedded store: ` +
		`give the store's URL, or run the job with --store-dir DIR`
	if got := strings.TrimSpace(string(out)); err == nil || got != "sluice: "+want {
		t.Errorf("got %v\n%s\nwant sluice: %s", err, got, want)
	}
}

// TestShellPlacesOptionErrorOfAnEarlierStatement: in sluice sql, a bad
// option of a table created by an earlier statement is reported at the
// option, as sluice run does.
func TestShellPlacesOptionErrorOfAnEarlierStatement(t *testing.T) {
	cmd := exec.Command(binary, "sql")
	cmd.Stdin = strings.NewReader("CREATE TABLE s (a INT) WITH ('connector' = 'datagen',\n  'number-of-rows' = '-5');\n" +
		"CREATE TABLE o WITH ('connector' = 'print');\nINSERT INTO o SELECT a FROM s;\n")
	out, _ := cmd.CombinedOutput()
	want := `<stdin>:2:3: table s: option "number-of-rows": "-5" must be at least 0`
	if !strings.Contains(string(out), want) {
		t.Errorf("got\n%s\nwant a line with %s", out, want)
	}
}

// TestSinkOnlyConnectorRefusesSourceOptions: the options every source
// takes (read by the planner) are unknown options of a connector that
// cannot be read, not silently ignored.
func TestSinkOnlyConnectorRefusesSourceOptions(t *testing.T) {
	job := "CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');\n" +
		"CREATE TABLE o WITH ('connector' = 'print', 'scan.watermark.idle-timeout' = '1 s');\nINSERT INTO o SELECT a FROM s;\n"
	want := `sluice: job.sql:2:45: table o: connector "print" has no option "scan.watermark.idle-timeout"; its options: print-identifier, standard-error`
	if got := explainErr(t, job); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestFilePathErrorIsPlacedAtThePath: a file table whose path cannot be
// read is reported at its 'path' option.
func TestFilePathErrorIsPlacedAtThePath(t *testing.T) {
	job := "CREATE TABLE s (a INT) WITH ('connector' = 'file',\n  'path' = '/nonexistent-sluice-dir/*.json');\n" +
		"CREATE TABLE o WITH ('connector' = 'print');\nINSERT INTO o SELECT a FROM s;\n"
	want := `sluice: job.sql:2:3: table s: option "path": stat /nonexistent-sluice-dir: no such file or directory`
	if got := explainErr(t, job); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestStoreTableSignsWithAWSDefaultRegion: a store table's signed
// requests name the region of AWS_DEFAULT_REGION when AWS_REGION is not
// set, as sluice stream does, so a store that requires that region takes
// them.
func TestStoreTableSignsWithAWSDefaultRegion(t *testing.T) {
	url, _ := startStore(t, t.TempDir(), "--access-key", "AK", "--secret-key", "SK", "--region", "eu-west-1")
	path := filepath.Join(t.TempDir(), "job.sql")
	job := fmt.Sprintf(`CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE TABLE k (a INT) WITH ('connector' = 'store', 'stream' = 'k', 'endpoint' = '%s', 'stream.create-shards' = '1',
  'aws.credentials.basic.accesskeyid' = 'AK', 'aws.credentials.basic.secretkey' = 'SK');
INSERT INTO k SELECT a FROM s;
`, url)
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", path)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_DEFAULT_REGION=eu-west-1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
}

// TestTopicRegionAndAccountAreCheckedAtTheOption: CREATE TOPIC's region
// and account are checked as its options, with the error at the option.
func TestTopicRegionAndAccountAreCheckedAtTheOption(t *testing.T) {
	for with, want := range map[string]string{
		`'account' = 'abc'`:    `sluice: job.sql:1:24: topic ops: option "account": "abc" is not an account (12 digits)`,
		`'region' = 'eu west'`: `sluice: job.sql:1:24: topic ops: option "region": "eu west" is not a region (lower-case letters, digits and '-')`,
	} {
		if got := explainErr(t, "CREATE TOPIC ops WITH ("+with+");\n"); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// TestSubscriptionErrorsNameTheTopicAlike: every error about a
// subscription's options names its topic and itself alike, whether the
// spec or the subscription finds it.
func TestSubscriptionErrorsNameTheTopicAlike(t *testing.T) {
	for with, want := range map[string]string{
		`'raw-message-delivery' = 'yes'`: `sluice: job.sql:2:65: topic ops: subscription c: option "raw-message-delivery": "yes" is not true or false`,
		`'dead-letter' = 'ftp://x'`:      `sluice: job.sql:2:65: topic ops: subscription c: option "dead-letter": "ftp://x": want file:///absolute/path.jsonl, store:<stream> or sqs:<queue>`,
	} {
		job := "CREATE TOPIC ops;\nCREATE SUBSCRIPTION c ON TOPIC ops WITH ('protocol' = 'stdout', " + with + ");\n"
		if got := explainErr(t, job); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// TestMisspeltPatternOptionSuggestsTheColumnsKey: "did you mean" for a
// misspelt option of a pattern (fields.<f>.kind) names it with the
// table's column, as it is to be written.
func TestMisspeltPatternOptionSuggestsTheColumnsKey(t *testing.T) {
	job := "CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'fields.a.knd' = 'random');\n" +
		"CREATE TABLE o WITH ('connector' = 'print');\nINSERT INTO o SELECT a FROM s;\n"
	want := `sluice: job.sql:1:55: table s: connector "datagen" has no option "fields.a.knd" (did you mean "fields.a.kind"?); its options: `
	if got := explainErr(t, job); !strings.HasPrefix(got, want) {
		t.Errorf("got  %s\nwant %s…", got, want)
	}
}

// TestOptionsOfAnUnusedTableAreChecked: a table with columns has its
// option values checked at its CREATE TABLE, also when no query reads or
// writes it yet.
func TestOptionsOfAnUnusedTableAreChecked(t *testing.T) {
	job := "CREATE TABLE k (a INT) WITH ('connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'h:1',\n" +
		"  'scan.startup.mode' = 'timestamp');\n"
	want := `sluice: job.sql:2:3: table k: option "scan.startup.mode" = 'timestamp' needs option "scan.startup.timestamp-millis"`
	if got := explainErr(t, job); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

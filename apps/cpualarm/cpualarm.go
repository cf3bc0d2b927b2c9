// Package cpualarm is the ready-made CPU alarm job: per host, the average
// CPU of every 10-second period, and an alarm with CloudWatch's semantics —
// ALARM when M of the last N periods are above the threshold — whose state
// changes go to a topic, printed readably and, with a webhook, posted as
// SNS notifications. `sluice demo` runs it over the embedded store, fed by
// this machine's own CPU (the host source) and a simulated fleet.
package cpualarm

import (
	"fmt"
	"strings"
	"time"

	_ "github.com/sluicehq/sluice/connectors/alarm"     // 'alarm'
	_ "github.com/sluicehq/sluice/connectors/dashboard" // 'dashboard'
	_ "github.com/sluicehq/sluice/connectors/host"      // 'host'
	_ "github.com/sluicehq/sluice/connectors/store"     // 'store'
	"github.com/sluicehq/sluice/sql/parser"
)

// Config configures the job.
type Config struct {
	Threshold         float64       // CPU %, default 90
	EvaluationPeriods int           // N, default 3
	DatapointsToAlarm int           // M, default 2
	Period            time.Duration // default 10 s
	Webhook           string        // an http(s) URL receiving ALARM notifications; "" none
	Stream            string        // the store stream of the metrics, default "metrics"
	StoreEndpoint     string        // "" the embedded store
	// Feed, when set, makes the job write the metrics stream itself: this
	// machine (host source) and a simulated fleet of Hosts hosts, Spiking
	// of which run hot now and then.
	Feed           bool
	Hosts, Spiking int
	// NoMachine leaves this machine out of the feed (no /proc here).
	NoMachine bool
	// StartMillis: read the stream from this arrival time (0: its start).
	StartMillis int64
}

func (c *Config) defaults() {
	if c.Threshold == 0 {
		c.Threshold = 90
	}
	if c.EvaluationPeriods == 0 {
		c.EvaluationPeriods = 3
	}
	if c.DatapointsToAlarm == 0 {
		c.DatapointsToAlarm = 2
	}
	if c.Period == 0 {
		c.Period = 10 * time.Second
	}
	if c.Stream == "" {
		c.Stream = "metrics"
	}
	if c.Hosts == 0 {
		c.Hosts = 50
	}
}

// SQL returns the job file.
func SQL(c Config) string {
	c.defaults()
	q := parser.QuoteString
	var b strings.Builder
	endpoint := ""
	if c.StoreEndpoint != "" {
		endpoint = ", 'endpoint' = " + q(c.StoreEndpoint)
	}
	if c.Feed {
		fmt.Fprintf(&b, `-- The feed: this machine and a simulated fleet, into the metrics stream.
CREATE TABLE fleet (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3))
  WITH ('connector' = 'fleet', 'hosts' = '%d', 'spiking' = '%d', 'interval' = '%dms');
CREATE TABLE metrics_out (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3))
  WITH ('connector' = 'store', 'stream' = %s, 'partition-key' = 'host', 'stream.create-shards' = '4'%s);
INSERT INTO metrics_out SELECT host, cpu, ts FROM fleet;
`, c.Hosts, c.Spiking, max(c.Period.Milliseconds()/10, 1), q(c.Stream), endpoint)
		if !c.NoMachine {
			b.WriteString(`CREATE TABLE machine (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'host', 'interval' = '1 s');
INSERT INTO metrics_out SELECT host, cpu, ts FROM machine;
`)
		}
	}
	start := ""
	if c.StartMillis > 0 {
		start = fmt.Sprintf(", 'scan.startup.mode' = 'at-timestamp', 'scan.startup.timestamp-millis' = '%d'", c.StartMillis)
	}
	fmt.Fprintf(&b, `-- The alarm: per host, average CPU per period; ALARM when %d of the last %d periods are above %g%%.
CREATE TABLE cpu (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'store', 'stream' = %s, 'stream.create-shards' = '4', 'scan.watermark.idle-timeout' = '5 s'%s%s);
CREATE TOPIC ops;
CREATE SUBSCRIPTION console ON TOPIC ops WITH ('protocol' = 'stdout',
  'filter-policy' = '{"$or": [{"NewStateValue": ["ALARM"]}, {"OldStateValue": ["ALARM"]}]}');
`, c.DatapointsToAlarm, c.EvaluationPeriods, c.Threshold, q(c.Stream), endpoint, start)
	if c.Webhook != "" {
		fmt.Fprintf(&b, `CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = %s, 'endpoint' = %s,
  'filter-policy' = '{"NewStateValue": ["ALARM"]}');
`, q(strings.SplitN(c.Webhook, ":", 2)[0]), q(c.Webhook))
	}
	secs := max(int64(c.Period/time.Second), 1)
	fmt.Fprintf(&b, `CREATE TABLE high_cpu (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH (
  'connector' = 'alarm', 'topic' = 'ops', 'alarm-name' = '%s',
  'alarm-description' = 'CPU above %g%% on %d of the last %d periods',
  'metric' = 'avg_cpu', 'dimensions' = 'host', 'period' = 'period_end',
  'comparison' = 'GreaterThanThreshold', 'threshold' = '%g',
  'evaluation-periods' = '%d', 'datapoints-to-alarm' = '%d', 'treat-missing-data' = 'missing');
INSERT INTO high_cpu SELECT host, TUMBLE_END(ts, INTERVAL '%d' SECOND) AS period_end, AVG(cpu) AS avg_cpu
  FROM cpu GROUP BY host, TUMBLE(ts, INTERVAL '%d' SECOND);
`, AlarmName, c.Threshold, c.DatapointsToAlarm, c.EvaluationPeriods, c.Threshold, c.EvaluationPeriods, c.DatapointsToAlarm, secs, secs)
	fmt.Fprintf(&b, `-- Dashboards: every host's average CPU per period, and the hosts in ALARM now.
CREATE TABLE cpu_by_host (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH ('connector' = 'dashboard',
  'title' = 'Average CPU %% per host, per %d s', 'chart' = 'line', 'x' = 'period_end', 'y' = 'avg_cpu', 'series' = 'host',
  'retain' = '20000 rows');
INSERT INTO cpu_by_host SELECT host, window_end AS period_end, AVG(cpu) AS avg_cpu
  FROM TABLE(TUMBLE(TABLE cpu, DESCRIPTOR(ts), INTERVAL '%d' SECOND)) GROUP BY window_start, window_end, host;
-- The alarm's rule over each host's latest %d periods (every host reports every period): ALARM when
-- %d of them breach, or, before there are %d, when all of them do. A host's row leaves when it is OK again.
CREATE VIEW cpu_periods AS SELECT host, window_end AS period_end, window_time, AVG(cpu) AS avg_cpu
  FROM TABLE(TUMBLE(TABLE cpu, DESCRIPTOR(ts), INTERVAL '%d' SECOND)) GROUP BY window_start, window_end, window_time, host;
CREATE VIEW cpu_states AS SELECT host, period_end, avg_cpu,
  SUM(CASE WHEN avg_cpu > %g THEN 1 ELSE 0 END) OVER (PARTITION BY host ORDER BY window_time ROWS BETWEEN %d PRECEDING AND CURRENT ROW) AS breaching,
  COUNT(*) OVER (PARTITION BY host ORDER BY window_time ROWS BETWEEN %d PRECEDING AND CURRENT ROW) AS datapoints
  FROM cpu_periods;
CREATE VIEW cpu_latest AS SELECT host, period_end, avg_cpu, breaching, datapoints FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY host ORDER BY period_end DESC) AS rn FROM cpu_states) WHERE rn = 1;
CREATE TABLE hosts_in_alarm (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE, breaching BIGINT,
  PRIMARY KEY (host) NOT ENFORCED) WITH ('connector' = 'dashboard', 'title' = 'Hosts in ALARM', 'chart' = 'table');
INSERT INTO hosts_in_alarm SELECT host, period_end, avg_cpu, breaching FROM cpu_latest
  WHERE breaching >= %d OR (datapoints < %d AND breaching = datapoints);
`, secs, secs, c.EvaluationPeriods, c.DatapointsToAlarm, c.DatapointsToAlarm, secs, c.Threshold, c.EvaluationPeriods-1, c.EvaluationPeriods-1,
		c.DatapointsToAlarm, c.DatapointsToAlarm)
	return b.String()
}

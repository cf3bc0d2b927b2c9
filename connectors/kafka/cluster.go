package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/sluicehq/sluice/connectors"
)

// Input is what a job that several processes share (sluice run --cluster
// kafka) needs to know of one of its kafka source tables: the brokers,
// the topics whose partitions are the job's tasks, and the consumer group
// the processes join.
type Input struct {
	Table   string
	Brokers []string
	Topics  []string
	GroupID string
	Bounded bool // 'scan.bounded.mode': the table ends
	TLS     *tls.Config
	SASL    sasl.Mechanism
}

// InputOf reads table t (connector kafka or upsert-kafka) as the input of
// a shared job. Its topics must be named ('topic-pattern' would let the
// tasks change under the job) and it needs 'properties.group.id'.
func InputOf(t connectors.Table) (*Input, error) {
	c, err := parseConfig(t, false)
	if err != nil {
		return nil, err
	}
	if c.pattern != nil {
		return nil, connectors.OptionErrorf(t.Name, "topic-pattern", "a job shared by several processes reads named topics: its tasks are their partitions; give 'topic'")
	}
	if c.group == "" {
		return nil, connectors.OptionErrorf(t.Name, "properties.group.id", "a job shared by several processes needs a consumer group: the processes share the topics' partitions through it")
	}
	return &Input{Table: t.Name, Brokers: slices.Clone(c.brokers), Topics: slices.Clone(c.topics), GroupID: c.group,
		Bounded: c.bounded != "", TLS: c.tls, SASL: c.sasl}, nil
}

// Client returns a client of the input's brokers on a transport of its
// own; the caller closes the transport's idle connections when done.
func (in *Input) Client() (*kafka.Client, *kafka.Transport) {
	c := &config{brokers: in.Brokers, tls: in.TLS, sasl: in.SASL}
	tr := c.transport()
	return c.client(tr), tr
}

// String names the input for messages.
func (in *Input) String() string {
	return fmt.Sprintf("table %s (topics %v on %v, group %q)", in.Table, in.Topics, in.Brokers, in.GroupID)
}

// Ping checks that the brokers answer, for an error at start rather than
// a stall.
func (in *Input) Ping(ctx context.Context) error {
	cl, tr := in.Client()
	defer tr.CloseIdleConnections()
	_, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: in.Topics})
	if err != nil {
		c := &config{table: in.Table, brokers: in.Brokers, sasl: in.SASL}
		return c.brokerError("cannot reach the brokers", err)
	}
	return nil
}

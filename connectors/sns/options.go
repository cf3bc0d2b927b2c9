package sns

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/sluicehq/sluice/connectors"
)

// matching parses a value that must match re, described by what.
func matching(re *regexp.Regexp, what string) func(string) (any, error) {
	return func(s string) (any, error) {
		if !re.MatchString(s) {
			return nil, fmt.Errorf("%q is not %s", s, what)
		}
		return s, nil
	}
}

// TopicOptionSpecs are the WITH options of CREATE TOPIC.
var TopicOptionSpecs = []connectors.Option{
	{Key: "region", Default: DefaultRegion, Doc: "the region of the topic's ARN",
		Parse: matching(regionRe, "a region (lower-case letters, digits and '-')")},
	{Key: "account", Default: DefaultAccount, Doc: "the account of the topic's ARN", Parse: matching(accountRe, "an account (12 digits)")},
	{Key: "drain-timeout", Type: connectors.Duration, Min: "1ms", DefaultDoc: "none (only the command's own bound)",
		Doc: "how long a stopping job goes on delivering what is queued before it dead-letters the rest"},
}

// SubscriptionOptionSpecs are the WITH options of CREATE SUBSCRIPTION.
var SubscriptionOptionSpecs = []connectors.Option{
	{Key: "protocol", Type: connectors.Enum, Required: true, Values: []string{"http", "https", "file", "stdout", "store", "sqs"},
		Doc: "`http`, `https` (POST of the SNS notification envelope: Type, MessageId, TopicArn, Subject, Message, Timestamp, " +
			"MessageAttributes, with headers `x-amz-sns-message-type`, `x-amz-sns-message-id`, `x-amz-sns-topic-arn`; 2xx is success; " +
			"envelopes are not signed), `file` (JSON lines, fsync'd; what queued meanwhile is appended with one write and one fsync), " +
			"`stdout` (a readable line plus the body), `store` (records of a stream of the store), " +
			"`sqs` (messages of a queue of the store: the envelope, or with raw delivery the body and the attributes as message attributes; " +
			"what queued meanwhile goes in SendMessageBatch requests)"},
	{Key: "endpoint", Required: true, With: "protocol=http|https|file|store|sqs",
		Doc: "the URL, file path, stream name, or queue (a name, a queue URL, or an ARN `arn:aws:sqs:region:000000000000:name`)"},
	{Key: "filter-policy", Doc: "an SNS filter policy: AND across keys, OR within a key's list; exact strings and numbers, `prefix`, `suffix`, " +
		"`anything-but`, `numeric` (=, <, <=, >, >= and ranges), `exists`, `equals-ignore-case`, `cidr`, `$or`, nested keys in the body. " +
		"An invalid policy stops the job at start, naming the key and the file position"},
	{Key: "filter-policy-scope", Type: connectors.Enum, Default: "MessageAttributes", Values: []string{"MessageAttributes", "MessageBody"},
		Doc: "what the filter policy looks at: the `MessageAttributes` or the `MessageBody`"},
	{Key: "raw-message-delivery", Type: connectors.Bool, Default: "false", Doc: "`true`: deliver the body as is"},
	{Key: "delivery-policy", DefaultDoc: "as SNS for HTTP: 3 retries 20 s apart",
		Doc: "SNS's `healthyRetryPolicy` (numRetries, min/max delay, the four phases, linear/arithmetic/geometric/exponential backoff) and `throttlePolicy`"},
	{Key: "dead-letter", Doc: "`file:///path.jsonl`, `store:<stream>` or `sqs:<queue>` (a standard queue's name, URL or ARN; the record is the message body): " +
		"a message whose retries are spent, or that finds the queue full, " +
		"goes there with the reason and attempts (without one, a rate-limited line on stderr: nothing is dropped silently)"},
	{Key: "store.endpoint", DefaultDoc: "the embedded store", Doc: "for `store`, `sqs` (a queue given by name or ARN) and store or queue dead letters: the store's URL"},
	{Key: "attempt-timeout", Type: connectors.Duration, Default: "15 s", Min: "1ms", Doc: "bound of one delivery attempt, any protocol"},
	{Key: "queue-bytes", Type: connectors.Size, Default: "8 MiB", Max: strconv.Itoa(math.MaxInt32),
		Doc: "bound of the messages queued or in delivery (a size such as `64 KiB` or `65536`); what does not fit goes to the dead letters"},
}

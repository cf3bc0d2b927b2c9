package queue

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Attribute names of a queue, as SQS names them.
const (
	AttrDelaySeconds                  = "DelaySeconds"
	AttrMaximumMessageSize            = "MaximumMessageSize"
	AttrMessageRetentionPeriod        = "MessageRetentionPeriod"
	AttrReceiveMessageWaitTimeSeconds = "ReceiveMessageWaitTimeSeconds"
	AttrVisibilityTimeout             = "VisibilityTimeout"
	AttrPolicy                        = "Policy"
	AttrSqsManagedSseEnabled          = "SqsManagedSseEnabled"
	AttrFifoQueue                     = "FifoQueue"
	AttrContentBasedDeduplication     = "ContentBasedDeduplication"
	AttrDeduplicationScope            = "DeduplicationScope"
	AttrFifoThroughputLimit           = "FifoThroughputLimit"

	AttrApproximateNumberOfMessages           = "ApproximateNumberOfMessages"
	AttrApproximateNumberOfMessagesNotVisible = "ApproximateNumberOfMessagesNotVisible"
	AttrApproximateNumberOfMessagesDelayed    = "ApproximateNumberOfMessagesDelayed"
	AttrCreatedTimestamp                      = "CreatedTimestamp"
	AttrLastModifiedTimestamp                 = "LastModifiedTimestamp"
	AttrQueueArn                              = "QueueArn"
)

// Limits of SQS.
const (
	MaxDelay             = 15 * time.Minute
	MaxVisibility        = 12 * time.Hour
	MaxWait              = 20 * time.Second
	MinRetention         = time.Minute
	MaxRetention         = 14 * 24 * time.Hour
	DefaultRetention     = 4 * 24 * time.Hour
	DefaultVisibility    = 30 * time.Second
	MinMessageBytes      = 1024
	MaxMessageBytes      = 256 << 10
	MaxReceive           = 10
	MaxMessageAttributes = 10
	// MaxTraceHeaderBytes bounds the AWSTraceHeader system attribute.
	MaxTraceHeaderBytes = 1024
)

// Attributes are the settable attributes of a queue.
type Attributes struct {
	DelaySeconds                  int    // 0 to 900
	MaximumMessageSize            int    // 1024 to 262144 bytes
	MessageRetentionPeriod        int    // 60 to 1209600 seconds
	ReceiveMessageWaitTimeSeconds int    // 0 to 20
	VisibilityTimeout             int    // 0 to 43200 seconds
	Policy                        string // kept, not enforced
	SqsManagedSseEnabled          bool   // kept; the store's files are not encrypted by it

	// FIFO queues only (FifoQueue is set at creation and never changes).
	FifoQueue                 bool
	ContentBasedDeduplication bool
	DeduplicationScope        string // "queue" (the default) or "messageGroup"
	FifoThroughputLimit       string // "perQueue" (the default) or "perMessageGroupId"; kept

	// Dead-letter queues: JSON as SQS takes them ("" for none).
	RedrivePolicy      string // {"deadLetterTargetArn": …, "maxReceiveCount": …}
	RedriveAllowPolicy string // {"redrivePermission": allowAll|denyAll|byQueue, "sourceQueueArns": […]}
}

// DefaultAttributes are a new queue's attributes, as SQS's.
func DefaultAttributes() Attributes {
	return Attributes{MaximumMessageSize: MaxMessageBytes, MessageRetentionPeriod: int(DefaultRetention / time.Second),
		VisibilityTimeout: int(DefaultVisibility / time.Second), SqsManagedSseEnabled: true,
		DeduplicationScope: "queue", FifoThroughputLimit: "perQueue"}
}

// AttributeError reports an attribute that cannot be set: an unknown
// name (Unknown), a read-only one, or a value out of range.
type AttributeError struct {
	Name, Value string
	Unknown     bool
	Reason      string
}

func (e *AttributeError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("Unknown Attribute %s.", e.Name)
	}
	return fmt.Sprintf("Invalid value for the parameter %s. Reason: %s", e.Name, e.Reason)
}

// intRanges are the settable numeric attributes and their bounds.
var intRanges = map[string][2]int{
	AttrDelaySeconds:                  {0, int(MaxDelay / time.Second)},
	AttrMaximumMessageSize:            {MinMessageBytes, MaxMessageBytes},
	AttrMessageRetentionPeriod:        {int(MinRetention / time.Second), int(MaxRetention / time.Second)},
	AttrReceiveMessageWaitTimeSeconds: {0, int(MaxWait / time.Second)},
	AttrVisibilityTimeout:             {0, int(MaxVisibility / time.Second)},
}

// readOnly are the attributes GetQueueAttributes reports and nobody sets.
var readOnly = map[string]bool{
	AttrApproximateNumberOfMessages: true, AttrApproximateNumberOfMessagesNotVisible: true,
	AttrApproximateNumberOfMessagesDelayed: true, AttrCreatedTimestamp: true, AttrLastModifiedTimestamp: true,
	AttrQueueArn: true,
}

// AttributeNames are every attribute Queue.Attributes reports, sorted.
func AttributeNames() []string {
	var names []string
	for n := range intRanges {
		names = append(names, n)
	}
	for n := range readOnly {
		names = append(names, n)
	}
	names = append(names, AttrPolicy, AttrSqsManagedSseEnabled, AttrFifoQueue, AttrContentBasedDeduplication, AttrDeduplicationScope, AttrFifoThroughputLimit, AttrRedrivePolicy, AttrRedriveAllowPolicy)
	sort.Strings(names)
	return names
}

// With returns a with the attributes in set applied, or an
// *AttributeError naming the first attribute (in name order) that is
// unknown, read-only or out of range.
func (a Attributes) With(set map[string]string) (Attributes, error) {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := set[n]
		if r, ok := intRanges[n]; ok {
			i, err := strconv.Atoi(v)
			if err != nil || i < r[0] || i > r[1] {
				return a, &AttributeError{Name: n, Value: v, Reason: fmt.Sprintf("must be an integer from %d to %d.", r[0], r[1])}
			}
			switch n {
			case AttrDelaySeconds:
				a.DelaySeconds = i
			case AttrMaximumMessageSize:
				a.MaximumMessageSize = i
			case AttrMessageRetentionPeriod:
				a.MessageRetentionPeriod = i
			case AttrReceiveMessageWaitTimeSeconds:
				a.ReceiveMessageWaitTimeSeconds = i
			case AttrVisibilityTimeout:
				a.VisibilityTimeout = i
			}
			continue
		}
		switch n {
		case AttrPolicy:
			a.Policy = v
		case AttrSqsManagedSseEnabled, AttrFifoQueue, AttrContentBasedDeduplication:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return a, &AttributeError{Name: n, Value: v, Reason: "must be true or false."}
			}
			switch n {
			case AttrSqsManagedSseEnabled:
				a.SqsManagedSseEnabled = b
			case AttrFifoQueue:
				a.FifoQueue = b
			default:
				a.ContentBasedDeduplication = b
			}
		case AttrRedrivePolicy:
			if _, err := parseRedrive(v); err != nil {
				return a, err
			}
			a.RedrivePolicy = v
		case AttrRedriveAllowPolicy:
			if _, err := parseAllow(v); err != nil {
				return a, err
			}
			a.RedriveAllowPolicy = v
		case AttrDeduplicationScope:
			if v != "queue" && v != "messageGroup" {
				return a, &AttributeError{Name: n, Value: v, Reason: "must be queue or messageGroup."}
			}
			a.DeduplicationScope = v
		case AttrFifoThroughputLimit:
			if v != "perQueue" && v != "perMessageGroupId" {
				return a, &AttributeError{Name: n, Value: v, Reason: "must be perQueue or perMessageGroupId."}
			}
			a.FifoThroughputLimit = v
		default:
			if readOnly[n] {
				return a, &AttributeError{Name: n, Value: v, Reason: "the attribute is read-only."}
			}
			return a, &AttributeError{Name: n, Value: v, Unknown: true}
		}
	}
	return a, nil
}

// strings returns the settable attributes as SQS reports them.
func (a Attributes) strings() map[string]string {
	m := map[string]string{
		AttrDelaySeconds:                  strconv.Itoa(a.DelaySeconds),
		AttrMaximumMessageSize:            strconv.Itoa(a.MaximumMessageSize),
		AttrMessageRetentionPeriod:        strconv.Itoa(a.MessageRetentionPeriod),
		AttrReceiveMessageWaitTimeSeconds: strconv.Itoa(a.ReceiveMessageWaitTimeSeconds),
		AttrVisibilityTimeout:             strconv.Itoa(a.VisibilityTimeout),
		AttrSqsManagedSseEnabled:          strconv.FormatBool(a.SqsManagedSseEnabled),
	}
	if a.RedrivePolicy != "" {
		m[AttrRedrivePolicy] = a.RedrivePolicy
	}
	if a.RedriveAllowPolicy != "" {
		m[AttrRedriveAllowPolicy] = a.RedriveAllowPolicy
	}
	if a.FifoQueue {
		m[AttrFifoQueue] = "true"
		m[AttrContentBasedDeduplication] = strconv.FormatBool(a.ContentBasedDeduplication)
		m[AttrDeduplicationScope] = a.DeduplicationScope
		m[AttrFifoThroughputLimit] = a.FifoThroughputLimit
	}
	return m
}

// fifoOnly are the attributes of FIFO queues only.
var fifoOnly = map[string]bool{AttrFifoQueue: true, AttrContentBasedDeduplication: true, AttrDeduplicationScope: true, AttrFifoThroughputLimit: true}

// checkFIFO checks that set (applied to a queue named name) keeps the
// FIFO attributes consistent: FifoQueue is true exactly for ".fifo"
// names, and the other FIFO attributes are set on FIFO queues only.
func (a Attributes) checkFIFO(name string, set map[string]string) error {
	fifo := strings.HasSuffix(name, ".fifo")
	if fifo != a.FifoQueue {
		return &AttributeError{Name: AttrFifoQueue, Value: strconv.FormatBool(a.FifoQueue), Reason: "The name of a FIFO queue must end with the .fifo suffix, and a queue named so must have FifoQueue set to true."}
	}
	if !fifo {
		for n := range set {
			if fifoOnly[n] && n != AttrFifoQueue {
				return &AttributeError{Name: n, Unknown: true}
			}
		}
	}
	return nil
}

// Errors of the engine, checked with errors.Is.
var (
	ErrClosed          = errors.New("queue: store closed")
	ErrQueueNotFound   = errors.New("queue: no such queue")
	ErrQueueDeleted    = errors.New("queue: the queue was deleted")
	ErrQueueExists     = errors.New("queue: a queue of that name exists with other attributes")
	ErrReceiptInvalid  = errors.New("queue: the receipt handle is invalid")
	ErrReceiptExpired  = errors.New("queue: the receipt handle has expired")
	ErrNotInflight     = errors.New("queue: the message is not in flight")
	ErrPurgeInProgress = errors.New("queue: a purge is in progress (one purge per 60 seconds)")
	ErrUnavailable     = errors.New("queue: cannot write now")
	// ErrOverLimit: a standard queue holds its limit of messages in
	// flight (Limits.MaxInFlight); a receive that does not wait is
	// refused until some are deleted or become visible again.
	ErrOverLimit = errors.New("queue: the queue holds its limit of messages in flight")
)

// ValueError reports a parameter out of range or malformed, by name;
// Missing: a parameter that must be given is not.
type ValueError struct {
	Name, Reason string
	Missing      bool
}

func (e *ValueError) Error() string {
	if e.Missing {
		return fmt.Sprintf("The request must contain the parameter %s.", e.Name)
	}
	return fmt.Sprintf("Value for parameter %s is invalid. Reason: %s", e.Name, e.Reason)
}

package sns

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// timestampLayout is SNS's: RFC 3339, milliseconds, UTC.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// notification is one published message as its subscriptions share it.
// It is immutable once published.
type notification struct {
	msg       Message
	published time.Time // when Publish took it, for sluice_sns_delivery_seconds
	envelope  []byte    // SNS's notification JSON, one line
}

// size is what the message weighs in a subscription's queue.
func (n *notification) size() int { return len(n.envelope) + len(n.msg.Body) }

// envelope is SNS's HTTP/S notification, its fields in SNS's order.
type envelope struct {
	Type              string
	MessageId         string
	SequenceNumber    string `json:",omitempty"`
	TopicArn          string
	Subject           string `json:",omitempty"`
	Message           string
	Timestamp         string
	SignatureVersion  string
	Signature         string
	SigningCertURL    string
	UnsubscribeURL    string
	MessageAttributes *orderedAttrs `json:",omitempty"`
}

// orderedAttrs encodes attributes sorted by name, each as
// {"Type": …, "Value": …}.
type orderedAttrs map[string]Attribute

func (a *orderedAttrs) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	names := make([]string, 0, len(*a))
	for n := range *a {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshal(n))
		b.WriteString(`:{"Type":`)
		b.Write(marshal((*a)[n].Type))
		b.WriteString(`,"Value":`)
		b.Write(marshal((*a)[n].Value))
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeEnvelope returns the notification envelope of m published to the
// topic topicARN with the sequence number seq ("" but on FIFO topics).
// MessageAttributes is left out when m has none, as SNS does; Subject when
// it is empty; SequenceNumber on standard topics.
func encodeEnvelope(topicARN, seq string, m *Message) []byte {
	e := envelope{
		Type:             "Notification",
		MessageId:        m.ID,
		SequenceNumber:   seq,
		TopicArn:         topicARN,
		Subject:          m.Subject,
		Message:          m.Body,
		Timestamp:        m.Timestamp.UTC().Format(timestampLayout),
		SignatureVersion: "1",
	}
	if len(m.Attributes) > 0 {
		a := orderedAttrs(m.Attributes)
		e.MessageAttributes = &a
	}
	return marshal(e)
}

// marshal encodes v as compact JSON without HTML escaping (as SNS writes
// '<' and '&'). v is always encodable here.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("sns: cannot encode JSON: " + err.Error()) // a bug: only strings and maps of strings here
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

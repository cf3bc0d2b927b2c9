package queue

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// MessageAttribute is a user attribute of a message. DataType is String,
// Number or Binary, optionally followed by ".label"; a String or Number
// carries StringValue, a Binary BinaryValue.
type MessageAttribute struct {
	Name        string
	DataType    string
	StringValue string
	BinaryValue []byte
}

// isBinary reports whether the attribute's type is Binary (or Binary.x).
func (a MessageAttribute) isBinary() bool {
	return a.DataType == "Binary" || strings.HasPrefix(a.DataType, "Binary.")
}

// SendInput is one message to send. Delay overrides the queue's
// DelaySeconds when HasDelay is set.
type SendInput struct {
	Body       string
	Attributes []MessageAttribute
	Delay      time.Duration
	HasDelay   bool
	// FIFO queues: the message group (required) and the deduplication id
	// (required unless the queue has ContentBasedDeduplication).
	Group, DedupID string
	// TraceHeader is the message system attribute AWSTraceHeader ("" for
	// none): kept with the message, not counted in its size.
	TraceHeader string
}

// SendResult is the outcome of one SendInput: the message's id and MD5s,
// or Err (a *ValueError) when the message was refused.
type SendResult struct {
	ID              string
	MD5OfBody       string
	MD5OfAttributes string // "" without attributes
	// MD5OfSystemAttributes is the MD5 of the message system attributes
	// (AWSTraceHeader), "" without them.
	MD5OfSystemAttributes string
	SequenceNumber        string // FIFO queues
	Err                   error
}

// Message is a received message. The caller owns it.
type Message struct {
	ID              string
	Receipt         string
	Body            string
	Attributes      []MessageAttribute // sorted by name
	MD5OfBody       string
	MD5OfAttributes string // "" without attributes
	SentAt          time.Time
	FirstReceiveAt  time.Time
	ReceiveCount    int
	// FIFO queues: the message's group, deduplication id and sequence number.
	Group, DedupID, SequenceNumber string
	TraceHeader                    string // AWSTraceHeader, "" for none
}

// checkFIFOSend checks the FIFO parameters of a message and returns its
// deduplication id (the SHA-256 of the body, in hex, for content-based
// deduplication).
func checkFIFOSend(in SendInput, a Attributes) (string, error) {
	if in.HasDelay {
		return "", &ValueError{Name: "DelaySeconds", Reason: "The request include parameter that is not valid for this queue type (FIFO queues delay messages by the queue's DelaySeconds only)."}
	}
	if in.Group == "" {
		return "", &ValueError{Name: "MessageGroupId", Missing: true}
	}
	if !validFIFOID(in.Group) {
		return "", &ValueError{Name: "MessageGroupId", Reason: "MessageGroupId can contain up to 128 alphanumeric and punctuation characters."}
	}
	if in.DedupID == "" {
		if !a.ContentBasedDeduplication {
			return "", &ValueError{Name: "MessageDeduplicationId", Reason: "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"}
		}
		sum := sha256.Sum256([]byte(in.Body))
		return hex.EncodeToString(sum[:]), nil
	}
	if !validFIFOID(in.DedupID) {
		return "", &ValueError{Name: "MessageDeduplicationId", Reason: "MessageDeduplicationId can contain up to 128 alphanumeric and punctuation characters."}
	}
	return in.DedupID, nil
}

// validFIFOID reports whether s is 1 to 128 of a-z A-Z 0-9 and punctuation.
func validFIFOID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c < 128 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c)) {
			return false
		}
	}
	return true
}

// MD5OfBody is the hex MD5 of a message body, as SQS reports it.
func MD5OfBody(body string) string {
	s := md5.Sum([]byte(body))
	return hex.EncodeToString(s[:])
}

// MD5OfAttributes is the hex MD5 SQS reports for message attributes: over
// the attributes sorted by name, each encoded as the length-prefixed name
// and data type (4-byte big-endian lengths), a transport byte (1 for
// String and Number, 2 for Binary) and the length-prefixed value. It is ""
// for no attributes.
func MD5OfAttributes(attrs []MessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	sorted := sortedAttrs(attrs)
	h := md5.New()
	var n [4]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, a := range sorted {
		put([]byte(a.Name))
		put([]byte(a.DataType))
		if a.isBinary() {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TraceHeaderAttribute is the name of the one message system attribute
// SQS takes.
const TraceHeaderAttribute = "AWSTraceHeader"

// MD5OfTraceHeader is the MD5 SQS reports for the message system
// attributes of a message sent with the AWSTraceHeader trace (a String):
// the MD5 of message attributes over that one attribute. It is "" for "".
func MD5OfTraceHeader(trace string) string {
	if trace == "" {
		return ""
	}
	return MD5OfAttributes([]MessageAttribute{{Name: TraceHeaderAttribute, DataType: "String", StringValue: trace}})
}

// messageSize is a message's size as SQS counts it: body, attribute
// names, types and values (not the system attributes).
func messageSize(in SendInput) int {
	n := len(in.Body)
	for _, a := range in.Attributes {
		n += len(a.Name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return n
}

func sortedAttrs(attrs []MessageAttribute) []MessageAttribute {
	s := append([]MessageAttribute(nil), attrs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// validChars reports whether s holds only the characters SQS allows in a
// message: #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD, #x10000 to #x10FFFF.
func validChars(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return false
			}
		}
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// validAttrName reports whether name is a valid message attribute name:
// up to 256 of A-Z a-z 0-9 _ - ., not starting with "AWS." or "Amazon."
// (any case), not starting or ending with a period, without "..".
func validAttrName(name string) bool {
	if name == "" || len(name) > 256 || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
		return false
	}
	l := strings.ToLower(name)
	if strings.HasPrefix(l, "aws.") || strings.HasPrefix(l, "amazon.") {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkMessage validates one message against the queue's attributes and
// returns its size as SQS counts it (body, attribute names, types and values).
func checkMessage(in SendInput, a Attributes) error {
	if in.Body == "" {
		return &ValueError{Name: "MessageBody", Reason: "The message body must be at least one character long."}
	}
	if !validChars(in.Body) {
		return &ValueError{Name: "MessageBody", Reason: "Invalid characters found. Valid characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF."}
	}
	if in.TraceHeader != "" && (!validChars(in.TraceHeader) || len(in.TraceHeader) > MaxTraceHeaderBytes) {
		return &ValueError{Name: "MessageSystemAttributes", Reason: fmt.Sprintf("Message system attribute '%s' must be at most %d valid characters.", TraceHeaderAttribute, MaxTraceHeaderBytes)}
	}
	if in.HasDelay && (in.Delay < 0 || in.Delay > MaxDelay) {
		return &ValueError{Name: "DelaySeconds", Reason: "DelaySeconds must be >= 0 and <= 900."}
	}
	if len(in.Attributes) > MaxMessageAttributes {
		return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(in.Attributes), MaxMessageAttributes)}
	}
	size := len(in.Body)
	seen := map[string]bool{}
	for _, at := range in.Attributes {
		if !validAttrName(at.Name) {
			return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("Message attribute name '%s' is invalid.", at.Name)}
		}
		if seen[at.Name] {
			return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("Message attribute name '%s' is given more than once.", at.Name)}
		}
		seen[at.Name] = true
		base, _, _ := strings.Cut(at.DataType, ".")
		switch base {
		case "String", "Number":
			if at.StringValue == "" || at.BinaryValue != nil {
				return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("Message attribute '%s' must contain a non-empty value of message attribute type '%s'.", at.Name, at.DataType)}
			}
			if !validChars(at.StringValue) {
				return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("Message attribute '%s' contains invalid characters.", at.Name)}
			}
		case "Binary":
			if len(at.BinaryValue) == 0 || at.StringValue != "" {
				return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("Message attribute '%s' must contain a non-empty value of message attribute type '%s'.", at.Name, at.DataType)}
			}
		default:
			return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("The type of message attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", at.Name)}
		}
		if len(at.DataType) > 256 {
			return &ValueError{Name: "MessageAttributes", Reason: fmt.Sprintf("Message attribute '%s' has a type longer than 256 characters.", at.Name)}
		}
		size += len(at.Name) + len(at.DataType) + len(at.StringValue) + len(at.BinaryValue)
	}
	if size > a.MaximumMessageSize {
		return &ValueError{Name: "MessageBody", Reason: fmt.Sprintf("Message must be shorter than %d bytes.", a.MaximumMessageSize)}
	}
	return nil
}

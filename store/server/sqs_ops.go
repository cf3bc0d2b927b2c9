package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/queue"
)

var sqsOperations = map[string]sqsHandler{
	"CreateQueue":                  (*Server).sqsCreateQueue,
	"DeleteQueue":                  (*Server).sqsDeleteQueue,
	"GetQueueUrl":                  (*Server).sqsGetQueueURL,
	"ListQueues":                   (*Server).sqsListQueues,
	"GetQueueAttributes":           (*Server).sqsGetQueueAttributes,
	"SetQueueAttributes":           (*Server).sqsSetQueueAttributes,
	"SendMessage":                  (*Server).sqsSendMessage,
	"SendMessageBatch":             (*Server).sqsSendMessageBatch,
	"ReceiveMessage":               (*Server).sqsReceiveMessage,
	"DeleteMessage":                (*Server).sqsDeleteMessage,
	"DeleteMessageBatch":           (*Server).sqsDeleteMessageBatch,
	"ChangeMessageVisibility":      (*Server).sqsChangeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Server).sqsChangeMessageVisibilityBatch,
	"PurgeQueue":                   (*Server).sqsPurgeQueue,
	"TagQueue":                     (*Server).sqsTagQueue,
	"UntagQueue":                   (*Server).sqsUntagQueue,
	"ListQueueTags":                (*Server).sqsListQueueTags,
	"ListDeadLetterSourceQueues":   (*Server).sqsListDeadLetterSourceQueues,
	"StartMessageMoveTask":         (*Server).sqsStartMessageMoveTask,
	"ListMessageMoveTasks":         (*Server).sqsListMessageMoveTasks,
	"CancelMessageMoveTask":        (*Server).sqsCancelMessageMoveTask,
}

// queueURLInput is the QueueUrl of an operation on one queue; the
// operation's input embeds it.
type queueURLInput struct {
	QueueUrl string
}

func (in *queueURLInput) queueURL() string { return in.QueueUrl }

// decodeQueueInput decodes an operation's input into in and returns the
// queue its QueueUrl names.
func (s *Server) decodeQueueInput(body []byte, in interface{ queueURL() string }) (*queue.Queue, error) {
	if err := decodeSQS(body, in); err != nil {
		return nil, err
	}
	return s.queueOf(in.queueURL())
}

type empty struct{}

func (s *Server) sqsCreateQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueName  string
		Attributes map[string]string
		Tags       map[string]string `json:"tags"`
	}
	if err := decodeSQS(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, missingParam("QueueName")
	}
	q, err := s.queues.Create(in.QueueName, in.Attributes, in.Tags)
	if err != nil {
		return nil, err
	}
	return map[string]string{"QueueUrl": queueURL(r, q.Name())}, nil
}

func (s *Server) sqsDeleteQueue(r *http.Request, body []byte) (any, error) {
	var in queueURLInput
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	return empty{}, s.queues.Delete(q.Name())
}

func (s *Server) sqsGetQueueURL(r *http.Request, body []byte) (any, error) {
	var in struct{ QueueName, QueueOwnerAWSAccountId string }
	if err := decodeSQS(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, missingParam("QueueName")
	}
	q, err := s.queues.Queue(in.QueueName)
	if err != nil {
		return nil, err
	}
	return map[string]string{"QueueUrl": queueURL(r, q.Name())}, nil
}

func (s *Server) sqsListQueues(r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueNamePrefix string
		NextToken       string
		MaxResults      *int
	}
	if err := decodeSQS(body, &in); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > maxSQSListResult) {
		return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *in.MaxResults)
	}
	if in.NextToken != "" && in.MaxResults == nil {
		return nil, invalidParam("MaxResults is a mandatory parameter when you provide a value for NextToken.")
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, invalidParam("Invalid NextToken value.")
		}
		after = string(b)
	}
	names := s.queues.List(in.QueueNamePrefix)
	i, _ := slices.BinarySearch(names, after)
	if i < len(names) && names[i] == after {
		i++
	}
	names = names[i:]
	out := struct {
		QueueUrls []string `json:"QueueUrls,omitempty"`
		NextToken string   `json:"NextToken,omitempty"`
	}{}
	limit := maxSQSListResult
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	if len(names) > limit {
		names = names[:limit]
		if in.MaxResults != nil {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(names[limit-1]))
		}
	}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, queueURL(r, n))
	}
	return out, nil
}

// unsupportedAttrs are queue attributes SQS has that the store does not
// serve yet: GetQueueAttributes leaves them out, setting them is refused.
var unsupportedAttrs = map[string]bool{
	"KmsMasterKeyId": true, "KmsDataKeyReusePeriodSeconds": true,
}

// strOrEmpty is *p, or "" for nil.
func strOrEmpty(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) sqsGetQueueAttributes(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		AttributeNames []string
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	var names []string
	all, arn := len(in.AttributeNames) == 0, false
	for _, n := range in.AttributeNames {
		switch {
		case n == "All":
			all = true
		case n == queue.AttrQueueArn:
			arn = true
		case unsupportedAttrs[n]:
		default:
			names = append(names, n)
		}
	}
	if all {
		names, arn = []string{"All"}, true
	}
	if len(in.AttributeNames) == 0 { // SQS answers no attributes when none are asked for
		return struct{}{}, nil
	}
	out := map[string]string{}
	if len(names) > 0 {
		if out, err = q.Attributes(names...); err != nil {
			return nil, err
		}
	}
	if arn {
		out[queue.AttrQueueArn] = s.arnOfQueue(q.Name())
	}
	return map[string]any{"Attributes": out}, nil
}

func (s *Server) sqsSetQueueAttributes(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		Attributes map[string]string
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	if in.Attributes == nil {
		return nil, missingParam("Attributes")
	}
	return empty{}, q.SetAttributes(in.Attributes)
}

// messageAttributeValue is a MessageAttributeValue of the API.
type messageAttributeValue struct {
	DataType         string
	StringValue      *string  `json:",omitempty"`
	BinaryValue      []byte   `json:",omitempty"`
	StringListValues []string `json:",omitempty"`
	BinaryListValues [][]byte `json:",omitempty"`
}

type sendEntry struct {
	Id                      string
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]messageAttributeValue
	MessageSystemAttributes map[string]messageAttributeValue
	MessageGroupId          *string
	MessageDeduplicationId  *string
}

// sendInput converts an entry, refusing what the store does not serve.
func sendInput(e sendEntry) (queue.SendInput, error) {
	var in queue.SendInput
	if e.MessageBody == nil {
		return in, missingParam("MessageBody")
	}
	in.Body = *e.MessageBody
	if e.DelaySeconds != nil {
		in.Delay, in.HasDelay = time.Duration(*e.DelaySeconds)*time.Second, true
		if *e.DelaySeconds < 0 || *e.DelaySeconds > int(queue.MaxDelay/time.Second) {
			return in, invalidParam("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *e.DelaySeconds)
		}
	}
	in.Group, in.DedupID = strOrEmpty(e.MessageGroupId), strOrEmpty(e.MessageDeduplicationId)
	for name, v := range e.MessageSystemAttributes {
		if name != queue.TraceHeaderAttribute {
			return in, invalidParam("Message system attribute name '%s' is invalid: the only message system attribute is %s.", name, queue.TraceHeaderAttribute)
		}
		if v.DataType != "String" || v.StringValue == nil || *v.StringValue == "" || v.BinaryValue != nil || len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			return in, invalidParam("Message system attribute '%s' must be of type String with a non-empty StringValue.", name)
		}
		in.TraceHeader = *v.StringValue
	}
	for name, v := range e.MessageAttributes {
		if len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			return in, invalidParam("Message attribute list values in MessageAttributeValue are not supported.")
		}
		a := queue.MessageAttribute{Name: name, DataType: v.DataType, BinaryValue: v.BinaryValue}
		if v.StringValue != nil {
			a.StringValue = *v.StringValue
		}
		in.Attributes = append(in.Attributes, a)
	}
	return in, nil
}

func (s *Server) sqsSendMessage(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		sendEntry
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	si, err := sendInput(in.sendEntry)
	if err != nil {
		return nil, err
	}
	res, err := q.Send(r.Context(), []queue.SendInput{si})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	out := map[string]string{"MessageId": res[0].ID, "MD5OfMessageBody": res[0].MD5OfBody}
	if res[0].MD5OfAttributes != "" {
		out["MD5OfMessageAttributes"] = res[0].MD5OfAttributes
	}
	if res[0].MD5OfSystemAttributes != "" {
		out["MD5OfMessageSystemAttributes"] = res[0].MD5OfSystemAttributes
	}
	if res[0].SequenceNumber != "" {
		out["SequenceNumber"] = res[0].SequenceNumber
	}
	return out, nil
}

// batchFailure is a BatchResultErrorEntry.
type batchFailure struct {
	Id          string
	SenderFault bool
	Code        string
	Message     string `json:",omitempty"`
}

func failureOf(id string, err error) batchFailure {
	e := toSQSError(err)
	return batchFailure{Id: id, SenderFault: e.status < 500, Code: e.code, Message: e.msg}
}

var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// checkBatch checks a batch's entry ids, as SQS: at least one, at most
// ten, each of 1 to 80 of A-Z a-z 0-9 - _, distinct.
func checkBatch(ids []string) error {
	switch {
	case len(ids) == 0:
		return sqsErr(http.StatusBadRequest, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one entry in the request.")
	case len(ids) > maxSQSBatch:
		return sqsErr(http.StatusBadRequest, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have sent %d.", maxSQSBatch, len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchIDPattern.MatchString(id) {
			return sqsErr(http.StatusBadRequest, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[id] {
			return sqsErr(http.StatusBadRequest, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

func (s *Server) sqsSendMessageBatch(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		Entries []sendEntry
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	type success struct {
		Id                           string
		MessageId                    string
		MD5OfMessageBody             string
		MD5OfMessageAttributes       string `json:",omitempty"`
		MD5OfMessageSystemAttributes string `json:",omitempty"`
		SequenceNumber               string `json:",omitempty"`
	}
	out := struct {
		Successful []success
		Failed     []batchFailure
	}{Successful: []success{}, Failed: []batchFailure{}}
	var inputs []queue.SendInput
	var sentIDs []string
	total := 0
	for _, e := range in.Entries {
		si, err := sendInput(e)
		if err != nil {
			out.Failed = append(out.Failed, failureOf(e.Id, err))
			continue
		}
		total += len(si.Body)
		for _, a := range si.Attributes {
			total += len(a.Name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
		}
		inputs = append(inputs, si)
		sentIDs = append(sentIDs, e.Id)
	}
	if total > queue.MaxMessageBytes {
		return nil, sqsErr(http.StatusBadRequest, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", "Batch requests cannot be longer than %d bytes. You have sent %d bytes.", queue.MaxMessageBytes, total)
	}
	if len(inputs) > 0 {
		res, err := q.Send(r.Context(), inputs)
		if err != nil {
			return nil, err
		}
		for i, re := range res {
			if re.Err != nil {
				out.Failed = append(out.Failed, failureOf(sentIDs[i], re.Err))
				continue
			}
			out.Successful = append(out.Successful, success{Id: sentIDs[i], MessageId: re.ID, MD5OfMessageBody: re.MD5OfBody, MD5OfMessageAttributes: re.MD5OfAttributes,
				MD5OfMessageSystemAttributes: re.MD5OfSystemAttributes, SequenceNumber: re.SequenceNumber})
		}
	}
	return out, nil
}

// System attributes ReceiveMessage can return.
var systemAttrs = []string{"ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount", "SenderId", "SentTimestamp",
	"MessageGroupId", "MessageDeduplicationId", "SequenceNumber", queue.TraceHeaderAttribute}

func (s *Server) sqsReceiveMessage(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
		ReceiveRequestAttemptId     string
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	var opt queue.ReceiveOptions
	if in.MaxNumberOfMessages != nil {
		if *in.MaxNumberOfMessages < 1 || *in.MaxNumberOfMessages > queue.MaxReceive {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", *in.MaxNumberOfMessages)
		}
		opt.Max = *in.MaxNumberOfMessages
	}
	if in.VisibilityTimeout != nil {
		if *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > int(queue.MaxVisibility/time.Second) {
			return nil, invalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *in.VisibilityTimeout)
		}
		d := time.Duration(*in.VisibilityTimeout) * time.Second
		opt.Visibility = &d
	}
	if in.WaitTimeSeconds != nil {
		if *in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > int(queue.MaxWait/time.Second) {
			return nil, invalidParam("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
		}
		d := time.Duration(*in.WaitTimeSeconds) * time.Second
		opt.Wait = &d
	}
	wantSys := map[string]bool{}
	for _, n := range append(in.AttributeNames, in.MessageSystemAttributeNames...) {
		if n == "All" {
			for _, a := range systemAttrs {
				wantSys[a] = true
			}
			continue
		}
		wantSys[n] = true
	}
	msgs, err := q.Receive(r.Context(), opt)
	if err != nil {
		return nil, err
	}
	type message struct {
		MessageId              string
		ReceiptHandle          string
		MD5OfBody              string
		Body                   string
		Attributes             map[string]string                `json:",omitempty"`
		MD5OfMessageAttributes string                           `json:",omitempty"`
		MessageAttributes      map[string]messageAttributeValue `json:",omitempty"`
	}
	out := struct {
		Messages []message `json:",omitempty"`
	}{}
	for _, m := range msgs {
		om := message{MessageId: m.ID, ReceiptHandle: m.Receipt, MD5OfBody: m.MD5OfBody, Body: m.Body}
		if len(wantSys) > 0 {
			om.Attributes = map[string]string{}
			for n := range wantSys {
				switch n {
				case "ApproximateFirstReceiveTimestamp":
					om.Attributes[n] = strconv.FormatInt(m.FirstReceiveAt.UnixMilli(), 10)
				case "ApproximateReceiveCount":
					om.Attributes[n] = strconv.Itoa(m.ReceiveCount)
				case "SenderId":
					om.Attributes[n] = store.AccountID
				case "SentTimestamp":
					om.Attributes[n] = strconv.FormatInt(m.SentAt.UnixMilli(), 10)
				case "MessageGroupId", "MessageDeduplicationId", "SequenceNumber": // FIFO queues
					if v := map[string]string{"MessageGroupId": m.Group, "MessageDeduplicationId": m.DedupID, "SequenceNumber": m.SequenceNumber}[n]; v != "" {
						om.Attributes[n] = v
					}
				case queue.TraceHeaderAttribute:
					if m.TraceHeader != "" {
						om.Attributes[n] = m.TraceHeader
					}
				}
			}
		}
		var sel []queue.MessageAttribute
		for _, a := range m.Attributes {
			if attrSelected(a.Name, in.MessageAttributeNames) {
				sel = append(sel, a)
			}
		}
		if len(sel) > 0 {
			om.MessageAttributes = map[string]messageAttributeValue{}
			for _, a := range sel {
				v := messageAttributeValue{DataType: a.DataType}
				if a.BinaryValue != nil {
					v.BinaryValue = a.BinaryValue
				} else {
					sv := a.StringValue
					v.StringValue = &sv
				}
				om.MessageAttributes[a.Name] = v
			}
			om.MD5OfMessageAttributes = queue.MD5OfAttributes(sel)
		}
		out.Messages = append(out.Messages, om)
	}
	return out, nil
}

// attrSelected reports whether MessageAttributeNames select name: "All"
// or ".*" select every attribute, "prefix.*" those starting with "prefix.".
func attrSelected(name string, sel []string) bool {
	for _, s := range sel {
		switch {
		case s == "All" || s == ".*" || s == name:
			return true
		case strings.HasSuffix(s, ".*") && strings.HasPrefix(name, strings.TrimSuffix(s, "*")):
			return true
		}
	}
	return false
}

func (s *Server) sqsDeleteMessage(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		ReceiptHandle string
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, missingParam("ReceiptHandle")
	}
	errs, err := q.Delete(r.Context(), []string{in.ReceiptHandle})
	if err != nil {
		return nil, err
	}
	return empty{}, errs[0]
}

type batchIDs struct {
	Successful []struct{ Id string }
	Failed     []batchFailure
}

func (b *batchIDs) add(id string, err error) {
	if err != nil {
		b.Failed = append(b.Failed, failureOf(id, err))
		return
	}
	b.Successful = append(b.Successful, struct{ Id string }{id})
}

func (s *Server) sqsDeleteMessageBatch(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		Entries []struct{ Id, ReceiptHandle string }
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	receipts := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i], receipts[i] = e.Id, e.ReceiptHandle
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	errs, err := q.Delete(r.Context(), receipts)
	if err != nil {
		return nil, err
	}
	out := &batchIDs{Successful: []struct{ Id string }{}, Failed: []batchFailure{}}
	for i, id := range ids {
		out.add(id, errs[i])
	}
	return out, nil
}

func visibilityOf(seconds *int) (time.Duration, error) {
	if seconds == nil {
		return 0, missingParam("VisibilityTimeout")
	}
	if *seconds < 0 || *seconds > int(queue.MaxVisibility/time.Second) {
		return 0, invalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", *seconds)
	}
	return time.Duration(*seconds) * time.Second, nil
}

func (s *Server) sqsChangeMessageVisibility(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		ReceiptHandle     string
		VisibilityTimeout *int
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, missingParam("ReceiptHandle")
	}
	d, err := visibilityOf(in.VisibilityTimeout)
	if err != nil {
		return nil, err
	}
	errs, err := q.ChangeVisibility(r.Context(), []queue.VisibilityChange{{Receipt: in.ReceiptHandle, Timeout: d}})
	if err != nil {
		return nil, err
	}
	return empty{}, errs[0]
}

func (s *Server) sqsChangeMessageVisibilityBatch(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		Entries []struct {
			Id, ReceiptHandle string
			VisibilityTimeout *int
		}
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	out := &batchIDs{Successful: []struct{ Id string }{}, Failed: []batchFailure{}}
	var changes []queue.VisibilityChange
	var changeIDs []string
	pre := map[string]error{}
	for _, e := range in.Entries {
		d, err := visibilityOf(e.VisibilityTimeout)
		if err != nil {
			pre[e.Id] = err
			continue
		}
		changes = append(changes, queue.VisibilityChange{Receipt: e.ReceiptHandle, Timeout: d})
		changeIDs = append(changeIDs, e.Id)
	}
	errs, err := q.ChangeVisibility(r.Context(), changes)
	if err != nil {
		return nil, err
	}
	for i, id := range changeIDs {
		pre[id] = errs[i]
	}
	for _, id := range ids {
		out.add(id, pre[id])
	}
	return out, nil
}

func (s *Server) sqsPurgeQueue(r *http.Request, body []byte) (any, error) {
	var in queueURLInput
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	return empty{}, q.Purge(r.Context())
}

func (s *Server) sqsTagQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		Tags map[string]string
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, missingParam("Tags")
	}
	return empty{}, q.Tag(in.Tags)
}

func (s *Server) sqsUntagQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		TagKeys []string
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, missingParam("TagKeys")
	}
	return empty{}, q.Untag(in.TagKeys)
}

func (s *Server) sqsListQueueTags(r *http.Request, body []byte) (any, error) {
	var in queueURLInput
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	tags, err := q.Tags()
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags map[string]string `json:",omitempty"`
	}{tags}
	return out, nil
}

func (s *Server) sqsListDeadLetterSourceQueues(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueURLInput
		NextToken  string
		MaxResults *int
	}
	q, err := s.decodeQueueInput(body, &in)
	if err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > maxSQSListResult) {
		return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *in.MaxResults)
	}
	names := s.queues.DeadLetterSources(q.Name())
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, invalidParam("Invalid NextToken value.")
		}
		i, found := slices.BinarySearch(names, string(b))
		if found {
			i++
		}
		names = names[i:]
	}
	out := struct {
		QueueUrls []string `json:"queueUrls"` // so named in SQS's model
		NextToken string   `json:",omitempty"`
	}{QueueUrls: []string{}}
	if in.MaxResults != nil && len(names) > *in.MaxResults {
		names = names[:*in.MaxResults]
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))
	}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, queueURL(r, n))
	}
	return out, nil
}

// queueOfARN is the name of the queue an ARN names, which must exist.
func (s *Server) queueOfARN(param, arn string) (string, error) {
	if arn == "" {
		return "", missingParam(param)
	}
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return "", invalidParam("Value %s for parameter %s is invalid. Reason: not an SQS queue ARN.", arn, param)
	}
	if _, err := s.queues.Queue(parts[5]); err != nil {
		return "", sqsErr(http.StatusNotFound, "ResourceNotFoundException", "ResourceNotFoundException", "The resource that you specified for the %s parameter doesn't exist.", param)
	}
	return parts[5], nil
}

func moveTaskErr(err error) error {
	switch {
	case errors.Is(err, queue.ErrNotDeadLetter), errors.Is(err, queue.ErrMoveRunning):
		return invalidParam("%s", strings.TrimPrefix(err.Error(), "queue: "))
	case errors.Is(err, queue.ErrNoMoveTask):
		return sqsErr(http.StatusNotFound, "ResourceNotFoundException", "ResourceNotFoundException", "Task does not exist.")
	}
	return err
}

func (s *Server) sqsStartMessageMoveTask(r *http.Request, body []byte) (any, error) {
	var in struct {
		SourceArn, DestinationArn    string
		MaxNumberOfMessagesPerSecond *int
	}
	if err := decodeSQS(body, &in); err != nil {
		return nil, err
	}
	src, err := s.queueOfARN("SourceArn", in.SourceArn)
	if err != nil {
		return nil, err
	}
	dst := ""
	if in.DestinationArn != "" {
		if dst, err = s.queueOfARN("DestinationArn", in.DestinationArn); err != nil {
			return nil, err
		}
	}
	rate := 0
	if in.MaxNumberOfMessagesPerSecond != nil {
		if rate = *in.MaxNumberOfMessagesPerSecond; rate < 1 || rate > 500 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.", rate)
		}
	}
	h, err := s.queues.StartMove(src, dst, rate)
	if err != nil {
		return nil, moveTaskErr(err)
	}
	return map[string]string{"TaskHandle": h}, nil
}

func (s *Server) sqsListMessageMoveTasks(r *http.Request, body []byte) (any, error) {
	var in struct {
		SourceArn  string
		MaxResults *int
	}
	if err := decodeSQS(body, &in); err != nil {
		return nil, err
	}
	src, err := s.queueOfARN("SourceArn", in.SourceArn)
	if err != nil {
		return nil, err
	}
	limit := 1
	if in.MaxResults != nil {
		if limit = *in.MaxResults; limit < 1 || limit > 10 {
			return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: Must be between 1 and 10.", limit)
		}
	}
	type result struct {
		TaskHandle                        string `json:",omitempty"`
		Status                            string
		SourceArn                         string
		DestinationArn                    string `json:",omitempty"`
		MaxNumberOfMessagesPerSecond      int    `json:",omitempty"`
		ApproximateNumberOfMessagesMoved  int64
		ApproximateNumberOfMessagesToMove int64
		FailureReason                     string `json:",omitempty"`
		StartedTimestamp                  int64
	}
	out := struct{ Results []result }{Results: []result{}}
	for _, t := range s.queues.MoveTasks(src) {
		if len(out.Results) == limit {
			break
		}
		res := result{Status: t.Status, SourceArn: in.SourceArn, ApproximateNumberOfMessagesMoved: t.Moved,
			ApproximateNumberOfMessagesToMove: t.ToMove, FailureReason: t.Failure, StartedTimestamp: t.Started.UnixMilli(),
			MaxNumberOfMessagesPerSecond: t.PerSecond}
		if t.Status == queue.MoveRunning {
			res.TaskHandle = t.Handle
		}
		if t.Destination != "" {
			res.DestinationArn = s.arnOfQueue(t.Destination)
		}
		out.Results = append(out.Results, res)
	}
	return out, nil
}

func (s *Server) sqsCancelMessageMoveTask(r *http.Request, body []byte) (any, error) {
	var in struct{ TaskHandle string }
	if err := decodeSQS(body, &in); err != nil {
		return nil, err
	}
	if in.TaskHandle == "" {
		return nil, missingParam("TaskHandle")
	}
	n, err := s.queues.CancelMove(in.TaskHandle)
	if err != nil {
		return nil, moveTaskErr(err)
	}
	return map[string]int64{"ApproximateNumberOfMessagesMoved": n}, nil
}

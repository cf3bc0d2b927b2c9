package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/queue"
	"github.com/sluicehq/sluice/store/sigv4"
)

// The Amazon SQS API (AWS JSON 1.0) on the store's listener: requests
// with X-Amz-Target: AmazonSQS.<Operation> are served here over the
// queues of store/queue (in the store folder's queueDir), with the same
// discipline as Kinesis requests: the body capped and read only once the
// headers pass SigV4's checks (signed for the service "sqs") and the
// request has its share of the in-flight byte budget. Errors are answered
// as SQS answers them: {"__type": "com.amazonaws.sqs#<Shape>", "message":
// …} with the X-Amzn-Query-Error header ("<query code>;Sender") that the
// SDKs read the error code from. Queue URLs are
// http://<host>/<account id>/<queue name>.
const (
	sqsTargetPrefix  = "AmazonSQS."
	sqsContentType   = "application/x-amz-json-1.0"
	sqsSigningName   = "sqs"
	sqsErrNamespace  = "com.amazonaws.sqs#"
	queueDir         = "~queues"
	maxSQSBatch      = 10
	maxSQSListResult = 1000
)

// sqsHandler serves one SQS operation; r is the request (for its host, in
// queue URLs, and its context, for long polls).
type sqsHandler func(s *Server, r *http.Request, body []byte) (any, error)

// isSQS reports whether r is an SQS request.
func isSQS(r *http.Request) bool { return strings.HasPrefix(requestTarget(r), sqsTargetPrefix) }

// sqsError is an SQS error answer: shape is the error's name in the
// model (the __type), code the query error code (X-Amzn-Query-Error).
type sqsError struct {
	status      int
	shape, code string
	msg         string
}

func (e *sqsError) Error() string { return e.code + ": " + e.msg }

func sqsErr(status int, shape, code, format string, args ...any) *sqsError {
	return &sqsError{status: status, shape: shape, code: code, msg: fmt.Sprintf(format, args...)}
}

// invalidParam is SQS's InvalidParameterValue.
func invalidParam(format string, args ...any) *sqsError {
	return sqsErr(http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", format, args...)
}

func missingParam(name string) *sqsError {
	return sqsErr(http.StatusBadRequest, "MissingParameter", "MissingParameter", "The request must contain the parameter %s.", name)
}

var errNoQueue = sqsErr(http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")

// toSQSError maps an error of store/queue (or of the request) to its answer.
func toSQSError(err error) *sqsError {
	var se *sqsError
	var ae *queue.AttributeError
	var ve *queue.ValueError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, queue.ErrQueueNotFound), errors.Is(err, queue.ErrQueueDeleted):
		return errNoQueue
	case errors.Is(err, queue.ErrQueueExists):
		return sqsErr(http.StatusBadRequest, "QueueNameExists", "QueueAlreadyExists", "A queue already exists with the same name and a different value for an attribute.")
	case errors.Is(err, queue.ErrReceiptInvalid):
		return sqsErr(http.StatusNotFound, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle is not a valid receipt handle.")
	case errors.Is(err, queue.ErrReceiptExpired):
		return invalidParam("Value for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.")
	case errors.Is(err, queue.ErrNotInflight):
		return sqsErr(http.StatusBadRequest, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "The message referred to is not in flight.")
	case errors.Is(err, queue.ErrPurgeInProgress):
		return sqsErr(http.StatusForbidden, "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", "Only one PurgeQueue operation on a queue is allowed every 60 seconds.")
	case errors.As(err, &ae) && ae.Unknown:
		return sqsErr(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "%s", ae.Error())
	case errors.As(err, &ae):
		return sqsErr(http.StatusBadRequest, "InvalidAttributeValue", "InvalidAttributeValue", "%s", ae.Error())
	case errors.As(err, &ve) && ve.Name == "MessageBody" && strings.HasPrefix(ve.Reason, "Invalid characters"):
		return sqsErr(http.StatusBadRequest, "InvalidMessageContents", "InvalidMessageContents", "%s", ve.Error())
	case errors.As(err, &ve) && ve.Missing:
		return missingParam(ve.Name)
	case errors.As(err, &ve):
		return invalidParam("%s", ve.Error())
	case errors.Is(err, queue.ErrOverLimit):
		return sqsErr(http.StatusForbidden, "OverLimit", "OverLimit", "The maximum number of in flight messages is reached.")
	case errors.Is(err, queue.ErrClosed):
		return sqsErr(http.StatusServiceUnavailable, "ServiceUnavailable", "ServiceUnavailable", "The store is shutting down.")
	}
	return sqsErr(http.StatusInternalServerError, "InternalError", "InternalError", "%v", err)
}

func writeSQSError(w http.ResponseWriter, e *sqsError) {
	h := w.Header()
	h.Set("Content-Type", sqsContentType)
	h.Set("X-Amzn-Query-Error", e.code+";"+fault(e.status))
	w.WriteHeader(e.status)
	out := map[string]string{"__type": sqsErrNamespace + e.shape}
	if e.msg != "" {
		out["message"] = e.msg
	}
	_ = json.NewEncoder(w).Encode(out)
}

func fault(status int) string {
	if status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// serveSQS serves one SQS request (see the comment at the top).
func (s *Server) serveSQS(w http.ResponseWriter, r *http.Request) {
	// query: the query protocol (sqs_query.go), whose operation is in the
	// body and whose answers are XML.
	query := isSQSQuery(r)
	writeSQSError := writeSQSError
	if query {
		writeSQSError = writeSQSQueryError
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" && !query {
		unread(w, r)
		writeSQSError(w, sqsErr(http.StatusForbidden, "AccessDenied", "AccessDenied", "Access to the resource is denied."))
		return
	}
	unknownOp := func(op string) *sqsError {
		return sqsErr(http.StatusBadRequest, "UnknownOperationException", "UnknownOperation", "The action %s is not valid for this endpoint.", op)
	}
	var op string
	var h sqsHandler
	if !query {
		op = strings.TrimPrefix(requestTarget(r), sqsTargetPrefix)
		if h = sqsOperations[op]; h == nil {
			unread(w, r)
			writeSQSError(w, unknownOp(op))
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !query {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != sqsContentType && mt != "application/json" {
			unread(w, r)
			writeSQSError(w, sqsErr(http.StatusBadRequest, "UnsupportedMediaType", "UnsupportedMediaType", "Content-Type %s is not supported; send %s.", ct, sqsContentType))
			return
		}
	}
	rr, ok := s.readRequest(w, r, s.sqsVerify, func(why refusedFor, err error) {
		switch why {
		case refusedTooBig:
			writeSQSError(w, sqsErr(http.StatusBadRequest, "RequestEntityTooLarge", "RequestEntityTooLarge", "The request is larger than %d bytes.", store.MaxRequestBytes))
		case refusedAuth:
			writeSQSError(w, sqsAuthError(err))
		case refusedInflight:
			writeSQSError(w, sqsErr(http.StatusServiceUnavailable, "RequestThrottled", "RequestThrottled", "%s", store.MsgInflight))
		case refusedSlow:
			writeSQSError(w, sqsErr(http.StatusRequestTimeout, "RequestTimeout", "RequestTimeout", "%v", err))
		default:
			writeSQSError(w, sqsErr(http.StatusBadRequest, "SerializationException", "SerializationException", "cannot read the request body"))
		}
	})
	if !ok {
		return
	}
	defer rr.release()
	body := rr.body
	req := body
	if query {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeSQSError(w, invalidParam("The request body is not a form: %v", err))
			return
		}
		op = form.Get("Action")
		if h = sqsOperations[op]; h == nil {
			writeSQSError(w, unknownOp(op))
			return
		}
		if !form.Has("QueueUrl") && r.URL.Path != "/" { // the queue's URL as the request's
			form.Set("QueueUrl", r.URL.Path)
		}
		if req, err = queryInput(form); err != nil {
			writeSQSError(w, toSQSError(err))
			return
		}
	}
	if len(req) == 0 {
		req = append(req, "{}"...)
	}
	out, err := h(s, r, req)
	if err != nil {
		writeSQSError(w, toSQSError(err))
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeSQSError(w, toSQSError(err))
		return
	}
	if query {
		writeSQSQuery(w, op, b)
		return
	}
	w.Header().Set("Content-Type", sqsContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// sqsAuthError is the answer to a request SigV4 refuses.
func sqsAuthError(err error) *sqsError {
	status, code, msg := http.StatusForbidden, sigv4.CodeInvalidSignature, err.Error()
	var se *sigv4.Error
	if errors.As(err, &se) {
		status, code, msg = se.Status, se.Code, se.Message
	}
	return &sqsError{status: status, shape: code, code: code, msg: msg}
}

// decodeSQS reads a request body into v, answering SerializationException
// for one that is not JSON of the operation's shape.
func decodeSQS(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return sqsErr(http.StatusBadRequest, "SerializationException", "SerializationException", "%v", err)
	}
	return nil
}

// queueURL is the URL of the queue name as a client that sent r reaches it.
func queueURL(r *http.Request, name string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + store.AccountID + "/" + name
}

// queueOf finds the queue a QueueUrl names (any host; the path is
// /<account id>/<name>).
func (s *Server) queueOf(url string) (*queue.Queue, error) {
	if url == "" {
		return nil, missingParam("QueueUrl")
	}
	path := url
	if i := strings.Index(path, "://"); i >= 0 {
		path = path[i+3:]
		if j := strings.IndexByte(path, '/'); j >= 0 {
			path = path[j:]
		} else {
			path = ""
		}
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) != 2 || parts[0] != store.AccountID {
		if len(parts) == 1 && parts[0] != "" && !strings.Contains(url, "://") { // a bare queue name, as some clients send
			return s.queueStore().Queue(parts[0])
		}
		return nil, sqsErr(http.StatusNotFound, "InvalidAddress", "InvalidAddress", "The address %s is not valid for this endpoint.", url)
	}
	return s.queueStore().Queue(parts[1])
}

func (s *Server) queueStore() *queue.Store { return s.queues }

// arnOfQueue is a queue's ARN.
func (s *Server) arnOfQueue(name string) string {
	region := s.opts.Region
	if region == "" {
		region = "us-east-1"
	}
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, store.AccountID, name)
}

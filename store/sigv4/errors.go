package sigv4

import "fmt"

// Error codes as AWS's JSON-protocol services (Kinesis among them) name them.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
)

// Error is a failed verification, carrying the AWS error name (Code), the
// HTTP status the server should answer with, and a message for the client.
// The Kinesis layer writes it as {"__type": Code, "message": Message}.
//
// Every verification failure returned by Verify is an *Error. Compare with
// errors.Is against the Err… sentinels, which match on Code alone.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, sigv4.ErrInvalidSignature) holds for any message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is; they carry the status and AWS's usual message.
// AWS answers every authentication failure of a JSON-protocol request
// with HTTP 400.
// Verify returns copies of them, never the sentinels themselves, so a caller
// that changes a returned *Error cannot change later ones.
var (
	// ErrMissingAuthenticationToken: the request has no Authorization header.
	ErrMissingAuthenticationToken = &Error{CodeMissingAuthenticationToken, 400, "Missing Authentication Token"}
	// ErrUnrecognizedClient: the access key is unknown.
	ErrUnrecognizedClient = &Error{CodeUnrecognizedClient, 400, "The security token included in the request is invalid."}
	// ErrInvalidSignature: the signature, scope or date does not verify
	// (including "Signature expired" for clock skew).
	ErrInvalidSignature = &Error{CodeInvalidSignature, 400, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	// ErrIncompleteSignature: the Authorization header or X-Amz-Date is
	// malformed or lacks a required part.
	ErrIncompleteSignature = &Error{CodeIncompleteSignature, 400, "The request signature does not conform to AWS standards."}
)

// msgRequiresParameter is AWS's text for one parameter missing from the
// Authorization header (the parameter's name); AWS joins one per missing
// parameter and ends with "Authorization=<the header>".
const msgRequiresParameter = "Authorization header requires '%s' parameter. "

func invalidSignature(format string, args ...any) *Error {
	return &Error{CodeInvalidSignature, 400, fmt.Sprintf(format, args...)}
}

func incomplete(format string, args ...any) *Error {
	return &Error{CodeIncompleteSignature, 400, fmt.Sprintf(format, args...)}
}

// fresh returns a copy of sentinel e.
func fresh(e *Error) *Error {
	c := *e
	return &c
}

package client

import (
	"errors"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/sigv4"
)

// Refused reports whether err is the store's refusal of a request for its
// credentials: no signature, an unknown access key, a wrong secret key or
// clock, or access denied. Retrying does not cure it.
func Refused(err error) bool {
	var se *store.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sigv4.CodeMissingAuthenticationToken, sigv4.CodeUnrecognizedClient, sigv4.CodeInvalidSignature,
		sigv4.CodeIncompleteSignature, "AccessDeniedException":
		return true
	}
	return false
}

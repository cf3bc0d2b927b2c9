package store

import (
	"errors"
	"strings"
	"testing"
)

func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestValidation(t *testing.T) {
	f := func(err error, want string) {
		t.Helper()
		if code(err) != want {
			t.Fatalf("got %v, want code %q", err, want)
		}
	}
	f(ValidateStreamName("clicks_2026.v1-a"), "")
	f(ValidateStreamName(strings.Repeat("a", 128)), "")
	f(ValidateStreamName(strings.Repeat("a", 129)), ErrValidation)
	f(ValidateStreamName(""), ErrValidation)
	f(ValidateStreamName("."), ErrValidation)
	f(ValidateStreamName(".."), ErrValidation)
	f(ValidateStreamName("a/b"), ErrValidation)
	f(ValidateStreamName("ünï"), ErrValidation)
}

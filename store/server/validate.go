package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/sluicehq/sluice/store"
)

// serialization is AWS's SerializationException for a value of the wrong
// type; it carries its message in a "Message" member, as AWS's does.
func serialization(format string, args ...any) *store.Error {
	return apiErr(errSerialization, format, args...)
}

const errSerialization = "SerializationException"

// decode parses a request body as AWS does: an empty or unparsable body,
// or one that is not a JSON object, is a SerializationException without a
// message; a value of the wrong type is one with AWS's message.
func decode(body []byte, v any) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return apiErr(errSerialization, "")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var ae *store.Error
	if errors.As(err, &ae) {
		return ae
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return serialization("%s", typeMessage(te.Value, te.Type))
	}
	return apiErr(errSerialization, "")
}

// typeMessage is AWS's text for a JSON value (as encoding/json names its
// kind) where a value of Go type t belongs.
func typeMessage(value string, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case value == "array" && t.Kind() != reflect.Slice:
		return store.MsgTypeList
	case value == "object" && t.Kind() != reflect.Struct && t.Kind() != reflect.Map:
		return store.MsgTypeStructure
	}
	switch t.Kind() {
	case reflect.String:
		if value == "bool" {
			return store.MsgTypeStringFromBool
		}
		return store.MsgTypeStringFromNumber
	case reflect.Int, reflect.Int64, reflect.Int32:
		if value == "bool" {
			return store.MsgTypeIntegerFromBool
		}
		return store.MsgTypeIntegerFromString
	case reflect.Float64:
		if value == "bool" {
			return store.MsgTypeTimeFromBool
		}
		return store.MsgTypeTimeFromString
	case reflect.Slice:
		if value == "object" {
			return store.MsgTypeStructure
		}
		return store.MsgTypeExpectedList
	case reflect.Map:
		return store.MsgTypeExpectedMap
	case reflect.Bool:
		return store.MsgTypeBoolFromNumber
	}
	return store.MsgTypeExpectedNull
}

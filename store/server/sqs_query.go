package server

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// SQS's query protocol: the form the API took before AWS JSON 1.0, which
// older SDKs and AWS CLIs still send (the Debian AWS CLI 2.9 among them).
// A POST whose body is a form (application/x-www-form-urlencoded) with
// Action=<Operation> is an SQS request too: its flattened parameters
// (Attribute.1.Name, MessageAttribute.1.Value.StringValue,
// SendMessageBatchRequestEntry.1.Id, …) become the operation's JSON input,
// the same handler serves it, and its answer is written back as the query
// protocol's XML (<OpResponse><OpResult>…</OpResult><ResponseMetadata>…),
// errors as <ErrorResponse> with the query error code.

const (
	sqsFormType = "application/x-www-form-urlencoded"
	sqsXMLNS    = "http://queue.amazonaws.com/doc/2012-11-05/"
)

// isSQSQuery reports whether r is an SQS request in the query protocol: a
// POST of a form (the Kinesis API sends none).
func isSQSQuery(r *http.Request) bool {
	if r.Method != http.MethodPost || requestTarget(r) != "" {
		return false
	}
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(mt), sqsFormType)
}

// queryFlattened names the flattened parameters of the query protocol:
// a parameter's prefix, the JSON member it fills and how.
var queryFlattened = map[string]struct {
	member string
	kind   byte // 'l': a list of strings; 'm': a map of Name/Value or Key/Value; 'a': message attributes; 'e': a list of objects
}{
	"Attribute":                      {"Attributes", 'm'},
	"Tag":                            {"Tags", 'm'},
	"TagKey":                         {"TagKeys", 'l'},
	"AttributeName":                  {"AttributeNames", 'l'},
	"MessageAttributeName":           {"MessageAttributeNames", 'l'},
	"MessageSystemAttributeName":     {"MessageSystemAttributeNames", 'l'},
	"MessageAttribute":               {"MessageAttributes", 'a'},
	"MessageSystemAttribute":         {"MessageSystemAttributes", 'a'},
	"SendMessageBatchRequestEntry":   {"Entries", 'e'},
	"DeleteMessageBatchRequestEntry": {"Entries", 'e'},
	"ChangeMessageVisibilityBatchRequestEntry": {"Entries", 'e'},
}

// queryNumbers are the parameters whose JSON members are numbers.
var queryNumbers = map[string]bool{"MaxNumberOfMessages": true, "WaitTimeSeconds": true, "VisibilityTimeout": true,
	"DelaySeconds": true, "MaxResults": true, "MaxNumberOfMessagesPerSecond": true}

// queryInput turns the parameters of a query request (without Action and
// Version) into the operation's JSON input.
func queryInput(form url.Values) ([]byte, error) {
	out, err := queryObject(form, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// queryObject builds the object of the parameters under prefix ("" or
// "X.N."): scalars as they are (numbers for queryNumbers), flattened ones
// by queryFlattened.
func queryObject(form url.Values, prefix string) (map[string]any, error) {
	out := map[string]any{}
	groups := map[string]map[int]url.Values{} // flattened name → index → its parameters, without "name.N."
	for k, vs := range form {
		if !strings.HasPrefix(k, prefix) || len(vs) == 0 {
			continue
		}
		rest := k[len(prefix):]
		name, tail, nested := strings.Cut(rest, ".")
		if !nested {
			if prefix == "" && (name == "Action" || name == "Version") {
				continue
			}
			if _, flat := queryFlattened[name]; flat {
				return nil, invalidParam("The parameter %s is not valid here.", k)
			}
			if queryNumbers[name] {
				n, err := strconv.ParseInt(vs[0], 10, 64)
				if err != nil {
					return nil, invalidParam("Value %s for parameter %s is invalid. Reason: must be an integer.", vs[0], k)
				}
				out[name] = n
			} else {
				out[name] = vs[0]
			}
			continue
		}
		if _, flat := queryFlattened[name]; !flat {
			return nil, invalidParam("The parameter %s is not valid.", k)
		}
		idx, field, _ := strings.Cut(tail, ".")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 1 {
			return nil, invalidParam("The parameter %s is not valid: %q is not an index from 1.", k, idx)
		}
		if groups[name] == nil {
			groups[name] = map[int]url.Values{}
		}
		if groups[name][i] == nil {
			groups[name][i] = url.Values{}
		}
		groups[name][i][field] = vs
	}
	for name, byIndex := range groups {
		f := queryFlattened[name]
		idx := make([]int, 0, len(byIndex))
		for i := range byIndex {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		switch f.kind {
		case 'l':
			var list []string
			for _, i := range idx {
				list = append(list, byIndex[i].Get(""))
			}
			out[f.member] = list
		case 'm':
			m := map[string]string{}
			for _, i := range idx {
				p := byIndex[i]
				k, v := p.Get("Name"), p.Get("Value")
				if name == "Tag" {
					k = p.Get("Key")
				}
				m[k] = v
			}
			out[f.member] = m
		case 'a':
			m := map[string]any{}
			for _, i := range idx {
				p := byIndex[i]
				v, err := queryObject(p, "Value.")
				if err != nil {
					return nil, err
				}
				m[p.Get("Name")] = v
			}
			out[f.member] = m
		case 'e':
			var list []any
			for _, i := range idx {
				e, err := queryObject(byIndex[i], "")
				if err != nil {
					return nil, err
				}
				list = append(list, e)
			}
			out[f.member] = list
		}
	}
	return out, nil
}

// queryEntryNames are the XML element names of the members of an answer
// that the query protocol flattens: each item of the list (or each map
// entry) is an element of that name.
var queryEntryNames = map[string]string{
	"Messages":          "Message",
	"QueueUrls":         "QueueUrl",
	"queueUrls":         "QueueUrl",
	"Attributes":        "Attribute",
	"MessageAttributes": "MessageAttribute",
	"Tags":              "Tag",
	"Failed":            "BatchResultErrorEntry",
}

// writeSQSQuery writes out, the JSON answer of op, as the query
// protocol's XML.
func writeSQSQuery(w http.ResponseWriter, op string, out []byte) {
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	_ = d.Decode(&v)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<" + op + `Response xmlns="` + sqsXMLNS + `">`)
	if len(v) > 0 {
		b.WriteString("<" + op + "Result>")
		writeQueryMembers(&b, op, v)
		b.WriteString("</" + op + "Result>")
	}
	b.WriteString("<ResponseMetadata><RequestId>" + xmlText(requestID(w)) + "</RequestId></ResponseMetadata></" + op + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = w.Write(b.Bytes())
}

// writeQueryMembers writes the members of an object, in name order.
func writeQueryMembers(b *bytes.Buffer, op string, v map[string]any) {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		entry, flat := queryEntryNames[k]
		if k == "Successful" {
			entry, flat = op+"ResultEntry", true
		}
		switch x := v[k].(type) {
		case []any:
			if !flat {
				entry = k
			}
			for _, item := range x {
				writeQueryValue(b, op, entry, item)
			}
		case map[string]any:
			if !flat {
				writeQueryValue(b, op, k, x)
				continue
			}
			keys := make([]string, 0, len(x))
			for mk := range x {
				keys = append(keys, mk)
			}
			slices.Sort(keys)
			for _, mk := range keys {
				b.WriteString("<" + entry + ">")
				if k == "Tags" {
					b.WriteString("<Key>" + xmlText(mk) + "</Key>")
				} else {
					b.WriteString("<Name>" + xmlText(mk) + "</Name>")
				}
				writeQueryValue(b, op, "Value", x[mk])
				b.WriteString("</" + entry + ">")
			}
		default:
			writeQueryValue(b, op, k, x)
		}
	}
}

// writeQueryValue writes one element.
func writeQueryValue(b *bytes.Buffer, op, name string, v any) {
	b.WriteString("<" + name + ">")
	switch x := v.(type) {
	case map[string]any:
		writeQueryMembers(b, op, x)
	case string:
		b.WriteString(xmlText(x))
	case json.Number:
		b.WriteString(x.String())
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case []any: // a list inside a value (StringListValues): its items as <member>
		for _, item := range x {
			writeQueryValue(b, op, "member", item)
		}
	}
	b.WriteString("</" + name + ">")
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeSQSQueryError writes an error as the query protocol does.
func writeSQSQueryError(w http.ResponseWriter, e *sqsError) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<ErrorResponse xmlns=\"" + sqsXMLNS + "\"><Error><Type>" + fault(e.status) +
		"</Type><Code>" + xmlText(e.code) + "</Code><Message>" + xmlText(e.msg) + "</Message><Detail/></Error><RequestId>" +
		xmlText(requestID(w)) + "</RequestId></ErrorResponse>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(e.status)
	_, _ = w.Write(b.Bytes())
}

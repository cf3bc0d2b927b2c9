package server

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// md5OfSystemAttribute is the MD5 SQS documents for message (system)
// attributes, here of one String attribute: the name, the data type and
// the value, each after its 4-byte big-endian length, with the transport
// byte 1 (String) before the value.
func md5OfSystemAttribute(name, value string) string {
	h := md5.New()
	put := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(name)
	put("String")
	h.Write([]byte{1})
	put(value)
	return hex.EncodeToString(h.Sum(nil))
}

// TestSQSTraceHeaderWithSDK sends messages with the AWSTraceHeader
// system attribute through the AWS SDK: the answers carry its MD5, a
// receive after a restart returns it when asked, and other system
// attributes (or another type) are refused.
func TestSQSTraceHeaderWithSDK(t *testing.T) {
	dir := t.TempDir()
	s, hc := startServer(t, dir, Options{})
	c := sqsClientOf(hc.url)
	ctx := context.Background()
	q := aws.String(createQueue(t, c, "traced", nil))
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	sys := func(v string) map[string]types.MessageSystemAttributeValue {
		return map[string]types.MessageSystemAttributeValue{"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(v)}}
	}
	want := md5OfSystemAttribute("AWSTraceHeader", trace)
	one, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String("one"), MessageSystemAttributes: sys(trace)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(one.MD5OfMessageSystemAttributes); got != want {
		t.Fatalf("MD5OfMessageSystemAttributes %q, want %q", got, want)
	}
	batch, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("traced"), MessageBody: aws.String("two"), MessageSystemAttributes: sys("Root=1-00000000-000000000000000000000002")},
		{Id: aws.String("plain"), MessageBody: aws.String("three")},
		{Id: aws.String("bogus"), MessageBody: aws.String("four"), MessageSystemAttributes: map[string]types.MessageSystemAttributeValue{
			"SomethingElse": {DataType: aws.String("String"), StringValue: aws.String("x")}}},
		{Id: aws.String("binary"), MessageBody: aws.String("five"), MessageSystemAttributes: map[string]types.MessageSystemAttributeValue{
			"AWSTraceHeader": {DataType: aws.String("Binary"), BinaryValue: []byte("x")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Successful) != 2 || len(batch.Failed) != 2 {
		t.Fatalf("SendMessageBatch: %+v", batch)
	}
	for _, ok := range batch.Successful {
		wantMD5 := ""
		if aws.ToString(ok.Id) == "traced" {
			wantMD5 = md5OfSystemAttribute("AWSTraceHeader", "Root=1-00000000-000000000000000000000002")
		}
		if aws.ToString(ok.MD5OfMessageSystemAttributes) != wantMD5 {
			t.Fatalf("batch entry %s: MD5OfMessageSystemAttributes %q, want %q", aws.ToString(ok.Id), aws.ToString(ok.MD5OfMessageSystemAttributes), wantMD5)
		}
	}
	for _, f := range batch.Failed {
		if aws.ToString(f.Code) != "InvalidParameterValue" || !f.SenderFault {
			t.Fatalf("failed entry: %+v", f)
		}
	}

	// Kept across a restart.
	s.Close()
	_, hc = startServer(t, dir, Options{})
	c = sqsClientOf(hc.url)
	plain, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 10, VisibilityTimeout: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp}})
	if err != nil || len(plain.Messages) != 3 {
		t.Fatalf("ReceiveMessage: %+v %v", plain, err)
	}
	for _, m := range plain.Messages {
		if _, ok := m.Attributes["AWSTraceHeader"]; ok {
			t.Fatalf("AWSTraceHeader returned unasked: %v", m.Attributes)
		}
	}
	got := map[string]string{}
	for _, names := range [][]types.MessageSystemAttributeName{{types.MessageSystemAttributeNameAWSTraceHeader}, {types.MessageSystemAttributeNameAll}} {
		r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 10, WaitTimeSeconds: 5, VisibilityTimeout: 1,
			MessageSystemAttributeNames: names})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			got[aws.ToString(m.Body)] = m.Attributes["AWSTraceHeader"]
		}
		if got["one"] != trace || got["two"] != "Root=1-00000000-000000000000000000000002" || got["three"] != "" {
			t.Fatalf("AWSTraceHeader asked for as %v: %v", names, got)
		}
		clear(got)
	}
}

// TestSQSTraceHeaderQueryProtocol sends an AWSTraceHeader in the query
// protocol (as the Debian AWS CLI does) and receives it back.
func TestSQSTraceHeaderQueryProtocol(t *testing.T) {
	_, hc := startServer(t, t.TempDir(), Options{})
	q := createQueue(t, sqsClientOf(hc.url), "traced", nil)
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
	code, body := queryCall(t, hc.url, url.Values{"Action": {"SendMessage"}, "QueueUrl": {q}, "MessageBody": {"hi"},
		"MessageSystemAttribute.1.Name": {"AWSTraceHeader"}, "MessageSystemAttribute.1.Value.DataType": {"String"},
		"MessageSystemAttribute.1.Value.StringValue": {trace}})
	var sent struct {
		MD5 string `xml:"SendMessageResult>MD5OfMessageSystemAttributes"`
	}
	if err := xml.Unmarshal([]byte(body), &sent); code != 200 || err != nil || sent.MD5 != md5OfSystemAttribute("AWSTraceHeader", trace) {
		t.Fatalf("SendMessage: %d %v %+v\n%s", code, err, sent, body)
	}
	code, body = queryCall(t, hc.url, url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {q}, "MessageSystemAttributeName.1": {"AWSTraceHeader"}})
	var got struct {
		Attributes []struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		} `xml:"ReceiveMessageResult>Message>Attribute"`
	}
	if err := xml.Unmarshal([]byte(body), &got); code != 200 || err != nil || len(got.Attributes) != 1 ||
		got.Attributes[0].Name != "AWSTraceHeader" || got.Attributes[0].Value != trace {
		t.Fatalf("ReceiveMessage: %d %v %+v\n%s", code, err, got, body)
	}
}

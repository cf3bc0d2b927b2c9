package server

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// queryCall posts a query-protocol form and returns the status and body.
func queryCall(t *testing.T, endpoint string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.Post(endpoint, "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSQSQueryProtocol: requests in SQS's query protocol (forms with
// flattened parameters, as older SDKs and the Debian AWS CLI send them)
// are served by the same operations, answered in the protocol's XML.
func TestSQSQueryProtocol(t *testing.T) {
	s, err := New(t.TempDir(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer func() { ts.Close(); s.Close() }()

	code, body := queryCall(t, ts.URL, url.Values{"Action": {"CreateQueue"}, "Version": {"2012-11-05"}, "QueueName": {"q"},
		"Attribute.1.Name": {"VisibilityTimeout"}, "Attribute.1.Value": {"40"}, "Tag.1.Key": {"team"}, "Tag.1.Value": {"ops"}})
	var created struct {
		QueueURL string `xml:"CreateQueueResult>QueueUrl"`
		ID       string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &created); code != 200 || err != nil || !strings.HasSuffix(created.QueueURL, "/000000000000/q") {
		t.Fatalf("CreateQueue: %d %v\n%s", code, err, body)
	}
	q := created.QueueURL

	code, body = queryCall(t, ts.URL, url.Values{"Action": {"SendMessageBatch"}, "QueueUrl": {q},
		"SendMessageBatchRequestEntry.1.Id": {"a"}, "SendMessageBatchRequestEntry.1.MessageBody": {"first <&>"},
		"SendMessageBatchRequestEntry.1.MessageAttribute.1.Name":              {"k"},
		"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType":    {"String"},
		"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue": {"v"},
		"SendMessageBatchRequestEntry.2.Id":                                   {"b"}, "SendMessageBatchRequestEntry.2.MessageBody": {"second"}})
	var sent struct {
		Entries []struct {
			ID     string `xml:"Id"`
			MD5    string `xml:"MD5OfMessageBody"`
			MD5Att string `xml:"MD5OfMessageAttributes"`
		} `xml:"SendMessageBatchResult>SendMessageBatchResultEntry"`
	}
	if err := xml.Unmarshal([]byte(body), &sent); code != 200 || err != nil || len(sent.Entries) != 2 {
		t.Fatalf("SendMessageBatch: %d %v\n%s", code, err, body)
	}
	sum := md5.Sum([]byte("first <&>"))
	if e := sent.Entries[0]; e.ID != "a" || e.MD5 != hex.EncodeToString(sum[:]) || e.MD5Att == "" {
		t.Fatalf("SendMessageBatch entry: %+v\n%s", e, body)
	}

	code, body = queryCall(t, ts.URL+"/000000000000/q", url.Values{"Action": {"ReceiveMessage"}, "MaxNumberOfMessages": {"10"},
		"AttributeName.1": {"All"}, "MessageAttributeName.1": {"All"}})
	var got struct {
		Messages []struct {
			Body          string `xml:"Body"`
			ReceiptHandle string `xml:"ReceiptHandle"`
			Attributes    []struct {
				Name  string `xml:"Name"`
				Value string `xml:"Value"`
			} `xml:"Attribute"`
			MessageAttributes []struct {
				Name  string `xml:"Name"`
				Type  string `xml:"Value>DataType"`
				Value string `xml:"Value>StringValue"`
			} `xml:"MessageAttribute"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	if err := xml.Unmarshal([]byte(body), &got); code != 200 || err != nil || len(got.Messages) != 2 {
		t.Fatalf("ReceiveMessage (queue URL as the path): %d %v\n%s", code, err, body)
	}
	first := got.Messages[0]
	if first.Body != "first <&>" {
		first = got.Messages[1]
	}
	receives := ""
	for _, a := range first.Attributes {
		if a.Name == "ApproximateReceiveCount" {
			receives = a.Value
		}
	}
	if first.Body != "first <&>" || receives != "1" || len(first.MessageAttributes) != 1 ||
		first.MessageAttributes[0].Name != "k" || first.MessageAttributes[0].Type != "String" || first.MessageAttributes[0].Value != "v" {
		t.Fatalf("received: %+v\n%s", first, body)
	}

	code, body = queryCall(t, ts.URL, url.Values{"Action": {"DeleteMessage"}, "QueueUrl": {q}, "ReceiptHandle": {first.ReceiptHandle}})
	if code != 200 || !strings.Contains(body, "<DeleteMessageResponse") || strings.Contains(body, "<DeleteMessageResult>") {
		t.Fatalf("DeleteMessage: %d\n%s", code, body)
	}
	code, body = queryCall(t, ts.URL, url.Values{"Action": {"GetQueueAttributes"}, "QueueUrl": {q}, "AttributeName.1": {"VisibilityTimeout"}})
	if code != 200 || !strings.Contains(body, "<Attribute><Name>VisibilityTimeout</Name><Value>40</Value></Attribute>") {
		t.Fatalf("GetQueueAttributes: %d\n%s", code, body)
	}
	code, body = queryCall(t, ts.URL, url.Values{"Action": {"ListQueueTags"}, "QueueUrl": {q}})
	if code != 200 || !strings.Contains(body, "<Tag><Key>team</Key><Value>ops</Value></Tag>") {
		t.Fatalf("ListQueueTags: %d\n%s", code, body)
	}
	code, body = queryCall(t, ts.URL, url.Values{"Action": {"ListQueues"}})
	if code != 200 || !strings.Contains(body, "<QueueUrl>"+q+"</QueueUrl>") {
		t.Fatalf("ListQueues: %d\n%s", code, body)
	}

	// Errors: the query code in an ErrorResponse.
	code, body = queryCall(t, ts.URL, url.Values{"Action": {"GetQueueUrl"}, "QueueName": {"nope"}})
	if code != 400 || !strings.Contains(body, "<ErrorResponse") || !strings.Contains(body, "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>") ||
		!strings.Contains(body, "<Type>Sender</Type>") {
		t.Fatalf("GetQueueUrl of no queue: %d\n%s", code, body)
	}
	code, body = queryCall(t, ts.URL, url.Values{"Action": {"Frobnicate"}})
	if code != 400 || !strings.Contains(body, "<Code>UnknownOperation</Code>") {
		t.Fatalf("an unknown action: %d\n%s", code, body)
	}
	code, body = queryCall(t, ts.URL, url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {q}, "WaitTimeSeconds": {"soon"}})
	if code != 400 || !strings.Contains(body, "WaitTimeSeconds") {
		t.Fatalf("a number that is not: %d\n%s", code, body)
	}
}

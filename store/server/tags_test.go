package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/store"
)

// failExactly sends a request that must fail with HTTP 400, code and exactly msg.
func (c *client) failExactly(op string, in any, code, msg string) {
	c.t.Helper()
	status, out := c.raw(op, in)
	if status != http.StatusBadRequest || out["__type"] != code || out["message"] != msg {
		c.t.Fatalf("%s %v:\n got %d %v: %v\nwant 400 %s: %s", op, in, status, out["__type"], out["message"], code, msg)
	}
}

func tagList(out map[string]any) string {
	var b strings.Builder
	for _, t := range list(out["Tags"]) {
		fmt.Fprintf(&b, "%v=%v;", field(t, "Key"), field(t, "Value"))
	}
	return b.String()
}

const invalidStreamTagChars = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."

func TestAddTagsToStreamConformance(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	long := strings.Repeat("a", 129)
	c.failExactly("AddTagsToStream", obj{"StreamName": "s"}, store.ErrValidation,
		"1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{}}, store.ErrValidation,
		"1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1")
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"a": "1", long: "3"}}, store.ErrValidation,
		"1 validation error detected: Value '{a=1, "+long+"=3}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: "+
			"[Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"c": strings.Repeat("a", 257)}}, store.ErrValidation,
		"1 validation error detected: Value '{c="+strings.Repeat("a", 257)+"}' at 'tags' failed to satisfy constraint: Map value must satisfy constraint: "+
			"[Member must have length less than or equal to 256, Member must have length greater than or equal to 0]")
	many := map[string]string{}
	for i := range 201 {
		many[fmt.Sprint(i)] = "v"
	}
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": many}, store.ErrValidation,
		"1 validation error detected: Value '"+javaMap(many)+"' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200")
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"": "x", "b": strings.Repeat("v", 257)}}, store.ErrValidation,
		"2 validation errors detected: Value '{=x, b="+strings.Repeat("v", 257)+"}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: "+
			"[Member must have length less than or equal to 128, Member must have length greater than or equal to 1]; "+
			"Value '{=x, b="+strings.Repeat("v", 257)+"}' at 'tags' failed to satisfy constraint: Map value must satisfy constraint: "+
			"[Member must have length less than or equal to 256, Member must have length greater than or equal to 0]")
	c.failExactly("AddTagsToStream", obj{"StreamName": "nope", "Tags": obj{"a;b": "1"}}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
	for _, bad := range []string{"abc;def", "abc\tdef", "abc\ndef", "abc,def", "a:b", "a\u0000b"} {
		c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{bad: "1"}}, store.ErrInvalidArgument, invalidStreamTagChars)
		c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"a": bad}}, store.ErrInvalidArgument, invalidStreamTagChars)
	}
	percent := "Failed to add tags to stream s under account 000000000000 because some tags contained illegal characters. " +
		"The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"abc%def": "1"}}, store.ErrInvalidArgument, percent)
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"a": "abc%def"}}, store.ErrInvalidArgument, percent)

	// Every allowed kind of character, in keys and values; an empty value.
	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"a": "a", "ü0 _.": "a", "/=+-@": "a", "b": "ü0 _./=+-@\u00a0٣", "c": ""}})
	if got := tagList(c.do("ListTagsForStream", obj{"StreamName": "s"})); got != "/=+-@=a;a=a;b=ü0 _./=+-@\u00a0٣;c=;ü0 _.=a;" {
		t.Fatalf("tags: %s", got)
	}
	// Up to 50 tags; the 51st is refused and nothing of the call is kept.
	tags := obj{}
	for i := range 45 {
		tags[fmt.Sprintf("k%02d", i)] = "v"
	}
	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": tags})
	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"a": "overwritten"}}) // 50 tags, one replaced
	c.failExactly("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"one-more": "x", "a": "y"}}, store.ErrInvalidArgument,
		"Failed to add tags to stream s under account 000000000000 because a given stream cannot have more than 50 tags associated with it.")
	out := c.do("ListTagsForStream", obj{"StreamName": "s", "Limit": 50})
	if n := len(list(out["Tags"])); n != 50 || out["HasMoreTags"] != false || !strings.Contains(tagList(out), ";a=overwritten;") {
		t.Fatalf("after the refused call: %d tags %v", n, out)
	}
}

func TestRemoveTagsFromStreamConformance(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"a": "1", "b": "2"}})
	long := strings.Repeat("a", 129)
	c.failExactly("RemoveTagsFromStream", obj{"StreamName": "s"}, store.ErrValidation,
		"1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	c.failExactly("RemoveTagsFromStream", obj{"StreamName": "s", "TagKeys": []string{}}, store.ErrValidation,
		"1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or equal to 1")
	c.failExactly("RemoveTagsFromStream", obj{"StreamName": "s", "TagKeys": []string{"a", long, "b"}}, store.ErrValidation,
		"1 validation error detected: Value '[a, "+long+", b]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: "+
			"[Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
	keys := make([]string, 51)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	c.failExactly("RemoveTagsFromStream", obj{"StreamName": "s", "TagKeys": keys}, store.ErrValidation,
		"1 validation error detected: Value '["+strings.Join(keys, ", ")+"]' at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to 50")
	c.failExactly("RemoveTagsFromStream", obj{"StreamName": "nope", "TagKeys": []string{";"}}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
	c.failExactly("RemoveTagsFromStream", obj{"StreamName": "s", "TagKeys": []string{"abc,def"}}, store.ErrInvalidArgument, invalidStreamTagChars)
	c.failExactly("RemoveTagsFromStream", obj{"StreamName": "s", "TagKeys": []string{"abc%def"}}, store.ErrInvalidArgument,
		"Failed to remove tags from stream s under account 000000000000 because some tags contained illegal characters. "+
			"The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.")
	c.do("RemoveTagsFromStream", obj{"StreamName": "s", "TagKeys": []string{"a", "absent"}})
	if got := tagList(c.do("ListTagsForStream", obj{"StreamName": "s"})); got != "b=2;" {
		t.Fatalf("tags: %s", got)
	}
}

func TestListTagsForStreamConformance(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	out := c.do("ListTagsForStream", obj{"StreamName": "s"})
	if fmt.Sprint(out) != "map[HasMoreTags:false Tags:[]]" {
		t.Fatalf("no tags: %v", out)
	}
	c.failExactly("ListTagsForStream", obj{"StreamName": "s", "Limit": 51}, store.ErrValidation,
		"1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value between 1 and 50")
	c.failExactly("ListTagsForStream", obj{"StreamName": "s", "ExclusiveStartTagKey": ""}, store.ErrValidation,
		"1 validation error detected: Value '' at 'exclusiveStartTagKey' failed to satisfy constraint: Member must have length greater than or equal to 1")
	c.failExactly("ListTagsForStream", obj{"StreamName": "nope", "ExclusiveStartTagKey": "a", "Limit": 1}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"c": "3", "a": "1", "b": "2"}})
	out = c.do("ListTagsForStream", obj{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s", "Limit": 2})
	if tagList(out) != "a=1;b=2;" || out["HasMoreTags"] != true {
		t.Fatalf("page 1: %v", out)
	}
	out = c.do("ListTagsForStream", obj{"StreamName": "s", "ExclusiveStartTagKey": "b", "Limit": 2})
	if tagList(out) != "c=3;" || out["HasMoreTags"] != false {
		t.Fatalf("page 2: %v", out)
	}
}

func TestCreateStreamTagsKeptAndValidated(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1, "Tags": obj{"team": "data", "cost:center": "42"}})
	c.failExactly("CreateStream", obj{"StreamName": "t", "ShardCount": 1, "Tags": obj{}}, store.ErrValidation,
		"1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1")
	c.failExactly("CreateStream", obj{"StreamName": "t", "ShardCount": 1, "Tags": obj{"a;b": "1"}}, store.ErrInvalidArgument,
		"Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . : / = + - @.")
	c.failExactly("CreateStream", obj{"StreamName": "t", "ShardCount": 1, "Tags": obj{"aws:owner": "1"}}, store.ErrInvalidArgument,
		"Tag key aws:owner uses the prefix 'aws:', which is reserved for AWS use.")
	many := obj{}
	for i := range 51 {
		many[fmt.Sprint(i)] = ""
	}
	c.failExactly("CreateStream", obj{"StreamName": "t", "ShardCount": 1, "Tags": many}, store.ErrInvalidArgument,
		"Failed to add tags to stream t under account 000000000000 because a given stream cannot have more than 50 tags associated with it.")
	c.fail("DescribeStreamSummary", obj{"StreamName": "t"}, store.ErrResourceNotFound) // nothing created
	if got := tagList(c.do("ListTagsForStream", obj{"StreamName": "s"})); got != "cost:center=42;team=data;" {
		t.Fatalf("tags: %s", got)
	}
	// The tags survive a restart.
	s.Close()
	_, c = startServer(t, dir, Options{})
	if got := tagList(c.do("ListTagsForResource", obj{"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s"})); got != "cost:center=42;team=data;" {
		t.Fatalf("tags after restart: %s", got)
	}
}

func TestTagResourceConformance(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	c.failExactly("TagResource", obj{"Tags": obj{"a": "1"}}, store.ErrValidation,
		"1 validation error detected: Value null at 'resourceARN' failed to satisfy constraint: Member must not be null")
	c.failExactly("TagResource", obj{"ResourceARN": "s", "Tags": obj{"a": "1"}}, store.ErrValidation,
		"1 validation error detected: Value 's' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern: "+resourceARNPattern)
	c.failExactly("TagResource", obj{"ResourceARN": arn}, store.ErrValidation,
		"1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	c.failExactly("TagResource", obj{"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/nope", "Tags": obj{"a": "1"}}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
	c.failExactly("TagResource", obj{"ResourceARN": arn + "/consumer/c:1", "Tags": obj{"a": "1"}}, store.ErrResourceNotFound,
		"Consumer c under stream s under account 000000000000 not found.")
	c.failExactly("TagResource", obj{"ResourceARN": arn, "Tags": obj{"a%b": "1"}}, store.ErrInvalidArgument,
		"Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . : / = + - @.")
	c.failExactly("TagResource", obj{"ResourceARN": arn, "Tags": obj{"AWS:x": "1"}}, store.ErrInvalidArgument,
		"Tag key AWS:x uses the prefix 'aws:', which is reserved for AWS use.")
	c.do("TagResource", obj{"ResourceARN": arn, "Tags": obj{"a:b": "1", "c": "2", "d": "3"}})
	c.do("UntagResource", obj{"ResourceARN": arn, "TagKeys": []string{"c", "absent"}})
	c.failExactly("UntagResource", obj{"ResourceARN": arn}, store.ErrValidation,
		"1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	out := c.do("ListTagsForResource", obj{"ResourceARN": arn})
	if tagList(out) != "a:b=1;d=3;" || out["HasMoreTags"] != nil {
		t.Fatalf("tags: %v", out)
	}
	// The stream operations see the same tags.
	if got := tagList(c.do("ListTagsForStream", obj{"StreamName": "s"})); got != "a:b=1;d=3;" {
		t.Fatalf("ListTagsForStream: %s", got)
	}
	c.failExactly("ListTagsForResource", obj{"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/nope"}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
}

// TestTagsWithSDK drives the tag operations through the AWS SDK for Go v2.
func TestTagsWithSDK(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	kc := sdkClient(c.url, "AKID", "secret")
	ctx := context.Background()
	name := aws.String("sdk")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1), Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/sdk")
	if _, err := kc.TagResource(ctx, &kinesis.TagResourceInput{ResourceARN: arn, Tags: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.UntagResource(ctx, &kinesis.UntagResourceInput{ResourceARN: arn, TagKeys: []string{"k"}}); err != nil {
		t.Fatal(err)
	}
	out, err := kc.ListTagsForResource(ctx, &kinesis.ListTagsForResourceInput{ResourceARN: arn})
	if err != nil || len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "x" || aws.ToString(out.Tags[0].Value) != "y" {
		t.Fatalf("ListTagsForResource: %+v %v", out, err)
	}
	_, err = kc.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: name, Tags: map[string]string{"a,b": "1"}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != store.ErrInvalidArgument || ae.ErrorMessage() != invalidStreamTagChars {
		t.Fatalf("bad characters: %v", err)
	}
}

// TestConsumerTags: a consumer's tags, given at RegisterStreamConsumer and
// changed and listed by its ARN, are its own.
func TestConsumerTags(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	out := c.do("RegisterStreamConsumer", obj{"StreamARN": arn, "ConsumerName": "c", "Tags": obj{"team": "x"}})
	carn, _ := field(out["Consumer"], "ConsumerARN").(string)
	c.do("TagResource", obj{"ResourceARN": carn, "Tags": obj{"env": "test"}})
	c.do("UntagResource", obj{"ResourceARN": carn, "TagKeys": []string{"team"}})
	if got := tagList(c.do("ListTagsForResource", obj{"ResourceARN": carn})); got != "env=test;" {
		t.Fatalf("consumer tags: %s", got)
	}
	if got := tagList(c.do("ListTagsForResource", obj{"ResourceARN": arn})); got != "" {
		t.Fatalf("stream tags: %s", got)
	}
	many := obj{}
	for i := range 50 {
		many[fmt.Sprint(i)] = ""
	}
	c.failExactly("TagResource", obj{"ResourceARN": carn, "Tags": many}, store.ErrInvalidArgument,
		"Failed to add tags to consumer c under account 000000000000 because a given consumer cannot have more than 50 tags associated with it.")
	c.failExactly("PutResourcePolicy", obj{"ResourceARN": carn, "Policy": `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"}}`},
		store.ErrInvalidArgument, "This store keeps resource policies of streams only; the policy of stream s applies to its consumers.")
}

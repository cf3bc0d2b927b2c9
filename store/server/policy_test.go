package server

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/store"
)

const streamS = "arn:aws:kinesis:us-east-1:000000000000:stream/s"

func TestResourcePolicyConformance(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	if out := c.do("GetResourcePolicy", obj{"ResourceARN": streamS}); out["Policy"] != "{}" {
		t.Fatalf("no policy: %v", out)
	}
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"` + streamS + `"}}`
	c.failExactly("PutResourcePolicy", obj{"Policy": doc}, store.ErrValidation,
		"1 validation error detected: Value null at 'resourceARN' failed to satisfy constraint: Member must not be null")
	c.failExactly("PutResourcePolicy", obj{"ResourceARN": "arn:aws:kinesis:us-east-1:1:stream/s", "Policy": doc}, store.ErrValidation,
		"1 validation error detected: Value 'arn:aws:kinesis:us-east-1:1:stream/s' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern: "+resourceARNPattern)
	c.failExactly("PutResourcePolicy", obj{"ResourceARN": streamS}, store.ErrValidation,
		"1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null")
	c.failExactly("PutResourcePolicy", obj{"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/nope", "Policy": doc}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
	for _, bad := range []struct{ doc, msg string }{
		{`not json`, "the policy must be a JSON object."},
		{`[]`, "the policy must be a JSON object."},
		{`{"Version":"2012-10-17"}`, "the policy has no Statement."},
		{`{"Version":"2020-01-01","Statement":[]}`, `Version must be "2012-10-17" or "2008-10-17".`},
		{`{"Statement":[]}`, "Statement must be an object or a non-empty list of objects."},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"},"Extra":1}`, `unknown member "Extra".`},
		{`{"Statement":{"Effect":"Maybe","Principal":"*","Action":"kinesis:*","Resource":"*"}}`, `statement 1: Effect must be "Allow" or "Deny".`},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"},{"Effect":"Deny","Action":"kinesis:*","Resource":"*"}]}`,
			"statement 2: a statement needs exactly one of Principal and NotPrincipal."},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}`, "statement 1: a statement needs exactly one of Action and NotAction."},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*"}}`, "statement 1: a statement needs exactly one of Resource and NotResource."},
		{`{"Statement":{"Effect":"Allow","Principal":"someone","Action":"kinesis:*","Resource":"*"}}`,
			`statement 1: Principal must be "*" or an object such as {"AWS": "…"}.`},
		{`{"Statement":{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kinesis:*","Resource":"*"}}`,
			"statement 1: Principal AWS must be a string or a non-empty list of strings."},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"PutRecord","Resource":"*"}}`,
			`statement 1: Action "PutRecord" is not of the form service:action.`},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`,
			`statement 1: condition operator "IpAddress" is not supported by this store (it evaluates String* and Arn* operators).`},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"v"}}}}`,
			`statement 1: condition key "aws:SourceVpc" is not supported by this store (it evaluates aws:PrincipalArn and aws:PrincipalAccount).`},
	} {
		c.failExactly("PutResourcePolicy", obj{"ResourceARN": streamS, "Policy": bad.doc}, store.ErrInvalidArgument, "Invalid policy document: "+bad.msg)
	}
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS, "Policy": doc})
	if out := c.do("GetResourcePolicy", obj{"ResourceARN": streamS}); out["Policy"] != doc {
		t.Fatalf("policy: %v", out)
	}
	c.failExactly("GetResourcePolicy", obj{"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/nope"}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
	// Kept across a restart.
	s.Close()
	s, c = startServer(t, dir, Options{})
	if out := c.do("GetResourcePolicy", obj{"ResourceARN": streamS}); out["Policy"] != doc {
		t.Fatalf("policy after restart: %v", out)
	}
	if n := s.policies.Load(); n != 1 {
		t.Fatalf("%d streams with policies after restart, want 1", n)
	}
	c.do("DeleteResourcePolicy", obj{"ResourceARN": streamS})
	c.do("DeleteResourcePolicy", obj{"ResourceARN": streamS}) // none: nothing to do
	if out := c.do("GetResourcePolicy", obj{"ResourceARN": streamS}); out["Policy"] != "{}" {
		t.Fatalf("deleted policy: %v", out)
	}
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS, "Policy": doc})
	c.do("DeleteStream", obj{"StreamName": "s"})
	if n := s.policies.Load(); n != 0 {
		t.Fatalf("%d streams with policies after DeleteStream, want 0", n)
	}
}

// accessDenied asserts that err is AccessDeniedException with message msg.
func accessDenied(t *testing.T, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || ae.ErrorMessage() != msg {
		t.Fatalf("got %v, want AccessDeniedException: %s", err, msg)
	}
}

// TestResourcePolicyEnforcedPerAccessKey signs requests with two access
// keys through the AWS SDK and checks that a stream's policy allows and
// refuses each as it says, for the operations it names only.
func TestResourcePolicyEnforcedPerAccessKey(t *testing.T) {
	_, ts := serveSigned(t, map[string]string{"ALICE": "a-secret", "BOB": "b-secret"})
	var err error
	ctx := context.Background()
	alice, bob := sdkClient(ts.URL, "ALICE", "a-secret"), sdkClient(ts.URL, "BOB", "b-secret")
	name := aws.String("s")
	if _, err := alice.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	doc := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"writers","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:user/ALICE"]},"Action":["kinesis:PutRecord*"],"Resource":"` + streamS + `"},
	  {"Sid":"readers","Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"kinesis:Get*","Resource":"arn:aws:kinesis:*:*:stream/*"},
	  {"Sid":"not-bob","Effect":"Deny","Principal":"*","Action":"kinesis:GetRecords","Resource":"*",
	   "Condition":{"StringLike":{"aws:PrincipalArn":"*/BOB"}}},
	  {"Sid":"policy","Effect":"Allow","Principal":{"AWS":"ALICE"},"Action":"kinesis:*ResourcePolicy","Resource":"*"}]}`
	if _, err := alice.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(streamS), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	put := &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), Data: []byte("x")}
	if _, err := alice.PutRecord(ctx, put); err != nil {
		t.Fatalf("alice PutRecord: %v", err)
	}
	_, err = bob.PutRecord(ctx, put)
	accessDenied(t, err, "User: arn:aws:iam::000000000000:user/BOB is not authorized to perform: kinesis:PutRecord on resource: "+streamS+
		" because no resource-based policy allows the kinesis:PutRecord action")
	_, err = bob.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(streamS), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("y")}}})
	accessDenied(t, err, "User: arn:aws:iam::000000000000:user/BOB is not authorized to perform: kinesis:PutRecords on resource: "+streamS+
		" because no resource-based policy allows the kinesis:PutRecords action")

	// Both may get an iterator; only Alice may read with it.
	var its [2]*string
	for i, kc := range []*kinesis.Client{alice, bob} {
		out, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: name, ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator %d: %v", i, err)
		}
		its[i] = out.ShardIterator
	}
	recs, err := alice.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: its[1]})
	if err != nil || len(recs.Records) != 1 {
		t.Fatalf("alice GetRecords: %+v %v", recs, err)
	}
	_, err = bob.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: its[0]})
	accessDenied(t, err, "User: arn:aws:iam::000000000000:user/BOB is not authorized to perform: kinesis:GetRecords on resource: "+streamS+
		" with an explicit deny in a resource-based policy")

	// Operations the policy does not name are unaffected.
	if _, err := bob.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: name}); err != nil {
		t.Fatalf("bob DescribeStreamSummary: %v", err)
	}
	if _, err := bob.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name}); err != nil {
		t.Fatalf("bob ListShards: %v", err)
	}
	// The policy operations are named too: Bob cannot remove the policy.
	_, err = bob.DeleteResourcePolicy(ctx, &kinesis.DeleteResourcePolicyInput{ResourceARN: aws.String(streamS)})
	accessDenied(t, err, "User: arn:aws:iam::000000000000:user/BOB is not authorized to perform: kinesis:DeleteResourcePolicy on resource: "+streamS+
		" because no resource-based policy allows the kinesis:DeleteResourcePolicy action")
	if _, err := alice.DeleteResourcePolicy(ctx, &kinesis.DeleteResourcePolicyInput{ResourceARN: aws.String(streamS)}); err != nil {
		t.Fatalf("alice DeleteResourcePolicy: %v", err)
	}
	if _, err := bob.PutRecord(ctx, put); err != nil {
		t.Fatalf("bob PutRecord without a policy: %v", err)
	}
}

// TestResourcePolicyNamesEveryCopyOfTheStream checks that a request naming
// streams more than once (another letter case, StreamName and StreamARN)
// is checked against each, so none slips past its policy.
func TestResourcePolicyNamesEveryCopyOfTheStream(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.do("CreateStream", obj{"StreamName": "open", "ShardCount": 1})
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS,
		"Policy": `{"Statement":{"Effect":"Deny","Principal":"*","Action":"kinesis:PutRecord","Resource":"*"}}`})
	denied := "User: anonymous is not authorized to perform: kinesis:PutRecord on resource: " + streamS +
		" with an explicit deny in a resource-based policy"
	for _, body := range []string{
		`{"StreamName":"open","streamname":"s","PartitionKey":"k","Data":"eA=="}`,
		`{"streamName":"s","StreamName":"open","PartitionKey":"k","Data":"eA=="}`,
		`{"StreamName":"open","StreamARN":"` + streamS + `","PartitionKey":"k","Data":"eA=="}`,
		`{"StreamARN":"` + streamS + `","PartitionKey":"k","Data":"eA=="}`,
	} {
		status, out := c.sendRaw("PutRecord", body)
		if status != 400 || out["__type"] != "AccessDeniedException" || out["message"] != denied {
			t.Fatalf("%s: %d %v", body, status, out)
		}
	}
	c.do("PutRecord", obj{"StreamName": "open", "PartitionKey": "k", "Data": b64("x")})
}

// TestResourcePolicyAnonymous: without credentials requests are
// anonymous and match only Principal "*".
func TestResourcePolicyAnonymous(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	put := obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("x")}
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS,
		"Policy": `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kinesis:Put*","Resource":"` + streamS + `"},` +
			`{"Effect":"Allow","Principal":"*","Action":"kinesis:*ResourcePolicy","Resource":"*"}]}`})
	c.do("PutRecord", put)
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS,
		"Policy": `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kinesis:Put*","Resource":"*"},` +
			`{"Effect":"Allow","Principal":"*","Action":"kinesis:*ResourcePolicy","Resource":"*"}]}`})
	c.failExactly("PutRecord", put, "AccessDeniedException", "User: anonymous is not authorized to perform: kinesis:PutRecord on resource: "+streamS+
		" because no resource-based policy allows the kinesis:PutRecord action")
	// StringNotLike on a key an anonymous request lacks holds, as in IAM.
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS,
		"Policy": `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*","Condition":{"StringNotLike":{"aws:PrincipalArn":"*/BOB"}}}]}`})
	c.do("PutRecord", put)
}

func TestPolicyWildcard(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "anything", true}, {"kinesis:get*", "kinesis:getrecords", true},
		{"kinesis:get*", "kinesis:putrecord", false}, {"kinesis:?etRecords", "kinesis:GetRecords", true},
		{"arn:aws:kinesis:*:*:stream/s", "arn:aws:kinesis:us-east-1:000000000000:stream/s", true},
		{"arn:aws:kinesis:*:*:stream/s", "arn:aws:kinesis:us-east-1:000000000000:stream/s2", false},
		{"a*b*c", "aXXbYYc", true}, {"a*b*c", "aXXbYY", false}, {"", "", true}, {"", "x", false}, {"ü*", "über", true},
	} {
		if got := wildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// FuzzPolicyWildcard checks wildcard against the regular expression its
// pattern stands for.
func FuzzPolicyWildcard(f *testing.F) {
	for _, s := range [][2]string{{"kinesis:Get*", "kinesis:GetRecords"}, {"a*b?c", "axxbyc"}, {"**", ""}, {"?", "ü"}, {"*a*", "bab"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		for _, r := range pattern {
			switch r {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString("$")
		if got, want := wildcard(pattern, s), regexp.MustCompile(re.String()).MatchString(s); got != want {
			t.Fatalf("wildcard(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	})
}

// FuzzParsePolicy checks that any document either is refused with
// InvalidArgumentException or parses into a policy that decides.
func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*","Resource":"*"}}`)
	f.Add(`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["K"]},"NotAction":"kinesis:Get*","NotResource":"arn:*",` +
		`"Condition":{"StringNotLike":{"aws:PrincipalArn":["*/K"]}}}]}`)
	f.Add(`{"Statement":{"Effect":"Allow","Principal":{"Service":"x"},"Action":["s3:*"],"Resource":["*"]}}`)
	f.Add(`{"Statement":7}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := parsePolicy(doc)
		if err != nil {
			var ae *store.Error
			if !errors.As(err, &ae) || ae.Code != store.ErrInvalidArgument {
				t.Fatalf("error %v is not InvalidArgumentException", err)
			}
			return
		}
		for _, key := range []string{"", "K"} {
			named, denied, explicit := p.decide("PutRecord", streamS, key)
			if explicit && !denied || denied && !named {
				t.Fatalf("decide: named %v denied %v explicit %v", named, denied, explicit)
			}
		}
	})
}

// TestResourcePolicyCBOR: a CBOR request (the AWS SDK for Java's) is held
// to the policy as a JSON one.
func TestResourcePolicyCBOR(t *testing.T) {
	_, ts := serveSigned(t, map[string]string{"ALICE": "a-secret", "BOB": "b-secret"})
	alice := &cborClient{t: t, url: ts.URL, key: "ALICE", secret: "a-secret"}
	bob := &cborClient{t: t, url: ts.URL, key: "BOB", secret: "b-secret"}
	alice.do("CreateStream", map[string]any{"StreamName": "s", "ShardCount": 1})
	alice.do("PutResourcePolicy", map[string]any{"ResourceARN": streamS,
		"Policy": `{"Statement":{"Effect":"Allow","Principal":{"AWS":"ALICE"},"Action":"kinesis:PutRecord","Resource":"*"}}`})
	put := map[string]any{"StreamName": "s", "PartitionKey": "k", "Data": []byte("x")}
	alice.do("PutRecord", put)
	bob.fail("PutRecord", javaCBOR(t, put), 400, "AccessDeniedException",
		"User: arn:aws:iam::000000000000:user/BOB is not authorized to perform: kinesis:PutRecord on resource: "+streamS+
			" because no resource-based policy allows the kinesis:PutRecord action")
}

// TestResourcePolicyCoversEveryOperation: every operation of the store,
// those added later too, is checked against the policy of the stream its
// request names, before it runs.
func TestResourcePolicyCoversEveryOperation(t *testing.T) {
	s, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS,
		"Policy": `{"Statement":{"Effect":"Deny","Principal":"*","Action":"kinesis:*","Resource":"*"}}`})
	for op := range operations {
		for _, body := range []string{`{"StreamName":"s"}`, `{"StreamARN":"` + streamS + `"}`, `{"ResourceARN":"` + streamS + `"}`} {
			status, out := c.sendRaw(op, body)
			want := "User: anonymous is not authorized to perform: kinesis:" + op + " on resource: " + streamS + " with an explicit deny in a resource-based policy"
			if status != 400 || out["__type"] != "AccessDeniedException" || out["message"] != want {
				t.Errorf("%s %s: %d %v", op, body, status, out)
			}
		}
	}
	s.mu.Lock()
	kept := s.streams["s"] != nil
	s.mu.Unlock()
	if !kept {
		t.Fatal("a refused DeleteStream deleted the stream")
	}
}

// TestResourcePolicyConsumerARN: a request naming a consumer by its ARN is
// held to its stream's policy, with the consumer's ARN as the resource.
func TestResourcePolicyConsumerARN(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	out := c.do("RegisterStreamConsumer", obj{"StreamARN": streamS, "ConsumerName": "c"})
	carn, _ := field(out["Consumer"], "ConsumerARN").(string)
	c.do("PutResourcePolicy", obj{"ResourceARN": streamS,
		"Policy": `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kinesis:DescribeStreamConsumer","Resource":"` + streamS + `/consumer/*"},` +
			`{"Effect":"Allow","Principal":"*","Action":"kinesis:DeleteResourcePolicy","Resource":"*"}]}`})
	c.failExactly("DescribeStreamConsumer", obj{"ConsumerARN": carn}, "AccessDeniedException",
		"User: anonymous is not authorized to perform: kinesis:DescribeStreamConsumer on resource: "+carn+" with an explicit deny in a resource-based policy")
	c.do("DeleteResourcePolicy", obj{"ResourceARN": streamS})
	c.do("DescribeStreamConsumer", obj{"ConsumerARN": carn})
}

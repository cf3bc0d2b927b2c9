package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDeadLetterAfterMaxReceiveCount receives a message maxReceiveCount
// times; the next receive moves it (id, body, attributes kept) to the
// dead-letter queue, and the move survives a restart.
func TestDeadLetterAfterMaxReceiveCount(t *testing.T) {
	s, dir := openTest(t, Options{NoSync: true})
	mustCreate(t, s, "dlq", nil)
	src := mustCreate(t, s, "src", map[string]string{AttrRedrivePolicy: `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"2"}`})
	ctx := context.Background()
	res, err := src.Send(ctx, []SendInput{{Body: "poison", Attributes: []MessageAttribute{{Name: "k", DataType: "String", StringValue: "v"}}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	zero := time.Duration(0)
	for i := 1; i <= 2; i++ {
		got, err := src.Receive(ctx, ReceiveOptions{Visibility: &zero, Wait: &zero})
		if err != nil || len(got) != 1 || got[0].ReceiveCount != i {
			t.Fatalf("receive %d: %+v %v", i, got, err)
		}
	}
	if got, _ := src.Receive(ctx, ReceiveOptions{Visibility: &zero, Wait: &zero}); len(got) != 0 {
		t.Fatalf("a third receive got %+v; the message should have moved", got)
	}
	s.Close()
	s2, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	src, _ = s2.Queue("src")
	dlq, _ := s2.Queue("dlq")
	if a, _ := src.Attributes(AttrApproximateNumberOfMessages); a[AttrApproximateNumberOfMessages] != "0" {
		t.Fatalf("the source still has %v", a)
	}
	got, err := dlq.Receive(ctx, ReceiveOptions{Wait: &zero})
	if err != nil || len(got) != 1 || got[0].ID != res[0].ID || got[0].Body != "poison" || got[0].MD5OfAttributes != res[0].MD5OfAttributes || got[0].ReceiveCount != 1 {
		t.Fatalf("in the dead-letter queue: %+v %v", got, err)
	}
	if srcs := s2.DeadLetterSources("dlq"); len(srcs) != 1 || srcs[0] != "src" {
		t.Fatalf("DeadLetterSources: %v", srcs)
	}
}

func TestRedrivePolicyChecks(t *testing.T) {
	s, _ := openTest(t, Options{NoSync: true})
	mustCreate(t, s, "closed", map[string]string{AttrRedriveAllowPolicy: `{"redrivePermission":"denyAll"}`})
	mustCreate(t, s, "only-a", map[string]string{AttrRedriveAllowPolicy: `{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:a"]}`})
	mustCreate(t, s, "d.fifo", map[string]string{AttrFifoQueue: "true"})
	policy := func(target string) map[string]string {
		return map[string]string{AttrRedrivePolicy: `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:` + target + `","maxReceiveCount":3}`}
	}
	for _, c := range []struct{ name, target string }{{"x", "missing"}, {"x", "closed"}, {"b", "only-a"}, {"x", "d.fifo"}, {"x", "x"}} {
		var ae *AttributeError
		if _, err := s.Create(c.name, policy(c.target), nil); !errors.As(err, &ae) || ae.Name != AttrRedrivePolicy {
			t.Errorf("%s → %s: %v", c.name, c.target, err)
		}
	}
	if _, err := s.Create("a", policy("only-a"), nil); err != nil {
		t.Fatal(err)
	}
	var ae *AttributeError
	if _, err := s.Create("y", map[string]string{AttrRedrivePolicy: `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:closed","maxReceiveCount":0}`}, nil); !errors.As(err, &ae) {
		t.Fatalf("maxReceiveCount 0: %v", err)
	}
}

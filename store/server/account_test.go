package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/store"
)

func TestAccountSettingsConformance(t *testing.T) {
	var clock atomic.Int64
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock.Store(start.UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()) }
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{Now: now})
	status := func(out map[string]any) string {
		t.Helper()
		return fmt.Sprint(out["MinimumThroughputBillingCommitment"])
	}
	if got := status(c.do("DescribeAccountSettings", obj{})); got != "map[Status:DISABLED]" {
		t.Fatalf("initial: %s", got)
	}
	c.failExactly("UpdateAccountSettings", obj{}, store.ErrValidation,
		"1 validation error detected: Value null at 'minimumThroughputBillingCommitment' failed to satisfy constraint: Member must not be null")
	c.failExactly("UpdateAccountSettings", obj{"MinimumThroughputBillingCommitment": obj{}}, store.ErrValidation,
		"1 validation error detected: Value null at 'minimumThroughputBillingCommitment.status' failed to satisfy constraint: Member must not be null")
	c.failExactly("UpdateAccountSettings", obj{"MinimumThroughputBillingCommitment": obj{"Status": "ON"}}, store.ErrValidation,
		"1 validation error detected: Value 'ON' at 'minimumThroughputBillingCommitment.status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]")

	sec := float64(start.Unix())
	enabled := fmt.Sprintf("map[EarliestAllowedEndAt:%v StartedAt:%v Status:ENABLED]", sec+86400, sec)
	if got := status(c.do("UpdateAccountSettings", obj{"MinimumThroughputBillingCommitment": obj{"Status": "ENABLED"}})); got != enabled {
		t.Fatalf("enable: %s", got)
	}
	// Disabling within the first 24 hours ends the commitment when they are over.
	clock.Add(time.Hour.Milliseconds())
	until := fmt.Sprintf("map[EarliestAllowedEndAt:%v StartedAt:%v Status:ENABLED_UNTIL_EARLIEST_ALLOWED_END]", sec+86400, sec)
	if got := status(c.do("UpdateAccountSettings", obj{"MinimumThroughputBillingCommitment": obj{"Status": "DISABLED"}})); got != until {
		t.Fatalf("early disable: %s", got)
	}
	// Kept across a restart.
	s.Close()
	_, c = startServer(t, dir, Options{Now: now})
	if got := status(c.do("DescribeAccountSettings", obj{})); got != until {
		t.Fatalf("after restart: %s", got)
	}
	clock.Add(23 * time.Hour.Milliseconds())
	ended := fmt.Sprintf("map[EarliestAllowedEndAt:%v EndedAt:%v StartedAt:%v Status:DISABLED]", sec+86400, sec+86400, sec)
	if got := status(c.do("DescribeAccountSettings", obj{})); got != ended {
		t.Fatalf("after the earliest end: %s", got)
	}
	// A new commitment; disabled after 24 hours it ends at once.
	clock.Add(time.Hour.Milliseconds())
	c.do("UpdateAccountSettings", obj{"MinimumThroughputBillingCommitment": obj{"Status": "ENABLED"}})
	clock.Add(25 * time.Hour.Milliseconds())
	out := c.do("UpdateAccountSettings", obj{"MinimumThroughputBillingCommitment": obj{"Status": "DISABLED"}})
	if got, want := status(out), fmt.Sprintf("map[EarliestAllowedEndAt:%v EndedAt:%v StartedAt:%v Status:DISABLED]",
		sec+2*86400+3600, sec+2*86400+2*3600, sec+86400+3600); got != want {
		t.Fatalf("late disable: %s, want %s", got, want)
	}
}

func TestAccountSettingsWithSDK(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	kc := sdkClient(c.url, "AKID", "secret")
	ctx := context.Background()
	up, err := kc.UpdateAccountSettings(ctx, &kinesis.UpdateAccountSettingsInput{MinimumThroughputBillingCommitment: &types.MinimumThroughputBillingCommitmentInput{
		Status: types.MinimumThroughputBillingCommitmentInputStatusEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := kc.DescribeAccountSettings(ctx, &kinesis.DescribeAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	m := got.MinimumThroughputBillingCommitment
	if m.Status != types.MinimumThroughputBillingCommitmentOutputStatusEnabled || m.StartedAt == nil ||
		aws.ToTime(m.EarliestAllowedEndAt).Sub(aws.ToTime(m.StartedAt)) != 24*time.Hour ||
		!aws.ToTime(up.MinimumThroughputBillingCommitment.StartedAt).Equal(aws.ToTime(m.StartedAt)) {
		t.Fatalf("DescribeAccountSettings: %+v", m)
	}
}

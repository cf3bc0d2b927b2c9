package client

import (
	"context"
	"errors"
	"time"

	"github.com/sluicehq/sluice/store"
)

// WaitActive waits until stream is ACTIVE: a new stream is CREATING, and
// one being resharded or switching capacity mode UPDATING, for a while.
func (c *Client) WaitActive(ctx context.Context, stream string) error {
	return c.poll(ctx, func() (bool, error) {
		sum, err := c.DescribeStreamSummary(ctx, stream)
		if err != nil {
			return false, err
		}
		return sum.StreamStatus == "ACTIVE", nil
	})
}

// WaitGone waits until stream no longer exists: a deleted stream is
// DELETING for a while, and its name cannot be used again until then.
func (c *Client) WaitGone(ctx context.Context, stream string) error {
	return c.poll(ctx, func() (bool, error) {
		_, err := c.DescribeStreamSummary(ctx, stream)
		var se *store.Error
		if errors.As(err, &se) && se.Code == store.ErrResourceNotFound {
			return true, nil
		}
		return false, err
	})
}

// poll calls done until it reports true or fails, sleeping 2 ms at first
// and up to 25 ms between calls.
func (c *Client) poll(ctx context.Context, done func() (bool, error)) error {
	wait := 2 * time.Millisecond
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 25*time.Millisecond)
	}
}

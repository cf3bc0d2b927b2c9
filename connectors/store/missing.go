package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	kstore "github.com/sluicehq/sluice/store"
)

// listError is the error of listing the shards of the table's stream. A
// stream that does not exist is named with its store (and the nearest
// existing stream's name), and the message says how to create it:
// 'stream.create-shards' in the table's WITH options, or beforehand with
// `sluice stream create` (or, on an endpoint, the AWS CLI).
func (c *config) listError(ctx context.Context, err error) error {
	var e *kstore.Error
	if !errors.As(err, &e) || e.Code != kstore.ErrResourceNotFound {
		return connectors.Errorf(c.table, "stream %s on %s: cannot list shards: %w", c.stream, c.where(), err)
	}
	hint := ""
	if names, err := c.client.ListStreams(ctx); err == nil {
		if near := suggest.Nearest(c.stream, names); near != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", near)
		}
	}
	if c.endpoint == "" {
		dir := "DIR"
		if srv := embeddedStore(); srv != nil {
			dir = srv.Dir()
		}
		return connectors.Errorf(c.table, "stream %q does not exist in the embedded store (folder %s)%s: create it with "+
			"'stream.create-shards' = '1' (or more shards) in the table's WITH options, "+
			"or before the job with `sluice stream create %s --shards 1 --store-dir %s`", c.stream, dir, hint, c.stream, dir)
	}
	return connectors.Errorf(c.table, "stream %q does not exist on the store at %s%s: create it with "+
		"'stream.create-shards' = '1' (or more shards) in the table's WITH options, "+
		"or before the job with `sluice stream create %s --shards 1 --endpoint %s` "+
		"or `aws kinesis create-stream --stream-name %s --shard-count 1 --endpoint-url %s`",
		c.stream, c.endpoint, hint, c.stream, c.endpoint, c.stream, c.endpoint)
}

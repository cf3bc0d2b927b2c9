package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/cks3"
)

// ckS3Flags reach the S3-compatible server of --checkpoint-dir s3://…
// (credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
type ckS3Flags struct {
	endpoint, region *string
	secure           *bool
}

func addCkS3Flags(fs *flag.FlagSet) ckS3Flags {
	return ckS3Flags{
		endpoint: fs.String("checkpoint-s3-endpoint", "", "with --checkpoint-dir s3://…: host:port of the S3-compatible server (default $SLUICE_S3_ENDPOINT); keys from $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY"),
		region:   fs.String("checkpoint-s3-region", "", "with --checkpoint-dir s3://…: the S3 region (default $AWS_REGION, else us-east-1)"),
		secure:   fs.Bool("checkpoint-s3-secure", false, "with --checkpoint-dir s3://…: use https to reach the endpoint"),
	}
}

// open returns the checkpoint store of s3://bucket/prefix, checking that
// the bucket can be reached.
func (f ckS3Flags) open(ctx context.Context, u string) (*cks3.Store, error) {
	return cks3.Open(ctx, u, cks3.Options{Endpoint: *f.endpoint, Region: *f.region, Secure: *f.secure})
}

// load reads the savepoint or checkpoint at path: a folder, or
// s3://bucket/prefix/savepoint-N.
func (f ckS3Flags) load(ctx context.Context, path string) (*runtime.Checkpoint, error) {
	if !cks3.IsURL(path) {
		return runtime.LoadCheckpoint(path)
	}
	path = strings.TrimSuffix(path, "/")
	i := strings.LastIndex(path, "/")
	if i <= len("s3://") {
		return nil, fmt.Errorf("%q names no savepoint (want s3://bucket/prefix/savepoint-N)", path)
	}
	st, err := f.open(ctx, path[:i])
	if err != nil {
		return nil, err
	}
	return runtime.LoadCheckpointFrom(st, path[i+1:])
}

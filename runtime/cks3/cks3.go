// Package cks3 keeps a job's checkpoints in an S3-compatible bucket
// (runtime.CheckpointStore), so that processes on several machines share
// them: --checkpoint-dir s3://bucket/prefix.
//
// The layout is the folder's: <prefix>/chk-000007/state.bin, then
// <prefix>/chk-000007/_manifest.json. A PUT is atomic per object and the
// manifest is put last, so a checkpoint is complete exactly when its
// manifest object exists.
package cks3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Options reach the S3-compatible server. Empty fields are taken from the
// environment: SLUICE_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY.
type Options struct {
	Endpoint  string // host:port
	Region    string // default us-east-1
	AccessKey string
	SecretKey string
	Secure    bool // https
}

// IsURL reports whether dir names a bucket (s3://…) rather than a folder.
func IsURL(dir string) bool { return strings.HasPrefix(dir, "s3://") }

// ParseURL splits s3://bucket/prefix into its bucket and prefix (without
// slashes at its ends).
func ParseURL(u string) (bucket, prefix string, err error) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "s3" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/prefix URL", u)
	}
	if p.Host == "" {
		return "", "", fmt.Errorf("%q names no bucket (want s3://bucket/prefix)", u)
	}
	return p.Host, strings.Trim(p.Path, "/"), nil
}

// Store is a bucket's prefix holding checkpoints.
type Store struct {
	cl     *minio.Client
	bucket string
	root   string // prefix + "/", or ""
}

// Open returns the store of s3://bucket/prefix and checks that the bucket
// exists and can be reached. Its errors name what is missing.
func Open(ctx context.Context, u string, o Options) (*Store, error) {
	bucket, prefix, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	env := func(v *string, name string) {
		if *v == "" {
			*v = os.Getenv(name)
		}
	}
	env(&o.Endpoint, "SLUICE_S3_ENDPOINT")
	env(&o.Region, "AWS_REGION")
	env(&o.AccessKey, "AWS_ACCESS_KEY_ID")
	env(&o.SecretKey, "AWS_SECRET_ACCESS_KEY")
	if o.Endpoint == "" {
		return nil, fmt.Errorf("%s: no S3 endpoint (host:port): set --checkpoint-s3-endpoint or SLUICE_S3_ENDPOINT", u)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	cl, err := minio.New(o.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:       o.Secure,
		Region:       o.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: S3 endpoint %s: %w", u, o.Endpoint, err)
	}
	ok, err := cl.BucketExists(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot reach S3 endpoint %s: %w", u, o.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: bucket %q does not exist at %s", u, bucket, o.Endpoint)
	}
	s := &Store{cl: cl, bucket: bucket}
	if prefix != "" {
		s.root = prefix + "/"
	}
	return s, nil
}

// Put implements runtime.CheckpointStore: one PUT, whole or not at all.
// Multipart uploads are off: one request up to S3's 5 GiB limit for a
// single PUT (some S3-compatible servers, gofakes3 among them, store the
// parts of minio-go's signed streaming uploads with their chunk headers).
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	_, err := s.cl.PutObject(ctx, s.bucket, s.root+name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("cannot put %s: %w", s.Location(name), err)
	}
	return nil
}

// Get implements runtime.CheckpointStore.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	obj, err := s.cl.GetObject(ctx, s.bucket, s.root+name, minio.GetObjectOptions{})
	if err == nil {
		var data []byte
		data, err = io.ReadAll(obj)
		obj.Close()
		if err == nil {
			return data, nil
		}
	}
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return nil, fmt.Errorf("%s: %w", s.Location(name), fs.ErrNotExist)
	}
	return nil, fmt.Errorf("cannot get %s: %w", s.Location(name), err)
}

// List implements runtime.CheckpointStore.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	for o := range s.cl.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.root + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("cannot list %s: %w", s.Location(prefix), o.Err)
		}
		names = append(names, strings.TrimPrefix(o.Key, s.root))
	}
	return names, nil
}

// Delete implements runtime.CheckpointStore.
func (s *Store) Delete(ctx context.Context, prefix string) error {
	names, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := s.cl.RemoveObject(ctx, s.bucket, s.root+n, minio.RemoveObjectOptions{}); err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
			errs = append(errs, fmt.Errorf("cannot delete %s: %w", s.Location(n), err))
		}
	}
	return errors.Join(errs...)
}

// Location implements runtime.CheckpointStore: s3://bucket/prefix/name.
func (s *Store) Location(name string) string {
	return strings.TrimSuffix("s3://"+s.bucket+"/"+s.root+name, "/")
}

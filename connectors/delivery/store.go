package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/sluicehq/sluice/internal/atomicfile"
)

// objectStore is where objects go: a folder or a bucket. Keys are relative
// to the destination's root, with '/' between folders. Staged objects live
// under stagingDir, which readers skip.
type objectStore interface {
	// put writes a visible object at key, whole or not at all.
	put(ctx context.Context, key string, data []byte) error
	// stage writes an object under the staging key staged.
	stage(ctx context.Context, staged string, data []byte) error
	// publish makes staged visible at key. It is idempotent: an object no
	// longer staged whose key exists counts as published.
	publish(ctx context.Context, staged, key string) error
	// removeStaged deletes every staged object under the staging folder dir.
	removeStaged(ctx context.Context, dir string) error
	// get reads the object at key; nil without error when there is none.
	get(ctx context.Context, key string) ([]byte, error)
	// where names the object at key for messages.
	where(key string) string
}

func newStore(d destSpec) (objectStore, error) {
	switch d.kind {
	case "file":
		return &fileStore{root: d.root}, nil
	case "s3":
		cl, err := minio.New(d.s3.endpoint, &minio.Options{
			Creds:        credentials.NewStaticV4(d.s3.accessKey, d.s3.secretKey, ""),
			Secure:       d.s3.secure,
			Region:       d.s3.region,
			BucketLookup: minio.BucketLookupPath,
		})
		if err != nil {
			return nil, fmt.Errorf("s3 endpoint %s: %w", d.s3.endpoint, err)
		}
		return &s3Store{cl: cl, bucket: d.bucket, root: d.root}, nil
	}
	return nil, fmt.Errorf("%s is not an object store", d.kind)
}

// fileStore keeps objects as files under root. A file is written whole
// under its staging name, fsynced, then renamed into place, so readers never
// see part of one.
type fileStore struct{ root string }

// path resolves key under the root, refusing keys that would leave it.
func (f *fileStore) path(key string) (string, error) {
	p := filepath.Join(f.root, filepath.FromSlash(key))
	if !strings.HasPrefix(p, f.root+string(filepath.Separator)) {
		return "", fmt.Errorf("key %q leaves the folder %s", key, f.root)
	}
	return p, nil
}

func (f *fileStore) put(ctx context.Context, key string, data []byte) error {
	staged := stagingDir + "/put/" + newID()
	if err := f.stage(ctx, staged, data); err != nil {
		return err
	}
	return f.publish(ctx, staged, key)
}

func (f *fileStore) stage(_ context.Context, staged string, data []byte) error {
	p, err := f.path(staged)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("cannot write %s: %w", p, err)
	}
	return nil
}

func (f *fileStore) publish(_ context.Context, staged, key string) error {
	from, err := f.path(staged)
	if err != nil {
		return err
	}
	to, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			if _, serr := os.Stat(to); serr == nil {
				return nil // published before
			}
		}
		return fmt.Errorf("cannot publish %s: %w", to, err)
	}
	return atomicfile.SyncDir(filepath.Dir(to))
}

func (f *fileStore) get(_ context.Context, key string) ([]byte, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

func (f *fileStore) where(key string) string {
	if p, err := f.path(key); err == nil {
		return p
	}
	return key
}

func (f *fileStore) removeStaged(_ context.Context, dir string) error {
	p, err := f.path(dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("cannot delete staged files %s: %w", p, err)
	}
	return nil
}

// s3Store keeps objects in a bucket of an S3-compatible server, under the
// destination's key prefix. Publishing is a server-side copy of the staged
// object to its key, then a delete of the staged one.
type s3Store struct {
	cl     *minio.Client
	bucket string
	root   string
}

func (s *s3Store) put(ctx context.Context, key string, data []byte) error {
	_, err := s.cl.PutObject(ctx, s.bucket, s.root+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("cannot put s3://%s/%s%s: %w", s.bucket, s.root, key, err)
	}
	return nil
}

func (s *s3Store) stage(ctx context.Context, staged string, data []byte) error {
	return s.put(ctx, staged, data)
}

func (s *s3Store) publish(ctx context.Context, staged, key string) error {
	_, err := s.cl.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: s.root + key},
		minio.CopySrcOptions{Bucket: s.bucket, Object: s.root + staged})
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			if _, serr := s.cl.StatObject(ctx, s.bucket, s.root+key, minio.StatObjectOptions{}); serr == nil {
				return nil // published before
			}
		}
		return fmt.Errorf("cannot publish s3://%s/%s%s: %w", s.bucket, s.root, key, err)
	}
	if err := s.cl.RemoveObject(ctx, s.bucket, s.root+staged, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("cannot delete the staged s3://%s/%s%s: %w", s.bucket, s.root, staged, err)
	}
	return nil
}

func (s *s3Store) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := s.cl.GetObject(ctx, s.bucket, s.root+key, minio.GetObjectOptions{})
	if err == nil {
		defer obj.Close()
		var data []byte
		if data, err = io.ReadAll(obj); err == nil {
			return data, nil
		}
	}
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return nil, nil
	}
	return nil, fmt.Errorf("cannot read %s: %w", s.where(key), err)
}

func (s *s3Store) where(key string) string { return "s3://" + s.bucket + "/" + s.root + key }

func (s *s3Store) removeStaged(ctx context.Context, dir string) error {
	var errs []error
	// dir may be one staged object, or a folder of them.
	if err := s.cl.RemoveObject(ctx, s.bucket, s.root+dir, minio.RemoveObjectOptions{}); err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		errs = append(errs, err)
	}
	for obj := range s.cl.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.root + dir + "/", Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("cannot list staged objects s3://%s/%s%s/: %w", s.bucket, s.root, dir, obj.Err)
		}
		if err := s.cl.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

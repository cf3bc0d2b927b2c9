// Package atomicfile replaces small files so that a crash leaves either
// the old content or the new, never a mix: the store's stream metadata,
// queue metadata and the function triggers' positions.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, a file of mode perm: a temporary file in
// the same folder, fsync'd, renamed over path, and the folder fsync'd so
// the rename survives a crash. On an error the temporary file is removed.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a folder, so that the files created, renamed or removed
// in it stay so after a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

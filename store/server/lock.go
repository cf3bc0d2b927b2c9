package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the file of the store folder a Server holds an exclusive
// flock on while it has the folder open, so that a second opener — in
// another process or this one — is refused instead of writing the same
// segment files. The kernel drops the lock when the process dies ('~' is
// not allowed in stream names).
const lockFile = "~lock"

// ErrFolderInUse is the error (errors.Is) of New when another Server has
// the folder open.
var ErrFolderInUse = errors.New("the store folder is in use by another process")

// lockDir takes the folder's lock; closing the file releases it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open the lock file of store folder %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store folder %s: %w (a running \"sluice store --data\" or \"sluice run --store-dir\"): stop it, or talk to it over its endpoint", dir, ErrFolderInUse)
		}
		return nil, fmt.Errorf("cannot lock store folder %s: %w", dir, err)
	}
	return f, nil
}

package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file of the store folder a Server holds an exclusive
// flock on while it has the folder open, so that a second opener — in
// another process or this one — is refused instead of writing the same
// segment files. The kernel drops the lock when the process dies, so a
// lock left by a killed process does not block the next opener ('~' is
// not allowed in stream names). The holder writes its process ID into
// the file, for the message of a refused opener.
const lockFile = "~lock"

// ErrFolderInUse is the error (errors.Is) of New when another Server has
// the folder open.
var ErrFolderInUse = errors.New("the store folder is in use by another process")

// folderInUseError is ErrFolderInUse for one folder, naming the process
// that holds it when it is known.
type folderInUseError struct {
	dir string
	pid int // 0: unknown
}

func (e *folderInUseError) Error() string {
	holder := "another process"
	switch {
	case e.pid == os.Getpid():
		holder = "this process"
	case e.pid > 0:
		holder = fmt.Sprintf("another process (pid %d)", e.pid)
	}
	return fmt.Sprintf("store folder %s is in use by %s, such as a running \"sluice store --data\", \"sluice run --store-dir\" "+
		"or \"sluice stream --store-dir\": stop it, or talk to it over its endpoint", e.dir, holder)
}

func (e *folderInUseError) Is(target error) bool { return target == ErrFolderInUse }

// lockDir takes the folder's lock; closing the file releases it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open the lock file of store folder %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := 0
			if b, err := os.ReadFile(filepath.Join(dir, lockFile)); err == nil {
				pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			return nil, &folderInUseError{dir: dir, pid: pid}
		}
		return nil, fmt.Errorf("cannot lock store folder %s: %w", dir, err)
	}
	// The holder's process ID, for the message of a refused opener (the
	// lock works without it).
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

package server

import (
	"errors"
	"strings"
	"testing"
)

func TestSecondOpenerOfAStoreFolderIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(dir, Options{Logf: t.Logf})
	if !errors.Is(err, ErrFolderInUse) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "in use by this process") {
		t.Fatalf("second New over an open folder: %v; want ErrFolderInUse naming the folder", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = New(dir, Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

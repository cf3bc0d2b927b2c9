package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteReplacesTheFileWhole: Write replaces a file's content, gives it
// the mode asked for and leaves no temporary file; a write into a missing
// folder fails.
func TestWriteReplacesTheFileWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meta.json")
	for _, data := range []string{"first, longer content", "second"} {
		if err := Write(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	if err := Write(filepath.Join(dir, "no", "such", "folder"), []byte("x"), 0o644); err == nil {
		t.Fatal("a write into a missing folder succeeded")
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 1 {
		t.Fatalf("files left: %v", names)
	}
}

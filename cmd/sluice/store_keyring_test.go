package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStoreKeyringFlag checks that --keyring names the file the store
// keeps its encryption keys in, created with mode 0600 at the first
// StartStreamEncryption, and that the data folder then holds none.
func TestStoreKeyringFlag(t *testing.T) {
	dir := t.TempDir()
	ring := filepath.Join(t.TempDir(), "keys.json")
	url, _ := startStore(t, dir, "--keyring", ring)
	if err := call(url, "CreateStream", map[string]any{"StreamName": "s", "ShardCount": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := call(url, "StartStreamEncryption", map[string]any{"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(ring)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--keyring file: %v, %v; want mode 0600", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "~keyring.json")); !os.IsNotExist(err) {
		t.Fatalf("a keyring in the data folder too: %v", err)
	}
	var d struct {
		StreamDescriptionSummary struct{ EncryptionType, KeyId string }
	}
	if err := call(url, "DescribeStreamSummary", map[string]any{"StreamName": "s"}, &d); err != nil ||
		d.StreamDescriptionSummary.EncryptionType != "KMS" || d.StreamDescriptionSummary.KeyId != "alias/aws/kinesis" {
		t.Fatalf("DescribeStreamSummary: %+v, %v", d, err)
	}
}

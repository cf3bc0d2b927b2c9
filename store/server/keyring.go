package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

// KeyringFile is the keyring's file name in the store folder when
// Options.Keyring does not name one; '~' keeps it apart from stream folders.
const KeyringFile = "~keyring.json"

// DefaultKMSAlias is the alias of the AWS-managed key for Kinesis: the key
// under it is generated the first time a stream is encrypted with it.
const DefaultKMSAlias = "alias/aws/kinesis"

// Errors of KMS keys, as Kinesis names them.
const (
	errKMSNotFound = "KMSNotFoundException"
	errKMSDisabled = "KMSDisabledException"
)

// ringKey is one key of the keyring file.
type ringKey struct {
	ID       string   `json:"id"`                // as a KMS key id: a UUID
	Aliases  []string `json:"aliases,omitempty"` // "alias/<name>"
	Material string   `json:"material"`          // base64 of 32 bytes (AES-256)
	Disabled bool     `json:"disabled,omitempty"`
}

type keyringFile struct {
	Keys []ringKey `json:"keys"`
}

// keyring is the local stand-in for KMS: the keys of a JSON file (see
// KeyringFile). The file is read at New and again, when it changed, at
// each StartStreamEncryption and StopStreamEncryption and (at most once a
// keyRecheck) by puts to encrypted streams and reads of encrypted records,
// so an operator can add, alias, disable or enable keys without a restart.
// As in KMS, a disabled key cannot be chosen, and puts and reads that need
// it answer KMSDisabledException until it is enabled again; the store
// still starts with it, and encryption with it can be stopped.
type keyring struct {
	path string

	mu       sync.Mutex
	keys     []ringKey
	material map[string][]byte // key id → decoded material
	modTime  time.Time
	size     int64

	// For the write and read paths, without mu: the ids of disabled
	// keys (an immutable map replaced at each reload) and when the file
	// was last looked at (Unix ns).
	disabled atomic.Pointer[map[string]bool]
	checked  atomic.Int64
}

// openKeyring reads the keyring file at path, if there is one, and warns
// through logf when others than its owner may read it.
func openKeyring(path string, logf func(format string, args ...any)) (*keyring, error) {
	k := &keyring{path: path, material: map[string][]byte{}}
	if err := k.reload(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logf("keyring %s can be read by others than its owner (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return k, nil
}

// reload reads the file again if it changed since it was last read. A
// missing file is an empty keyring. Callers hold mu or own k.
func (k *keyring) reload() error {
	fi, err := os.Stat(k.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read keyring %s: %w", k.path, err)
	}
	if fi.ModTime().Equal(k.modTime) && fi.Size() == k.size {
		return nil
	}
	b, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("cannot read keyring %s: %w", k.path, err)
	}
	var f keyringFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("cannot parse keyring %s: %w", k.path, err)
	}
	mat := map[string][]byte{}
	aliases := map[string]bool{}
	for i, key := range f.Keys {
		if !validUUID(key.ID) {
			return fmt.Errorf("keyring %s: key %d: id %q is not a key id (a UUID)", k.path, i+1, key.ID)
		}
		if mat[key.ID] != nil {
			return fmt.Errorf("keyring %s: key %s appears twice", k.path, key.ID)
		}
		m, err := base64.StdEncoding.DecodeString(key.Material)
		if err != nil || len(m) != slog.KeyBytes {
			return fmt.Errorf("keyring %s: key %s: material must be %d bytes in base64", k.path, key.ID, slog.KeyBytes)
		}
		mat[key.ID] = m
		for _, a := range key.Aliases {
			if !strings.HasPrefix(a, "alias/") || len(a) == len("alias/") {
				return fmt.Errorf("keyring %s: key %s: alias %q does not start with alias/", k.path, key.ID, a)
			}
			if aliases[a] {
				return fmt.Errorf("keyring %s: alias %s names two keys", k.path, a)
			}
			aliases[a] = true
		}
	}
	k.keys, k.material, k.modTime, k.size = f.Keys, mat, fi.ModTime(), fi.Size()
	off := map[string]bool{}
	for _, key := range f.Keys {
		if key.Disabled {
			off[key.ID] = true
		}
	}
	k.disabled.Store(&off)
	return nil
}

// Material returns the material of key id, for the shard logs, disabled
// or not.
func (k *keyring) Material(id string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := k.material[id]
	if m == nil {
		if err := k.reload(); err != nil {
			return nil, err
		}
		if m = k.material[id]; m == nil {
			return nil, fmt.Errorf("key %s is not in keyring %s", id, k.path)
		}
	}
	return m, nil
}

// keyRecheck is how often the write and read paths look at the keyring
// file for keys disabled or enabled since.
const keyRecheck = time.Second

// isDisabled reports whether key id is disabled, reading the file again
// when it changed and was last looked at more than keyRecheck ago. A file
// that cannot be read now leaves the keys as they were.
func (k *keyring) isDisabled(id string) bool {
	now := time.Now().UnixNano()
	if last := k.checked.Load(); now-last > int64(keyRecheck) && k.checked.CompareAndSwap(last, now) {
		k.mu.Lock()
		_ = k.reload()
		k.mu.Unlock()
	}
	m := k.disabled.Load()
	return m != nil && (*m)[id]
}

// kmsARN is the ARN KMS gives a key or alias (what: "key/<id>" or
// "alias/<name>").
func (s *Server) kmsARN(what string) string {
	return fmt.Sprintf("arn:aws:kms:%s:000000000000:%s", s.region(), what)
}

func (s *Server) region() string {
	if s.opts.Region == "" {
		return "us-east-1"
	}
	return s.opts.Region
}

// resolveKey finds the key a request's KeyId names, in any of KMS's
// forms: key id, key ARN, alias name, alias ARN. The AWS-managed alias is
// created on first use. It answers KMSNotFoundException or
// KMSDisabledException as Kinesis does.
func (s *Server) resolveKey(keyID string) (ringKey, error) {
	k := s.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reload(); err != nil {
		return ringKey{}, err
	}
	ref := keyID
	if rest, ok := strings.CutPrefix(ref, "arn:aws:kms:"); ok {
		// <region>:<account>:key/<id> or :alias/<name>, in our region and account.
		parts := strings.SplitN(rest, ":", 3)
		if len(parts) != 3 || parts[0] != s.region() || parts[1] != "000000000000" {
			return ringKey{}, apiErr(errKMSNotFound, store.MsgKMSInvalidARN, keyID)
		}
		ref = parts[2]
		if id, ok := strings.CutPrefix(ref, "key/"); ok {
			ref = id
		} else if !strings.HasPrefix(ref, "alias/") {
			return ringKey{}, apiErr(errKMSNotFound, store.MsgKMSInvalidARN, keyID)
		}
	}
	var found *ringKey
	if strings.HasPrefix(ref, "alias/") {
		for i := range k.keys {
			for _, a := range k.keys[i].Aliases {
				if a == ref {
					found = &k.keys[i]
				}
			}
		}
		if found == nil && ref == DefaultKMSAlias {
			key, err := k.createDefault()
			if err != nil {
				return ringKey{}, err
			}
			found = &key
		}
		if found == nil {
			return ringKey{}, apiErr(errKMSNotFound, store.MsgKMSAliasNotFound, s.kmsARN(ref))
		}
	} else {
		if !validUUID(ref) {
			return ringKey{}, apiErr(errKMSNotFound, store.MsgKMSInvalidKeyID, keyID)
		}
		for i := range k.keys {
			if k.keys[i].ID == ref {
				found = &k.keys[i]
			}
		}
		if found == nil {
			return ringKey{}, apiErr(errKMSNotFound, store.MsgKMSKeyNotFound, s.kmsARN("key/"+ref))
		}
	}
	if found.Disabled {
		return ringKey{}, apiErr(errKMSDisabled, store.MsgKMSDisabled, s.kmsARN("key/"+found.ID))
	}
	return *found, nil
}

// createDefault adds a generated key under DefaultKMSAlias and writes the
// file (mode 0600). Callers hold mu.
func (k *keyring) createDefault() (ringKey, error) {
	m := make([]byte, slog.KeyBytes)
	rand.Read(m)
	key := ringKey{ID: newUUID(), Aliases: []string{DefaultKMSAlias}, Material: base64.StdEncoding.EncodeToString(m)}
	f := keyringFile{Keys: append(append([]ringKey(nil), k.keys...), key)}
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return ringKey{}, err
	}
	if err := writeFileAtomic(k.path, append(b, '\n'), 0o600); err != nil {
		return ringKey{}, err
	}
	k.modTime = time.Time{} // read it back, with its new size and time
	if err := k.reload(); err != nil {
		return ringKey{}, err
	}
	return key, nil
}

// newUUID is a random (version 4) UUID, as KMS key ids are.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// validUUID reports whether s is a UUID in its 36-character text form.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

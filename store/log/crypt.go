package log

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Encrypted segments (see the package doc).
const (
	encMagic      = "SLUICEE1"
	saltSize      = 32
	MaxKeyIDBytes = 36 // longest key id SetEncryption accepts (a UUID)
	KeyBytes      = 32 // AES-256
	encHeaderSize = 8 + 8 + saltSize + MaxKeyIDBytes + 4
	nonceSize     = 12
	tagSize       = 16
	sealOverhead  = nonceSize + tagSize
	subkeyInfo    = "sluice log segment key v1"
)

// errAuthFrame means a frame of an encrypted segment passes its CRC but
// fails authentication: its bytes were changed, or the key is not the one
// it was written with.
var errAuthFrame = fmt.Errorf("%w: authentication failed", errBadFrame)

// ErrKey is wrapped by the error of Open when an encrypted segment names a
// key that Options.Keys cannot give.
var ErrKey = errors.New("log: key of an encrypted segment unavailable")

// segCipher encrypts the frames of one segment with a key derived from
// the master key and the segment's salt. It is immutable.
type segCipher struct {
	keyID string
	aead  cipher.AEAD
}

// writeKey is the key new segments are encrypted with (see SetEncryption).
type writeKey struct {
	id  string
	key []byte
}

func newSegCipher(keyID string, master, salt []byte) (*segCipher, error) {
	if len(master) != KeyBytes {
		return nil, fmt.Errorf("key %s has %d bytes, want %d", keyID, len(master), KeyBytes)
	}
	sub, err := hkdf.Key(sha256.New, master, salt, subkeyInfo, KeyBytes)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &segCipher{keyID: keyID, aead: g}, nil
}

// encHeader is the header of an encrypted segment.
func encHeader(base uint64, salt []byte, keyID string) []byte {
	b := make([]byte, 0, encHeaderSize)
	b = append(b, encMagic...)
	b = binary.LittleEndian.AppendUint64(b, base)
	b = append(b, salt...)
	var id [MaxKeyIDBytes]byte
	copy(id[:], keyID)
	b = append(b, id[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// parseEncHeader checks an encrypted segment's header and returns its salt
// and key id.
func parseEncHeader(b []byte, base uint64) (salt []byte, keyID string, ok bool) {
	if len(b) != encHeaderSize || string(b[:8]) != encMagic || binary.LittleEndian.Uint64(b[8:]) != base ||
		crc32.Checksum(b[:encHeaderSize-4], castagnoli) != binary.LittleEndian.Uint32(b[encHeaderSize-4:]) {
		return nil, "", false
	}
	id := b[16+saltSize : 16+saltSize+MaxKeyIDBytes]
	n := 0
	for n < len(id) && id[n] != 0 {
		n++
	}
	if n == 0 {
		return nil, "", false
	}
	return b[16 : 16+saltSize], string(id[:n]), true
}

func validKeyID(id string) bool {
	if id == "" || len(id) > MaxKeyIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// SetEncryption sets the key that records appended from now on are
// encrypted with: keyID names it in the segment headers (printable ASCII,
// at most MaxKeyIDBytes) and key is its material (KeyBytes bytes, copied).
// An empty keyID (and nil key) makes new records plaintext again. Records
// go into a segment of their own key: the first Append after a change
// starts a new segment (or rewrites an empty newest one). Every Append
// that starts after SetEncryption returns is written with the new key.
// Options.Keys must give the key by its id when the log is opened again.
func (l *Log) SetEncryption(keyID string, key []byte) error {
	if keyID == "" {
		l.wkey.Store(nil)
		return nil
	}
	if !validKeyID(keyID) {
		return fmt.Errorf("log: invalid key id %q", keyID)
	}
	if len(key) != KeyBytes {
		return fmt.Errorf("log: key %s has %d bytes, want %d", keyID, len(key), KeyBytes)
	}
	l.wkey.Store(&writeKey{id: keyID, key: append([]byte(nil), key...)})
	return nil
}

// Encryption returns the id of the key new records are encrypted with, or
// "" when they are written in plaintext.
func (l *Log) Encryption() string {
	if k := l.wkey.Load(); k != nil {
		return k.id
	}
	return ""
}

// id returns the key id of a segment's cipher, "" for plaintext.
func (c *segCipher) id() string {
	if c == nil {
		return ""
	}
	return c.keyID
}

// openCipher looks up the key of an encrypted segment through Options.Keys.
func (l *Log) openCipher(path, keyID string, salt []byte) (*segCipher, error) {
	if l.opts.Keys == nil {
		return nil, fmt.Errorf("%w: segment %s is encrypted with key %s and no keyring is configured", ErrKey, path, keyID)
	}
	key, err := l.opts.Keys(keyID)
	if err != nil {
		return nil, fmt.Errorf("%w: segment %s is encrypted with key %s: %w", ErrKey, path, keyID, err)
	}
	c, err := newSegCipher(keyID, key, salt)
	if err != nil {
		return nil, fmt.Errorf("%w: segment %s: %w", ErrKey, path, err)
	}
	return c, nil
}

// newWriteCipher makes the cipher of a new segment encrypted with k and
// returns it with the segment's header.
func newWriteCipher(base uint64, k *writeKey) (*segCipher, []byte, error) {
	salt := make([]byte, saltSize)
	rand.Read(salt) // never fails (it crashes the program instead)
	c, err := newSegCipher(k.id, k.key, salt)
	if err != nil {
		return nil, nil, err
	}
	return c, encHeader(base, salt, k.id), nil
}

// appendSealedFrame appends one frame of an encrypted segment to dst:
// header and payload are encrypted together under nonce, and the fixed
// part of the body (sequence number, timestamp, header length) is
// authenticated with them.
func appendSealedFrame(dst []byte, c *segCipher, nonce []byte, seq uint64, ts int64, hdr, data []byte) []byte {
	n := len(hdr) + len(data)
	bodyLen := bodyFixedSize + sealOverhead + n
	dst, start := appendFrameFixed(growBy(dst, frameHeadSize+bodyLen), bodyLen, seq, ts, len(hdr))
	body := start + frameHeadSize
	dst = append(dst, nonce...)
	ct := len(dst)
	dst = append(dst, hdr...)
	dst = append(dst, data...)
	c.aead.Seal(dst[ct:ct], nonce, dst[ct:ct+n], dst[body:body+bodyFixedSize])
	return finishFrame(dst[:ct+n+tagSize], start)
}

func growBy(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}

// openBody authenticates and decrypts the sealed part of an encrypted
// frame's body (CRC already checked) and returns header and payload. In
// place, the plaintext overwrites the ciphertext in body; otherwise it
// goes into a new buffer and body is left as it was.
func (c *segCipher) openBody(body []byte, inPlace bool) (hdr, data []byte, err error) {
	if len(body) < bodyFixedSize+sealOverhead {
		return nil, nil, errBadFrame
	}
	hl := int(binary.LittleEndian.Uint16(body[16:]))
	ct := body[bodyFixedSize+nonceSize:]
	if hl > len(ct)-tagSize {
		return nil, nil, errBadFrame
	}
	var dst []byte
	if inPlace {
		dst = ct[:0]
	}
	pt, err := c.aead.Open(dst, body[bodyFixedSize:bodyFixedSize+nonceSize], ct, body[:bodyFixedSize])
	if err != nil {
		return nil, nil, errAuthFrame
	}
	return pt[:hl:hl], pt[hl:], nil
}

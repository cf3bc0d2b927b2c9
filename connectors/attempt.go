package connectors

import (
	"crypto/sha256"
	"encoding/hex"
)

// AttemptTag is how the names an exactly-once sink writes before
// publishing carry the attempt of a task run (runtime.TaskInfo.Attempt),
// so that two attempts of one task never share one: the attempt itself
// when it is up to 16 lower-case letters and digits (short hex,
// typically), else the first 12 hex digits of its SHA-256.
func AttemptTag(attempt string) string {
	ok := attempt != "" && len(attempt) <= 16
	for _, c := range []byte(attempt) {
		ok = ok && (c >= '0' && c <= '9' || c >= 'a' && c <= 'z')
	}
	if ok {
		return attempt
	}
	sum := sha256.Sum256([]byte(attempt))
	return hex.EncodeToString(sum[:6])
}

package store

import "encoding/hex"

// FormatUUID writes 16 bytes in a UUID's text form,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (request ids, message ids).
func FormatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

package store

import (
	"regexp"
	"unicode/utf8"
)

// Limits of the Kinesis Data Streams API, as AWS documents them.
const (
	MaxRecordBytes       = 1 << 20 // one record's data, before base64
	MaxPutRecords        = 500     // records in one PutRecords call
	MaxPutRecordsBytes   = 5 << 20 // data and partition keys of one PutRecords call
	MaxPartitionKeyChars = 256
	MaxStreamNameChars   = 128
	MaxGetRecordsLimit   = 10000
	// MaxRequestBytes caps a request body before it is read: a full
	// PutRecords batch, base64-encoded, with JSON around it.
	MaxRequestBytes = MaxPutRecordsBytes*4/3 + 1<<20
)

var streamName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// ValidateStreamName checks a stream name: [a-zA-Z0-9_.-]{1,128}, and never
// "." or ".." (names become folder names).
func ValidateStreamName(name string) error {
	if !streamName.MatchString(name) || name == "." || name == ".." {
		return apiErr(ErrValidation, "1 validation error detected: Value '%s' at 'streamName' failed to satisfy constraint: "+
			"Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128 (and not be . or ..)", name)
	}
	return nil
}

// ValidatePartitionKey checks a partition key: 1 to 256 Unicode characters.
func ValidatePartitionKey(key string) error {
	if n := utf8.RuneCountInString(key); n < 1 || n > MaxPartitionKeyChars {
		return apiErr(ErrValidation, "1 validation error detected: Value at 'partitionKey' failed to satisfy constraint: "+
			"Member must have length between 1 and 256 (got %d)", n)
	}
	return nil
}

// ValidateRecordData checks one record's data size.
func ValidateRecordData(data []byte) error {
	if len(data) > MaxRecordBytes {
		return apiErr(ErrValidation, "1 validation error detected: Value at 'data' failed to satisfy constraint: "+
			"Member must have length less than or equal to 1048576 (got %d)", len(data))
	}
	return nil
}

// ValidatePutRecords checks the size of a PutRecords call: at most 500
// records and 5 MiB of data and partition keys.
func ValidatePutRecords(n, bytes int) error {
	if n < 1 || n > MaxPutRecords {
		return apiErr(ErrValidation, "1 validation error detected: Value at 'records' failed to satisfy constraint: "+
			"Member must have length between 1 and 500 (got %d)", n)
	}
	if bytes > MaxPutRecordsBytes {
		return apiErr(ErrInvalidArgument, "Records size exceeds 5 MB limit (got %d bytes)", bytes)
	}
	return nil
}

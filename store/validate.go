package store

import "regexp"

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
		return apiErr(ErrValidation, MsgStreamName, name)
	}
	return nil
}

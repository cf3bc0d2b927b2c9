package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Sequence numbers as the API shows them: like Kinesis's, fixed-width
// decimal strings of SequenceNumberLen digits, so that clients may compare
// them as strings (or as big integers, which orders them the same way):
//
//	digit  0       version, SequenceNumberVersion
//	digits 1-20    the stream's generation (its creation time in ns)
//	digits 21-35   the shard's index: shardId-000000000007 is 7
//	digits 36-55   the record's sequence number in its shard's log
//
// Within a shard numbers grow with the log's sequence numbers, which never
// go backwards, also across restarts. A child shard's index is higher than
// its parents' (shard ids are handed out in increasing order), so every
// number of a child compares greater than every number of its parents. The
// generation ties a number to one incarnation of a stream: a stream deleted
// and created again under the same name does not accept the old numbers.
// Before version 1 the API showed the shard log's sequence number alone
// ("1", "2", …); such short numbers are rejected.

// SequenceNumberLen is the number of digits of every sequence number.
const SequenceNumberLen = 56

// SequenceNumberVersion is the first digit of the sequence numbers this
// store issues.
const SequenceNumberVersion = '1'

const (
	seqGenDigits   = 20
	seqShardDigits = 15
	seqLogDigits   = 20
)

// MaxShardIndex is the highest shard index a sequence number can encode.
const MaxShardIndex = 999_999_999_999_999

// SequenceNumber is the parts of a sequence number.
type SequenceNumber struct {
	Generation uint64 // the stream's generation
	Shard      uint64 // the shard's index, at most MaxShardIndex
	Seq        uint64 // the sequence number in the shard's log
}

// AppendTo appends the SequenceNumberLen digits of n to b.
func (n SequenceNumber) AppendTo(b []byte) []byte {
	b = append(b, SequenceNumberVersion)
	b = appendPadded(b, n.Generation, seqGenDigits)
	b = appendPadded(b, n.Shard%(MaxShardIndex+1), seqShardDigits)
	return appendPadded(b, n.Seq, seqLogDigits)
}

func (n SequenceNumber) String() string {
	return string(n.AppendTo(make([]byte, 0, SequenceNumberLen)))
}

// appendPadded appends v in decimal, zero-padded to width digits (v must fit).
func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendUint(tmp[:0], v, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// ParseSequenceNumber splits a sequence number into its parts. The error
// says what is wrong with s, without quoting it.
func ParseSequenceNumber(s string) (SequenceNumber, error) {
	if len(s) != SequenceNumberLen {
		if len(s) > 0 && len(s) <= 20 && allDigits(s) {
			return SequenceNumber{}, fmt.Errorf("it has %d digits, not %d: an old short sequence number, from before sequence numbers encoded their shard", len(s), SequenceNumberLen)
		}
		return SequenceNumber{}, fmt.Errorf("a sequence number has %d digits, not %d characters", SequenceNumberLen, len(s))
	}
	if !allDigits(s) {
		return SequenceNumber{}, fmt.Errorf("a sequence number has only decimal digits")
	}
	if s[0] != SequenceNumberVersion {
		return SequenceNumber{}, fmt.Errorf("its version digit is %c, not %c", s[0], SequenceNumberVersion)
	}
	var n SequenceNumber
	var err error
	rest := s[1:]
	field := func(width int, what string) uint64 {
		v, perr := strconv.ParseUint(rest[:width], 10, 64)
		rest = rest[width:]
		if perr != nil && err == nil {
			err = fmt.Errorf("its %s is out of range", what)
		}
		return v
	}
	n.Generation = field(seqGenDigits, "stream generation")
	n.Shard = field(seqShardDigits, "shard index")
	n.Seq = field(seqLogDigits, "shard sequence number")
	if err != nil {
		return SequenceNumber{}, err
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ShardIndex returns the index of a shard id: 7 for shardId-000000000007.
func ShardIndex(id string) (uint64, error) {
	digits, ok := strings.CutPrefix(id, "shardId-")
	if !ok || digits == "" || !allDigits(digits) {
		return 0, fmt.Errorf("shard id %q is not shardId-<digits>", id)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > MaxShardIndex {
		return 0, fmt.Errorf("shard id %q has an index above %d", id, uint64(MaxShardIndex))
	}
	return n, nil
}

// ShardID is the id of the shard with index n.
func ShardID(n uint64) string { return fmt.Sprintf("shardId-%012d", n) }

package server

import (
	"fmt"
	"path/filepath"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

// Server-side encryption: StartStreamEncryption makes the shard logs of a
// stream encrypt the records appended from then on with a key of the
// keyring (see keyring.go and store/log's "Encryption at rest");
// StopStreamEncryption makes them write plaintext again. Both need the
// stream ACTIVE and leave it UPDATING for the state delay (see
// scaling.go), as Kinesis; Start may be called MaxKeyChangesPerDay times a
// rolling day. Records keep the
// encryption they were written with: GetRecords says "KMS" for each record
// that is encrypted on disk. stream.json keeps the stream's key, so the
// logs are given it again at every start.

const (
	encryptionKMS  = "KMS"
	encryptionNone = "NONE"
)

// MaxKeyChangesPerDay bounds StartStreamEncryption calls per stream in a
// rolling 24 hours, as Kinesis (LimitExceededException).
const MaxKeyChangesPerDay = 25

// keyringPath is the keyring file: path, or KeyringFile in the store
// folder dir.
func keyringPath(dir, path string) string {
	if path != "" {
		return path
	}
	return filepath.Join(dir, KeyringFile)
}

// encryptionType is the stream's EncryptionType. Callers hold mu.
func (st *stream) encryptionType() string {
	if st.meta.EncryptionType == encryptionKMS {
		return encryptionKMS
	}
	return encryptionNone
}

// recordEncryption is a record's EncryptionType as GetRecords shows it.
func recordEncryption(r slog.Record) string {
	if r.KeyID != "" {
		return encryptionKMS
	}
	return encryptionNone
}

// describeEncryption sets the encryption fields of a DescribeStream or
// DescribeStreamSummary answer. Callers hold mu.
func (st *stream) describeEncryption(desc map[string]any) map[string]any {
	desc["EncryptionType"] = st.encryptionType()
	if st.meta.EncryptionType == encryptionKMS {
		desc["KeyId"] = st.meta.KeyID
	}
	return desc
}

// encryptLog gives shard log l the stream's key, looked up with keys.
// Callers hold mu or own st.
func (st *stream) encryptLog(shard string, l *slog.Log, keys func(string) ([]byte, error)) error {
	id := st.meta.KeyRef
	if st.meta.EncryptionType != encryptionKMS || id == "" {
		return l.SetEncryption("", nil)
	}
	var m []byte
	err := fmt.Errorf("no keyring")
	if keys != nil {
		m, err = keys(id)
	}
	if err == nil {
		err = l.SetEncryption(id, m)
	}
	if err != nil {
		return fmt.Errorf("cannot encrypt shard %s of stream %s with key %s (%s): %w", shard, st.meta.Name, id, st.meta.KeyID, err)
	}
	return nil
}

// encryptionIn is the request of StartStreamEncryption and
// StopStreamEncryption.
type encryptionIn struct {
	streamRef
	EncryptionType *string
	KeyId          *string
}

// validate checks the request as Kinesis does: ValidationException for
// missing or malformed fields, InvalidArgumentException for an encryption
// type other than KMS.
func (in *encryptionIn) validate() error {
	if in.EncryptionType == nil {
		return nullErr("encryptionType")
	}
	if t := *in.EncryptionType; t != encryptionKMS && t != encryptionNone {
		return validationErr(t, "encryptionType", fmt.Sprintf(store.MsgEnum, "KMS, NONE"))
	}
	if in.KeyId == nil {
		return nullErr("keyId")
	}
	if n := len(*in.KeyId); n < 1 || n > 2048 {
		return validationErr(*in.KeyId, "keyId", fmt.Sprintf(store.MsgLengthBetween, 1, 2048))
	}
	if *in.EncryptionType != encryptionKMS {
		return apiErr(store.ErrInvalidArgument, store.MsgEncryptionType, *in.EncryptionType)
	}
	return nil
}

// lockedForEncryption decodes and validates a Start/StopStreamEncryption
// request and locks its stream for writing, which must be ACTIVE.
func (s *Server) lockedForEncryption(body []byte) (in encryptionIn, st *stream, unlock func(), err error) {
	if err := decode(body, &in); err != nil {
		return in, nil, nil, err
	}
	if err := in.validate(); err != nil {
		return in, nil, nil, err
	}
	st, unlock, err = s.locked(in.name(), true)
	if err != nil {
		return in, nil, nil, err
	}
	if status := st.state.get(); status != statusActive {
		unlock()
		return in, nil, nil, notActive(st.meta.Name, status)
	}
	return in, st, unlock, nil
}

func (s *Server) startStreamEncryption(body []byte) (any, error) {
	in, st, unlock, err := s.lockedForEncryption(body)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := s.opts.Now()
	changes := recent(st.meta.KeyChanges, now)
	if len(changes) >= MaxKeyChangesPerDay {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgEncryptionRate, st.meta.Name, store.AccountID, len(changes))
	}
	key, err := s.resolveKey(*in.KeyId)
	if err != nil {
		return nil, err
	}
	old := st.meta.KeyChanges
	st.meta.KeyChanges = append(changes, now.UnixMilli())
	if err := s.setEncryption(st, encryptionKMS, *in.KeyId, key.ID); err != nil {
		st.meta.KeyChanges = old
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Server) stopStreamEncryption(body []byte) (any, error) {
	in, st, unlock, err := s.lockedForEncryption(body)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if st.meta.EncryptionType != encryptionKMS {
		return struct{}{}, nil // nothing to stop
	}
	// The key named must be the stream's, in whichever form; a disabled
	// key may still be named to stop using it.
	key, err := s.resolveKey(*in.KeyId)
	if err != nil && !isAPIError(err, errKMSDisabled) {
		return nil, err
	}
	if err == nil && key.ID != st.meta.KeyRef || err != nil && *in.KeyId != st.meta.KeyID {
		return nil, apiErr(store.ErrInvalidArgument, store.MsgEncryptionKey, *in.KeyId, st.meta.Name)
	}
	return struct{}{}, s.setEncryption(st, "", "", "")
}

// setEncryption records the stream's encryption in stream.json, gives its
// logs the key (or none) and leaves the stream UPDATING for the state
// delay. Callers hold st.mu for writing.
func (s *Server) setEncryption(st *stream, typ, keyID, keyRef string) error {
	old := st.meta
	st.meta.EncryptionType, st.meta.KeyID, st.meta.KeyRef = typ, keyID, keyRef
	if err := st.save(); err != nil {
		st.meta.EncryptionType, st.meta.KeyID, st.meta.KeyRef = old.EncryptionType, old.KeyID, old.KeyRef
		return err
	}
	for id, l := range st.logs {
		if err := st.encryptLog(id, l, s.keys.Material); err != nil {
			return err
		}
	}
	if err := st.state.begin(st.meta.Name, statusUpdating); err == nil {
		st.state.end(s.stateDelay())
	}
	return nil
}

// keyUsable answers KMSDisabledException, as Kinesis does for puts, when
// the stream is encrypted with a key disabled in the keyring. Callers hold
// st.mu.
func (s *Server) keyUsable(st *stream) error {
	if id := st.meta.KeyRef; id != "" && s.keys.isDisabled(id) {
		return apiErr(errKMSDisabled, store.MsgKMSDisabled, s.kmsARN("key/"+id))
	}
	return nil
}

// recordsUsable answers KMSDisabledException, as Kinesis does for
// GetRecords, when records to return were encrypted with a key disabled in
// the keyring.
func (s *Server) recordsUsable(recs []slog.Record) error {
	last := ""
	for _, r := range recs {
		if r.KeyID == "" || r.KeyID == last {
			continue
		}
		if s.keys.isDisabled(r.KeyID) {
			return apiErr(errKMSDisabled, store.MsgKMSDisabled, s.kmsARN("key/"+r.KeyID))
		}
		last = r.KeyID
	}
	return nil
}

// isAPIError reports whether err is an API error of type code.
func isAPIError(err error, code string) bool {
	e, ok := err.(*store.Error)
	return ok && e.Code == code
}

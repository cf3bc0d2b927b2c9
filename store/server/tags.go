package server

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice/store"
)

// Tag limits, as Kinesis's API model: tags per resource, entries of a
// Tags map (AddTagsToStream, TagResource, CreateStream), keys of a TagKeys
// list (RemoveTagsFromStream, UntagResource), and key and value lengths in
// Unicode characters.
const (
	MaxTags          = 50
	maxTagMapEntries = 200
	maxTagKeys       = 50
	maxTagKeyChars   = 128
	maxTagValueChars = 256
)

// tagCharset says which characters an operation accepts in tags. The older
// stream operations (AddTagsToStream, RemoveTagsFromStream) accept '%' only
// to refuse it with a message of its own, and no ':'; the resource
// operations (TagResource, UntagResource, CreateStream's Tags) accept ':'
// and reserve keys starting with "aws:".
type tagCharset int

const (
	streamTagChars tagCharset = iota
	resourceTagChars
)

// javaMap formats tags as AWS's messages show a map: {k=v, k2=v2}, here
// in key order.
func javaMap(tags map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(tags)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + tags[k])
	}
	b.WriteByte('}')
	return b.String()
}

// checkTagMap adds the ValidationException messages of a request's Tags
// member: required (or not); when present, 1 to most entries, key and
// value lengths.
func checkTagMap(c *checker, tags map[string]string, required bool, most int) {
	if tags == nil {
		if required {
			c.null("tags")
		}
		return
	}
	shown := javaMap(tags)
	if len(tags) == 0 { // present, so at least one entry
		c.fail(shown, true, "tags", fmt.Sprintf(store.MsgMinLength, 1))
	}
	if len(tags) > most {
		c.fail(shown, true, "tags", fmt.Sprintf(store.MsgMaxLength, most))
	}
	for k := range tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyChars {
			c.fail(shown, true, "tags", fmt.Sprintf(store.MsgMapKeys, lengthBounds(1, maxTagKeyChars)))
			break
		}
	}
	for _, val := range tags {
		if utf8.RuneCountInString(val) > maxTagValueChars {
			c.fail(shown, true, "tags", fmt.Sprintf(store.MsgMapValues, lengthBounds(0, maxTagValueChars)))
			break
		}
	}
}

// checkTagKeys adds the ValidationException messages of a request's
// TagKeys member: required, 1 to most keys of 1 to 128 characters.
func checkTagKeys(c *checker, keys []string, most int) {
	if keys == nil {
		c.null("tagKeys")
		return
	}
	shown := "[" + strings.Join(keys, ", ") + "]"
	if len(keys) == 0 {
		c.fail(shown, true, "tagKeys", fmt.Sprintf(store.MsgMinLength, 1))
	}
	if len(keys) > most {
		c.fail(shown, true, "tagKeys", fmt.Sprintf(store.MsgMaxLength, most))
	}
	for _, k := range keys {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyChars {
			c.fail(shown, true, "tagKeys", fmt.Sprintf(store.MsgEach, lengthBounds(1, maxTagKeyChars)))
			break
		}
	}
}

// tagRuneOK reports whether r may occur in a tag key or value: Unicode
// letters, digits, white space (separators, not tabs or line breaks) and
// _ . / = + - @, with '%' for the stream operations and ':' for the
// resource operations.
func tagRuneOK(r rune, cs tagCharset) bool {
	if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Z, r) {
		return true
	}
	switch r {
	case '_', '.', '/', '=', '+', '-', '@':
		return true
	case '%':
		return cs == streamTagChars
	case ':':
		return cs == resourceTagChars
	}
	return false
}

// checkTagChars checks the characters of tag keys and values with
// InvalidArgumentException, as AWS does once the resource is found. what
// completes "Failed to … stream" ("add tags to", "remove tags from").
func checkTagChars(strs []string, cs tagCharset, what, stream string) error {
	for _, s := range strs {
		for _, r := range s {
			if !tagRuneOK(r, cs) {
				if cs == streamTagChars {
					return apiErr(store.ErrInvalidArgument, store.MsgTagCharsStream)
				}
				return apiErr(store.ErrInvalidArgument, store.MsgTagCharsResource)
			}
		}
	}
	if cs == streamTagChars {
		for _, s := range strs {
			if strings.ContainsRune(s, '%') {
				return apiErr(store.ErrInvalidArgument, store.MsgTagIllegalChars, what, stream, store.AccountID)
			}
		}
	}
	return nil
}

// checkReservedKeys refuses keys with the "aws:" prefix AWS reserves.
func checkReservedKeys(keys []string) error {
	for _, k := range keys {
		if len(k) >= 4 && strings.EqualFold(k[:4], "aws:") {
			return apiErr(store.ErrInvalidArgument, store.MsgTagReserved, k)
		}
	}
	return nil
}

// tagStrings lists the keys and values of tags.
func tagStrings(tags map[string]string) []string {
	out := make([]string, 0, 2*len(tags))
	for k, v := range tags {
		out = append(out, k, v)
	}
	return out
}

// checkNewTags checks tags for a resource that has none yet (CreateStream,
// RegisterStreamConsumer): the resource operations' characters, the
// reserved prefix and at most MaxTags.
func checkNewTags(tags map[string]string, kind, name string) error {
	if err := checkTagChars(tagStrings(tags), resourceTagChars, "add tags to", name); err != nil {
		return err
	}
	if err := checkReservedKeys(slices.Collect(maps.Keys(tags))); err != nil {
		return err
	}
	if len(tags) > MaxTags {
		return tooManyTags(kind, name)
	}
	return nil
}

func tooManyTags(kind, name string) error {
	return apiErr(store.ErrInvalidArgument, store.MsgTooManyTags, kind, name, store.AccountID, kind, MaxTags)
}

// mergeTags returns tags with add applied, or InvalidArgumentException when
// the result would carry more than MaxTags.
func mergeTags(tags, add map[string]string, kind, name string) (map[string]string, error) {
	merged := maps.Clone(tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, add)
	if len(merged) > MaxTags {
		return nil, tooManyTags(kind, name)
	}
	return merged, nil
}

// withoutTags returns tags without keys.
func withoutTags(tags map[string]string, keys []string) map[string]string {
	kept := maps.Clone(tags)
	for _, k := range keys {
		delete(kept, k)
	}
	if len(kept) == 0 {
		return nil
	}
	return kept
}

// setTags replaces a stream's tags and saves stream.json, restoring
// the old tags when the save fails. Callers hold st.mu for writing.
func (st *stream) setTags(tags map[string]string) error {
	old := st.meta.Tags
	st.meta.Tags = tags
	if err := st.save(); err != nil {
		st.meta.Tags = old
		return err
	}
	return nil
}

func (s *Server) addTags(body []byte) (any, error) {
	var in struct {
		streamRef
		Tags map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	checkTagMap(&c, in.Tags, true, maxTagMapEntries)
	if err := c.err(); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return struct{}{}, addTagsTo(taggable{st: st, consumer: -1}, in.Tags, streamTagChars)
}

// addTagsTo adds tags to r, in the characters of cs (the resource
// operations' also refuse the keys AWS reserves). Callers hold r.st.mu
// for writing.
func addTagsTo(r taggable, tags map[string]string, cs tagCharset) error {
	if err := checkTagChars(tagStrings(tags), cs, "add tags to", r.name()); err != nil {
		return err
	}
	if cs == resourceTagChars {
		if err := checkReservedKeys(slices.Collect(maps.Keys(tags))); err != nil {
			return err
		}
	}
	merged, err := mergeTags(r.tags(), tags, r.kind(), r.name())
	if err != nil {
		return err
	}
	return r.setTags(merged)
}

// removeTagsFrom removes the tags of keys from r, in the characters of
// cs. Callers hold r.st.mu for writing.
func removeTagsFrom(r taggable, keys []string, cs tagCharset) error {
	if err := checkTagChars(keys, cs, "remove tags from", r.name()); err != nil {
		return err
	}
	return r.setTags(withoutTags(r.tags(), keys))
}

func (s *Server) removeTags(body []byte) (any, error) {
	var in struct {
		streamRef
		TagKeys []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	checkTagKeys(&c, in.TagKeys, maxTagKeys)
	if err := c.err(); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return struct{}{}, removeTagsFrom(taggable{st: st, consumer: -1}, in.TagKeys, streamTagChars)
}

type tag struct{ Key, Value string }

// sortedTags lists tags in key order, those after after only.
func sortedTags(tags map[string]string, after string) []tag {
	out := make([]tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if k > after {
			out = append(out, tag{k, tags[k]})
		}
	}
	return out
}

func (s *Server) listTags(body []byte) (any, error) {
	var in struct {
		streamRef
		ExclusiveStartTagKey *string
		Limit                int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := pageSize(&in.Limit, "limit", MaxTags, MaxTags); err != nil {
		return nil, err
	}
	after := ""
	if in.ExclusiveStartTagKey != nil {
		after = *in.ExclusiveStartTagKey
		if n := utf8.RuneCountInString(after); n < 1 || n > maxTagKeyChars {
			if n < 1 {
				return nil, validationErr(after, "exclusiveStartTagKey", fmt.Sprintf(store.MsgMinLength, 1))
			}
			return nil, validationErr(after, "exclusiveStartTagKey", fmt.Sprintf(store.MsgMaxLength, maxTagKeyChars))
		}
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return nil, err
	}
	tags := sortedTags(st.meta.Tags, after)
	unlock()
	more := len(tags) > in.Limit
	if more {
		tags = tags[:in.Limit]
	}
	return map[string]any{"Tags": tags, "HasMoreTags": more}, nil
}

// resourceARNPattern is the pattern AWS documents for ResourceARN.
const resourceARNPattern = `arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+`

// resourceOf resolves a ResourceARN to the stream it names (a stream ARN)
// or that holds it (a consumer ARN: …:stream/<name>/consumer/<consumer>:<created>).
// A malformed ARN is a ValidationException, as AWS.
func resourceOf(arn string) (streamName, consumer string, err error) {
	if arn == "" {
		return "", "", nullErr("resourceARN")
	}
	bad := validationErr(arn, "resourceARN", fmt.Sprintf(store.MsgPattern, resourceARNPattern))
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "kinesis" ||
		len(parts[4]) != 12 || !digitsOnly(parts[4]) || utf8.RuneCountInString(arn) > 2048 {
		return "", "", bad
	}
	rest, ok := strings.CutPrefix(parts[5], "stream/")
	if !ok || rest == "" || strings.ContainsFunc(rest, unicode.IsSpace) {
		return "", "", bad
	}
	streamName, consumer, _ = strings.Cut(rest, "/consumer/")
	return streamName, consumer, nil
}

func digitsOnly(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// taggable is the stream or consumer a ResourceARN names.
type taggable struct {
	st       *stream
	consumer int // index in st.meta.Consumers; -1: the stream itself
}

func (r taggable) kind() string {
	if r.consumer < 0 {
		return "stream"
	}
	return "consumer"
}

func (r taggable) name() string {
	if r.consumer < 0 {
		return r.st.meta.Name
	}
	return r.st.meta.Consumers[r.consumer].Name
}

func (r taggable) tags() map[string]string {
	if r.consumer < 0 {
		return r.st.meta.Tags
	}
	return r.st.meta.Consumers[r.consumer].Tags
}

// setTags replaces the resource's tags and saves stream.json. Callers hold
// st.mu for writing.
func (r taggable) setTags(tags map[string]string) error {
	if r.consumer < 0 {
		return r.st.setTags(tags)
	}
	c := &r.st.meta.Consumers[r.consumer]
	old := c.Tags
	c.Tags = tags
	if err := r.st.save(); err != nil {
		c.Tags = old
		return err
	}
	return nil
}

// tagResource, untagResource and listTagsForResource serve the resource
// tag operations for streams and their consumers.
func (s *Server) tagResource(body []byte) (any, error) {
	var in struct {
		ResourceARN string
		Tags        map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	checkTagMap(&c, in.Tags, true, maxTagMapEntries)
	if err := c.err(); err != nil {
		return nil, err
	}
	r, unlock, err := s.lockedResource(in.ResourceARN, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return struct{}{}, addTagsTo(r, in.Tags, resourceTagChars)
}

func (s *Server) untagResource(body []byte) (any, error) {
	var in struct {
		ResourceARN string
		TagKeys     []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	checkTagKeys(&c, in.TagKeys, maxTagKeys)
	if err := c.err(); err != nil {
		return nil, err
	}
	r, unlock, err := s.lockedResource(in.ResourceARN, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return struct{}{}, removeTagsFrom(r, in.TagKeys, resourceTagChars)
}

func (s *Server) listTagsForResource(body []byte) (any, error) {
	var in struct{ ResourceARN string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	r, unlock, err := s.lockedResource(in.ResourceARN, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return map[string]any{"Tags": sortedTags(r.tags(), "")}, nil
}

// lockedResource is locked for the stream a ResourceARN names or holds:
// the stream, or one of its consumers (…/consumer/<name>:<created>), which
// must be registered.
func (s *Server) lockedResource(arn string, write bool) (taggable, func(), error) {
	name, consumer, err := resourceOf(arn)
	if err != nil {
		return taggable{}, nil, err
	}
	if consumer == "" {
		st, unlock, err := s.locked(name, write)
		return taggable{st: st, consumer: -1}, unlock, err
	}
	ref, err := parseConsumerARN(arn)
	if err != nil {
		return taggable{}, nil, err
	}
	st, unlock, err := s.locked(ref.stream, write)
	if err != nil {
		return taggable{}, nil, err
	}
	for i, c := range st.meta.Consumers {
		if c.Name == ref.name && c.Created/1000 == ref.created {
			return taggable{st: st, consumer: i}, unlock, nil
		}
	}
	unlock()
	return taggable{}, nil, consumerNotFound(ref.name, st.meta.Name)
}

// Package format decodes and encodes rows as text: JSON lines and CSV.
//
// Decoders are schema-driven: they scan the bytes of one record once, for
// the declared columns, straight into the column vectors of a
// runtime.Batch — no map[string]any, no encoding/json, no allocation per row
// in steady state except the strings of VARCHAR columns. A decoder is not
// safe for concurrent use; make one per goroutine (it is cheap).
//
// Type rules, shared by both formats (a record that breaks one is an error
// naming the column and the byte offset within the record, and leaves the
// batch unchanged):
//
//   - BOOLEAN: true or false (CSV: any case).
//   - INT, BIGINT: a decimal integer in range (INT: 32 bits). A number with
//     a fraction or exponent is accepted only when its value is a whole
//     number (1.0, 1e3); 1.5 is an error, never truncated.
//   - DOUBLE: any number. CSV also takes NaN, Inf and Infinity; JSON has no
//     such numbers.
//   - DECIMAL(p, s): a number read exactly from its digits (no float on
//     the way): extra fraction digits are rounded half away from zero, an
//     exponent is allowed, and a value with more than p-s integer digits is
//     an error. Encoders write plain decimal text with exactly s fraction
//     digits (384087.632), a number in JSON.
//   - TIMESTAMP(3): RFC 3339 ("2026-11-25T10:00:00Z", with or without a
//     fraction of the second and a zone; without a zone it is UTC), Flink's
//     form "2026-11-25 10:00:00.000" (UTC), a date "2026-11-25" (midnight
//     UTC), or epoch milliseconds (a JSON number, or a string of digits).
//     Digits beyond the millisecond are truncated.
//   - VARCHAR: the text. In JSON, all escapes are decoded (\uXXXX with
//     surrogate pairs), and invalid UTF-8 becomes U+FFFD as encoding/json
//     does; CSV text is taken byte for byte.
//
// JSON specifics (one object per line):
//
//   - Keys match column names case-sensitively first; a key that matches no
//     column exactly then matches one ignoring case (Flink SQL names are
//     case-insensitive; producers' keys often are not). When a key appears
//     more than once the last exact match wins, and an exact match always
//     beats a case-insensitive one.
//   - A missing key or null is NULL; for a NOT NULL column that is an error.
//   - A ROW column, flattened into columns named row.field (any name with a
//     dot is taken as such), is a nested object {"row":{"field":…}}, at any
//     depth; a flat "row.field" key also fills the column. Encoders write
//     the fields of a ROW as one nested object, where its first field stands.
//   - Unknown keys are skipped, whatever their value (nested objects and
//     arrays included, up to MaxDepth levels).
//   - Leniency as Flink's JSON format: a number or boolean given as a string
//     ("42", "true") is taken for a numeric or BOOLEAN column, and a VARCHAR
//     column given a number, boolean, object or array takes its JSON text.
//   - Speed only, never results: the decoder remembers the shape of a recent
//     line (its keys, their order and the text between the values) and
//     tries it first on the next line, parsing each value by its column's
//     type; a line that differs anywhere takes the general path.
//
// CSV specifics (RFC 4180):
//
//   - Fields are separated by a configurable one-byte delimiter; a field
//     that starts with a double quote is quoted, may hold delimiters, line
//     breaks and doubled quotes, and must be followed by a delimiter or the
//     end of the record. A quote inside an unquoted field is taken as text.
//   - An empty unquoted field is NULL; "" is the empty string for VARCHAR
//     (NULL for other types). Spaces around non-VARCHAR values are ignored.
//   - A record has exactly one field per column. A record that ends inside a
//     quoted field fails with ErrIncomplete, so a line reader can join the
//     next line and try again.
//
// Encoders write what the decoders read back to the same values: TIMESTAMP
// as RFC 3339 UTC with milliseconds (2026-11-25T10:00:00.000Z; outside the
// years 0000–9999 as epoch milliseconds), DOUBLE as runtime.FormatFloat
// prints it (JSON: NaN and infinities as null), strings escaped as the
// format requires.
package format

package format

import "github.com/sluicehq/sluice/runtime"

// Decoder decodes one record (a line, a message body, a Kafka value) into
// a row appended to a batch. JSONDecoder, CSVDecoder and RawDecoder are
// Decoders.
type Decoder interface {
	Decode(rec []byte, b *runtime.Batch) error
}

// RawDecoder puts the whole record in the batch's one VARCHAR column.
type RawDecoder struct{}

// Decode implements Decoder.
func (RawDecoder) Decode(rec []byte, b *runtime.Batch) error {
	b.Cols[0].AppendString(string(rec))
	b.N++
	return nil
}

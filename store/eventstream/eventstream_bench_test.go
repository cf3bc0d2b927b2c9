package eventstream

import (
	"bytes"
	"testing"
)

// benchEvent is a SubscribeToShardEvent-sized message: three string
// headers and a 64 KiB payload.
var benchEvent = Message{
	Headers: []Header{
		{":event-type", StringValue("SubscribeToShardEvent")},
		{":content-type", StringValue("application/x-amz-json-1.1")},
		{":message-type", StringValue("event")},
	},
	Payload: bytes.Repeat([]byte("x"), 64<<10),
}

func BenchmarkAppendMessage(b *testing.B) {
	buf := make([]byte, 0, 128<<10)
	b.SetBytes(int64(len(benchEvent.Payload)))
	for b.Loop() {
		var err error
		if buf, err = AppendMessage(buf[:0], &benchEvent); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	one, _ := AppendMessage(nil, &benchEvent)
	r := bytes.NewReader(one)
	b.SetBytes(int64(len(benchEvent.Payload)))
	for b.Loop() {
		r.Reset(one)
		if _, err := NewDecoder(r).Decode(); err != nil {
			b.Fatal(err)
		}
	}
}

package delivery

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

func unzstd(t *testing.T, data []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(nil)
	must(t, err)
	defer d.Close()
	out, err := d.DecodeAll(data, nil)
	must(t, err)
	return out
}

func unsnappy(t *testing.T, data []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(snappy.NewReader(bytes.NewReader(data)))
	must(t, err)
	return out
}

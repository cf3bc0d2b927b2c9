package delivery

import (
	"bytes"
	"fmt"
	"math"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
)

// encoder turns rows into records (JSON or CSV text, which is also what the
// size hint counts and what the error output keeps) and buffers into object
// bodies. One encoder belongs to one sink subtask; its scratch buffers are
// reused from object to object.
type encoder struct {
	cfg *config
	csv *format.CSVEncoder

	// Parquet: the schema, the leaf column of each table column, and
	// whether it is optional.
	pq       *parquet.Schema
	leaf     []int
	optional []bool
	codec    compress.Codec

	rows []parquet.Row // views of a buffer's values, one per row
	out  bytes.Buffer
	gz   *gzip.Writer
	zstd *zstd.Encoder
}

func newEncoder(c *config) (*encoder, error) {
	e := &encoder{cfg: c}
	if c.format == "csv" {
		enc, err := format.NewCSVEncoder(format.CSVOptions{Delimiter: c.csvDelim})
		if err != nil {
			return nil, connectors.OptionErrorf(c.table, "csv.field-delimiter", "%v", err)
		}
		e.csv = enc
	}
	if c.format == "parquet" {
		e.pq, e.leaf, e.optional = parquetSchema(c.table, c.schema)
		switch c.compression {
		case "none":
			e.codec = &parquet.Uncompressed
		case "gzip":
			e.codec = &parquet.Gzip
		case "zstd":
			e.codec = &parquet.Zstd
		default:
			e.codec = &parquet.Snappy
		}
	}
	return e, nil
}

// parquetSchema maps the table's columns to a Parquet schema. A Group orders
// its fields by name, so each column's leaf index is looked up.
func parquetSchema(name string, s *runtime.Schema) (*parquet.Schema, []int, []bool) {
	g := parquet.Group{}
	for _, f := range s.Fields {
		var n parquet.Node
		switch f.Type {
		case runtime.BigInt:
			n = parquet.Int(64)
		case runtime.Int:
			n = parquet.Int(32)
		case runtime.Double:
			n = parquet.Leaf(parquet.DoubleType)
		case runtime.Boolean:
			n = parquet.Leaf(parquet.BooleanType)
		case runtime.Timestamp:
			n = parquet.Timestamp(parquet.Millisecond)
		default:
			if f.Type.IsDecimal() { // the unscaled value, as Parquet's DECIMAL over INT64
				n = parquet.Decimal(f.Type.Scale(), f.Type.Precision(), parquet.Int64Type)
				break
			}
			n = parquet.String()
		}
		if f.Nullable {
			n = parquet.Optional(n)
		} else {
			n = parquet.Required(n)
		}
		g[f.Name] = n
	}
	schema := parquet.NewSchema(name, g)
	leaf := make([]int, len(s.Fields))
	opt := make([]bool, len(s.Fields))
	for i, f := range s.Fields {
		lc, _ := schema.Lookup(f.Name)
		leaf[i] = lc.ColumnIndex
		opt[i] = f.Nullable
	}
	return schema, leaf, opt
}

// appendRecord appends present row i of b as a record (no line break).
func (e *encoder) appendRecord(dst []byte, b *runtime.Batch, i int) []byte {
	if e.csv != nil {
		return e.csv.Append(dst, b, i)
	}
	return format.AppendJSON(dst, b, i)
}

// parquetRow converts physical row r of b into row (reused), or says why it
// cannot.
func (e *encoder) parquetRow(row parquet.Row, b *runtime.Batch, r int) (parquet.Row, error) {
	n := len(e.leaf)
	if cap(row) < n {
		row = make(parquet.Row, n)
	}
	row = row[:n]
	for c := range b.Cols {
		v := &b.Cols[c]
		f := b.Schema.Fields[c]
		def := 0
		if e.optional[c] {
			def = 1
		}
		if v.IsNull(r) {
			if !e.optional[c] {
				return row, fmt.Errorf("column %s is NOT NULL but the row holds NULL", f.Name)
			}
			row[e.leaf[c]] = parquet.NullValue().Level(0, 0, e.leaf[c])
			continue
		}
		var pv parquet.Value
		switch f.Type {
		case runtime.Int:
			x := v.I64[r]
			if x < math.MinInt32 || x > math.MaxInt32 {
				return row, fmt.Errorf("column %s: %d does not fit Parquet INT32", f.Name, x)
			}
			pv = parquet.Int32Value(int32(x))
		case runtime.BigInt, runtime.Timestamp:
			pv = parquet.Int64Value(v.I64[r])
		case runtime.Double:
			pv = parquet.DoubleValue(v.F64[r])
		case runtime.Boolean:
			pv = parquet.BooleanValue(v.I64[r] != 0)
		default:
			if f.Type.IsDecimal() {
				pv = parquet.Int64Value(v.I64[r])
				break
			}
			pv = parquet.ByteArrayValue([]byte(v.Str[r]))
		}
		row[e.leaf[c]] = pv.Level(0, def, e.leaf[c])
	}
	return row, nil
}

// extension is the file extension of objects.
func (e *encoder) extension() string {
	switch e.cfg.format {
	case "parquet":
		return ".parquet"
	case "csv":
		return ".csv" + compressionExt(e.cfg.compression)
	}
	return ".json" + compressionExt(e.cfg.compression)
}

func compressionExt(c string) string {
	switch c {
	case "gzip":
		return ".gz"
	case "zstd":
		return ".zst"
	case "snappy":
		return ".snappy"
	}
	return ""
}

// body returns the object body of buf: its records, one per line,
// compressed, or its rows as a Parquet file. The result is owned by the
// encoder and valid until the next call.
func (e *encoder) body(buf *buffer) ([]byte, error) {
	e.out.Reset()
	if e.cfg.format == "parquet" {
		w := parquet.NewWriter(&e.out, e.pq, parquet.Compression(e.codec))
		n := len(e.leaf)
		e.rows = e.rows[:0]
		for i := 0; i+n <= len(buf.vals); i += n {
			e.rows = append(e.rows, parquet.Row(buf.vals[i:i+n:i+n]))
		}
		if _, err := w.WriteRows(e.rows); err != nil {
			return nil, fmt.Errorf("cannot write Parquet: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("cannot write Parquet: %w", err)
		}
		return e.out.Bytes(), nil
	}
	return e.compress(buf.data, e.cfg.compression)
}

// compress compresses data with codec into the encoder's output buffer.
func (e *encoder) compress(data []byte, codec string) ([]byte, error) {
	e.out.Reset()
	switch codec {
	case "gzip":
		if e.gz == nil {
			e.gz = gzip.NewWriter(&e.out)
		} else {
			e.gz.Reset(&e.out)
		}
		if _, err := e.gz.Write(data); err != nil {
			return nil, err
		}
		if err := e.gz.Close(); err != nil {
			return nil, err
		}
		return e.out.Bytes(), nil
	case "zstd":
		if e.zstd == nil {
			z, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			e.zstd = z
		}
		return e.zstd.EncodeAll(data, e.out.Bytes()[:0]), nil
	case "snappy":
		w := snappy.NewBufferedWriter(&e.out)
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return e.out.Bytes(), nil
	}
	return data, nil
}

func (e *encoder) close() {
	if e.zstd != nil {
		e.zstd.Close()
	}
}

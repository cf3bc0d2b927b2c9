// A Kinesis client that speaks CBOR through Jackson's CBOR generator and
// parser, the library under the AWS SDK for Java: requests written as the
// SDK's CBOR generator writes them (maps of indefinite length, Data with
// writeBinary, timestamps as tag 1 over epoch milliseconds), answers read as
// the SDK reads them (blobs with getBinaryValue, timestamps by parsing the
// number's text as a long). TestCBORJacksonClient runs it against a store and
// checks the lines it prints.
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class JacksonKinesisClient {
    static final CBORFactory CBOR = new CBORFactory();
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static String url;

    /** A timestamp, written as the SDK writes one. */
    record Millis(long value) {}

    public static void main(String[] args) throws Exception {
        url = args[0];
        call("CreateStream", Map.of("StreamName", "jackson", "ShardCount", 1));
        byte[] every = new byte[256];
        for (int i = 0; i < every.length; i++) every[i] = (byte) i;
        Map<String, Object> put = call("PutRecord", Map.of("StreamName", "jackson", "PartitionKey", "k", "Data", every));
        System.out.println("put " + put.get("ShardId"));
        Thread.sleep(20);
        long mid = System.currentTimeMillis();
        Thread.sleep(20);
        call("PutRecords", Map.of("StreamName", "jackson", "Records",
                List.of(Map.of("PartitionKey", "p", "Data", new byte[] {(byte) 0xff, (byte) 0xfe, 0}))));
        String it = (String) call("GetShardIterator", Map.of("StreamName", "jackson", "ShardId", "shardId-000000000000",
                "ShardIteratorType", "TRIM_HORIZON")).get("ShardIterator");
        for (Object o : (List<?>) call("GetRecords", Map.of("ShardIterator", it)).get("Records")) {
            Map<?, ?> r = (Map<?, ?>) o;
            System.out.println("record " + hex((byte[]) r.get("Data")) + " " + millis(r.get("ApproximateArrivalTimestamp")));
        }
        it = (String) call("GetShardIterator", Map.of("StreamName", "jackson", "ShardId", "shardId-000000000000",
                "ShardIteratorType", "AT_TIMESTAMP", "Timestamp", new Millis(mid))).get("ShardIterator");
        System.out.println("at_timestamp " + ((List<?>) call("GetRecords", Map.of("ShardIterator", it)).get("Records")).size());
        Map<?, ?> sum = (Map<?, ?>) call("DescribeStreamSummary", Map.of("StreamName", "jackson")).get("StreamDescriptionSummary");
        System.out.println("created " + millis(sum.get("StreamCreationTimestamp")));
        call("DescribeStream", Map.of("StreamName", "missing"));
    }

    /** The SDK reads a timestamp as Long.parseLong of the number's text. */
    static long millis(Object v) {
        return Long.parseLong((String) v);
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x));
        return sb.toString();
    }

    static Map<String, Object> call(String op, Map<String, Object> in) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CBORGenerator g = CBOR.createGenerator(out)) {
            write(g, in);
        }
        HttpRequest req = HttpRequest.newBuilder(URI.create(url + "/"))
                .header("Content-Type", "application/x-amz-cbor-1.1")
                .header("X-Amz-Target", "Kinesis_20131202." + op)
                .POST(HttpRequest.BodyPublishers.ofByteArray(out.toByteArray()))
                .build();
        HttpResponse<byte[]> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofByteArray());
        JsonParser p = CBOR.createParser(resp.body());
        p.nextToken();
        @SuppressWarnings("unchecked")
        Map<String, Object> body = (Map<String, Object>) read(p);
        if (resp.statusCode() != 200) {
            System.out.println("error " + op + " " + resp.statusCode() + " " + resp.headers().firstValue("Content-Type").orElse("")
                    + " " + resp.headers().firstValue("X-Amzn-ErrorType").orElse("") + " " + body.get("__type") + " " + body.get("message"));
        }
        return body;
    }

    static void write(CBORGenerator g, Object v) throws Exception {
        if (v instanceof Map<?, ?> m) {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                g.writeFieldName((String) e.getKey());
                write(g, e.getValue());
            }
            g.writeEndObject();
        } else if (v instanceof List<?> l) {
            g.writeStartArray();
            for (Object e : l) write(g, e);
            g.writeEndArray();
        } else if (v instanceof byte[] b) {
            g.writeBinary(b);
        } else if (v instanceof Millis t) {
            g.writeTag(1);
            g.writeNumber(t.value());
        } else if (v instanceof Integer i) {
            g.writeNumber(i);
        } else {
            g.writeString((String) v);
        }
    }

    /** Reads the value at the parser's token: integers as their text. */
    static Object read(JsonParser p) throws Exception {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> m = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String k = p.currentName();
                    p.nextToken();
                    m.put(k, read(p));
                }
                return m;
            }
            case START_ARRAY: {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) l.add(read(p));
                return l;
            }
            case VALUE_EMBEDDED_OBJECT:
                return p.getBinaryValue();
            case VALUE_NUMBER_INT:
                return p.getText();
            case VALUE_NUMBER_FLOAT:
                return p.getDoubleValue();
            case VALUE_STRING:
                return p.getText();
            case VALUE_TRUE:
                return true;
            case VALUE_FALSE:
                return false;
            default:
                return null;
        }
    }
}

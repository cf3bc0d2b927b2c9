// Runs the AWS SDK for JavaScript v3's Kinesis client, with its default
// request handler (HTTP/2, h2c on http:// endpoints), against the store at
// SLUICE_ENDPOINT, and prints one line per step: "ok <step> <detail>".
// Any failure prints "fail <step>: <error>" and exits 1.
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand,
  PutRecordsCommand, ListShardsCommand, GetShardIteratorCommand, GetRecordsCommand,
  SplitShardCommand, DescribeStreamCommand, DeleteStreamCommand,
} from "@aws-sdk/client-kinesis";

const client = new KinesisClient({
  endpoint: process.env.SLUICE_ENDPOINT,
  region: "us-east-1",
  credentials: { accessKeyId: process.env.SLUICE_KEY, secretAccessKey: process.env.SLUICE_SECRET },
  maxAttempts: 1,
});
const StreamName = "js-h2c";
let step = "start";

function ok(detail) { console.log(`ok ${step} ${detail}`); }

// data(i) is record i's bytes: every byte value, rotated by i.
function data(i) {
  const b = new Uint8Array(256);
  for (let j = 0; j < 256; j++) b[j] = (i + j) & 0xff;
  return b;
}

async function main() {
  step = "handler";
  ok(client.config.requestHandler.constructor.name);

  step = "create";
  await client.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
  for (;;) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName }));
    if (d.StreamDescriptionSummary.StreamStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  ok("ACTIVE");

  step = "put";
  const first = await client.send(new PutRecordCommand({ StreamName, PartitionKey: "k0", Data: data(0) }));
  const batch = await client.send(new PutRecordsCommand({
    StreamName,
    Records: [1, 2, 3, 4].map((i) => ({ PartitionKey: `k${i}`, Data: data(i) })),
  }));
  ok(`${first.ShardId} failed=${batch.FailedRecordCount}`);

  step = "listshards";
  const shards = (await client.send(new ListShardsCommand({ StreamName }))).Shards;
  ok(shards.map((s) => s.ShardId).join(","));

  step = "iterator";
  const it = await client.send(new GetShardIteratorCommand({
    StreamName, ShardId: shards[0].ShardId, ShardIteratorType: "TRIM_HORIZON",
  }));
  ok(it.ShardIterator ? "got" : "none");

  step = "getrecords";
  const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  let exact = 0;
  got.Records.forEach((r, i) => {
    const want = data(i);
    if (r.Data.length === want.length && r.Data.every((v, j) => v === want[j])) exact++;
  });
  ok(`records=${got.Records.length} exact=${exact}`);

  step = "split";
  await client.send(new SplitShardCommand({
    StreamName, ShardToSplit: shards[0].ShardId,
    NewStartingHashKey: "170141183460469231731687303715884105728",
  }));
  for (;;) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName }));
    if (d.StreamDescriptionSummary.StreamStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  ok("done");

  step = "describe";
  const desc = await client.send(new DescribeStreamCommand({ StreamName }));
  ok(`shards=${desc.StreamDescription.Shards.length}`);

  step = "delete";
  await client.send(new DeleteStreamCommand({ StreamName }));
  ok("done");
}

main().then(() => { client.destroy(); }, (err) => {
  console.log(`fail ${step}: ${err.name}: ${err.message}`);
  client.destroy();
  process.exit(1);
});

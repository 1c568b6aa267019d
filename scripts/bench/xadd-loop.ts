// One Node process adding reply-shaped entries with ioredis as fast as it can: pipelines of
// PIPELINE XADDs, DEPTH of them in flight. Prints one JSON line: {"entries", "seconds", "rate"}.
// Run by the baseline step: node scripts/bench/xadd-loop.ts <redis-url> <seconds> [pipeline] [depth]
import { Redis } from 'ioredis';
import { sampleReplyFields } from './fixtures.ts';

const [url, secondsText, pipelineText, depthText] = process.argv.slice(2);
const seconds = Number(secondsText ?? 5);
const pipelineSize = Number(pipelineText ?? 200);
const depth = Number(depthText ?? 2);
const client = new Redis(url ?? 'redis://127.0.0.1:6379');
const fields = sampleReplyFields();
const stream = 'bench:ioredis_xadd';

let entries = 0;
const started = performance.now();
const until = started + seconds * 1000;
async function lane(): Promise<void> {
  while (performance.now() < until) {
    const pipeline = client.pipeline();
    for (let i = 0; i < pipelineSize; i += 1) pipeline.xadd(stream, '*', ...fields);
    await pipeline.exec();
    entries += pipelineSize;
  }
}
await Promise.all(Array.from({ length: depth }, () => lane()));
const elapsed = (performance.now() - started) / 1000;
await client.del(stream);
client.disconnect();
process.stdout.write(`${JSON.stringify({ entries, seconds: elapsed, rate: entries / elapsed })}\n`);

#!/usr/bin/env node
// Records real clients' Kafka frames for the protocol fixture tests.
//
//   node scripts/capture-frames.mjs LABEL LISTEN_PORT BROKER_HOST:PORT [OUT_DIR]
//
// A TCP proxy: every client connection is forwarded to the broker, and each request frame is saved
// together with the response frame that answers it (matched by correlation id) as
//   OUT_DIR/LABEL/NNN-<apiKey>-v<version>.req  and  .res
// Start the broker with advertised.listeners pointing at LISTEN_PORT so clients keep talking
// through the proxy after bootstrap. At most PER_API (default 3) exchanges per (api, version) are kept.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

const [label, listenPort, target, outDir = 'test/fixtures/frames'] = process.argv.slice(2);
if (!label || !listenPort || !target) {
  console.error('usage: capture-frames.mjs LABEL LISTEN_PORT BROKER_HOST:PORT [OUT_DIR]');
  process.exit(2);
}
const perApi = Number(process.env.PER_API ?? 3);
const dir = join(outDir, label);
mkdirSync(dir, { recursive: true });
const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
const seen = new Map();
let counter = 0;

/** Calls onFrame for each complete size-prefixed frame (the frame includes its size prefix). */
function framer(onFrame) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const size = buf.readInt32BE(0);
      if (buf.length < 4 + size) break;
      onFrame(buf.subarray(0, 4 + size));
      buf = buf.subarray(4 + size);
    }
  };
}

createServer((client) => {
  const upstream = connect({ host, port });
  const pending = new Map(); // correlation id -> file stem
  client.on(
    'data',
    framer((frame) => {
      const apiKey = frame.readInt16BE(4);
      const version = frame.readInt16BE(6);
      const correlationId = frame.readInt32BE(8);
      const key = `${apiKey}-v${version}`;
      const n = seen.get(key) ?? 0;
      if (n < perApi) {
        seen.set(key, n + 1);
        const stem = join(dir, `${String(++counter).padStart(3, '0')}-${key}`);
        writeFileSync(`${stem}.req`, frame);
        pending.set(correlationId, stem);
      }
    }),
  );
  upstream.on(
    'data',
    framer((frame) => {
      const correlationId = frame.readInt32BE(4);
      const stem = pending.get(correlationId);
      if (stem) {
        writeFileSync(`${stem}.res`, frame);
        pending.delete(correlationId);
      }
    }),
  );
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}).listen(Number(listenPort), '127.0.0.1', () =>
  console.log(`capturing ${label} on 127.0.0.1:${listenPort} -> ${target}`),
);

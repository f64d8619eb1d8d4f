import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Connection } from '../../src/client/connection.js';
import { ConnectionError, RequestTimeoutError } from '../../src/client/errors.js';
import { ZERO_UUID } from '../../src/protocol/messages/support.js';
import { FakeBroker } from './helpers/fake-broker.js';
import { within } from '../helpers/wait.js';

function connect(b: FakeBroker, requestTimeoutMs = 5000): Connection {
  return new Connection({
    host: b.host,
    port: b.port,
    clientId: 'conn-test',
    connectTimeoutMs: 2000,
    requestTimeoutMs,
  });
}

const metadataFor = (topic: string) => () => ({
  topics: [{ topicId: ZERO_UUID, name: topic }],
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
});

/** Metadata handler that echoes the requested topic name, so answers can be matched to requests. */
function echoTopics(b: FakeBroker, gate?: Promise<void>) {
  b.handlers.Metadata = async (req) => {
    if (gate !== undefined) await gate;
    return {
      brokers: [],
      topics: req.body.topics.map((t: { name: string }) => ({ errorCode: 3, name: t.name, partitions: [] })),
    };
  };
}

test('a broker that does not know ApiVersions v3 answers in v0 with its range and the client retries lower', async () => {
  const b = await new FakeBroker().start();
  b.ranges.ApiVersions = [0, 2];
  b.ranges.Metadata = [0, 7];
  const c = connect(b);
  try {
    await c.connect();
    assert.deepEqual(
      b.of('ApiVersions').map((r) => r.version),
      [3, 2],
    );
    assert.equal(b.of('ApiVersions')[0]!.body.clientSoftwareName, 'brook-client');
    assert.equal(c.versions.version('Metadata'), 7);
    echoTopics(b);
    const res = await c.request('Metadata', metadataFor('t'));
    assert.equal(res.topics[0]!.name, 't');
    assert.equal(b.of('Metadata')[0]!.version, 7);
    assert.equal(b.of('Metadata')[0]!.clientId, 'conn-test');
  } finally {
    c.close();
    await b.close();
  }
});

test('pipelined requests are all written before the first answer and matched in order', async () => {
  const b = await new FakeBroker().start();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  echoTopics(b, gate);
  const c = connect(b);
  try {
    await c.connect();
    const pending = Array.from({ length: 25 }, (_, i) => c.request('Metadata', metadataFor(`topic-${i}`)));
    await new Promise<void>((resolve) => {
      const check = () => (b.of('Metadata').length === 25 ? resolve() : setTimeout(check, 5));
      check();
    });
    assert.equal(c.inFlight, 25, 'all 25 in flight at once');
    open();
    const results = await Promise.all(pending);
    results.forEach((res, i) => assert.equal(res.topics[0]!.name, `topic-${i}`));
    const ids = b.of('Metadata').map((r) => r.correlationId);
    assert.equal(new Set(ids).size, 25, 'distinct correlation ids');
    assert.equal(c.inFlight, 0);
  } finally {
    c.close();
    await b.close();
  }
});

test('responses split into 3-byte pieces are reassembled', async () => {
  const b = await new FakeBroker().start();
  b.writeChunkSize = 3;
  echoTopics(b);
  const c = connect(b);
  try {
    await c.connect();
    const [x, y] = await Promise.all([
      c.request('Metadata', metadataFor('first')),
      c.request('Metadata', metadataFor('second')),
    ]);
    assert.equal(x.topics[0]!.name, 'first');
    assert.equal(y.topics[0]!.name, 'second');
  } finally {
    c.close();
    await b.close();
  }
});

test('a request without an answer times out and closes the connection, failing what was queued behind it', async () => {
  const b = await new FakeBroker().start();
  b.handlers.Metadata = () => 'none';
  const c = connect(b, 200);
  try {
    await c.connect();
    const first = c.request('Metadata', metadataFor('a'));
    const second = c.request('Metadata', metadataFor('b'), { timeoutMs: 10_000 });
    await assert.rejects(
      first,
      (err: unknown) =>
        err instanceof RequestTimeoutError &&
        /Metadata request to 127\.0\.0\.1:\d+ got no response within 200 ms/.test(err.message),
    );
    await assert.rejects(
      second,
      (err: unknown) => err instanceof ConnectionError && /closed after a Metadata request timed out/.test(err.message),
    );
    assert.equal(c.isClosed, true);
    await assert.rejects(c.request('Metadata', metadataFor('c')), ConnectionError);
  } finally {
    c.close();
    await b.close();
  }
});

test('a broker closing the connection fails the waiting request with a retriable ConnectionError', async () => {
  const b = await new FakeBroker().start();
  b.handlers.Metadata = () => 'close';
  const c = connect(b);
  try {
    await c.connect();
    await assert.rejects(
      c.request('Metadata', metadataFor('a')),
      (err: unknown) => err instanceof ConnectionError && err.retriable && /closed by the broker/.test(err.message),
    );
  } finally {
    c.close();
    await b.close();
  }
});

test('nothing listening: a ConnectionError that says so', async () => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const c = new Connection({ host: '127.0.0.1', port, clientId: 'x', connectTimeoutMs: 2000, requestTimeoutMs: 2000 });
  await assert.rejects(c.connect(), (err: unknown) => {
    assert.ok(err instanceof ConnectionError);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(
      err.message,
      `cannot connect to broker 127.0.0.1:${port}: connection refused (is a broker running there?)`,
    );
    return true;
  });
});

test('a listener that never answers ApiVersions fails the connect within the connect timeout', async () => {
  const srv = net.createServer(() => undefined);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const c = new Connection({
    host: '127.0.0.1',
    port,
    clientId: 'x',
    connectTimeoutMs: 300,
    requestTimeoutMs: 120_000,
  });
  try {
    // The request timeout (120 s) is far longer than the connect timeout, and the deadline longer still:
    // failing with RequestTimeoutError within the deadline means the 300 ms connect timeout fired.
    await within(assert.rejects(c.connect(), RequestTimeoutError), 30_000, 'the connect timeout');
  } finally {
    c.close();
    srv.close();
  }
});

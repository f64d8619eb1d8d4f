/**
 * The layer rules of the house (docs/architecture.md), checked by `npm run lint:layers`.
 * Each rule's name is what a violation prints; its comment says why the rule exists.
 */
module.exports = {
  forbidden: [
    {
      name: 'protocol-is-sans-io',
      comment:
        'src/protocol is the bottom layer: codecs and record batches that every other layer imports. ' +
        'It imports nothing else of Brook, so it can be tested, fuzzed and reused (the client) on its own.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'storage-knows-only-records',
      comment:
        "src/storage is a log of record-batch bytes: it may use the protocol layer's record helpers " +
        '(batch header, varints, the bounded reader) and nothing else of Brook: no sockets, requests or replicas.',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/storage/',
          '^src/protocol/records/',
          '^src/protocol/reader\\.ts$',
          '^src/protocol/decode-error\\.ts$',
        ],
      },
    },
    {
      name: 'client-is-not-the-broker',
      comment:
        'src/client speaks the Kafka protocol like any other client: it never imports the broker, storage, ' +
        'coordinators or cluster metadata (it may use the protocol layer, the logger and shared utilities).',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/(broker|storage|group|txn|cluster|config|cli)/' },
    },
    {
      name: 'handlers-do-not-touch-storage',
      comment:
        'Request handlers reach partition logs through the partition/replica layer (src/broker/replica), ' +
        'never by importing src/storage themselves.',
      severity: 'error',
      from: { path: '^src/broker/handlers/' },
      to: { path: '^src/storage/' },
    },
    {
      name: 'only-replica-layer-touches-storage',
      comment:
        'Partition logs are appended to and read through the replica manager (src/broker/replica), the one ' +
        'owner of leader and follower reads and writes, so replication plugs in at one place. Allowed besides: ' +
        'the composition root that opens the LogManager (broker.ts), the topic-config to LogConfig mapping ' +
        "(topic-config.ts) and the error mapping that gives storage's typed errors their Kafka codes (errors.ts).",
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: [
          '^src/storage/',
          '^src/broker/replica/',
          '^src/broker/broker\\.ts$',
          '^src/broker/topic-config\\.ts$',
          '^src/broker/errors\\.ts$',
        ],
      },
      to: { path: '^src/storage/' },
    },
    {
      name: 'partition-is-the-replica-layers',
      comment:
        'The Partition class carries its log; outside src/broker/replica code holds a PartitionView (from ' +
        'replica-manager.ts), so no handler or coordinator can reach a log through it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/broker/replica/' },
      to: { path: '^src/broker/replica/partition\\.ts$' },
    },
    {
      name: 'no-circular',
      comment:
        'Import cycles make load order fragile and hide layering mistakes. The one known cycle (the broker object ' +
        'and the modules it wires, which import its type) is allowed until the seams work replaces it.',
      severity: 'error',
      from: { pathNot: '^src/broker/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-outside-the-known-broker-cycle',
      comment: 'Inside src/broker, only the known cycle through src/broker/broker.ts is allowed.',
      severity: 'error',
      from: { path: '^src/broker/' },
      to: { circular: true, viaOnly: { pathNot: '^src/broker/broker\\.ts$' } },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

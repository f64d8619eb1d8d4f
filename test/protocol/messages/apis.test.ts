import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, APIS, API_BY_KEY, requestHeaderVersion, responseHeaderVersion } from '../../../src/protocol/apis.js';
import { MESSAGE_SCHEMAS } from './sample.js';

test('API keys use Kafka names and numbers', () => {
  assert.equal(ApiKey.Produce, 0);
  assert.equal(ApiKey.Fetch, 1);
  assert.equal(ApiKey.Metadata, 3);
  assert.equal(ApiKey.ApiVersions, 18);
  assert.equal(ApiKey.InitProducerId, 22);
  assert.equal(ApiKey.DescribeTopicPartitions, 75);
  assert.equal(Object.keys(ApiKey).length, 88);
});

test('every descriptor matches its request and response definitions', () => {
  let count = 0;
  for (const [name, key] of Object.entries(ApiKey)) {
    const api = API_BY_KEY[key];
    assert.ok(api !== undefined, name);
    assert.equal(api, APIS[name as keyof typeof APIS]);
    assert.equal(api.key, key);
    assert.equal(api.name, name);
    const req = MESSAGE_SCHEMAS.find((s) => s.name === `${name}Request`)!;
    const res = MESSAGE_SCHEMAS.find((s) => s.name === `${name}Response`)!;
    assert.equal(req.apiKey, key);
    assert.equal(res.apiKey, key);
    assert.deepEqual([api.minVersion, api.maxVersion], req.validVersions);
    assert.equal(api.firstFlexibleVersion, req.flexibleVersions === null ? -1 : req.flexibleVersions[0]);
    assert.equal(typeof api.readRequest, 'function');
    assert.equal(api.readRequest.name, `read${name}Request`);
    assert.equal(api.writeResponse.name, `write${name}Response`);
    count++;
  }
  assert.equal(count, 88);
});

// key, name, versions, first flexible version, listeners, unstable flag: the API table of the
// Kafka 3.9 reference pack, written down independently of the JSON the generator reads.
const API_TABLE = `
0 Produce 0-11 9 zkBroker,broker
1 Fetch 0-17 12 zkBroker,broker,controller
2 ListOffsets 0-9 6 zkBroker,broker
3 Metadata 0-12 9 zkBroker,broker
4 LeaderAndIsr 0-7 4 zkBroker
5 StopReplica 0-4 2 zkBroker
6 UpdateMetadata 0-8 6 zkBroker
7 ControlledShutdown 0-3 3 zkBroker,controller
8 OffsetCommit 0-9 8 zkBroker,broker
9 OffsetFetch 0-9 6 zkBroker,broker
10 FindCoordinator 0-6 3 zkBroker,broker
11 JoinGroup 0-9 6 zkBroker,broker
12 Heartbeat 0-4 4 zkBroker,broker
13 LeaveGroup 0-5 4 zkBroker,broker
14 SyncGroup 0-5 4 zkBroker,broker
15 DescribeGroups 0-5 5 zkBroker,broker
16 ListGroups 0-5 3 zkBroker,broker
17 SaslHandshake 0-1 - zkBroker,broker,controller
18 ApiVersions 0-4 3 zkBroker,broker,controller
19 CreateTopics 0-7 5 zkBroker,broker,controller
20 DeleteTopics 0-6 4 zkBroker,broker,controller
21 DeleteRecords 0-2 2 zkBroker,broker
22 InitProducerId 0-5 2 zkBroker,broker
23 OffsetForLeaderEpoch 0-4 4 zkBroker,broker
24 AddPartitionsToTxn 0-5 3 zkBroker,broker
25 AddOffsetsToTxn 0-4 3 zkBroker,broker
26 EndTxn 0-4 3 zkBroker,broker
27 WriteTxnMarkers 0-1 1 zkBroker,broker
28 TxnOffsetCommit 0-4 3 zkBroker,broker
29 DescribeAcls 0-3 2 zkBroker,broker,controller
30 CreateAcls 0-3 2 zkBroker,broker,controller
31 DeleteAcls 0-3 2 zkBroker,broker,controller
32 DescribeConfigs 0-4 4 zkBroker,broker,controller
33 AlterConfigs 0-2 2 zkBroker,broker,controller
34 AlterReplicaLogDirs 0-2 2 zkBroker,broker
35 DescribeLogDirs 0-4 2 zkBroker,broker
36 SaslAuthenticate 0-2 2 zkBroker,broker,controller
37 CreatePartitions 0-3 2 zkBroker,broker,controller
38 CreateDelegationToken 0-3 2 zkBroker,broker,controller
39 RenewDelegationToken 0-2 2 zkBroker,broker,controller
40 ExpireDelegationToken 0-2 2 zkBroker,broker,controller
41 DescribeDelegationToken 0-3 2 zkBroker,broker,controller
42 DeleteGroups 0-2 2 zkBroker,broker
43 ElectLeaders 0-2 2 zkBroker,broker,controller
44 IncrementalAlterConfigs 0-1 1 zkBroker,broker,controller
45 AlterPartitionReassignments 0 0 broker,controller,zkBroker
46 ListPartitionReassignments 0 0 broker,controller,zkBroker
47 OffsetDelete 0 - zkBroker,broker
48 DescribeClientQuotas 0-1 1 zkBroker,broker
49 AlterClientQuotas 0-1 1 zkBroker,broker,controller
50 DescribeUserScramCredentials 0 0 zkBroker,broker,controller
51 AlterUserScramCredentials 0 0 zkBroker,broker,controller
52 Vote 0-1 0 controller
53 BeginQuorumEpoch 0-1 1 controller
54 EndQuorumEpoch 0-1 1 controller
55 DescribeQuorum 0-2 0 broker,controller
56 AlterPartition 0-3 0 zkBroker,controller
57 UpdateFeatures 0-1 0 zkBroker,broker,controller
58 Envelope 0 0 controller,zkBroker
59 FetchSnapshot 0-1 0 controller
60 DescribeCluster 0-1 0 zkBroker,broker,controller
61 DescribeProducers 0 0 zkBroker,broker
62 BrokerRegistration 0-4 0 controller
63 BrokerHeartbeat 0-1 0 controller
64 UnregisterBroker 0 0 broker,controller
65 DescribeTransactions 0 0 zkBroker,broker
66 ListTransactions 0-1 0 zkBroker,broker
67 AllocateProducerIds 0 0 zkBroker,controller
68 ConsumerGroupHeartbeat 0 0 zkBroker,broker
69 ConsumerGroupDescribe 0 0 zkBroker,broker
70 ControllerRegistration 0 0 controller
71 GetTelemetrySubscriptions 0 0 broker
72 PushTelemetry 0 0 broker
73 AssignReplicasToDirs 0 0 controller
74 ListClientMetricsResources 0 0 broker
75 DescribeTopicPartitions 0 0 broker
76 ShareGroupHeartbeat 0 0 broker unstable
77 ShareGroupDescribe 0 0 broker unstable
78 ShareFetch 0 0 broker unstable
79 ShareAcknowledge 0 0 broker unstable
80 AddRaftVoter 0 0 controller,broker
81 RemoveRaftVoter 0 0 controller,broker
82 UpdateRaftVoter 0 0 controller
83 InitializeShareGroupState 0 0 broker unstable
84 ReadShareGroupState 0 0 broker unstable
85 WriteShareGroupState 0 0 broker unstable
86 DeleteShareGroupState 0 0 broker unstable
87 ReadShareGroupStateSummary 0 0 broker unstable
`;

test('descriptors agree with the Kafka 3.9 API table (versions, first flexible version, listeners, unstable flag)', () => {
  const rows = API_TABLE.trim()
    .split('\n')
    .map((l) => l.trim().split(' '));
  assert.equal(rows.length, 88);
  for (const [key, name, versions, flexible, listeners, unstable] of rows) {
    const api = API_BY_KEY[Number(key)]!;
    assert.equal(api.name, name);
    const [lo, hi] = versions!.includes('-') ? versions!.split('-').map(Number) : [Number(versions), Number(versions)];
    assert.deepEqual([api.minVersion, api.maxVersion], [lo, hi], name);
    assert.equal(api.firstFlexibleVersion, flexible === '-' ? -1 : Number(flexible), name);
    assert.deepEqual([...api.listeners].sort(), listeners!.split(',').sort(), name);
    assert.equal(api.latestVersionUnstable, unstable === 'unstable', name);
  }
});

test('header versions: flexible APIs use request header v2 / response header v1, with the two exceptions', () => {
  assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 8), 0);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 9), 1);
  assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 1), 1);
  assert.equal(responseHeaderVersion(ApiKey.SaslHandshake, 1), 0);
  // ApiVersions: flexible request header from v3, but the response header is always v0.
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  for (let v = 0; v <= 4; v++) assert.equal(responseHeaderVersion(ApiKey.ApiVersions, v), 0);
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 99), 0);
  // ControlledShutdown v0 predates the client id.
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 0), 0);
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 1), 1);
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 3), 2);
  // Unknown keys: the classic header.
  assert.equal(requestHeaderVersion(999, 0), 1);
  assert.equal(responseHeaderVersion(999, 0), 0);
});

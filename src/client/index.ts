export {
  Producer,
  type ProducerOptions,
  type ProducerRecord,
  type RecordMetadata,
  type DeliveryCallback,
  type Acks,
  type CompressionType,
} from './producer.js';
export { Consumer, type ConsumerOptions, type ConsumerRecord, type AutoOffsetReset } from './consumer.js';
export {
  Admin,
  type NewTopic,
  type TopicDescription,
  type ConfigResource,
  type ConfigResourceType,
  type ConfigEntry,
  type ConfigAlteration,
  type GroupListing,
  type GroupDescription,
  type GroupMemberDescription,
  type GroupOffsetDescription,
  type OffsetResetTarget,
  type OffsetReset,
  type ClusterDescription,
} from './admin.js';
export {
  Cluster,
  parseBootstrap,
  type ClientOptions,
  type TopicPartition,
  type BrokerInfo,
  type PartitionInfo,
  type TopicInfo,
} from './cluster.js';
export { Connection, type ConnectionOptions } from './connection.js';
export { CLIENT_VERSIONS, pickVersion, NegotiatedVersions, type ClientApi, type VersionRange } from './versions.js';
export {
  murmur2,
  toPositive,
  partitionForKey,
  defaultPartitioner,
  StickyPartitioner,
  type Partitioner,
} from './partitioner.js';
export {
  bytesSerializer,
  stringSerializer,
  jsonSerializer,
  bytesDeserializer,
  stringDeserializer,
  jsonDeserializer,
  serdes,
  type Serializer,
  type Deserializer,
  type Bytes,
} from './serializers.js';
export {
  rangeAssignor,
  roundRobinAssignor,
  cooperativeStickyAssignor,
  type Assignor,
  type MemberSubscription,
} from './assignors.js';
export type { OffsetToCommit, ConsumerGroupMetadata } from './transactions.js';
export type { CommittedOffset, ListedOffset, IsolationLevel } from './offsets.js';
export type { HeadersInit, HeaderValue, RecordHeader } from './headers.js';
export {
  KafkaError,
  ConnectionError,
  RequestTimeoutError,
  UnsupportedVersionError,
  ClientClosedError,
  isRetriableError,
  errorName,
} from './errors.js';

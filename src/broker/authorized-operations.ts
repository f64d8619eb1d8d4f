/**
 * Authorized-operation bit sets (KIP-430) as reported when no authorizer is configured: every
 * operation the resource type supports. Bits are Kafka's AclOperation codes.
 */
const READ = 3,
  WRITE = 4,
  CREATE = 5,
  DELETE = 6,
  ALTER = 7,
  DESCRIBE = 8,
  CLUSTER_ACTION = 9,
  DESCRIBE_CONFIGS = 10,
  ALTER_CONFIGS = 11,
  IDEMPOTENT_WRITE = 12,
  CREATE_TOKENS = 13,
  DESCRIBE_TOKENS = 14;

const bits = (...ops: number[]): number => ops.reduce((acc, op) => acc | (1 << op), 0);

/** Sent when the client did not ask for authorized operations. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const TOPIC_OPERATIONS = bits(READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS);
export const CLUSTER_OPERATIONS = bits(
  CREATE,
  ALTER,
  DESCRIBE,
  CLUSTER_ACTION,
  DESCRIBE_CONFIGS,
  ALTER_CONFIGS,
  IDEMPOTENT_WRITE,
  CREATE_TOKENS,
  DESCRIBE_TOKENS,
);
export const GROUP_OPERATIONS = bits(READ, DESCRIBE, DELETE);
export const TRANSACTIONAL_ID_OPERATIONS = bits(WRITE, DESCRIBE);

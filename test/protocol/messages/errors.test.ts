import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, ERRORS, KafkaError, errorInfo, errorName, isRetriable } from '../../../src/protocol/errors.js';

test('error codes carry Kafka names and numbers', () => {
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.OFFSET_OUT_OF_RANGE, 1);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3);
  assert.equal(ErrorCode.NOT_LEADER_OR_FOLLOWER, 6);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.TOPIC_ALREADY_EXISTS, 36);
  assert.equal(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 45);
  assert.equal(ErrorCode.UNKNOWN_PRODUCER_ID, 59);
  assert.equal(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 76);
  assert.equal(errorName(3), 'UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(errorName(12345), 'UNKNOWN_ERROR_CODE_12345');
});

test('the table is complete, sorted and consistent with the name map', () => {
  assert.equal(ERRORS.length, Object.keys(ErrorCode).length);
  for (let i = 1; i < ERRORS.length; i++) assert.ok(ERRORS[i - 1]!.code < ERRORS[i]!.code);
  for (const e of ERRORS) {
    assert.equal(ErrorCode[e.name as keyof typeof ErrorCode], e.code);
    assert.equal(errorInfo(e.code), e);
  }
});

test('retriable errors follow Kafka (RetriableException and InvalidMetadataException subclasses)', () => {
  for (const code of [2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51])
    assert.equal(isRetriable(code), true, errorName(code));
  for (const code of [-1, 0, 1, 10, 22, 25, 27, 35, 36, 45, 46, 47])
    assert.equal(isRetriable(code), false, errorName(code));
  assert.equal(isRetriable(12345), false);
});

test('KafkaError carries the code, whether it is retriable, and a readable message', () => {
  const e = new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'KafkaError');
  assert.equal(e.code, 6);
  assert.equal(e.retriable, true);
  assert.equal(e.message, 'NOT_LEADER_OR_FOLLOWER');
  const f = new KafkaError(ErrorCode.INVALID_REQUIRED_ACKS, 'acks must be -1, 0 or 1, got 2');
  assert.equal(f.code, 21);
  assert.equal(f.retriable, false);
  assert.equal(f.message, 'acks must be -1, 0 or 1, got 2');
});

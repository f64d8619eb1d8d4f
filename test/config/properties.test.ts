import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProperties } from '../../src/config/properties.js';

test('server.properties syntax: separators, comments, continuations and escapes', () => {
  const text = [
    '# a comment',
    '! another comment',
    '',
    'broker.id=1',
    'listeners = PLAINTEXT://127.0.0.1:9092',
    'log.dirs: /var/lib/brook',
    'num.partitions 3',
    'advertised.listeners=PLAINTEXT://a:1,\\',
    '    PLAINTEXT://b:2',
    'key\\ with\\ spaces=v\\tx',
    'unicode=caf\\u00e9',
    'empty=',
  ].join('\n');
  const props = parseProperties(text);
  assert.deepEqual(
    props.map((p) => [p.key, p.value]),
    [
      ['broker.id', '1'],
      ['listeners', 'PLAINTEXT://127.0.0.1:9092'],
      ['log.dirs', '/var/lib/brook'],
      ['num.partitions', '3'],
      ['advertised.listeners', 'PLAINTEXT://a:1,PLAINTEXT://b:2'],
      ['key with spaces', 'v\tx'],
      ['unicode', 'café'],
      ['empty', ''],
    ],
  );
  assert.equal(props[4]!.line, 8);
});

test('Windows line endings and trailing spaces in values are kept as Java does', () => {
  const props = parseProperties('a=1\r\nb=two words \r\n');
  assert.deepEqual(
    props.map((p) => [p.key, p.value]),
    [
      ['a', '1'],
      ['b', 'two words '],
    ],
  );
});

import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import {
  BATCH_LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORD_BATCH_OVERHEAD,
  checkBatch,
  readBatchHeader,
  computeCrc,
} from '../../protocol/records/batch-header.js';
import { RecordCursor } from '../../protocol/records/record-cursor.js';
import { ControlRecordType, parseControlRecordKey, parseEndTxnMarkerValue } from '../../protocol/records/control.js';
import { codecName } from '../../protocol/compression/codec.js';
import { EXIT, UsageError, action, bytesToText, colour, out } from './common.js';

interface DumpOptions {
  printData?: boolean;
  json?: boolean;
  maxBytes?: string;
}

/** The base offset a segment's file name encodes (20 digits, as Kafka names them). */
export function baseOffsetFromName(path: string): number | undefined {
  const m = /^(\d{20})\.(log|index|timeindex|txnindex|snapshot)$/.exec(basename(path));
  return m === null ? undefined : Number(m[1]);
}

export interface DumpedRecord {
  offset: number;
  timestamp: number;
  keySize: number;
  valueSize: number;
  sequence: number;
  headerKeys: string[];
  key?: string | null;
  payload?: string | null;
  /** Control records: ABORT/COMMIT and the coordinator epoch. */
  endTxnMarker?: string;
  coordinatorEpoch?: number;
}

export interface DumpedBatch {
  baseOffset: number;
  lastOffset: number;
  count: number;
  baseSequence: number;
  lastSequence: number;
  producerId: number;
  producerEpoch: number;
  partitionLeaderEpoch: number;
  isTransactional: boolean;
  isControl: boolean;
  position: number;
  timestampType: 'CreateTime' | 'LogAppendTime';
  maxTimestamp: number;
  size: number;
  magic: number;
  compression: string;
  crc: number;
  isValid: boolean;
  records?: DumpedRecord[];
  error?: string;
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buf : buf.subarray(0, filled);
}

/**
 * Walks the record batches of a .log segment, one read per batch. Yields a batch description, or
 * at the end the number of trailing bytes that do not form a whole batch (a torn write).
 */
export async function* dumpLogSegment(
  path: string,
  opts: { printData?: boolean } = {},
): AsyncGenerator<DumpedBatch | { invalidBytes: number; position: number }> {
  const fh = await open(path, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    let pos = 0;
    const cursor = new RecordCursor();
    while (pos < fileSize) {
      const head = await readAt(fh, pos, LOG_OVERHEAD);
      if (head.length < LOG_OVERHEAD) {
        yield { invalidBytes: fileSize - pos, position: pos };
        return;
      }
      const length = head.readInt32BE(BATCH_LENGTH_OFFSET);
      if (length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD || pos + LOG_OVERHEAD + length > fileSize) {
        yield { invalidBytes: fileSize - pos, position: pos };
        return;
      }
      const buf = await readAt(fh, pos, LOG_OVERHEAD + length);
      const problem = checkBatch(buf, 0, buf.length);
      const magic = buf.readInt8(MAGIC_OFFSET);
      if (magic !== 2) {
        yield { invalidBytes: fileSize - pos, position: pos };
        return;
      }
      const h = readBatchHeader(buf, 0);
      const attributes = h.attributes;
      const count = h.recordsCount;
      const batch: DumpedBatch = {
        baseOffset: h.baseOffset,
        lastOffset: h.baseOffset + h.lastOffsetDelta,
        count,
        baseSequence: h.baseSequence,
        lastSequence: h.baseSequence < 0 ? -1 : h.baseSequence + h.lastOffsetDelta,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        partitionLeaderEpoch: h.partitionLeaderEpoch,
        isTransactional: (attributes & 0x10) !== 0,
        isControl: (attributes & 0x20) !== 0,
        position: pos,
        timestampType: (attributes & 0x08) !== 0 ? 'LogAppendTime' : 'CreateTime',
        maxTimestamp: h.maxTimestamp,
        size: buf.length,
        magic,
        compression: codecName(attributes & 0x07),
        crc: h.crc,
        isValid: problem === null,
      };
      if (problem === 'bad-crc') batch.error = `CRC mismatch: stored ${h.crc}, computed ${computeCrc(buf, 0)}`;
      else if (problem !== null) batch.error = problem;
      if (opts.printData) {
        batch.records = [];
        try {
          cursor.reset(buf, 0, { verifyCrc: false });
          while (cursor.next()) {
            const key = cursor.key();
            const value = cursor.value();
            const r: DumpedRecord = {
              offset: cursor.offset,
              timestamp: cursor.timestamp,
              keySize: cursor.keyLength,
              valueSize: cursor.valueLength,
              sequence: h.baseSequence < 0 ? -1 : h.baseSequence + (cursor.offset - h.baseOffset),
              headerKeys: cursor.headers().map((x) => x.key),
            };
            if (batch.isControl) {
              try {
                const { type } = parseControlRecordKey(key);
                r.endTxnMarker =
                  type === ControlRecordType.ABORT
                    ? 'ABORT'
                    : type === ControlRecordType.COMMIT
                      ? 'COMMIT'
                      : `type ${type}`;
                if (type === ControlRecordType.ABORT || type === ControlRecordType.COMMIT)
                  r.coordinatorEpoch = parseEndTxnMarkerValue(value).coordinatorEpoch;
              } catch (err) {
                r.endTxnMarker = `unreadable (${(err as Error).message})`;
              }
            } else {
              r.key = bytesToText(key);
              r.payload = bytesToText(value);
            }
            batch.records.push(r);
          }
        } catch (err) {
          batch.error = `records unreadable: ${(err as Error).message}`;
          batch.isValid = false;
        }
      }
      yield batch;
      pos += buf.length;
    }
  } finally {
    await fh.close();
  }
}

/** Entries of a .index (relative offset, position) or .timeindex (timestamp, relative offset) file. */
export async function dumpIndex(
  path: string,
  kind: 'index' | 'timeindex',
  baseOffset: number,
): Promise<{ offset: number; position?: number; timestamp?: number }[]> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = await readAt(fh, 0, size);
    const entry = kind === 'index' ? 8 : 12;
    const outList: { offset: number; position?: number; timestamp?: number }[] = [];
    for (let at = 0; at + entry <= buf.length; at += entry) {
      if (kind === 'index') {
        const rel = buf.readInt32BE(at);
        const position = buf.readInt32BE(at + 4);
        // Preallocated index files are zero-filled past the last entry.
        if (at > 0 && rel === 0 && position === 0) break;
        outList.push({ offset: baseOffset + rel, position });
      } else {
        const timestamp = Number(buf.readBigInt64BE(at));
        const rel = buf.readInt32BE(at + 8);
        if (at > 0 && timestamp === 0 && rel === 0) break;
        outList.push({ timestamp, offset: baseOffset + rel });
      }
    }
    return outList;
  } finally {
    await fh.close();
  }
}

function batchLine(b: DumpedBatch): string {
  const parts = [
    `baseOffset: ${b.baseOffset}`,
    `lastOffset: ${b.lastOffset}`,
    `count: ${b.count}`,
    `baseSequence: ${b.baseSequence}`,
    `lastSequence: ${b.lastSequence}`,
    `producerId: ${b.producerId}`,
    `producerEpoch: ${b.producerEpoch}`,
    `partitionLeaderEpoch: ${b.partitionLeaderEpoch}`,
    `isTransactional: ${b.isTransactional}`,
    `isControl: ${b.isControl}`,
    `position: ${b.position}`,
    `${b.timestampType}: ${b.maxTimestamp}`,
    `size: ${b.size}`,
    `magic: ${b.magic}`,
    `compresscodec: ${b.compression}`,
    `crc: ${b.crc}`,
    `isvalid: ${b.isValid ? 'true' : colour.red('false')}`,
  ];
  return parts.join(' ') + (b.error !== undefined ? ` ${colour.red(`(${b.error})`)}` : '');
}

function recordLine(r: DumpedRecord, timestampType: string): string {
  let s = `| offset: ${r.offset} ${timestampType}: ${r.timestamp} keySize: ${r.keySize} valueSize: ${r.valueSize} sequence: ${r.sequence} headerKeys: [${r.headerKeys.join(',')}]`;
  if (r.endTxnMarker !== undefined)
    s += ` endTxnMarker: ${r.endTxnMarker}${r.coordinatorEpoch !== undefined ? ` coordinatorEpoch: ${r.coordinatorEpoch}` : ''}`;
  else s += ` key: ${r.key ?? 'null'} payload: ${r.payload ?? 'null'}`;
  return s;
}

export function registerLogCommands(program: Command): void {
  const log = program.command('log').description('inspect partition data on disk');
  log
    .command('dump <files...>')
    .description(
      'print the record batches of .log segment files (and entries of .index/.timeindex files), offline, like kafka-dump-log',
    )
    .option('-d, --print-data', 'also print each record (offset, timestamp, key, payload, headers)')
    .option('--json', 'one JSON object per file')
    .action(
      action(async (files: string[], o: DumpOptions) => {
        let invalid = false;
        for (const file of files) {
          const base = baseOffsetFromName(file);
          const ext = /\.([a-z]+)$/.exec(file)?.[1];
          if (ext === 'index' || ext === 'timeindex') {
            if (base === undefined)
              throw new UsageError(`${file}: index files are named after their base offset (20 digits)`);
            const entries = await dumpIndex(file, ext, base);
            if (o.json) out(JSON.stringify({ file, kind: ext, baseOffset: base, entries }));
            else {
              out(`Dumping ${file}`);
              for (const e of entries)
                out(
                  ext === 'index'
                    ? `offset: ${e.offset} position: ${e.position}`
                    : `timestamp: ${e.timestamp} offset: ${e.offset}`,
                );
            }
            continue;
          }
          if (ext !== 'log') throw new UsageError(`${file}: not a .log, .index or .timeindex file`);
          const batches: DumpedBatch[] = [];
          let tail: { invalidBytes: number; position: number } | undefined;
          if (!o.json) {
            out(`Dumping ${file}`);
            if (base !== undefined) out(`Log starting offset: ${base}`);
          }
          for await (const item of dumpLogSegment(file, { printData: o.printData })) {
            if ('invalidBytes' in item) {
              tail = item;
              break;
            }
            if (!item.isValid) invalid = true;
            if (o.json) batches.push(item);
            else {
              out(batchLine(item));
              if (item.records !== undefined) for (const r of item.records) out(recordLine(r, item.timestampType));
            }
          }
          if (tail !== undefined) invalid = true;
          if (o.json)
            out(JSON.stringify({ file, baseOffset: base ?? null, batches, invalidBytes: tail?.invalidBytes ?? 0 }));
          else if (tail !== undefined)
            out(
              colour.red(
                `Found ${tail.invalidBytes} invalid bytes at the end of ${basename(file)} (position ${tail.position})`,
              ),
            );
        }
        return invalid ? EXIT.FAILED : EXIT.OK;
      }),
    );
}

export * from './batch-header.js';
export * from './crc.js';
export * from './errors.js';
export * from './record-cursor.js';
export * from './record-batch.js';
export * from './control.js';

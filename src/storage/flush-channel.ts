import diagnostics_channel from 'node:diagnostics_channel';

/**
 * Where each log fdatasync is reported, for metrics (LogFlushRateAndTimeMs in Kafka). The name and
 * message shape are the broker's (src/broker/observability.ts, CHANNELS.logFlush): storage may not
 * import the broker, and a channel is found by name. Publishing costs nothing while nobody listens.
 */
export const flushChannel = diagnostics_channel.channel('brook:storage:flush');

/**
 * Observability hooks: every measurement Brook offers is published on a `node:diagnostics_channel`
 * channel named here, with the message shape defined here. Nothing is measured unless someone
 * subscribes: publishers check `channel.hasSubscribers` first, so an unobserved broker pays a
 * boolean check. A metrics layer (Prometheus, a console) subscribes with
 * `diagnostics_channel.subscribe(CHANNELS.request, fn)`; docs/architecture.md lists the channels.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Session } from './network/session.js';

export const CHANNELS = {
  /** One message per request once its response has been written (or dropped): RequestMetrics. */
  request: 'brook:request',
  /** A connection was accepted: ConnectionOpened. */
  connectionOpened: 'brook:connection:opened',
  /** A connection closed: ConnectionClosed, with its byte totals. */
  connectionClosed: 'brook:connection:closed',
  /**
   * One fdatasync of a partition log: LogFlush. Published by src/storage (which may not import
   * the broker), under this same name: see src/storage/flush-channel.ts.
   */
  logFlush: 'brook:storage:flush',
  /** Sampled periodically while subscribed: PurgatorySample. */
  purgatory: 'brook:purgatory',
  /** Sampled periodically while subscribed: EventLoopDelaySample (perf_hooks monitorEventLoopDelay). */
  eventLoopDelay: 'brook:event-loop-delay',
} as const;

/**
 * Timings of one request, as Kafka's RequestMetrics splits them (milliseconds, fractional):
 * total = queue + local + send. `localTimeMs` runs from the start of processing until the response
 * is ready, so it includes any wait in a purgatory (Kafka counts that apart as remote time).
 */
export interface RequestMetrics {
  connectionId: number;
  listenerName: string;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** Frame size including the 4-byte size prefix. */
  requestBytes: number;
  /** Response size including its size prefix; 0 when there is none (acks=0, close). */
  responseBytes: number;
  /** From the whole frame being read until processing started (it waited behind earlier requests). */
  queueTimeMs: number;
  /** From the start of processing until the response was ready (decode, hooks, handler, encode). */
  localTimeMs: number;
  /** From handing the response to the socket until the socket had written it. */
  sendTimeMs: number;
  totalTimeMs: number;
  /** 'response', 'none' (no response is sent, acks=0), 'close' (the answer was to close) or 'error'. */
  outcome: 'response' | 'none' | 'close' | 'error';
}

export interface ConnectionOpened {
  session: Session;
}

export interface ConnectionClosed {
  session: Session;
  reason: string;
  bytesIn: number;
  bytesOut: number;
  requests: number;
}

export interface LogFlush {
  /** Offsets below this one are durable now. */
  durableOffset: number;
  durationMs: number;
  /** Set when the fdatasync failed (the log goes offline). */
  error: Error | null;
}

export interface PurgatorySample {
  nodeId: number;
  /** Fetch requests waiting for data (min_bytes / max_wait_ms). */
  fetchWaiting: number;
}

export interface EventLoopDelaySample {
  nodeId: number;
  /** Over the interval since the previous sample. */
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export const requestChannel = diagnostics_channel.channel(CHANNELS.request);
export const connectionOpenedChannel = diagnostics_channel.channel(CHANNELS.connectionOpened);
export const connectionClosedChannel = diagnostics_channel.channel(CHANNELS.connectionClosed);
export const logFlushChannel = diagnostics_channel.channel(CHANNELS.logFlush);
export const purgatoryChannel = diagnostics_channel.channel(CHANNELS.purgatory);
export const eventLoopDelayChannel = diagnostics_channel.channel(CHANNELS.eventLoopDelay);

export interface SamplerSources {
  nodeId: number;
  fetchWaiting(): number;
}

/**
 * Publishes the sampled gauges every `intervalMs` while someone listens. The event-loop delay
 * histogram runs only while the channel has subscribers; unobserved, the sampler is one unref'd
 * timer doing two boolean checks per interval. Returns a stop function.
 */
export function startSampler(sources: SamplerSources, intervalMs = 1000): () => void {
  let histogram: IntervalHistogram | null = null;
  const timer = setInterval(() => {
    if (purgatoryChannel.hasSubscribers) {
      const sample: PurgatorySample = { nodeId: sources.nodeId, fetchWaiting: sources.fetchWaiting() };
      purgatoryChannel.publish(sample);
    }
    if (eventLoopDelayChannel.hasSubscribers) {
      if (histogram === null) {
        // Samples start now; the first message comes one interval later.
        histogram = monitorEventLoopDelay({ resolution: 10 });
        histogram.enable();
        return;
      }
      const ms = (ns: number) => ns / 1e6;
      const sample: EventLoopDelaySample = {
        nodeId: sources.nodeId,
        minMs: ms(histogram.min),
        meanMs: ms(histogram.mean),
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
      };
      histogram.reset();
      eventLoopDelayChannel.publish(sample);
    } else if (histogram !== null) {
      histogram.disable();
      histogram = null;
    }
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    histogram?.disable();
    histogram = null;
  };
}

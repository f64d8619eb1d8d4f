import type { HandlerContext } from './context.js';

export interface LiveBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/**
 * Every registered broker, each at its endpoint for `listenerName` (Kafka answers Metadata and
 * DescribeCluster per listener, so a client keeps using the listener it came in on). This broker is
 * listed even in the moment between binding its listeners and registering.
 */
export function liveBrokers(
  deps: Pick<HandlerContext, 'advertisedFor' | 'metadata' | 'nodeId'>,
  listenerName: string | undefined,
): LiveBroker[] {
  const out: LiveBroker[] = [];
  let self = false;
  for (const b of deps.metadata.brokers()) {
    if (b.nodeId === deps.nodeId) {
      self = true;
      out.push({ nodeId: b.nodeId, ...deps.advertisedFor(listenerName), rack: b.rack });
      continue;
    }
    const l = b.listeners.find((e) => e.name === listenerName);
    out.push({ nodeId: b.nodeId, host: l?.host ?? b.host, port: l?.port ?? b.port, rack: b.rack });
  }
  if (!self) out.push({ nodeId: deps.nodeId, ...deps.advertisedFor(listenerName), rack: null });
  return out;
}

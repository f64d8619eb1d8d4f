import { BROKER_CONFIG_BY_NAME, BROKER_CONFIGS } from './broker-configs.js';
import { ConfigError, ConfigSource, normalizeConfigValue, type ConfigDef } from './config-def.js';
import { parseProperties } from './properties.js';
import { TOPIC_CONFIG_BY_NAME, type TopicConfigDef } from './topic-configs.js';

export interface Listener {
  name: string;
  host: string;
  port: number;
}

/** Kafka's security protocols; only PLAINTEXT is served so far (the broker refuses to start otherwise). */
export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

/** One configured listener: where it binds, how it is secured, and what clients are told. */
export interface ListenerSpec extends Listener {
  securityProtocol: SecurityProtocol;
  /** From advertised.listeners by listener name; null when not set (then the bound address is advertised). */
  advertised: { host: string; port: number } | null;
}

/** One resolved config value and where it came from, as DescribeConfigs reports it. */
export interface ResolvedConfig {
  name: string;
  value: string | null;
  source: number;
  synonyms: { name: string; value: string | null; source: number }[];
}

/**
 * The broker's configuration: Kafka defaults, overridden by the static properties (file, --set,
 * flags), overridden by dynamic values set through the admin APIs (cluster-wide default first,
 * then this broker's own), the same precedence as Kafka.
 */
export class BrokerConfig {
  private readonly staticValues = new Map<string, string>();
  private readonly dynamicDefault = new Map<string, string>();
  private readonly dynamicBroker = new Map<string, string>();

  /**
   * Validates every property before anything is used: an invalid value throws a ConfigError naming
   * the property; an unknown name is returned as a warning (Kafka logs and ignores those too).
   */
  constructor(props: Iterable<[string, string]> = []) {
    this.warnings = [];
    for (const [name, raw] of props) {
      const def = BROKER_CONFIG_BY_NAME.get(name);
      if (!def) {
        this.warnings.push(`unknown property "${name}" is ignored`);
        continue;
      }
      this.staticValues.set(name, normalizeConfigValue(def, raw) ?? '');
    }
    // Checks that need the combination of values.
    this.listenerSpecs();
  }

  readonly warnings: string[];

  /** Parses a server.properties text and applies `overrides` (from --set) on top. */
  static fromProperties(text: string, overrides: Iterable<[string, string]> = []): BrokerConfig {
    const merged = new Map<string, string>();
    for (const p of parseProperties(text)) merged.set(p.key, p.value);
    for (const [k, v] of overrides) merged.set(k, v);
    return new BrokerConfig(merged);
  }

  private def(name: string): ConfigDef {
    const def = BROKER_CONFIG_BY_NAME.get(name);
    if (!def) throw new Error(`no broker config named ${name}`);
    return def;
  }

  /** The effective value, or null when unset with no default. */
  get(name: string): string | null {
    return (
      this.dynamicBroker.get(name) ??
      this.dynamicDefault.get(name) ??
      this.staticValues.get(name) ??
      this.def(name).default
    );
  }

  /** True when the property was set anywhere (not just defaulted). */
  isSet(name: string): boolean {
    return this.dynamicBroker.has(name) || this.dynamicDefault.has(name) || this.staticValues.has(name);
  }

  source(name: string): number {
    if (this.dynamicBroker.has(name)) return ConfigSource.DYNAMIC_BROKER_CONFIG;
    if (this.dynamicDefault.has(name)) return ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG;
    if (this.staticValues.has(name)) return ConfigSource.STATIC_BROKER_CONFIG;
    return ConfigSource.DEFAULT_CONFIG;
  }

  int(name: string): number {
    return Number(this.get(name));
  }

  bool(name: string): boolean {
    return this.get(name) === 'true';
  }

  str(name: string): string {
    return this.get(name) ?? '';
  }

  list(name: string): string[] {
    const v = this.get(name);
    return v === null || v === '' ? [] : v.split(',');
  }

  get nodeId(): number {
    return this.isSet('node.id') || !this.isSet('broker.id') ? this.int('node.id') : this.int('broker.id');
  }

  get dataDir(): string {
    const dirs = this.list('log.dirs');
    return dirs[0] ?? this.str('log.dir');
  }

  listeners(): Listener[] {
    return parseListeners('listeners', this.list('listeners'));
  }

  advertisedListeners(): Listener[] {
    const adv = this.get('advertised.listeners');
    return adv === null ? this.listeners() : parseListeners('advertised.listeners', this.list('advertised.listeners'));
  }

  /** listener.security.protocol.map as listener name → security protocol. */
  securityProtocolMap(): Map<string, SecurityProtocol> {
    const map = new Map<string, SecurityProtocol>();
    for (const item of this.list('listener.security.protocol.map')) {
      const [name, protocol, extra] = item.split(':');
      const p = protocol?.toUpperCase();
      if (!name || extra !== undefined || !SECURITY_PROTOCOLS.includes(p as SecurityProtocol)) {
        throw new ConfigError(
          'listener.security.protocol.map',
          `listener.security.protocol.map: "${item}" is not NAME:PROTOCOL with PROTOCOL one of ${SECURITY_PROTOCOLS.join(', ')}`,
        );
      }
      map.set(name.toUpperCase(), p as SecurityProtocol);
    }
    return map;
  }

  /**
   * Every listener with its security protocol and advertised address, checked as Kafka checks
   * them: names unique, each name in the protocol map, ports unique (0, "any free port", aside),
   * and advertised.listeners naming only configured listeners.
   */
  listenerSpecs(): ListenerSpec[] {
    const listeners = this.listeners();
    const protocols = this.securityProtocolMap();
    const advertised = new Map<string, Listener>();
    for (const a of this.get('advertised.listeners') === null ? [] : this.advertisedListeners()) {
      const name = a.name.toUpperCase();
      if (advertised.has(name))
        throw new ConfigError('advertised.listeners', `advertised.listeners: listener ${a.name} appears twice`);
      advertised.set(name, a);
    }
    const names = new Set<string>();
    const ports = new Set<number>();
    const specs = listeners.map((l): ListenerSpec => {
      const name = l.name.toUpperCase();
      if (names.has(name)) throw new ConfigError('listeners', `listeners: listener ${l.name} appears twice`);
      names.add(name);
      if (l.port !== 0 && ports.has(l.port))
        throw new ConfigError('listeners', `listeners: port ${l.port} is used by two listeners`);
      ports.add(l.port);
      const securityProtocol = protocols.get(name);
      if (!securityProtocol) {
        throw new ConfigError(
          'listener.security.protocol.map',
          `listener.security.protocol.map: no security protocol for listener ${l.name}`,
        );
      }
      const adv = advertised.get(name);
      return { ...l, name, securityProtocol, advertised: adv ? { host: adv.host, port: adv.port } : null };
    });
    for (const a of advertised.values()) {
      if (!names.has(a.name.toUpperCase())) {
        throw new ConfigError(
          'advertised.listeners',
          `advertised.listeners: ${a.name} is not one of the listeners (${[...names].join(', ')})`,
        );
      }
    }
    return specs;
  }

  /**
   * Sets or clears (value null) a dynamic broker config. `scope` 'default' is the cluster-wide
   * default (`<default>` resource name / empty broker id), 'broker' this node's own value.
   */
  setDynamic(scope: 'default' | 'broker', name: string, value: string | null): void {
    const def = BROKER_CONFIG_BY_NAME.get(name);
    if (!def) throw new ConfigError(name, `unknown broker config ${name}`);
    if (!def.dynamic) throw new ConfigError(name, `${name} cannot be changed while the broker runs`);
    const map = scope === 'default' ? this.dynamicDefault : this.dynamicBroker;
    if (value === null) map.delete(name);
    else map.set(name, normalizeConfigValue(def, value) ?? '');
  }

  /** Validates a dynamic change without applying it. */
  checkDynamic(name: string, value: string | null): void {
    const def = BROKER_CONFIG_BY_NAME.get(name);
    if (!def) throw new ConfigError(name, `unknown broker config ${name}`);
    if (!def.dynamic) throw new ConfigError(name, `${name} cannot be changed while the broker runs`);
    normalizeConfigValue(def, value);
  }

  dynamicValues(scope: 'default' | 'broker'): Map<string, string> {
    return new Map(scope === 'default' ? this.dynamicDefault : this.dynamicBroker);
  }

  /** Every broker config resolved, for DescribeConfigs on a BROKER resource. */
  describe(): ResolvedConfig[] {
    return BROKER_CONFIGS.map((def) => this.resolve(def.name));
  }

  resolve(name: string): ResolvedConfig {
    const def = this.def(name);
    const synonyms: ResolvedConfig['synonyms'] = [];
    if (this.dynamicBroker.has(name))
      synonyms.push({ name, value: this.dynamicBroker.get(name)!, source: ConfigSource.DYNAMIC_BROKER_CONFIG });
    if (this.dynamicDefault.has(name))
      synonyms.push({
        name,
        value: this.dynamicDefault.get(name)!,
        source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
      });
    if (this.staticValues.has(name))
      synonyms.push({ name, value: this.staticValues.get(name)!, source: ConfigSource.STATIC_BROKER_CONFIG });
    if (def.default !== null) synonyms.push({ name, value: def.default, source: ConfigSource.DEFAULT_CONFIG });
    return { name, value: this.get(name), source: this.source(name), synonyms };
  }

  /**
   * The broker-supplied default of a topic config: the first of its broker synonyms that is set
   * (converted to the topic config's unit), else the topic config's own default.
   */
  topicDefault(topicName: string): ResolvedConfig {
    const def = TOPIC_CONFIG_BY_NAME.get(topicName);
    if (!def) throw new Error(`no topic config named ${topicName}`);
    return this.resolveTopicDefault(def);
  }

  private resolveTopicDefault(def: TopicConfigDef): ResolvedConfig {
    const synonyms: ResolvedConfig['synonyms'] = [];
    let chosen: { value: string; source: number } | null = null;
    for (const syn of def.synonyms) {
      if (!this.isSet(syn.name)) continue;
      const raw = this.get(syn.name)!;
      const value = syn.factor ? String(Number(raw) * syn.factor) : raw;
      const source = this.source(syn.name);
      synonyms.push({ name: syn.name, value: raw, source });
      chosen ??= { value, source };
    }
    // Each broker synonym's own default is listed as DEFAULT_CONFIG (e.g. log.retention.hours=168),
    // as kafka-configs --describe --all shows it.
    for (const syn of def.synonyms) {
      const brokerDef = BROKER_CONFIG_BY_NAME.get(syn.name);
      if (brokerDef?.default != null)
        synonyms.push({ name: syn.name, value: brokerDef.default, source: ConfigSource.DEFAULT_CONFIG });
    }
    if (chosen) return { name: def.name, value: chosen.value, source: chosen.source, synonyms };
    // An unset synonym with a broker default (log.retention.hours=168) still decides the value.
    for (const syn of def.synonyms) {
      const brokerDef = BROKER_CONFIG_BY_NAME.get(syn.name);
      if (brokerDef?.default != null) {
        const value = syn.factor ? String(Number(brokerDef.default) * syn.factor) : brokerDef.default;
        return { name: def.name, value, source: ConfigSource.DEFAULT_CONFIG, synonyms };
      }
    }
    return { name: def.name, value: def.default, source: ConfigSource.DEFAULT_CONFIG, synonyms };
  }
}

const LISTENER = /^([A-Za-z0-9_]+):\/\/(\[[^\]]*\]|[^:[\]]*):(\d+)$/;

export function parseListeners(property: string, items: string[]): Listener[] {
  return items.map((item) => {
    const m = LISTENER.exec(item);
    if (!m) throw new ConfigError(property, `${property}: "${item}" is not of the form NAME://host:port`);
    const port = Number(m[3]);
    if (port > 65535) throw new ConfigError(property, `${property}: port ${port} is out of range`);
    const host = m[2]!.replace(/^\[|\]$/g, '');
    return { name: m[1]!, host, port };
  });
}

/**
 * Typed configuration definitions with Kafka's names. Values travel as strings, as they do in
 * Kafka's config APIs; `parseConfigValue` turns a validated string into its typed form.
 */
export type ConfigType = 'BOOLEAN' | 'STRING' | 'INT' | 'SHORT' | 'LONG' | 'DOUBLE' | 'LIST' | 'CLASS' | 'PASSWORD';

/** DescribeConfigs `ConfigType` codes (KIP-569). */
export const CONFIG_TYPE_CODE: Record<ConfigType, number> = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
};

/** DescribeConfigs `ConfigSource` codes. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
} as const;

export const INT_MAX = 2147483647;
export const LONG_MAX = '9223372036854775807';

export interface ConfigDef {
  name: string;
  type: ConfigType;
  /** Kafka's default in string form; null when unset. */
  default: string | null;
  doc: string;
  /** For STRING: the allowed values; for LIST: the allowed elements. Compared case-sensitively unless `ignoreCase`. */
  oneOf?: readonly string[];
  ignoreCase?: boolean;
  min?: number;
  max?: number;
  /** Broker configs: may be changed at run time through AlterConfigs/IncrementalAlterConfigs. */
  dynamic?: boolean;
  sensitive?: boolean;
  /** Accepted for compatibility with Kafka config files; Brook does not use it. */
  noEffect?: boolean;
  /** Values Brook refuses (INVALID_CONFIG, or a failed start) because it cannot do what they ask, and why. */
  refused?: { values: readonly string[]; reason: string };
}

export type ConfigValue = string | number | boolean | string[] | null;

/** Thrown for a value that does not fit its definition; the message names the property. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(message);
  }
}

const INTEGER = /^[+-]?\d+$/;

function checkRange(def: ConfigDef, n: number): void {
  if (def.min !== undefined && n < def.min)
    throw new ConfigError(def.name, `${def.name}: value ${n} is below the minimum ${def.min}`);
  if (def.max !== undefined && n > def.max)
    throw new ConfigError(def.name, `${def.name}: value ${n} is above the maximum ${def.max}`);
}

/**
 * Validates `raw` against `def` and returns the normalised string to store (trimmed; booleans
 * lower-cased; lists without blanks around commas). Throws ConfigError naming the property.
 */
export function normalizeConfigValue(def: ConfigDef, raw: string | null): string | null {
  const v = normalize(def, raw);
  if (v !== null && def.refused?.values.includes(v))
    throw new ConfigError(def.name, `${def.name}=${v} is not supported: ${def.refused.reason}`);
  return v;
}

function normalize(def: ConfigDef, raw: string | null): string | null {
  if (raw === null) return null;
  const v = raw.trim();
  switch (def.type) {
    case 'BOOLEAN': {
      const l = v.toLowerCase();
      if (l !== 'true' && l !== 'false')
        throw new ConfigError(def.name, `${def.name}: expected true or false, got "${raw}"`);
      return l;
    }
    case 'INT':
    case 'SHORT':
    case 'LONG': {
      if (!INTEGER.test(v)) throw new ConfigError(def.name, `${def.name}: expected an integer, got "${raw}"`);
      const big = BigInt(v);
      const limit = def.type === 'LONG' ? 9223372036854775807n : def.type === 'INT' ? 2147483647n : 32767n;
      if (big > limit || big < -limit - 1n)
        throw new ConfigError(def.name, `${def.name}: ${raw} does not fit in a ${def.type.toLowerCase()}`);
      checkRange(def, Number(big));
      return big.toString();
    }
    case 'DOUBLE': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n))
        throw new ConfigError(def.name, `${def.name}: expected a number, got "${raw}"`);
      checkRange(def, n);
      return v;
    }
    case 'LIST': {
      const items =
        v === ''
          ? []
          : v
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '');
      if (def.oneOf) {
        for (const item of items) {
          if (!matches(def, item)) {
            throw new ConfigError(def.name, `${def.name}: "${item}" is not one of ${def.oneOf.join(', ')}`);
          }
        }
      }
      return items.join(',');
    }
    default:
      if (def.oneOf && !matches(def, v)) {
        throw new ConfigError(def.name, `${def.name}: "${raw}" is not one of ${def.oneOf.join(', ')}`);
      }
      return v;
  }
}

function matches(def: ConfigDef, v: string): boolean {
  return def.ignoreCase ? def.oneOf!.some((o) => o.toLowerCase() === v.toLowerCase()) : def.oneOf!.includes(v);
}

/** The typed form of an already normalised value. LONGs beyond 2^53 become the nearest number. */
export function parseConfigValue(def: ConfigDef, v: string | null): ConfigValue {
  if (v === null) return null;
  switch (def.type) {
    case 'BOOLEAN':
      return v === 'true';
    case 'INT':
    case 'SHORT':
    case 'LONG':
    case 'DOUBLE':
      return Number(v);
    case 'LIST':
      return v === '' ? [] : v.split(',');
    default:
      return v;
  }
}

export function defsByName(defs: readonly ConfigDef[]): Map<string, ConfigDef> {
  return new Map(defs.map((d) => [d.name, d]));
}

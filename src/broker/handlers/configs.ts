import type { LevelWithSilent } from 'pino';
import { BROKER_CONFIG_BY_NAME } from '../../config/broker-configs.js';
import type { ResolvedConfig } from '../../config/broker-config.js';
import { CONFIG_TYPE_CODE, ConfigError, ConfigSource, type ConfigDef } from '../../config/config-def.js';
import { TOPIC_CONFIG_BY_NAME } from '../../config/topic-configs.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { DescribeConfigsResponseDescribeConfigsResult } from '../../protocol/messages/describe-configs-response.js';
import { defineHandler } from '../api-handler.js';
import type { HandlerContext } from './context.js';
import { errorCodeOf, errorMessageOf } from '../errors.js';
import { resolveTopicConfigs, validateTopicConfigs } from '../topic-config.js';

/** Config resource types (ConfigResource.Type). */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;
/** IncrementalAlterConfigs operations. */
const OpType = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const LOGGER = 'root';
const LEVELS = new Set(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'OFF']);

const asConfigError = (err: unknown): unknown =>
  err instanceof ConfigError ? new KafkaError(ErrorCode.INVALID_CONFIG, err.message) : err;

/** What these handlers use of the broker. */
export type ConfigsDeps = Pick<HandlerContext, 'config' | 'log' | 'metadata' | 'nodeId' | 'topics'>;

/**
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics, the broker (its own id or
 * the cluster-wide default, empty name) and the broker logger. Changes are persisted in the
 * metadata store and applied to the live logs at once.
 */
export function configHandlers(deps: ConfigsDeps) {
  type Scope = 'broker' | 'default';
  const brokerScope = (name: string): Scope => {
    if (name === '') return 'default';
    if (name === String(deps.nodeId)) return 'broker';
    throw new KafkaError(
      ErrorCode.INVALID_REQUEST,
      `Unexpected broker id, expected ${deps.nodeId} or empty string, but received ${name}`,
    );
  };
  const topicOf = (name: string) => {
    const t = deps.topics.topic(name);
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist`);
    return t;
  };

  function entry(
    def: ConfigDef | undefined,
    c: ResolvedConfig,
    readOnly: boolean,
    v: number,
    synonyms: boolean,
    docs: boolean,
  ) {
    const sensitive = def?.sensitive ?? false;
    return {
      name: c.name,
      value: sensitive ? null : c.value,
      readOnly,
      // isDefault exists only in v0 (v1+ report configSource instead).
      isDefault: v === 0 && c.source === ConfigSource.DEFAULT_CONFIG,
      configSource: c.source,
      isSensitive: sensitive,
      synonyms:
        synonyms && v >= 1
          ? c.synonyms.map((s) => ({ name: s.name, value: sensitive ? null : s.value, source: s.source }))
          : [],
      configType: def ? CONFIG_TYPE_CODE[def.type] : 0,
      documentation: docs ? (def?.doc ?? null) : null,
    };
  }

  const describeConfigs = defineHandler({
    api: 'DescribeConfigs',
    minVersion: 0,
    maxVersion: 4,
    handle(ctx, req) {
      const v = ctx.apiVersion;
      const results: DescribeConfigsResponseDescribeConfigsResult[] = [];
      for (const r of req.resources) {
        const res: DescribeConfigsResponseDescribeConfigsResult = {
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          configs: [],
        };
        results.push(res);
        const keys = r.configurationKeys === null ? null : new Set(r.configurationKeys);
        const wanted = (name: string) => keys === null || keys.has(name);
        try {
          if (r.resourceType === ResourceType.TOPIC) {
            const t = topicOf(r.resourceName);
            for (const c of resolveTopicConfigs(t.configs, deps.config)) {
              if (wanted(c.name))
                res.configs.push(
                  entry(TOPIC_CONFIG_BY_NAME.get(c.name), c, false, v, req.includeSynonyms, req.includeDocumentation),
                );
            }
          } else if (r.resourceType === ResourceType.BROKER) {
            const scope = brokerScope(r.resourceName);
            for (const c of deps.config.describe()) {
              // The cluster-default resource lists only what was set as a cluster-wide default.
              if (scope === 'default' && c.source !== ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG) continue;
              const def = BROKER_CONFIG_BY_NAME.get(c.name);
              if (wanted(c.name))
                res.configs.push(entry(def, c, !def?.dynamic, v, req.includeSynonyms, req.includeDocumentation));
            }
          } else if (r.resourceType === ResourceType.BROKER_LOGGER) {
            brokerScope(r.resourceName === '' ? String(deps.nodeId) : r.resourceName);
            if (wanted(LOGGER)) {
              res.configs.push(
                entry(
                  undefined,
                  {
                    name: LOGGER,
                    value: deps.log.level.toUpperCase(),
                    source: ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG,
                    synonyms: [],
                  },
                  false,
                  v,
                  false,
                  false,
                ),
              );
            }
          } else {
            throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${r.resourceType}`);
          }
        } catch (err) {
          res.errorCode = errorCodeOf(err, deps.log, 'describe configs');
          res.errorMessage = errorMessageOf(err);
          res.configs = [];
        }
      }
      return { throttleTimeMs: 0, results };
    },
  });

  /** Applies the final config map of one resource (shared by both alter APIs). */
  async function apply(
    resourceType: number,
    resourceName: string,
    next: Record<string, string>,
    validateOnly: boolean,
  ): Promise<void> {
    if (resourceType === ResourceType.TOPIC) {
      topicOf(resourceName);
      let validated: Record<string, string>;
      try {
        validated = validateTopicConfigs(next);
      } catch (err) {
        throw asConfigError(err);
      }
      if (!validateOnly) await deps.topics.setTopicConfigs(resourceName, validated);
    } else if (resourceType === ResourceType.BROKER) {
      const scope = brokerScope(resourceName);
      try {
        for (const [k, val] of Object.entries(next)) deps.config.checkDynamic(k, val);
      } catch (err) {
        throw asConfigError(err);
      }
      if (validateOnly) return;
      for (const k of deps.config.dynamicValues(scope).keys()) if (!(k in next)) deps.config.setDynamic(scope, k, null);
      for (const [k, val] of Object.entries(next)) deps.config.setDynamic(scope, k, val);
      await deps.metadata.setDynamicBrokerConfigs(scope, Object.fromEntries(deps.config.dynamicValues(scope)));
      deps.topics.reapplyAllConfigs();
    } else if (resourceType === ResourceType.BROKER_LOGGER) {
      brokerScope(resourceName === '' ? String(deps.nodeId) : resourceName);
      for (const [k, val] of Object.entries(next)) {
        if (k !== LOGGER)
          throw new KafkaError(ErrorCode.INVALID_CONFIG, `Unknown logger ${k}; Brook has one logger, ${LOGGER}`);
        if (!LEVELS.has(val.toUpperCase())) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid log level ${val}`);
      }
      if (!validateOnly && next[LOGGER] !== undefined) {
        const level = next[LOGGER].toUpperCase();
        deps.log.level = (level === 'OFF' ? 'silent' : level.toLowerCase()) as LevelWithSilent;
      }
    } else {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resourceType}`);
    }
  }

  function current(resourceType: number, resourceName: string): Record<string, string> {
    if (resourceType === ResourceType.TOPIC) return { ...topicOf(resourceName).configs };
    if (resourceType === ResourceType.BROKER)
      return Object.fromEntries(deps.config.dynamicValues(brokerScope(resourceName)));
    if (resourceType === ResourceType.BROKER_LOGGER) return {};
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resourceType}`);
  }

  const alterConfigs = defineHandler({
    api: 'AlterConfigs',
    minVersion: 0,
    maxVersion: 2,
    async handle(_ctx, req) {
      const responses = [];
      for (const r of req.resources) {
        const res = {
          errorCode: ErrorCode.NONE as number,
          errorMessage: null as string | null,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        };
        responses.push(res);
        try {
          const next: Record<string, string> = {};
          for (const c of r.configs) {
            if (c.value === null)
              throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for ${c.name}`);
            next[c.name] = c.value;
          }
          await apply(r.resourceType, r.resourceName, next, req.validateOnly);
        } catch (err) {
          res.errorCode = errorCodeOf(err, deps.log, 'alter configs');
          res.errorMessage = errorMessageOf(err);
        }
      }
      return { throttleTimeMs: 0, responses };
    },
  });

  const incrementalAlterConfigs = defineHandler({
    api: 'IncrementalAlterConfigs',
    minVersion: 0,
    maxVersion: 1,
    async handle(_ctx, req) {
      const responses = [];
      for (const r of req.resources) {
        const res = {
          errorCode: ErrorCode.NONE as number,
          errorMessage: null as string | null,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        };
        responses.push(res);
        try {
          const names = r.configs.map((c) => c.name);
          if (new Set(names).size !== names.length)
            throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Duplicate config keys in one resource');
          const next = current(r.resourceType, r.resourceName);
          for (const c of r.configs) {
            const def =
              r.resourceType === ResourceType.TOPIC
                ? TOPIC_CONFIG_BY_NAME.get(c.name)
                : BROKER_CONFIG_BY_NAME.get(c.name);
            if (!def && r.resourceType !== ResourceType.BROKER_LOGGER)
              throw new KafkaError(ErrorCode.INVALID_CONFIG, `Unknown config ${c.name}`);
            switch (c.configOperation) {
              case OpType.SET:
                if (c.value === null)
                  throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for ${c.name}`);
                next[c.name] = c.value;
                break;
              case OpType.DELETE:
                delete next[c.name];
                break;
              case OpType.APPEND:
              case OpType.SUBTRACT: {
                if (def?.type !== 'LIST')
                  throw new KafkaError(
                    ErrorCode.INVALID_REQUEST,
                    `Config ${c.name} is not a list; APPEND and SUBTRACT need one`,
                  );
                const base =
                  next[c.name] ??
                  (r.resourceType === ResourceType.TOPIC
                    ? deps.config.topicDefault(c.name).value
                    : deps.config.get(c.name)) ??
                  '';
                const items = base === '' ? [] : base.split(',');
                const given = (c.value ?? '')
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean);
                const out =
                  c.configOperation === OpType.APPEND
                    ? [...items, ...given.filter((g) => !items.includes(g))]
                    : items.filter((i) => !given.includes(i));
                next[c.name] = out.join(',');
                break;
              }
              default:
                throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown config operation ${c.configOperation}`);
            }
          }
          await apply(r.resourceType, r.resourceName, next, req.validateOnly);
        } catch (err) {
          res.errorCode = errorCodeOf(err, deps.log, 'incremental alter configs');
          res.errorMessage = errorMessageOf(err);
        }
      }
      return { throttleTimeMs: 0, responses };
    },
  });

  return [describeConfigs, alterConfigs, incrementalAlterConfigs];
}

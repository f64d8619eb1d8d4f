import { ErrorCode } from '../../protocol/errors.js';
import { defineHandler } from '../api-handler.js';
import type { HandlerContext } from './context.js';

/** KIP-511 rule for client software name and version: alphanumerics, '-' and '.', ends alphanumeric. */
const SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** What these handlers use of the broker. */
export type ApiVersionsDeps = Pick<HandlerContext, 'supportedApis'>;

export function apiVersionsHandler(deps: ApiVersionsDeps) {
  return defineHandler({
    api: 'ApiVersions',
    minVersion: 0,
    maxVersion: 4,
    handle(ctx, req) {
      let errorCode: number = ErrorCode.NONE;
      if (ctx.apiVersion >= 3) {
        if (!SOFTWARE.test(req.clientSoftwareName) || !SOFTWARE.test(req.clientSoftwareVersion)) {
          errorCode = ErrorCode.INVALID_REQUEST;
        } else {
          ctx.session.clientSoftwareName = req.clientSoftwareName;
          ctx.session.clientSoftwareVersion = req.clientSoftwareVersion;
        }
      }
      return {
        errorCode,
        apiKeys: deps.supportedApis(),
        throttleTimeMs: 0,
        supportedFeatures: [],
        finalizedFeaturesEpoch: -1,
        finalizedFeatures: [],
        zkMigrationReady: false,
      };
    },
  });
}

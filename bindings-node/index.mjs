// ESM entry point: the same module as index.js. Node cannot list the names of a CommonJS module
// whose exports are computed, so they are named here; a test checks none is missing.
import trainpod from './index.js';

export const {
  __napiBindingTarget,
  ERROR_CODES,
  TrainpodError,
  TokenError,
  InvalidInputError,
  StoreError,
  ApiError,
  DatasetError,
  SequenceConflictError,
  InternalError,
  WebhookError,
  CLASS_BY_CODE,
  errorClass,
  AppStaging,
  ArtifactUpload,
  DatasetGrant,
  Follow,
  LogStream,
  Tokens,
  Store,
  Trainpod,
  generateSecret,
  generateWebhookSecret,
  verifyWebhook,
  errorCodes,
  httpStatus,
  version,
} = trainpod;
export default trainpod;

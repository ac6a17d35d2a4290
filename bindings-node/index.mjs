// ESM entry point: the same module as index.js.
import trainpod from './index.js';

export const {
  ERROR_CODES,
  TrainpodError,
  TokenError,
  InvalidInputError,
  StoreError,
  ApiError,
  Tokens,
  Store,
  generateSecret,
  errorCodes,
  version,
} = trainpod;
export default trainpod;

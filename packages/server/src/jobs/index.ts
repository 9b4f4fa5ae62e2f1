export {
  defineJob,
  type EnqueueRequest,
  type JobContext,
  JobEngine,
  type JobHandler,
  type JobState,
} from './engine.js';
export {
  CancelledError,
  describeError,
  JobFailedError,
  LeaseLostError,
  RetryLaterError,
  ShutdownError,
  WaitingError,
} from './errors.js';

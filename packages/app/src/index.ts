export { type RunningService, type StartOptions, startService } from './service.js';

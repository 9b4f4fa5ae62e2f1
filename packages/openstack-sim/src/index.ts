export type { FaultSpec, ServiceName } from './common/faults.js';
export type { SimLogger } from './common/logger.js';
export { type ProjectName, type Simulator, type SimulatorOptions, startSimulator } from './simulator.js';

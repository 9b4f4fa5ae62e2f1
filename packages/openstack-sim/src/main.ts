/**
 * Runs the simulator on the embedded-default ports (Keystone 5000, Cinder 8776, Nova 8774,
 * Glance 9292) until SIGINT/SIGTERM:
 *   tsx packages/openstack-sim/src/main.ts --state-dir ./data/sim [--host 127.0.0.1] [--delay-ms 200]
 *     [--keystone-port 5000] [--cinder-port 8776] [--nova-port 8774] [--glance-port 9292]
 */
import { parseArgs } from 'node:util';
import { startSimulator } from './simulator.js';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string', default: './data/sim' },
    host: { type: 'string', default: '127.0.0.1' },
    'delay-ms': { type: 'string', default: '200' },
    verbose: { type: 'boolean', default: false },
    'keystone-port': { type: 'string', default: '5000' },
    'cinder-port': { type: 'string', default: '8776' },
    'nova-port': { type: 'string', default: '8774' },
    'glance-port': { type: 'string', default: '9292' },
  },
});

/** `logger.info(obj, msg)` → one line: time, message, then the object as JSON. */
const log = (...a: unknown[]) => {
  const text = a.filter((x) => typeof x === 'string');
  const objects = a
    .filter((x) => typeof x !== 'string')
    .map((x) => JSON.stringify(x, (_k, v) => (v instanceof Error ? v.stack : v)));
  console.log(new Date().toISOString(), ...text, ...objects);
};
const sim = await startSimulator({
  stateDir: values['state-dir'],
  host: values.host,
  ports: {
    keystone: Number(values['keystone-port']),
    cinder: Number(values['cinder-port']),
    nova: Number(values['nova-port']),
    glance: Number(values['glance-port']),
  },
  transitionDelayMs: Number(values['delay-ms']),
  logger: { info: log, debug: values.verbose ? log : () => {} },
});

console.log(`OpenStack simulator running, state in ${sim.stateDir}
  Keystone ${sim.urls.keystone}
  Cinder   ${sim.urls.cinder}/v3/<project_id>
  Nova     ${sim.urls.nova}
  Glance   ${sim.urls.glance}
  Volume files (file layout): ${sim.volumesDir}

Users (password = name): admin (admin on admin), demo (member on demo), alt_demo (member on alt_demo),
reader (reader on demo), backup (admin + service on service: the backup service's user).
  export OS_AUTH_URL=${sim.urls.keystone} OS_USERNAME=admin OS_PASSWORD=admin OS_PROJECT_NAME=admin \\
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3
  openstack token issue
Projects: ${Object.values(sim.projects)
  .map((p) => `${p.name}=${p.id}`)
  .join(' ')}`);

const stop = async () => {
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

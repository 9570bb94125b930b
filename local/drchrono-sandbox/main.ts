import { parseArgs } from 'node:util';
import { startSandbox } from './index';

/**
 * The sandbox on its own, without the rest of the local platform (`npm start` runs it together with everything):
 *   npx tsx local/drchrono-sandbox/main.ts [--port 3100] [--state .local/drchrono-sandbox/state.json] [--time-scale 3600]
 */
const { values } = parseArgs({
  options: { port: { type: 'string', default: '3100' }, state: { type: 'string' }, 'time-scale': { type: 'string' }, 'no-seed': { type: 'boolean' } },
});

const sandbox = await startSandbox({
  port: Number(values.port),
  ...(values.state ? { statePath: values.state } : {}),
  ...(values['time-scale'] ? { timeScale: Number(values['time-scale']) } : {}),
  seed: !values['no-seed'],
});
console.log(`DrChrono sandbox listening on ${sandbox.url}`);
console.log(`  point the product at it with DRCHRONO_BASE_URL=${sandbox.url}`);
console.log(`  default app: client_id sandbox-client, client_secret sandbox-secret; control API under ${sandbox.url}/_sandbox/`);

const stop = () => void sandbox.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

/** The `dmx` executable: one command line, its exit code (see run.ts). */
import { run } from './run';

process.exitCode = await run(process.argv.slice(2));

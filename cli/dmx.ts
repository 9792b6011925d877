/**
 * dmx — the operator CLI. Human-readable output by default, `--json` for scripts; exits non-zero
 * with a message on failure.
 */
import { Command, Option } from 'commander';
import { loadConfig } from '../lib/config';
import { checkpointTemplate } from '../activities/templates/checkpoint';
import { createRealDeps } from '../workers/deps';
import { printResult } from './output';

const program = new Command('dmx').description('demo-multiplexer operator CLI').option('--json', 'machine-readable output');

program
  .command('checkpoint')
  .description('start a template container, warm it, and export its CRIU checkpoint')
  .argument('[name]', 'template name', 'standin')
  .addOption(new Option('--kind <kind>', 'template kind').choices(['standin', 'flashlight']).default('standin'))
  .option('--image <ref>', 'image to use (flashlight: e.g. docker.io/prestashop/prestashop-flashlight:8.2.0)')
  .option('--force', 'take a new checkpoint even if the current one matches the image')
  .option('--no-checkpoint', 'record the template without a checkpoint (demos boot with podman run)')
  .action(async (name: string, o: { kind: 'standin' | 'flashlight'; image?: string; force?: boolean; checkpoint: boolean }) => {
    const deps = createRealDeps(loadConfig(), 'dmx-checkpoint');
    try {
      const spec = await checkpointTemplate(deps, { name, kind: o.kind, image: o.image, force: o.force, noCheckpoint: !o.checkpoint });
      printResult(program.opts().json, spec, [
        ['template', spec.name], ['kind', spec.kind], ['version', spec.version], ['image', spec.image],
        ['checkpoint', spec.checkpointArchive ?? '(none: demos use podman run)'],
        ['database', spec.database], ['reused', String(spec.reused)],
        ['checkpoint seconds', spec.checkpointSeconds?.toFixed(2) ?? '-'],
        ['archive MB', spec.archiveBytes ? (spec.archiveBytes / 1e6).toFixed(1) : '-'],
      ]);
    } finally {
      await deps.close();
    }
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`dmx: ${err.message}\n`);
  process.exit(1);
});

/**
 * The demo names adapter against the test stack's names server (dnsmasq, started by stack.sh): a
 * name answers from its publication to its withdrawal, a new address replaces the old one, and bad
 * input is refused before anything is written.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoNames, DemoNamesError, type DemoNames } from '../../adapters/demo-names';
import { newDemoId } from '../helpers/ids';
import { testConfig } from '../helpers/stack';

let names: DemoNames;
const name = `dmx-${testConfig().profile}-${newDemoId()}`;
beforeAll(() => {
  names = createDemoNames(testConfig());
});
afterAll(async () => {
  await names.withdraw(name);
});

describe('demo names (real names server)', () => {
  it('answers a name from publish to withdraw, with its latest address; NXDOMAIN before and after', async () => {
    expect(await names.resolve(name)).toBeUndefined();
    await names.publish(name, '10.251.0.7');
    expect(await names.resolve(name)).toBe('10.251.0.7');
    expect(names.isPublished(name)).toBe(true);
    expect(await names.list()).toContain(name);
    await names.publish(name, '10.251.0.8');
    expect(await names.resolve(name)).toBe('10.251.0.8');
    await names.withdraw(name);
    expect(await names.resolve(name)).toBeUndefined();
    expect(names.isPublished(name)).toBe(false);
    // Idempotent: withdrawing again is fine.
    await names.withdraw(name);
  });

  it('refuses a bad name or address with a clear error and writes nothing', async () => {
    const before = readdirSync(names.dir).sort();
    await expect(names.publish('../etc/passwd', '10.0.0.1')).rejects.toThrow(DemoNamesError);
    await expect(names.publish('Upper_Case', '10.0.0.1')).rejects.toThrow(/invalid demo name/);
    await expect(names.publish(name, '10.0.0.1 evil.dmx')).rejects.toThrow(/invalid address/);
    await expect(names.withdraw('a/b')).rejects.toThrow(/invalid demo name/);
    await expect(names.resolve('a.b')).rejects.toThrow(/invalid demo name/);
    expect(readdirSync(names.dir).sort()).toEqual(before);
  });

  it('says which server did not answer', async () => {
    const dead = createDemoNames({ names: { dir: names.dir, port: 9 } });
    await expect(dead.resolve(name)).rejects.toThrow(/names server at 127\.0\.0\.1:9 did not answer/);
  });
});

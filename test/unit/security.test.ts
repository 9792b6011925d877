/** The firewall ruleset and the payload codec, without a stack (nft only checks syntax: `nft -c`). */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { firewallRuleset, parseEgressAllow, type FirewallSpec } from '../../lib/firewall';
import { AesGcmPayloadCodec, CodecError } from '../../lib/payload-codec';

const spec: FirewallSpec = {
  profile: 'unit', demoBridge: 'podman90', edgeBridge: 'podman91', mariadbGateway: '10.90.0.1', mariadbPort: 13306, egressAllow: [],
};

describe('demo firewall ruleset', () => {
  it('parses the egress allowlist and refuses anything else', () => {
    expect(parseEgressAllow('')).toEqual([]);
    expect(parseEgressAllow('203.0.113.0/24:443, 198.51.100.7/32:8443')).toEqual([{ cidr: '203.0.113.0/24', port: 443 }, { cidr: '198.51.100.7/32', port: 8443 }]);
    for (const bad of ['203.0.113.0/24', '203.0.113.0/33:443', 'example.com:443', '10.0.0.0/8:0', '10.0.0.0/8:70000', '10.0.0.0/8:443; flush ruleset']) {
      expect(() => parseEgressAllow(bad), bad).toThrow(/invalid egress rule/);
    }
  });

  it('is valid nft, drops by default and opens exactly MariaDB and the allowlist', async () => {
    const text = firewallRuleset({ ...spec, egressAllow: [{ cidr: '203.0.113.0/24', port: 443 }] });
    expect(text).toContain('iifname "podman90" ip daddr 10.90.0.1 tcp dport 13306 accept');
    expect(text).toContain('iifname "podman90" ip daddr 203.0.113.0/24 tcp dport 443 accept');
    expect(text.match(/ accept$/gm)).toHaveLength(4); // MariaDB, the allowlist entry, and two for replies (established)
    const check = await execa('nft', ['-c', '-f', '-'], { input: text, reject: false });
    expect(check.stderr).toBe('');
    expect(check.exitCode).toBe(0);
  });

  it('refuses names and addresses that could inject rules', () => {
    expect(() => firewallRuleset({ ...spec, demoBridge: 'x" accept; #' })).toThrow(/invalid bridge name/);
    expect(() => firewallRuleset({ ...spec, mariadbGateway: '10.90.0.1 accept' })).toThrow(/invalid gateway/);
    expect(() => firewallRuleset({ ...spec, profile: 'Bad-Profile' })).toThrow(/invalid profile/);
  });
});

describe('payload codec', () => {
  const payload = { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('{"password":"s3cret-password"}') };

  it('round-trips, hides the content and uses a fresh IV each time', async () => {
    const codec = new AesGcmPayloadCodec(randomBytes(32));
    const [a] = await codec.encode([payload]);
    const [b] = await codec.encode([payload]);
    expect(Buffer.from(a!.data!).toString('latin1')).not.toContain('s3cret');
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    const [back] = await codec.decode([a!]);
    expect(Buffer.from(back!.data!).toString()).toBe('{"password":"s3cret-password"}');
    expect(Buffer.from(back!.metadata!.encoding!).toString()).toBe('json/plain');
    // Payloads recorded before encryption still decode (passed through).
    expect(await codec.decode([payload])).toEqual([payload]);
  });

  it('refuses a tampered payload and names a foreign key', async () => {
    const codec = new AesGcmPayloadCodec(randomBytes(32));
    const [enc] = await codec.encode([payload]);
    const tampered = Buffer.from(enc!.data!);
    tampered[20] = tampered[20]! ^ 1;
    await expect(codec.decode([{ ...enc!, data: tampered }])).rejects.toThrow(/unable to authenticate|auth/i);
    const other = new AesGcmPayloadCodec(randomBytes(32));
    await expect(other.decode([enc!])).rejects.toThrow(CodecError);
    await expect(other.decode([enc!])).rejects.toThrow(new RegExp(`encrypted with key ${codec.keyId}`));
    expect(() => new AesGcmPayloadCodec(randomBytes(16))).toThrow(/32-byte key/);
  });
});

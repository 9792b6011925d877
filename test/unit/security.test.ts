/** The firewall ruleset and the payload codec, without a stack (nft only checks syntax: `nft -c`). */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { firewallRuleset, parseEgressAllow, type FirewallSpec } from '../../lib/firewall';
import { AesGcmPayloadCodec, CodecError } from '../../lib/payload-codec';

const spec: FirewallSpec = {
  profile: 'unit', mariadbPort: 13306, egressAllow: [],
  pairs: [
    { demoBridge: 'podman90', edgeBridge: 'podman91', mariadbGateway: '10.90.0.1' },
    { demoBridge: 'podman92', edgeBridge: 'podman93', mariadbGateway: '10.90.8.1' },
  ],
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
    // Each pair's demos reach MariaDB at their own gateway, not at another pair's.
    expect(text).toContain('iifname "podman90" ip daddr 10.90.0.1 tcp dport 13306 accept');
    expect(text).toContain('iifname "podman92" ip daddr 10.90.8.1 tcp dport 13306 accept');
    expect(text).not.toMatch(/"podman90" ip daddr 10\.90\.8\.1|"podman92" ip daddr 10\.90\.0\.1/);
    expect(text).toContain('iifname { "podman90", "podman92" } ip daddr 203.0.113.0/24 tcp dport 443 accept');
    // Every bridge of every pair is filtered: traffic between pairs is routed, so the forward drop covers it.
    expect(text).toContain('iifname { "podman90", "podman91", "podman92", "podman93" } counter drop');
    expect(text.match(/ accept$/gm)).toHaveLength(5); // MariaDB twice, the allowlist entry, and two for replies (established)
    const check = await execa('nft', ['-c', '-f', '-'], { input: text, reject: false });
    expect(check.stderr).toBe('');
    expect(check.exitCode).toBe(0);
  });

  it('refuses names and addresses that could inject rules', () => {
    const [first, second] = spec.pairs;
    expect(() => firewallRuleset({ ...spec, pairs: [first!, { ...second!, edgeBridge: 'x" accept; #' }] })).toThrow(/invalid bridge name/);
    expect(() => firewallRuleset({ ...spec, pairs: [{ ...first!, mariadbGateway: '10.90.0.1 accept' }] })).toThrow(/invalid gateway/);
    expect(() => firewallRuleset({ ...spec, pairs: [] })).toThrow(/no network pair/);
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

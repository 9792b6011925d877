/** The profile's network pairs: slices of its ranges, names, gateways, and refused plans. */
import { describe, expect, it } from 'vitest';
import { networkPairs, networkPairsFromEnv, NetworkPlanError, pairOf } from '../../lib/network-pairs';

const ranges = { network: 'dmx-t', subnet: '10.94.0.0/16', edgeNetwork: 'dmx-t-edge', edgeSubnet: '10.95.0.0/16', pairs: 3 };

describe('network pairs', () => {
  it('slices the /16 ranges into /21 pairs, each with its own gateway, all inside the range', () => {
    const pairs = networkPairs(ranges);
    expect(pairs.map((p) => [p.network, p.subnet, p.gateway, p.edgeNetwork, p.edgeSubnet, p.edgeGateway])).toEqual([
      ['dmx-t', '10.94.0.0/21', '10.94.0.1', 'dmx-t-edge', '10.95.0.0/21', '10.95.0.1'],
      ['dmx-t-1', '10.94.8.0/21', '10.94.8.1', 'dmx-t-edge-1', '10.95.8.0/21', '10.95.8.1'],
      ['dmx-t-2', '10.94.16.0/21', '10.94.16.1', 'dmx-t-edge-2', '10.95.16.0/21', '10.95.16.1'],
    ]);
    // The last of 32 pairs ends at the range's end.
    expect(networkPairs({ ...ranges, pairs: 32 })[31]!.subnet).toBe('10.94.248.0/21');
  });

  it('gives a /24 range exactly one pair', () => {
    const [only] = networkPairs({ ...ranges, subnet: '10.89.30.0/24', edgeSubnet: '10.89.31.0/24', pairs: 1 });
    expect(only).toMatchObject({ network: 'dmx-t', subnet: '10.89.30.0/24', gateway: '10.89.30.1', edgeGateway: '10.89.31.1' });
    expect(() => networkPairs({ ...ranges, subnet: '10.89.30.0/24', pairs: 2 })).toThrow(/from 1 to 1/);
  });

  it.each([
    [{ pairs: 0 }, /from 1 to 32/],
    [{ pairs: 33 }, /from 1 to 32/],
    [{ pairs: 1.5 }, /whole number/],
    [{ subnet: '10.94.1.0/16' }, /demo range "10\.94\.1\.0\/16"/],
    [{ edgeSubnet: '10.300.0.0/16' }, /edge range/],
    [{ subnet: '10.94.0.0/20' }, /\/16 or \/24/],
    [{ edgeNetwork: 'dmx-t' }, /different names/],
  ])('refuses %o', (change, message) => {
    expect(() => networkPairs({ ...ranges, ...change })).toThrow(NetworkPlanError);
    expect(() => networkPairs({ ...ranges, ...change })).toThrow(message);
  });

  it('reads the environment and names what is missing or malformed', () => {
    const env = { DMX_NETWORK: 'dmx-t', DMX_NETWORK_SUBNET: '10.94.0.0/16', DMX_EDGE_NETWORK: 'dmx-t-edge', DMX_EDGE_SUBNET: '10.95.0.0/16' };
    expect(networkPairsFromEnv(env)).toHaveLength(1);
    expect(networkPairsFromEnv({ ...env, DMX_NETWORK_PAIRS: '4' })).toHaveLength(4);
    expect(() => networkPairsFromEnv({ ...env, DMX_EDGE_SUBNET: undefined })).toThrow(/DMX_EDGE_SUBNET must be set/);
    expect(() => networkPairsFromEnv({ ...env, DMX_NETWORK_PAIRS: '2; rm' })).toThrow(/DMX_NETWORK_PAIRS must be a whole number/);
    expect(() => networkPairsFromEnv({ ...env, DMX_NETWORK: 'Bad Name' })).toThrow(/DMX_NETWORK must be/);
  });

  it('finds the pair a container is on from either of its networks', () => {
    const pairs = networkPairs(ranges);
    expect(pairOf(pairs, { 'dmx-t-1': {}, 'dmx-t-edge-1': {} })?.index).toBe(1);
    expect(pairOf(pairs, { 'dmx-t-edge-2': {} })?.index).toBe(2);
    expect(pairOf(pairs, { podman: {} })).toBeUndefined();
  });
});

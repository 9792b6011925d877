import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.state/**', 'bench/results/**', 'deployments/template/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Workflow code must stay deterministic: no Node builtins or I/O clients; activities and the
    // layers above only as types (erased from the bundle). location.ts is not bundled.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/location.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'crypto', 'child_process', 'execa', 'mysql2*', 'iovalkey', 'undici', 'pino'], message: 'workflow code is deterministic: no Node builtins or I/O' },
          { group: ['../activities', '../activities/*', '../adapters/*', '../lib/*', '../client', '../client/*', '../api/*', '../templates/*'], allowTypeImports: true, message: 'workflows take only types from the layers above them' },
        ],
      }],
    },
  },
  {
    // The contract is the bottom layer: it imports nothing of dmx's but itself.
    files: ['contract/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'crypto', 'child_process', 'execa', 'mysql2*', 'iovalkey', 'undici', 'pino'], message: 'the contract is deterministic-safe' },
          { group: ['../*'], message: 'the contract is the bottom layer: it imports only itself' },
        ],
      }],
    },
  },
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'lake/**',
      'cdk.out/**',
      'src/generated/**',
      'coverage/**',
      'bench/data/**',
      'console/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        module: 'writable',
        require: 'readonly',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: 'Focused tests are not committed.' },
        { object: 'it', property: 'skip', message: 'Skipped tests are not committed.' },
        { object: 'test', property: 'only', message: 'Focused tests are not committed.' },
        { object: 'test', property: 'skip', message: 'Skipped tests are not committed.' },
        { object: 'describe', property: 'only', message: 'Focused tests are not committed.' },
        { object: 'describe', property: 'skip', message: 'Skipped tests are not committed.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'xit', message: 'Skipped tests are not committed.' },
        { name: 'xdescribe', message: 'Skipped tests are not committed.' },
        { name: 'fit', message: 'Focused tests are not committed.' },
        { name: 'fdescribe', message: 'Focused tests are not committed.' },
      ],
    },
  },
  {
    files: ['src/**/*.ts', 'lambda/**/*.ts'],
    ignores: ['src/config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Only src/config.ts reads the environment; take config as a parameter.',
        },
      ],
    },
  },
);

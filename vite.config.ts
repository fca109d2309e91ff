/**
 * One Vite config for three jobs:
 * - `vite` / `vite build`: the demo page (`demo/`), importing peerject from `src/` as an app would
 *   import the package (no polyfill configuration: see docs/architecture.md, "simple-peer");
 * - `vitest`: every test (unit, Node over real WebRTC, Chromium via Playwright);
 * - the library itself is emitted by `tsc` (scripts/build.js), module by module, so apps tree-shake it.
 */
import { defineConfig } from 'vitest/config'

export default defineConfig({
  root: 'demo',
  resolve: { alias: { peerject: new URL('./src/index.ts', import.meta.url).pathname } },
  server: { host: '127.0.0.1' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  test: {
    root: '.',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One file at a time: the real-WebRTC and Chromium files each start browsers, servers and
    // peers; two at once on a 2-core CI machine starve connection setup (seen: a Chromium↔Node
    // link not ready within its deadline). Serial costs about a minute and removes that flake.
    fileParallelism: false,
    typecheck: {
      enabled: true,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
  },
})

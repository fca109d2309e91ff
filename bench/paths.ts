/**
 * Where the bench's own files are, whether it runs compiled (`npm run bench`: tsc output in
 * .bench-build/, what users run: no transform on the hot path) or straight from TypeScript.
 */
const here = new URL('.', import.meta.url)

/** The repository's bench/ directory. */
export const BENCH_DIR: URL = here.pathname.includes('/.bench-build/')
  ? new URL('../../bench/', here)
  : here

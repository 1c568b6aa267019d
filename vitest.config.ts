import { defineConfig } from 'vitest/config';

// Tests start real redis-server and role processes. Files run one at a time: on a 2-core machine,
// parallel files would compete for CPU and turn timing into flakiness.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
    env: { LOG_FORMAT: 'json', NO_COLOR: '1' },
  },
});

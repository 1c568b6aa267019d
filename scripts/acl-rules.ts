// `npm run acl`: writes the chart's copy of the Redis ACL rules from services/shared/security/acl.ts
// (test/security/acl-chart.test.ts fails when the two differ).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChartRules } from '../services/shared/security/acl.ts';

export const chartRulesFile = join(import.meta.dirname, '..', 'charts', 'event-planner', 'files', 'redis-acl.conf');

writeFileSync(chartRulesFile, renderChartRules());
process.stdout.write(`wrote ${chartRulesFile}\n`);

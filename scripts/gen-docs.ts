// `npm run docs`: rewrites the generated documentation files from their sources.
import { writeFileSync } from 'node:fs';
import { writeChartFiles } from './chart-files.js';
import { renderValuesDoc } from './values-doc.js';

writeFileSync('docs/values.md', renderValuesDoc());
process.stderr.write('wrote docs/values.md\n');
for (const path of writeChartFiles()) process.stderr.write(`wrote ${path}\n`);

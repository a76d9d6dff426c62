// Renders the CRDs as the YAML files kept in crds/ (and copied into the chart).
import { dump } from 'js-yaml';
import { customResourceDefinitions } from './crds.ts';

const HEADER = '# Generated from src/api by `npm run crds`. Do not edit.\n';

export function renderCrdFiles(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(customResourceDefinitions()).map(([file, crd]) => [file, HEADER + dump(crd, { lineWidth: -1, noRefs: true })]),
  );
}

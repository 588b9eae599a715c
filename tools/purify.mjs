#!/usr/bin/env node
// The `purify` command: registers the TypeScript loader, then runs tools/cli.ts.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');

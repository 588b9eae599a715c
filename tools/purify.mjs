#!/usr/bin/env node
// `purify` from a checkout: registers the TypeScript loader, then runs tools/purify-bin.ts (an
// installed package runs the compiled dist/tools/purify-bin.js instead).
import { register } from 'tsx/esm/api';

register();
await import('./purify-bin.ts');

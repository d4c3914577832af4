#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx factlab` works straight after install.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');

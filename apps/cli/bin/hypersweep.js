#!/usr/bin/env node
// Runs the TypeScript entry point in this very process through tsx's loader: no child process in
// between, so signals (Ctrl-C, SIGTERM) and the exit code are the command's own.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');

/**
 * The ProcessInfo of the test process, built as main.ts builds the real one (createProcessInfo with the
 * pid, the host name and `process.kill`). `overrides` stand in for another pid, another host name or a
 * chosen answer about which processes run.
 */
import { hostname } from 'node:os';
import type { ProcessInfo } from '../../src/ports.js';
import { createProcessInfo } from '../../src/store/process-info.js';

export function thisProcess(overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  const real = createProcessInfo({ pid: process.pid, hostname: hostname(), kill: (pid, signal) => process.kill(pid, signal) });
  return { ...real, ...overrides };
}

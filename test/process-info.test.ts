import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createProcessInfo } from '../src/store/process-info.js';

const systemError = (code: string) => Object.assign(new Error(code), { code });

describe('createProcessInfo', () => {
  it('passes pid and hostname through', () => {
    const info = createProcessInfo({ pid: 4242, hostname: 'digest-host', kill: () => true });
    expect({ pid: info.pid, hostname: info.hostname }).toEqual({ pid: 4242, hostname: 'digest-host' });
  });

  it('a process that can be signalled, or exists as another user (EPERM), is alive; ESRCH means gone', () => {
    const answers: Record<number, () => unknown> = {
      1: () => true,
      2: () => {
        throw systemError('EPERM');
      },
      3: () => {
        throw systemError('ESRCH');
      },
    };
    const signals: number[] = [];
    const info = createProcessInfo({
      pid: 99,
      hostname: 'h',
      kill: (pid, signal) => {
        signals.push(signal);
        return answers[pid]!();
      },
    });
    expect([1, 2, 3].map((pid) => info.isProcessAlive(pid))).toEqual([true, true, false]);
    expect(signals).toEqual([0, 0, 0]);
  });

  it('with the real process.kill: this process is alive, a child that has exited is not', async () => {
    const info = createProcessInfo({ pid: process.pid, hostname: 'h', kill: (pid, signal) => process.kill(pid, signal) });
    expect(info.isProcessAlive(process.pid)).toBe(true);
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const pid = child.pid!;
    await once(child, 'exit');
    expect(info.isProcessAlive(pid)).toBe(false);
  });
});

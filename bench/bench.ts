/**
 * `npm run bench`: a million LastPass audit events a day, in bounded memory, measured.
 * (Over 400 lines on purpose: one compiled file runs as the three kinds of process below and shares their
 * wiring and result types; the attack-day profile's own logic lives in bench/attack.ts.)
 *
 *   npm run bench                               # 1,000,000 events (the issue's target size)
 *   npm run bench -- --events 100000            # any size
 *   npm run bench -- --json out.json --strict   # figures to a file; exit 1 when a target is missed
 *   npm run bench -- --cpu-prof                 # one more, profiled, pipeline run: self time per module/function
 *   npm run bench -- --latency-ms 0             # LastPass answering at once (default: 300 ms per page, realistic)
 *   npm run bench -- --page-reader json-parse   # the pipeline reading every page with JSON.parse (no byte scanner)
 *   npm run bench -- --attack 200000 --rounds 1  # the attack-day profile (bench/attack.ts): peak RSS, HTML size
 *   --rounds R (default 3: medians are reported) · --no-worker (skip the worker start-up figures) · --keep-temp
 *
 * Layout (one compiled file, three roles):
 *   parent   generates the day (`generateDemoDay`), hosts the embedded LastPass simulator on loopback, seeds
 *            the store with a week of earlier delivered days (as `npm run demo` does), spawns the children
 *            one after the other, starts the real worker to time its start-up, prints and writes the figures.
 *   floor    a child that only fetches the window's pages over loopback exactly as the client pages them
 *            (POST, `await res.text()`, `JSON.parse`; a full page → ask again with `to` = its oldest second).
 *   pipeline a child that runs the real `runReport(deps, {})` delivering to the outbox with the evidence archive on: real LastPass client, analysis,
 *            renderer, file store in a temp dir, outbox mailer (wiring mirrors src/demo.ts).
 * Each child is its own process, so its peak RSS is its own: the simulator and its million events live in
 * the parent. On Linux that peak is read from /proc/self/status (VmHWM, the high-water mark of the
 * child's own address space since it started): `process.resourceUsage().maxRSS` of a spawned child also
 * counts the parent's pages at the moment of the spawn (the kernel carries the forked copy's high-water
 * mark over the exec), which here is the parent's million events. Both are recorded; maxRSS is the
 * figure elsewhere.
 *
 * Memory diagnostics of the pipeline child (environment, read by this bench only): BENCH_TRACE_MEMORY=1
 * prints RSS, heap and external memory at every page and run checkpoint to stderr; BENCH_HEAP_SNAPSHOT=FILE
 * writes a V8 heap snapshot when the fetch ends.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { createLastPassClient, LASTPASS_PAGE_LIMIT, type PageReader } from '../src/adapters/lastpass/lastpass-client.js';
import { createOutboxMailer } from '../src/adapters/mail/outbox-mailer.js';
import { createRenderer, HTML_BUDGET_BYTES } from '../src/adapters/renderer.js';
import type { Config } from '../src/config/load-config.js';
import { DEFAULTS } from '../src/config/load-config.js';
import type { RawEvent, ReportWindow, WallRange } from '../src/core/types.js';
import { createLogger } from '../src/logger.js';
import { requestRange, runReport } from '../src/run-report.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { createProcessInfo } from '../src/store/process-info.js';
import { seedEarlierDays as seedDemoHistory } from '../src/demo.js';
import { createEvidence } from '../src/evidence/create-evidence-archive.js';
import { VERSION, findUp } from '../src/version.js';
import { runAttackBench } from './attack.js';
import type { LastPassClient, Mailer, Renderer, Store } from '../src/ports.js';
import { replicaChild } from './replica-child.js';
import { replicasBench } from './replicas.js';

// ---- shared ---------------------------------------------------------------------------------------

const ACCOUNT = '8771234';
/** Not a real secret: the simulator only accepts this value. */
const SECRET = 'bench-provisioning-hash-0000';
const API_USER = DEFAULTS.LASTPASS_API_USER;
const LASTPASS_TZ = DEFAULTS.LASTPASS_TIMEZONE;
const REPORT_TZ = DEFAULTS.REPORT_TIMEZONE;
/** A fixed window end (a Wednesday 07:00 UTC): the same day is generated on every run. */
const WINDOW_END = new Date('2025-06-04T07:00:00.000Z');
const RESULT_MARK = 'BENCH_RESULT ';
const benchProcess = createProcessInfo({ pid: process.pid, hostname: os.hostname(), kill: (pid, signal) => process.kill(pid, signal) });

/**
 * LastPass's time to answer one page of 10,000 events, by default (--latency-ms). The real API takes
 * hundreds of milliseconds per page; at 0 the run is CPU-bound, which exaggerates what parsing costs.
 */
const DEFAULT_LATENCY_MS = 300;

const TARGETS = {
  ratio: 1.5,
  peakRssMiB: 256,
  /** Peak RSS at N events over the peak at N/10 (the issue: 1M against 100k). */
  growth: 1.5,
  /** The renderer's HTML budget (Gmail clips at about 102 KB). */
  htmlBytes: HTML_BUDGET_BYTES,
  startupMs: 1000,
  idleRssMiB: 80,
} as const;

export interface ChildSpec {
  url: string;
  range: WallRange;
  window: { start: string; end: string };
  dataDir: string;
  /** Write the evidence archive (raw pages compressed, manifest, chain), as a real run does. */
  evidence: boolean;
  /** How the pipeline's LastPass client reads the pages. */
  pageReader: PageReader;
}

interface FloorResult {
  ms: number;
  /** CPU (user + system) this process used over the timed part: less sensitive to a busy machine than wall time. */
  cpuMs: number;
  requests: number;
  pages: number;
  events: number;
  bytes: number;
  /** Peak RSS of this process (VmHWM on Linux). */
  maxRssKiB: number;
  /** `process.resourceUsage().maxRSS` (includes the parent's pages at spawn on Linux). */
  reportedMaxRssKiB: number;
  /** RSS once the modules are loaded, before the first request. */
  startRssMiB: number;
  bodies: string[];
}

export interface PipelineResult {
  ms: number;
  /** CPU (user + system) this process used during runReport. */
  cpuMs: number;
  /** Peak RSS of this process (VmHWM on Linux). */
  maxRssKiB: number;
  /** `process.resourceUsage().maxRSS` (includes the parent's pages at spawn on Linux). */
  reportedMaxRssKiB: number;
  /** RSS once the modules are loaded and the adapters built, before runReport. */
  startRssMiB: number;
  status: string;
  windowStatus: string;
  destination: string | null;
  eventsReviewed: number | null;
  error: string | null;
  phases: {
    beforeFetchMs: number;
    fetchMs: number;
    /** Inside fetchEvents: time in the page callback (handing the raw page to the evidence archive). */
    onPageMs: number;
    /** From the end of the fetch to the first render: analysis.result(), CSV/JSON attachments, model. */
    afterFetchToRenderMs: number;
    renderMs: number;
    renders: number;
    /** The HTML part of each digest rendered (one per window). */
    htmlBytesPerRender: number[];
    deliverMs: number;
    afterDeliverMs: number;
  };
  fetch: { requests: number; pages: number; events: number };
  memory: { peakHeapUsedMiB: number; samples: number; peakSampledRssMiB?: number; peakSampledAt?: string; peakExternalMiB?: number };
}

const mib = (kib: number) => kib / 1024;

/**
 * This process's own peak RSS in KiB: VmHWM where /proc has it, else `process.resourceUsage().maxRSS`
 * (which, in a child, can include the parent's pages at spawn: see the header).
 */
function ownPeakRssKiB(): number {
  try {
    const hwm = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function reportingBody(range: WallRange): string {
  // The exact shape the real client sends (src/adapters/lastpass-client.ts, requestOnce).
  return JSON.stringify({ cid: ACCOUNT, provhash: SECRET, apiuser: API_USER, cmd: 'reporting', data: { from: range.from, to: range.to } });
}

function sendResult(result: unknown): void {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
}

// ---- floor child -----------------------------------------------------------------------------------

async function childFloor(spec: ChildSpec): Promise<void> {
  const pageLimit = 10_000;
  const from = spec.range.from;
  let to = spec.range.to;
  let requests = 0;
  let pages = 0;
  let events = 0;
  let bytes = 0;
  const bodies: string[] = [];
  const startRssMiB = round(process.memoryUsage().rss / 1048576);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  while (from <= to) {
    const body = reportingBody({ from, to });
    bodies.push(body);
    const res = await fetch(spec.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    const text = await res.text();
    requests++;
    bytes += text.length;
    const json = JSON.parse(text) as { status: string; data?: Record<string, RawEvent> | RawEvent[] };
    if (json.status !== 'OK') throw new Error(`floor: status ${json.status}`);
    const data = json.data ?? {};
    const rows = Array.isArray(data) ? data : Object.values(data);
    if (rows.length > 0) pages++;
    if (rows.length < pageLimit) {
      events += rows.length;
      break;
    }
    // Same paging rule as the client: keep what is strictly newer than the oldest second, ask again to it.
    let oldest = to;
    for (const r of rows) if (r.Time < oldest) oldest = r.Time;
    if (oldest === to) throw new Error('floor: a full page in one second');
    for (const r of rows) if (r.Time > oldest) events++;
    to = oldest;
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const result: FloorResult = {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    requests,
    pages,
    events,
    bytes,
    maxRssKiB: ownPeakRssKiB(),
    reportedMaxRssKiB: process.resourceUsage().maxRSS,
    startRssMiB,
    bodies,
  };
  sendResult(result);
}

// ---- pipeline child --------------------------------------------------------------------------------

async function childPipeline(spec: ChildSpec): Promise<void> {
  const logger = createLogger({ level: 'warn', write: (line) => process.stderr.write(`${line}\n`) });
  const config: Pick<Config, 'lastpass' | 'report'> = {
    lastpass: {
      accountNumber: ACCOUNT,
      apiSecret: SECRET,
      apiUrl: spec.url,
      timeZone: LASTPASS_TZ,
      apiUser: API_USER,
      timeoutMs: 60_000,
    },
    report: {
      from: 'LastPass digest <digest@example.org>',
      to: ['secops@example.org'],
      schedule: DEFAULTS.REPORT_SCHEDULE,
      timeZone: REPORT_TZ,
      maxCatchupDays: 7,
    },
  };
  // Timing decorators around the real adapters (a few clock reads per page; they change nothing else).
  const marks = { fetchStart: 0, fetchEnd: 0, firstRender: 0, deliverStart: 0, deliverEnd: 0 };
  let onPageMs = 0;
  let renderMs = 0;
  let renders = 0;
  const htmlBytesPerRender: number[] = [];
  let peakHeap = 0;
  let samples = 0;
  // v8 heap statistics, not process.memoryUsage(): that one reads /proc for the RSS (~0.5 ms a call).
  // And the RSS with where it was taken (a few dozen samples a run: process.memoryUsage() is cheap enough).
  let peakSampledRss = 0;
  let peakSampledAt = '';
  let peakExternal = 0;
  const sampleMemory = (at = 'page') => {
    const used = getHeapStatistics().used_heap_size;
    samples++;
    if (used > peakHeap) peakHeap = used;
    const m = process.memoryUsage();
    if (m.external > peakExternal) peakExternal = m.external;
    if (process.env.BENCH_TRACE_MEMORY)
      process.stderr.write(
        `memory ${at} rss=${(m.rss / 1048576).toFixed(1)} heapUsed=${(m.heapUsed / 1048576).toFixed(1)} heapTotal=${(m.heapTotal / 1048576).toFixed(1)} ext=${(m.external / 1048576).toFixed(1)} ab=${(m.arrayBuffers / 1048576).toFixed(1)}\n`,
      );
    if (m.rss > peakSampledRss) {
      peakSampledRss = m.rss;
      peakSampledAt = at;
    }
  };
  let fetchStats = { requests: 0, pages: 0, events: 0 };

  const realClient = createLastPassClient({ ...config.lastpass, logger, pageReader: spec.pageReader });
  const lastpass: LastPassClient = {
    endpoint: realClient.endpoint,
    probe: (range, sink, options) => realClient.probe(range, sink, options),
    async fetchEvents(range, sink, options = {}) {
      marks.fetchStart = performance.now();
      const { onPage } = options;
      const stats = await realClient.fetchEvents(range, sink, {
        ...options,
        async onPage(page) {
          const t = performance.now();
          await onPage?.(page);
          onPageMs += performance.now() - t;
          sampleMemory();
        },
      });
      marks.fetchEnd = performance.now();
      sampleMemory('fetch end');
      if (process.env.BENCH_HEAP_SNAPSHOT) writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT);
      fetchStats = { requests: stats.requests, pages: stats.pages, events: stats.events };
      return stats;
    },
  };
  const realRenderer = createRenderer();
  const renderer: Renderer = {
    renderDigest: (model) => realRenderer.renderDigest(model),
    renderDigestWithinBudget(build) {
      const t = performance.now();
      if (marks.firstRender === 0) marks.firstRender = t;
      // Each build of the model is one render (the renderer rebuilds it with halved caps when over budget).
      const out = realRenderer.renderDigestWithinBudget((caps) => {
        renders++;
        return build(caps);
      });
      renderMs += performance.now() - t;
      htmlBytesPerRender.push(Buffer.byteLength(out.html));
      sampleMemory('after render');
      return out;
    },
    renderFailure: (model) => realRenderer.renderFailure(model),
  };
  const realOutbox = createOutboxMailer({ dataDir: spec.dataDir, logger });
  const outbox: Mailer = {
    async send(message, options) {
      marks.deliverStart = performance.now();
      sampleMemory('before send');
      const out = await realOutbox.send(message, options);
      marks.deliverEnd = performance.now();
      sampleMemory('after send');
      return out;
    },
  };
  const store = createFileStore({ dir: spec.dataDir, processInfo: benchProcess, now: () => new Date() });
  await store.init();
  const evidence = spec.evidence
    ? createEvidence({
        dataDir: spec.dataDir,
        databaseUrl: null,
        version: VERSION,
        settings: { raw: true, retentionDays: 400, signingKey: null },
        now: () => new Date(),
      })
    : undefined;

  const startRssMiB = round(process.memoryUsage().rss / 1048576);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const outcome = await runReport(
    {
      config,
      store,
      lastpass,
      mailer: outbox,
      outbox,
      renderer,
      logger,
      now: () => new Date(),
      version: VERSION,
      owner: 'bench',
      ...(process.env.BENCH_TRACE_MEMORY ? { checkpoint: (name: string) => sampleMemory(name) } : {}),
      // The evidence archive is part of a real run: raw pages compressed, manifest, hash chain.
      ...(evidence ? { evidence } : {}),
    },
    { from: new Date(spec.window.start), to: new Date(spec.window.end), force: true },
  );
  const ended = performance.now();
  const cpu = process.cpuUsage(cpu0);
  await store.close();
  await evidence?.close();
  const w = outcome.windows[0];
  const result: PipelineResult = {
    ms: ended - started,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssKiB: ownPeakRssKiB(),
    reportedMaxRssKiB: process.resourceUsage().maxRSS,
    startRssMiB,
    status: outcome.status,
    windowStatus: w?.status ?? 'none',
    destination: w?.destination ?? null,
    eventsReviewed: w?.eventsReviewed ?? null,
    error: w?.error ?? null,
    phases: {
      beforeFetchMs: (marks.fetchStart || ended) - started,
      fetchMs: marks.fetchEnd - marks.fetchStart,
      onPageMs,
      afterFetchToRenderMs: marks.firstRender ? marks.firstRender - marks.fetchEnd : 0,
      renderMs,
      renders,
      htmlBytesPerRender,
      deliverMs: marks.deliverEnd - marks.deliverStart,
      afterDeliverMs: marks.deliverEnd ? ended - marks.deliverEnd : 0,
    },
    fetch: fetchStats,
    memory: {
      peakHeapUsedMiB: round(peakHeap / 1048576),
      samples,
      peakSampledRssMiB: round(peakSampledRss / 1048576),
      peakSampledAt,
      peakExternalMiB: round(peakExternal / 1048576),
    },
  };
  sendResult(result);
}

// ---- parent ----------------------------------------------------------------------------------------

export interface ChildRun<T> {
  result: T;
  /** CPU the parent (i.e. the simulator) used while the child ran. */
  simulatorCpuMs: number;
  /** Wall time of the child process, spawn to exit (module loading included). */
  processMs: number;
}

function runChild<T>(mode: 'floor' | 'pipeline', spec: ChildSpec, execArgv: string[] = []): Promise<ChildRun<T>> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolvePromise, reject) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const child = spawn(process.execPath, [...execArgv, self, 'child', mode, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const cpu = process.cpuUsage(cpu0);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) {
        reject(new Error(`${mode} child exited with code ${code}${out ? `: ${out.slice(-2000)}` : ''}`));
        return;
      }
      resolvePromise({
        result: JSON.parse(line.slice(RESULT_MARK.length)) as T,
        simulatorCpuMs: (cpu.user + cpu.system) / 1000,
        processMs: performance.now() - t0,
      });
    });
  });
}

/** Mirrors src/demo.ts (seedEarlierDays): a week of earlier delivered days, so detections have a baseline. */
/** The same week of history as the demo (src/demo.ts), so the detections run against a baseline. */
function seedEarlierDays(store: Store, end: Date, benignCount: number): Promise<void> {
  return seedDemoHistory(store, end, LASTPASS_TZ, REPORT_TZ, benignCount);
}

interface WorkerRun {
  startupMs: number | null;
  idleRssMiB: number | null;
  /** SIGTERM to exit (the worker stops gracefully); null when it had to be killed. */
  stopMs: number | null;
  error: string | null;
}

function readVmRssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Starts `node dist/cli.js worker`, times it to `worker.scheduled`, reads VmRSS after 1 s idle, SIGTERMs it. */
async function measureWorker(cliPath: string, dataDir: string): Promise<WorkerRun> {
  await mkdir(dataDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dataDir,
    LASTPASS_ACCOUNT_NUMBER: '1234567',
    LASTPASS_API_KEY: 'bench-fake-provisioning-hash',
    // Nothing listens on port 9 (discard): the worker only schedules, it never calls out at start-up.
    LASTPASS_API_URL: 'http://127.0.0.1:9/enterpriseapi.php',
    SENDGRID_API_KEY: 'SG.bench',
    REPORT_FROM: 'digest@example.org',
    REPORT_TO: 'secops@example.org',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
  };
  return new Promise((resolvePromise) => {
    const t0 = performance.now();
    // cwd = the temp dir, so no .env file of the repository is read.
    const child = spawn(process.execPath, [cliPath, 'worker'], { cwd: dataDir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let startupMs: number | null = null;
    let settled = false;
    const finish = (run: WorkerRun) => {
      if (settled) return;
      settled = true;
      clearTimeout(giveUp);
      resolvePromise(run);
    };
    const giveUp = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ startupMs: null, idleRssMiB: null, stopMs: null, error: `no worker.scheduled within 15 s: ${err.slice(-500)}` });
    }, 15_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
      if (startupMs === null && /"msg":"worker\.scheduled"/.test(err)) {
        startupMs = round(performance.now() - t0, 0);
        setTimeout(() => {
          const kib = child.pid === undefined ? null : readVmRssKiB(child.pid);
          const termAt = performance.now();
          child.kill('SIGTERM');
          let killed = false;
          const kill = setTimeout(() => {
            killed = true;
            child.kill('SIGKILL');
          }, 10_000);
          child.once('close', (code, signal) => {
            clearTimeout(kill);
            const stopped = !killed && code === 0;
            finish({
              startupMs,
              idleRssMiB: kib === null ? null : round(mib(kib)),
              stopMs: stopped ? round(performance.now() - termAt, 0) : null,
              error: stopped
                ? null
                : `worker did not stop cleanly on SIGTERM (exit code ${code}, signal ${signal}${killed ? ', killed after 10 s' : ''})`,
            });
          });
        }, 1_000);
      }
    });
    child.on('close', (code) => {
      if (startupMs === null)
        finish({ startupMs: null, idleRssMiB: null, stopMs: null, error: `worker exited with code ${code}: ${err.slice(-800)}` });
    });
  });
}

/** VmRSS of a bare `node` process idle for 1 s: what any Node.js process costs on this machine. */
async function measureBareNode(): Promise<number | null> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1_000));
  const kib = child.pid === undefined ? null : readVmRssKiB(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('close', r));
  return kib === null ? null : round(mib(kib));
}

/** The run with the median `ms` (the lower middle for an even count). */
function medianRun<T extends { ms: number }>(runs: ChildRun<T>[]): ChildRun<T> {
  const sorted = [...runs].sort((a, b) => a.result.ms - b.result.ms);
  return sorted[(sorted.length - 1) >> 1]!;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The commit and the uncommitted files of the tree the bench was built from (null outside git). */
function sourceState(root: string): { commit: string; uncommittedFiles: string[] } | null {
  try {
    // trimEnd, not trim: a porcelain line starts with its status column, often a space.
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
    const changed = git('status', '--porcelain', '--untracked-files=no');
    return { commit: git('rev-parse', '--short', 'HEAD'), uncommittedFiles: changed ? changed.split('\n').map((l) => l.slice(3)) : [] };
  } catch {
    return null;
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Self time per function and per module of a .cpuprofile. */
function summariseProfile(file: string, root: string): { functions: [string, number][]; modules: [string, number][]; totalMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let total = 0;
  const short = (url: string) => {
    if (!url) return '(native)';
    const p = url.startsWith('file://') ? fileURLToPath(url) : url;
    const nm = p.lastIndexOf('node_modules/');
    if (nm >= 0)
      return `${p
        .slice(nm + 'node_modules/'.length)
        .split('/')
        .slice(0, p.slice(nm + 13).startsWith('@') ? 2 : 1)
        .join('/')} (dep)`;
    return p.startsWith(root) ? p.slice(root.length + 1) : p;
  };
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (!node) continue;
    total += dt;
    const f = node.callFrame;
    const m = short(f.url);
    const name = `${f.functionName || '(anonymous)'} ${m}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + dt);
    mod.set(m, (mod.get(m) ?? 0) + dt);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => [k, round(v)] as [string, number]);
  return { functions: top(fn, 25), modules: top(mod, 15), totalMs: round(total) };
}

async function parent(): Promise<number> {
  const USAGE =
    'usage: npm run bench -- [--events N] [--rounds R] [--latency-ms MS] [--page-reader byte-scanner|json-parse] [--json FILE] [--strict] [--cpu-prof] [--no-worker] [--keep-temp] [--no-evidence] [--no-growth] [--attack N]';
  const options = {
    events: { type: 'string', default: '1000000' },
    json: { type: 'string' },
    strict: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'no-worker': { type: 'boolean', default: false },
    'keep-temp': { type: 'boolean', default: false },
    'no-evidence': { type: 'boolean', default: false },
    'no-growth': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    'latency-ms': { type: 'string', default: String(DEFAULT_LATENCY_MS) },
    'page-reader': { type: 'string', default: 'byte-scanner' },
    attack: { type: 'string' },
  } as const;
  let values: ReturnType<typeof parseArgs<{ options: typeof options; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options, strict: true }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  const benignCount = Number(values.events.replace(/[_,]/g, ''));
  if (!Number.isInteger(benignCount) || benignCount < 0) {
    process.stderr.write(`--events must be a whole number (got "${values.events}")\n`);
    return 2;
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write(`--rounds must be a whole number ≥ 1 (got "${values.rounds}")\n`);
    return 2;
  }
  const latencyMs = Number(values['latency-ms']);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) {
    process.stderr.write(`--latency-ms must be a whole number of milliseconds ≥ 0 (got "${values['latency-ms']}")\n`);
    return 2;
  }
  const pageReader = values['page-reader'];
  if (pageReader !== 'byte-scanner' && pageReader !== 'json-parse') {
    process.stderr.write(`--page-reader must be byte-scanner or json-parse (got "${pageReader}")\n`);
    return 2;
  }
  if (values.attack !== undefined) return attackProfile(values, pageReader, rounds, latencyMs);
  const loadAtStart = round(os.loadavg()[0] ?? 0, 2);
  const self = fileURLToPath(import.meta.url);
  const pkg = findUp(dirname(self), 'package.json');
  const root = pkg ? dirname(pkg) : process.cwd();
  const jsonPath = resolve(values.json ?? join(root, 'bench', 'results', 'latest.json'));
  const cliPath = join(root, 'dist', 'cli.js');
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const fmt = (n: number) => n.toLocaleString('en-US');

  const tmp = await mkdtemp(join(os.tmpdir(), 'lad-bench-'));
  const window: ReportWindow = { start: new Date(WINDOW_END.getTime() - 86_400_000), end: WINDOW_END };
  const range = requestRange(window, LASTPASS_TZ);
  if (!range) throw new Error('empty request range');
  const totalStart = performance.now();
  let simulator: LastPassSimulator | null = null;
  try {
    const source = sourceState(root);
    say(
      `lastpass-audit-digest bench: ${fmt(benignCount)} benign events over 24 h (+ planted incidents), node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
    );
    say(
      `  LastPass answers each page after ${latencyMs} ms; the pipeline reads pages with ${pageReader === 'byte-scanner' ? 'the byte scanner' : 'JSON.parse'}`,
    );
    if (source)
      say(`  source: ${source.commit}${source.uncommittedFiles.length ? ` + ${source.uncommittedFiles.length} uncommitted file(s)` : ''}`);
    if (loadAtStart > 0.5) say(`  note: load average ${loadAtStart} at start: something else is using the CPU, timings will be noisy`);
    let t = performance.now();
    const day = generateDemoDay({ end: WINDOW_END, hours: 24, timeZone: LASTPASS_TZ, benignCount });
    const generateMs = performance.now() - t;
    const eventCount = day.events.length;
    let ownApiRows = 0;
    for (const e of day.events) if (e.Action === 'Reporting' && e.Data === `Initiated by API: ${API_USER}`) ownApiRows++;
    t = performance.now();
    // Every page is kept once built (the issue: the simulator pre-builds its pages so that it does not
    // dominate the measurement). A warm-up pass below builds them before anything is timed.
    simulator = await createLastPassSimulator({
      accountNumber: ACCOUNT,
      apiSecret: SECRET,
      events: day.events,
      timeZone: LASTPASS_TZ,
      cachedPages: Math.ceil(eventCount / LASTPASS_PAGE_LIMIT) + 16,
    });
    const simulatorStartMs = performance.now() - t;
    // The simulator holds its own sorted copy; the generated array is not needed any more.
    day.events.length = 0;
    say(
      `  generated ${fmt(eventCount)} events in ${round(generateMs / 1000, 2)} s; simulator up in ${round(simulatorStartMs / 1000, 2)} s at ${simulator.url}`,
    );

    const dataDir = join(tmp, 'pipeline');
    t = performance.now();
    {
      const store = createFileStore({ dir: dataDir, processInfo: benchProcess, now: () => new Date() });
      await store.init();
      await seedEarlierDays(store, WINDOW_END, benignCount);
      await store.close();
    }
    const seedMs = performance.now() - t;
    say(`  seeded 7 earlier delivered days (history baseline, as the demo does) in ${round(seedMs / 1000, 2)} s`);

    const spec: ChildSpec = {
      url: simulator.url,
      range,
      window: { start: window.start.toISOString(), end: window.end.toISOString() },
      dataDir,
      evidence: !values['no-evidence'],
      pageReader,
    };

    // Warm-up, not counted: one floor pass makes the simulator build (serialise) every page it will serve.
    t = performance.now();
    const warm = await runChild<FloorResult>('floor', spec);
    say(
      `  pre-built the simulator's ${fmt(warm.result.requests)} pages (one floor pass, not counted) in ${round((performance.now() - t) / 1000, 2)} s`,
    );
    // From here on LastPass takes its time to answer, as the real one does (the pre-building went without).
    simulator.setDelay(latencyMs);

    // 1 + 2. Alternating rounds: the floor (the same pages, fetched and parsed, nothing else), then the real
    // pipeline end to end in dry run. The median round is reported; peak RSS is the worst round.
    const floors: ChildRun<FloorResult>[] = [];
    const pipes: ChildRun<PipelineResult>[] = [];
    let sameRequests = true;
    let servedFloor = 0;
    let servedPipe = 0;
    const redact = (body: string) => JSON.stringify({ ...(JSON.parse(body) as object), provhash: '[redacted]' });
    for (let r = 1; r <= rounds; r++) {
      const floorFirst = simulator.requests.length;
      const floor = await runChild<FloorResult>('floor', spec);
      const floorLog = simulator.requests.slice(floorFirst);
      floors.push(floor);
      const f = floor.result;
      say(
        `  round ${r} floor:    ${round(f.ms / 1000, 2)} s (CPU ${round(f.cpuMs / 1000, 2)} s), ${f.requests} requests, ${fmt(f.events)} events, ${round(f.bytes / 1e6)} MB of JSON, peak RSS ${round(mib(f.maxRssKiB))} MiB`,
      );
      const pipeFirst = simulator.requests.length;
      const pipeline = await runChild<PipelineResult>('pipeline', spec);
      const pipeLog = simulator.requests.slice(pipeFirst);
      pipes.push(pipeline);
      const pr = pipeline.result;
      say(
        `  round ${r} pipeline: ${round(pr.ms / 1000, 2)} s (CPU ${round(pr.cpuMs / 1000, 2)} s), ${pr.fetch.requests} requests, ${pr.status}/${pr.windowStatus}, ${fmt(pr.eventsReviewed ?? 0)} events reviewed, peak RSS ${round(mib(pr.maxRssKiB))} MiB`,
      );
      if (pr.error) say(`  pipeline error: ${pr.error}`);
      // Same requests? (The simulator logs each body with provhash redacted.)
      const floorBodies = f.bodies.map(redact);
      const pipeBodies = pipeLog.map((x) => JSON.stringify(x.body));
      const same = floorBodies.length === pipeBodies.length && floorBodies.every((b, i) => b === pipeBodies[i]);
      if (!same) say(`  WARNING: the pipeline's ${pipeBodies.length} requests differ from the floor's ${floorBodies.length}`);
      sameRequests &&= same;
      servedFloor = floorLog.reduce((sum, x) => sum + x.eventCount, 0);
      servedPipe = pipeLog.reduce((sum, x) => sum + x.eventCount, 0);
    }
    const floor = medianRun(floors);
    const pipeline = medianRun(pipes);
    const floorMs = median(floors.map((x) => x.result.ms));
    const pipeMs = median(pipes.map((x) => x.result.ms));
    const floorCpuMs = median(floors.map((x) => x.result.cpuMs));
    const pipeCpuMs = median(pipes.map((x) => x.result.cpuMs));
    const p = pipeline.result;
    const worstPipeRssKiB = Math.max(...pipes.map((x) => x.result.maxRssKiB));
    const worstFloorRssKiB = Math.max(...floors.map((x) => x.result.maxRssKiB));

    // Optional: one more pipeline run under --cpu-prof (not counted in the timings: profiling slows it).
    let profileDir: string | null = null;
    let profiledMs: number | null = null;
    if (values['cpu-prof']) {
      profileDir = join(root, 'bench', 'results', 'profile');
      await rm(profileDir, { recursive: true, force: true });
      await mkdir(profileDir, { recursive: true });
      const profiled = await runChild<PipelineResult>('pipeline', spec, [
        '--cpu-prof',
        '--cpu-prof-dir',
        profileDir,
        '--cpu-prof-interval',
        '250',
      ]);
      profiledMs = profiled.result.ms;
      say(`  profiled pipeline run: ${round(profiled.result.ms / 1000, 2)} s (profiling overhead included)`);
    }

    let htmlBytes: number | null = null;
    let textBytes: number | null = null;
    if (p.destination && existsSync(p.destination)) {
      htmlBytes = (await stat(p.destination)).size;
      const txt = p.destination.replace(/message\.html$/, 'message.txt');
      if (existsSync(txt)) textBytes = (await stat(txt)).size;
    }
    // Everything in the window was reviewed: reviewed + the worker's own API rows = events served.
    const complete = p.eventsReviewed !== null && p.eventsReviewed + ownApiRows === eventCount && p.fetch.events === eventCount;

    await simulator.close();
    simulator = null;

    // 3. Growth: the same pipeline at a tenth of the size (its own simulator, history and rounds), so that
    // the peak RSS at N can be compared with the peak at N/10 in the same run.
    let growth: { benignEvents: number; peakRssMiB: number; peakRssMiBPerRound: number[]; ratio: number } | null = null;
    const smallCount = Math.floor(benignCount / 10);
    if (!values['no-growth'] && smallCount >= 10_000) {
      const small = generateDemoDay({ end: WINDOW_END, hours: 24, timeZone: LASTPASS_TZ, benignCount: smallCount });
      simulator = await createLastPassSimulator({
        accountNumber: ACCOUNT,
        apiSecret: SECRET,
        events: small.events,
        timeZone: LASTPASS_TZ,
        cachedPages: Math.ceil(small.events.length / LASTPASS_PAGE_LIMIT) + 16,
      });
      const smallDir = join(tmp, 'growth');
      const store = createFileStore({ dir: smallDir, processInfo: benchProcess, now: () => new Date() });
      await store.init();
      await seedEarlierDays(store, WINDOW_END, smallCount);
      await store.close();
      const smallSpec: ChildSpec = { ...spec, url: simulator.url, dataDir: smallDir };
      await runChild<FloorResult>('floor', smallSpec);
      simulator.setDelay(latencyMs);
      const peaks: number[] = [];
      for (let r = 1; r <= rounds; r++) {
        const run = await runChild<PipelineResult>('pipeline', smallSpec);
        if (run.result.status !== 'ok') throw new Error(`growth reference run failed: ${run.result.error ?? run.result.status}`);
        peaks.push(round(mib(run.result.maxRssKiB)));
      }
      await simulator.close();
      simulator = null;
      const worst = Math.max(...peaks);
      growth = { benignEvents: smallCount, peakRssMiB: worst, peakRssMiBPerRound: peaks, ratio: round(mib(worstPipeRssKiB) / worst, 3) };
      say(`  growth reference: ${fmt(smallCount)} benign events, pipeline peak RSS ${peaks.join(', ')} MiB (worst ${worst})`);
    }

    // 4. Worker start-up (three starts, median).
    const workerRuns: WorkerRun[] = [];
    if (!values['no-worker']) {
      for (let i = 0; i < 3; i++) workerRuns.push(await measureWorker(cliPath, join(tmp, `worker-${i}`)));
    }
    const okRuns = workerRuns.filter((r) => r.startupMs !== null);
    const stops = workerRuns.filter((r) => r.stopMs !== null).map((r) => r.stopMs!);
    const startupMs = okRuns.length ? round(median(okRuns.map((r) => r.startupMs!)), 0) : null;
    const idleRssMiB = okRuns.length ? round(median(okRuns.map((r) => r.idleRssMiB ?? Number.NaN))) : null;
    for (const r of workerRuns) if (r.error) say(`  worker: ${r.error}`);
    const bareNodeRssMiB = values['no-worker'] ? null : await measureBareNode();

    // 5. Figures and targets.
    const ratio = pipeMs / floorMs;
    const peakRssMiB = round(mib(worstPipeRssKiB));
    const eventsPerSec = Math.round(eventCount / (pipeMs / 1000));
    const checks: { name: string; value: string; target: string; pass: boolean | null }[] = [
      { name: 'pipeline / floor', value: `${round(ratio, 2)}×`, target: `≤ ${TARGETS.ratio}×`, pass: ratio <= TARGETS.ratio },
      {
        name: 'pipeline peak RSS',
        value: `${peakRssMiB} MiB`,
        target: `≤ ${TARGETS.peakRssMiB} MiB`,
        pass: peakRssMiB <= TARGETS.peakRssMiB,
      },
      {
        name: 'peak RSS growth',
        value: growth ? `${round(growth.ratio, 2)}× (${peakRssMiB} / ${growth.peakRssMiB} MiB at ${fmt(growth.benignEvents)})` : 'n/a',
        target: `≤ ${TARGETS.growth}× the peak at a tenth of the events`,
        pass: growth ? growth.ratio <= TARGETS.growth : null,
      },
      {
        name: 'digest HTML',
        value: htmlBytes === null ? 'n/a' : `${round(htmlBytes / 1000)} kB`,
        target: `≤ ${TARGETS.htmlBytes / 1000} kB`,
        pass: htmlBytes === null ? false : htmlBytes <= TARGETS.htmlBytes,
      },
      {
        name: 'worker start-up',
        value: startupMs === null ? 'n/a' : `${startupMs} ms`,
        target: `≤ ${TARGETS.startupMs} ms`,
        pass: values['no-worker'] ? null : startupMs !== null && startupMs <= TARGETS.startupMs,
      },
      {
        name: 'worker idle RSS',
        value: idleRssMiB === null ? 'n/a' : `${idleRssMiB} MiB`,
        target: `≤ ${TARGETS.idleRssMiB} MiB`,
        pass: values['no-worker'] ? null : idleRssMiB !== null && idleRssMiB <= TARGETS.idleRssMiB,
      },
      {
        name: 'pipeline outcome',
        value: `${p.status}/${p.windowStatus}${complete ? ', all events reviewed' : ', NOT all events reviewed'}`,
        target: 'ok/delivered (outbox + evidence), complete',
        pass: p.status === 'ok' && p.windowStatus === 'delivered' && complete,
      },
    ];

    const rows: [string, string][] = [
      ['events', fmt(eventCount)],
      [
        'pages / requests',
        `${p.fetch.pages} / ${p.fetch.requests}${sameRequests ? ' (same as floor)' : ` (floor: ${floor.result.requests})`}`,
      ],
      [
        'floor wall time',
        `${round(floorMs / 1000, 2)} s${rounds > 1 ? ` (median of ${rounds}; ${floors.map((x) => round(x.result.ms / 1000, 2)).join(', ')})` : ''}`,
      ],
      [
        'pipeline wall time',
        `${round(pipeMs / 1000, 2)} s${rounds > 1 ? ` (median of ${rounds}; ${pipes.map((x) => round(x.result.ms / 1000, 2)).join(', ')})` : ''}`,
      ],
      ['ratio pipeline / floor', `${round(ratio, 2)}×`],
      [
        'CPU of the child',
        `floor ${round(floorCpuMs / 1000, 2)} s, pipeline ${round(pipeCpuMs / 1000, 2)} s (${round(pipeCpuMs / floorCpuMs, 2)}×; medians)`,
      ],
      ['events / s (pipeline)', fmt(eventsPerSec)],
      [
        'pipeline peak RSS',
        `${peakRssMiB} MiB (worst round, VmHWM; ${p.startRssMiB} MiB before runReport; floor child: peak ${round(mib(worstFloorRssKiB))}, ${floor.result.startRssMiB} before fetching)`,
      ],
      [
        '  resourceUsage maxRSS',
        `${round(mib(Math.max(...pipes.map((x) => x.result.reportedMaxRssKiB))))} MiB (worst round; counts the parent's pages at spawn too)`,
      ],
      [
        'digest HTML',
        htmlBytes === null
          ? 'n/a'
          : `${round(htmlBytes / 1000)} kB (text part ${textBytes === null ? 'n/a' : `${round(textBytes / 1000)} kB`})`,
      ],
      [
        'worker start-up',
        startupMs === null
          ? 'n/a'
          : `${startupMs} ms (median of ${okRuns.length}; SIGTERM to exit: ${stops.length ? `${median(stops)} ms` : 'n/a'})`,
      ],
      ['worker idle RSS (1 s)', idleRssMiB === null ? 'n/a' : `${idleRssMiB} MiB (a bare node process: ${bareNodeRssMiB ?? 'n/a'} MiB)`],
    ];
    const ph = p.phases;
    const w1 = Math.max(...rows.map((r) => r[0].length));
    say('');
    for (const [k, v] of rows) say(`  ${k.padEnd(w1)}  ${v}`);
    say('');
    say(`  pipeline phases of the median round (ms):`);
    say(`    before fetch (lock, state, history) ${round(ph.beforeFetchMs)}`);
    say(
      `    fetch (client + analysis)           ${round(ph.fetchMs)}   (floor ${round(floorMs)}); the evidence hand-off of each page, alongside the next one: ${round(ph.onPageMs)}`,
    );
    say(`    result + attachments + model        ${round(ph.afterFetchToRenderMs)}`);
    say(
      `    render                              ${round(ph.renderMs)}   (${ph.renders} render${ph.renders === 1 ? '' : 's'}; HTML bytes: ${ph.htmlBytesPerRender.join(', ')})`,
    );
    say(`    deliver to outbox                   ${round(ph.deliverMs)}`);
    say(`    after delivery (unlock)             ${round(ph.afterDeliverMs)}`);
    say(`    peak heapUsed sampled per page      ${p.memory.peakHeapUsedMiB} MiB`);
    say(`    simulator CPU (parent) during floor ${round(floor.simulatorCpuMs)} ms, during pipeline ${round(pipeline.simulatorCpuMs)} ms`);
    say('');
    const w2 = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      const verdict = c.pass === null ? 'SKIP' : c.pass ? 'PASS' : 'MISS';
      say(`  ${verdict}  ${c.name.padEnd(w2)}  ${c.value.padEnd(12)} target ${c.target}`);
    }
    if (benignCount !== 1_000_000) say('  (the targets are set for 1,000,000 events; other sizes are checked against the same numbers)');

    let profile: ReturnType<typeof summariseProfile> | null = null;
    if (profileDir) {
      const file = readdirSync(profileDir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(profileDir!, f))[0];
      if (file) {
        profile = summariseProfile(file, root);
        say('');
        say(`  CPU profile of the pipeline child (${file}), ${profile.totalMs} ms sampled; self time:`);
        say('    by module:');
        for (const [k, v] of profile.modules) say(`      ${String(v).padStart(8)} ms  ${k}`);
        say('    by function:');
        for (const [k, v] of profile.functions) say(`      ${String(v).padStart(8)} ms  ${k}`);
      }
    }

    const cpu = os.cpus();
    const report = {
      date: new Date().toISOString(),
      machine: {
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        totalMemMiB: Math.round(os.totalmem() / 1048576),
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        node: process.version,
      },
      command: process.argv.length > 2 ? `npm run bench -- ${process.argv.slice(2).join(' ')}` : 'npm run bench',
      source,
      version: VERSION,
      events: eventCount,
      benignEvents: benignCount,
      window: spec.window,
      requestRange: range,
      pages: p.fetch.pages,
      requests: p.fetch.requests,
      sameRequestsAsFloor: sameRequests,
      eventsServed: { floor: servedFloor, pipeline: servedPipe },
      setup: { generateMs: round(generateMs), simulatorStartMs: round(simulatorStartMs), seedHistoryMs: round(seedMs) },
      rounds,
      latencyMs,
      pageReader,
      loadAverageAtStart: loadAtStart,
      /** 1-, 5- and 15-minute load averages when the figures were written: how busy the shared machine was. */
      loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
      floor: {
        ms: round(floorMs),
        msPerRound: floors.map((x) => round(x.result.ms)),
        cpuMs: round(floorCpuMs),
        cpuMsPerRound: floors.map((x) => round(x.result.cpuMs)),
        requests: floor.result.requests,
        events: floor.result.events,
        jsonBytes: floor.result.bytes,
        peakRssMiB: round(mib(worstFloorRssKiB)),
        startRssMiB: floor.result.startRssMiB,
        simulatorCpuMs: round(floor.simulatorCpuMs),
        processMs: round(floor.processMs),
      },
      pipeline: {
        ms: round(pipeMs),
        msPerRound: pipes.map((x) => round(x.result.ms)),
        cpuMs: round(pipeCpuMs),
        cpuMsPerRound: pipes.map((x) => round(x.result.cpuMs)),
        cpuRatioToFloor: round(pipeCpuMs / floorCpuMs, 3),
        peakRssMiBPerRound: pipes.map((x) => round(mib(x.result.maxRssKiB))),
        /** resourceUsage().maxRSS per round: also counts the parent's pages at spawn (not the target figure). */
        reportedMaxRssMiBPerRound: pipes.map((x) => round(mib(x.result.reportedMaxRssKiB))),
        profiledMs: profiledMs === null ? null : round(profiledMs),
        ratioToFloor: round(ratio, 3),
        eventsPerSecond: eventsPerSec,
        peakRssMiB,
        startRssMiB: p.startRssMiB,
        status: p.status,
        windowStatus: p.windowStatus,
        eventsReviewed: p.eventsReviewed,
        complete,
        error: p.error,
        phases: Object.fromEntries(Object.entries(ph).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])),
        memory: p.memory,
        simulatorCpuMs: round(pipeline.simulatorCpuMs),
        processMs: round(pipeline.processMs),
      },
      digest: { htmlBytes, textBytes },
      growth,
      worker: { startupMs, idleRssMiB, bareNodeRssMiB, runs: workerRuns },
      targets: TARGETS,
      checks: checks.map((c) => ({
        name: c.name,
        value: c.value,
        target: c.target,
        result: c.pass === null ? 'SKIP' : c.pass ? 'PASS' : 'MISS',
      })),
      profile,
      totalBenchMs: round(performance.now() - totalStart),
    };
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    say('');
    say(`  figures written to ${jsonPath} (bench took ${round((performance.now() - totalStart) / 1000, 1)} s)`);
    const missed = checks.some((c) => c.pass === false);
    return values.strict && missed ? 1 : 0;
  } finally {
    await simulator?.close();
    if (!values['keep-temp']) await rm(tmp, { recursive: true, force: true });
    else say(`  temp files kept in ${tmp}`);
  }
}

// ---- attack profile (bench/attack.ts) ---------------------------------------------------------------

/** `--attack N`: the attack-day profile; its own defaults: 100,000 benign events unless `--events` is given. */
async function attackProfile(
  values: { attack?: string; events: string; json?: string; strict: boolean; 'no-evidence': boolean; 'keep-temp': boolean },
  pageReader: PageReader,
  rounds: number,
  latencyMs: number,
): Promise<number> {
  const attack = Number((values.attack ?? '').replace(/[_,]/g, ''));
  if (!Number.isInteger(attack) || attack < 1) {
    process.stderr.write(`--attack must be a whole number ≥ 1 of failed sign-ins (got "${values.attack}")\n`);
    return 2;
  }
  const eventsGiven = process.argv.slice(2).some((a) => a === '--events' || a.startsWith('--events='));
  const benign = eventsGiven ? Number(values.events.replace(/[_,]/g, '')) : 100_000;
  const self = fileURLToPath(import.meta.url);
  const pkg = findUp(dirname(self), 'package.json');
  const root = pkg ? dirname(pkg) : process.cwd();
  const tmp = await mkdtemp(join(os.tmpdir(), 'lad-bench-attack-'));
  try {
    return await runAttackBench(
      {
        attack,
        benign,
        rounds,
        latencyMs,
        pageReader,
        evidence: !values['no-evidence'],
        strict: values.strict,
        jsonPath: resolve(values.json ?? join(root, 'bench', 'results', 'attack-latest.json')),
        tmp,
        account: ACCOUNT,
        secret: SECRET,
        lastpassTimeZone: LASTPASS_TZ,
        windowEnd: WINDOW_END,
        command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
        source: sourceState(root),
      },
      {
        runPipeline: (spec) => runChild<PipelineResult>('pipeline', spec),
        warmUp: async (spec) => {
          await runChild<FloorResult>('floor', spec);
        },
        async seedStore(dataDir, end, count) {
          const store = createFileStore({ dir: dataDir, processInfo: benchProcess, now: () => new Date() });
          await store.init();
          await seedEarlierDays(store, end, count);
          await store.close();
        },
        say: (line) => process.stdout.write(`${line}\n`),
      },
    );
  } finally {
    if (!values['keep-temp']) await rm(tmp, { recursive: true, force: true });
    else process.stdout.write(`  temp files kept in ${tmp}\n`);
  }
}

// ---- entry -------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const [role, mode, specJson] = process.argv.slice(2);
  // Many accounts on replicas (bench/replicas.ts): `--accounts N`, and its replica children.
  if (role === 'replica') return replicaChild(mode ?? '{}');
  if (process.argv.slice(2).includes('--accounts')) return replicasBench(process.argv.slice(2), process.env);
  if (role === 'child') {
    const spec = JSON.parse(specJson ?? '{}') as ChildSpec;
    if (mode === 'floor') await childFloor(spec);
    else if (mode === 'pipeline') await childPipeline(spec);
    else throw new Error(`unknown child mode ${mode}`);
    return 0;
  }
  return parent();
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

/**
 * A deterministic, realistic day of LastPass audit events for the demo, the tests and the benchmark:
 * benign office traffic on a diurnal curve plus a set of planted incidents that the digest must find.
 *
 * Fast by construction (1,000,000 events in well under the time it takes to serve them): the users, their
 * IPs, clients and vault items are precomputed; wall-clock strings are built from a per-minute prefix
 * table (one `formatWall` per minute of the window, not per event); no regex or closure per event.
 *
 * Over 400 lines on purpose: one generator whose precomputed tables (users, IPs, clients, items, the
 * per-minute wall-clock prefixes) and the planted incidents that use them are read together; split, the
 * incidents would import half of the tables back.
 */
import type { RawEvent } from '../core/types.js';
import { formatWall } from '../core/wall-time.js';

export interface DemoDayOptions {
  /** Window end (exclusive). */
  end: Date;
  /** Window length in hours (default 24). */
  hours?: number;
  /** The zone of the wall-clock `Time` strings (default 'America/New_York'). */
  timeZone?: string;
  /** Number of benign events, this worker's own `Reporting` rows included (default 30,000). */
  benignCount?: number;
  /** PRNG seed (default 42): the same options always give the same output. */
  seed?: number;
  /** This worker's `apiuser` (default 'lastpass-audit-digest'): its own `Reporting` rows name it. */
  apiUser?: string;
  /** Email domain of the company's users (default 'example.org'). */
  domain?: string;
  /**
   * The integrations a real tenant runs beside this worker (default off, which keeps the day every other
   * test knows): a Microsoft Sentinel connector calling `Reporting` every 10 minutes from DEMO_SIEM_IP with
   * the account's one API secret, and a provisioning service account that signs in every 15 minutes and
   * fails every 4 hours (a host with a stale password). Counted in `benignCount`. With DEMO_KNOWN_API_CALLERS
   * and DEMO_IGNORE_USERS set, neither is a finding nor a low event; without them the SIEM is a foreign caller.
   */
  integrations?: boolean;
}

/** The demo's SIEM connector, and the address it polls from. */
export const DEMO_SIEM_LABEL = 'Microsoft Sentinel CCP';
export const DEMO_SIEM_IP = '198.51.100.250';
/** LASTPASS_KNOWN_API_CALLERS for the demo day with integrations. */
export const DEMO_KNOWN_API_CALLERS = `${DEMO_SIEM_LABEL}@198.51.100.0/24`;
/** The demo's service account (at the default domain), and REPORT_IGNORE_USERS for it. */
export const DEMO_SERVICE_ACCOUNT = 'svc-provisioning@example.org';
export const DEMO_IGNORE_USERS = DEMO_SERVICE_ACCOUNT;

export interface PlantedIncident {
  /** Stable identifier, e.g. 'failed-login-burst'. */
  id: string;
  description: string;
  /** The action names involved, exactly as planted (raw text, not trimmed). */
  actions: string[];
  /** The planted rows themselves (each is also in `events`). */
  events: RawEvent[];
}

export interface DemoDay {
  events: RawEvent[];
  planted: PlantedIncident[];
}

/** A small deterministic PRNG (mulberry32): uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST_NAMES = [
  'maria',
  'tom',
  'aisha',
  'liam',
  'sofia',
  'noah',
  'emma',
  'lucas',
  'olivia',
  'mateo',
  'amara',
  'james',
  'yuki',
  'daniel',
  'priya',
  'oliver',
  'chloe',
  'ethan',
  'fatima',
  'henry',
  'isabel',
  'jack',
  'leila',
  'marcus',
  'nina',
  'omar',
  'paula',
  'quinn',
  'rosa',
  'samuel',
  'tara',
  'victor',
  'wen',
  'xavier',
  'yara',
  'zoe',
  'anton',
  'bea',
  'carlos',
  'dana',
];
const LAST_NAMES = [
  'garcia',
  'nguyen',
  'smith',
  'okafor',
  'muller',
  'rossi',
  'kim',
  'johnson',
  'silva',
  'kowalski',
  'haddad',
  'tanaka',
  'brown',
  'patel',
  'dubois',
  'lopez',
  'jensen',
  'novak',
  'ahmed',
  'murphy',
  'schmidt',
  'costa',
  'ivanova',
  'chen',
  'walker',
  'santos',
  'fischer',
  'moreau',
  'yilmaz',
  'larsen',
  'reyes',
  'bianchi',
  'singh',
  'evans',
  'hoffman',
  'castro',
  'berg',
  'wong',
  'adeyemi',
  'keller',
];
const CLIENTS = [
  'LastPass via Chrome v4.134.0',
  'LastPass via Chrome v4.133.2',
  'LastPass via Firefox v4.134.0',
  'LastPass via Edge v4.134.0',
  'LastPass via Safari v4.129.1',
  'LastPass via Android v6.12.0',
  'LastPass via iOS v4.135.0',
  'LastPass via Web Vault',
];
const SITES = [
  'github.com',
  'mail.google.com',
  'slack.com',
  'salesforce.com',
  'atlassian.net',
  'zoom.us',
  'aws.amazon.com',
  'portal.azure.com',
  'dropbox.com',
  'hubspot.com',
  'workday.com',
  'notion.so',
  'figma.com',
  'linkedin.com',
  'zendesk.com',
  'docusign.net',
  'intranet.example.org',
  'payroll.example.org',
  'stripe.com',
  'okta.com',
];
const FOLDERS = ['Marketing Assets', 'Engineering Shared', 'Sales Tools', 'HR Portal', 'Support Accounts', 'Ops Vendors'];
const GROUPS = ['Engineering', 'Sales', 'Marketing', 'Support', 'Finance', 'People Ops'];
/** Local-hour activity weights: quiet nights, busy office hours, a lunch dip. */
const HOUR_WEIGHTS = [
  0.04, 0.03, 0.03, 0.03, 0.04, 0.08, 0.2, 0.5, 0.9, 1.0, 1.0, 0.95, 0.7, 0.9, 1.0, 0.95, 0.85, 0.6, 0.35, 0.25, 0.2, 0.15, 0.1, 0.06,
];
const WEEKEND_FACTOR = 0.25;
const SECS: string[] = Array.from({ length: 60 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

// Benign action kinds and their relative weights.
const A_LOGIN = 0;
const A_LOGIN_OLD = 1;
const A_FORM_FILLED = 2;
const A_SITE_CHANGED = 3;
const A_SITE_ADDED = 4;
const A_OPEN_NOTE = 5;
const A_PASSWORD_CHANGED = 6;
const A_ADD_NOTE = 7;
const A_EDIT_NOTE = 8;
const A_SITE_DELETED = 9;
const A_USERNAME_CHANGED = 10;
const A_FAILED = 11;
const A_MFA_ENABLED = 12;
const A_CREATED_FOLDER = 13;
const A_ADD_TO_GROUP = 14;
const A_ADMIN_CONSOLE = 15;
const A_EMPLOYEE_CREATED = 16;
const ACTION_NAMES = [
  'Log in',
  'Login',
  'Form Filled',
  'Site Changed',
  'Site Added',
  'Open Secure Note',
  'Password Changed',
  'Add Secure Note',
  'Edit Secure Note',
  'Deleted Sites',
  'Username Changed',
  'Failed Login Attempt',
  'Multifactor Enabled',
  'Created Shared Folder',
  'Add to Group',
  'Login to Admin Console',
  'Employee Account Created',
];
const ACTION_WEIGHTS = [14, 3, 30, 8, 5, 8, 3, 2, 1.5, 1, 0.5, 0.7, 0.05, 0.25, 0.3, 0.8, 0.1];
const FAILED_VARIANTS = ['Failed Login Attempt', 'Failed login attempt', ' Failed login attempt', 'Failed Login Attempt  '];
const ACTION_TABLE_SIZE = 8192;

/** Probability that an event is followed by another of the same user in the same second. */
const SAME_SECOND_P = 0.04;
/** Probability that an event is sent twice (a genuine exact repeat). */
const EXACT_REPEAT_P = 0.006;
const MAX_FAILURES_PER_USER_HOUR = 2;

interface DemoUser {
  email: string;
  ips: string[];
  clients: string[];
  vids: string[];
}

const SPRAY_IP = '203.0.113.66';
const NEW_IP = '198.18.7.20';
const WORKER_IP = '10.0.0.5';
const FOREIGN_API_IP = '203.0.113.250';
const SERVICE_ACCOUNT_IP = '10.0.0.9';
const HOSTILE_IP = '192.0.2.254';

function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

function buildUsers(rand: () => number, domain: string, count: number): DemoUser[] {
  const pairs: number[] = [];
  for (let i = 0; i < FIRST_NAMES.length * LAST_NAMES.length; i++) pairs.push(i);
  shuffle(pairs, rand);
  // Unique documentation-range addresses (a few reserved for the planted incidents), then 10.x ones.
  const pool: string[] = [];
  for (let i = 1; i <= 253; i++) pool.push(`192.0.2.${i}`);
  for (let i = 1; i <= 249; i++) pool.push(`198.51.100.${i}`);
  for (let i = 1; i <= 199; i++) if (i !== 66) pool.push(`203.0.113.${i}`);
  shuffle(pool, rand);
  let nextPublic = 0;
  let nextPrivate = 0;
  const users: DemoUser[] = [];
  for (let u = 0; u < count; u++) {
    const pair = pairs[u]!;
    const first = FIRST_NAMES[Math.floor(pair / LAST_NAMES.length)]!;
    const last = LAST_NAMES[pair % LAST_NAMES.length]!;
    const ipCount = 1 + Math.floor(rand() * 3);
    const ips: string[] = [];
    for (let k = 0; k < ipCount; k++) {
      if (k > 0 && rand() < 0.3) {
        ips.push(`10.20.${Math.floor(nextPrivate / 250)}.${(nextPrivate % 250) + 1}`);
        nextPrivate++;
      } else {
        ips.push(pool[nextPublic % pool.length]!);
        nextPublic++;
      }
    }
    const c1 = CLIENTS[Math.floor(rand() * CLIENTS.length)]!;
    const c2 = CLIENTS[Math.floor(rand() * CLIENTS.length)]!;
    const vids: string[] = [];
    const vidCount = 6 + Math.floor(rand() * 10);
    for (let k = 0; k < vidCount; k++) vids.push(`VID: ${100000 + Math.floor(rand() * 900000)}`);
    users.push({ email: `${first}.${last}@${domain}`, ips, clients: c1 === c2 ? [c1] : [c1, c2], vids });
  }
  return users;
}

function makeEvent(time: string, username: string, ip: string, action: string, data: string): RawEvent {
  return { Time: time, Username: username, IP_Address: ip, Action: action, Data: data };
}

export function generateDemoDay(options: DemoDayOptions): DemoDay {
  const hours = options.hours ?? 24;
  const timeZone = options.timeZone ?? 'America/New_York';
  const benignCount = Math.max(0, Math.floor(options.benignCount ?? 30_000));
  const apiUser = options.apiUser ?? 'lastpass-audit-digest';
  const domain = options.domain ?? 'example.org';
  const rand = mulberry32(options.seed ?? 42);

  const endMs = options.end.getTime();
  if (!Number.isFinite(endMs)) throw new RangeError('generateDemoDay: invalid end date');
  if (!(hours > 0)) throw new RangeError('generateDemoDay: hours must be positive');
  // Whole seconds s with start <= s*1000 < end.
  const sStart = Math.ceil((endMs - hours * 3_600_000) / 1000);
  const sEnd = Math.ceil(endMs / 1000);
  const totalSec = sEnd - sStart;
  if (totalSec <= 0) throw new RangeError('generateDemoDay: window is shorter than a second');

  // Wall-clock prefix ("YYYY-MM-DD HH:MM:") per minute of the window; null where the zone's offset has
  // seconds (historical LMT), in which case the event falls back to a full formatWall.
  const minuteBase = Math.floor(sStart / 60);
  const minuteCount = Math.floor((sEnd - 1) / 60) - minuteBase + 1;
  const prefixes: (string | null)[] = new Array<string | null>(minuteCount);
  for (let m = 0; m < minuteCount; m++) {
    const wall = formatWall((minuteBase + m) * 60_000, timeZone);
    prefixes[m] = wall.endsWith(':00') ? wall.slice(0, 17) : null;
  }
  // One string instance per second of the window: events of the same second share it (cheap to hash,
  // compare and sort downstream).
  const perSecond = new Array<string | undefined>(totalSec);
  const wallOf = (sec: number): string => {
    const i = sec - sStart;
    const cached = perSecond[i];
    if (cached !== undefined) return cached;
    const p = prefixes[Math.floor(sec / 60) - minuteBase];
    const wall = p === null || p === undefined ? formatWall(sec * 1000, timeZone) : p + SECS[sec % 60]!;
    if (i >= 0 && i < totalSec) perSecond[i] = wall;
    return wall;
  };

  // Diurnal sampling: 60-second slots from sStart, weighted by the local hour (and weekday).
  const slotCount = Math.ceil(totalSec / 60);
  const slotCum = new Float64Array(slotCount);
  let acc = 0;
  for (let s = 0; s < slotCount; s++) {
    const slotStart = sStart + s * 60;
    const len = Math.min(60, sEnd - slotStart);
    const wall = wallOf(slotStart);
    const hour = Number(wall.slice(11, 13));
    const weekday = new Date(Date.UTC(Number(wall.slice(0, 4)), Number(wall.slice(5, 7)) - 1, Number(wall.slice(8, 10)))).getUTCDay();
    const w = (HOUR_WEIGHTS[hour] ?? 0.1) * (weekday === 0 || weekday === 6 ? WEEKEND_FACTOR : 1) * (len / 60);
    acc += w;
    slotCum[s] = acc;
  }
  const slotTotal = acc;

  const users = buildUsers(rand, domain, 150);
  const admins = [users[0]!, users[1]!];
  const regularIdx: number[] = [];
  for (let u = 2; u < users.length; u++) regularIdx.push(u);

  // Per-user activity weights (a few heavy users, many light ones).
  const userCum = new Float64Array(users.length);
  let uacc = 0;
  for (let u = 0; u < users.length; u++) {
    const r = rand();
    uacc += 0.3 + 2.7 * r * r;
    userCum[u] = uacc;
  }
  const userTotal = uacc;

  // Action lookup table: O(1) weighted pick.
  const actionTable = new Uint8Array(ACTION_TABLE_SIZE);
  {
    const wsum = ACTION_WEIGHTS.reduce((a, b) => a + b, 0);
    let pos = 0;
    let cum = 0;
    for (let a = 0; a < ACTION_WEIGHTS.length; a++) {
      cum += ACTION_WEIGHTS[a]!;
      const until = a === ACTION_WEIGHTS.length - 1 ? ACTION_TABLE_SIZE : Math.round((cum / wsum) * ACTION_TABLE_SIZE);
      while (pos < until) actionTable[pos++] = a;
    }
  }

  const hourSlots = Math.ceil(totalSec / 3600);
  const failures = new Uint8Array(users.length * hourSlots);
  const events: RawEvent[] = [];

  // This worker's own API rows: a few per day, by an admin, from the worker's host.
  const ownApiRows = Math.min(benignCount, Math.max(1, Math.round(hours / 6)));
  for (let k = 0; k < ownApiRows; k++) {
    const sec = sStart + Math.floor(((k + 0.5) * totalSec) / ownApiRows);
    events.push(makeEvent(wallOf(sec), admins[0]!.email, WORKER_IP, 'Reporting', `Initiated by API: ${apiUser}`));
  }
  if (options.integrations) {
    // The SIEM connector polls with the same secret, labelled, every 10 minutes (as Sentinel's connector does).
    for (let sec = sStart + 120; sec < sEnd && events.length < benignCount; sec += 600) {
      events.push(makeEvent(wallOf(sec), admins[0]!.email, DEMO_SIEM_IP, 'Reporting', `Initiated by API: ${DEMO_SIEM_LABEL}`));
    }
    // The provisioning service account: routine sign-ins, and a failure every 4 hours.
    const account = `svc-provisioning@${domain}`;
    for (let sec = sStart + 300, k = 0; sec < sEnd && events.length < benignCount; sec += 900, k++) {
      const failed = k % 16 === 8;
      events.push(
        makeEvent(
          wallOf(sec),
          account,
          SERVICE_ACCOUNT_IP,
          failed ? 'Failed Login Attempt' : 'Log in',
          failed ? '' : 'LastPass CLI v1.6.1',
        ),
      );
    }
  }

  let prevSec = -1;
  let prevUser = -1;
  let newHire = 0;
  while (events.length < benignCount) {
    let sec: number;
    let u: number;
    if (prevSec >= 0 && rand() < SAME_SECOND_P) {
      sec = prevSec;
      u = prevUser;
    } else {
      // Slot by binary search on the cumulative diurnal weights, then a second inside it.
      const target = rand() * slotTotal;
      let lo = 0;
      let hi = slotCount - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (slotCum[mid]! > target) hi = mid;
        else lo = mid + 1;
      }
      const slotStart = sStart + lo * 60;
      const len = Math.min(60, sEnd - slotStart);
      sec = slotStart + Math.floor(rand() * len);
      const ut = rand() * userTotal;
      let ulo = 0;
      let uhi = users.length - 1;
      while (ulo < uhi) {
        const mid = (ulo + uhi) >>> 1;
        if (userCum[mid]! > ut) uhi = mid;
        else ulo = mid + 1;
      }
      u = ulo;
    }
    let kind = actionTable[Math.floor(rand() * ACTION_TABLE_SIZE)]!;
    if (kind === A_ADD_TO_GROUP || kind === A_ADMIN_CONSOLE || kind === A_EMPLOYEE_CREATED) u = rand() < 0.6 ? 0 : 1;
    if (kind === A_FAILED) {
      const slot = u * hourSlots + Math.floor((sec - sStart) / 3600);
      if (failures[slot]! >= MAX_FAILURES_PER_USER_HOUR) kind = A_LOGIN;
      else failures[slot]!++;
    }
    const user = users[u]!;
    const ip = user.ips.length === 1 ? user.ips[0]! : user.ips[Math.floor(rand() * user.ips.length)]!;
    let action = ACTION_NAMES[kind]!;
    let data = '';
    switch (kind) {
      case A_LOGIN:
      case A_LOGIN_OLD:
        data = user.clients.length === 1 ? user.clients[0]! : user.clients[Math.floor(rand() * user.clients.length)]!;
        break;
      case A_FORM_FILLED:
        data = SITES[Math.floor(rand() * SITES.length)]!;
        break;
      case A_SITE_CHANGED:
      case A_SITE_ADDED:
      case A_OPEN_NOTE:
      case A_PASSWORD_CHANGED:
      case A_ADD_NOTE:
      case A_EDIT_NOTE:
      case A_SITE_DELETED:
      case A_USERNAME_CHANGED:
        data = user.vids[Math.floor(rand() * user.vids.length)]!;
        break;
      case A_FAILED: {
        const r = rand();
        action = FAILED_VARIANTS[r < 0.45 ? 0 : r < 0.95 ? 1 : r < 0.975 ? 2 : 3]!;
        break;
      }
      case A_MFA_ENABLED:
        data = user.clients[0]!;
        break;
      case A_CREATED_FOLDER:
        data = FOLDERS[Math.floor(rand() * FOLDERS.length)]!;
        break;
      case A_ADD_TO_GROUP:
        data = `'${GROUPS[Math.floor(rand() * GROUPS.length)]!}' '${users[2 + Math.floor(rand() * (users.length - 2))]!.email}'`;
        break;
      case A_EMPLOYEE_CREATED:
        newHire++;
        data = `new.hire${newHire}@${domain}`;
        break;
      default:
        break;
    }
    const time = wallOf(sec);
    events.push(makeEvent(time, user.email, ip, action, data));
    if (kind !== A_FAILED && events.length < benignCount && rand() < EXACT_REPEAT_P) {
      events.push(makeEvent(time, user.email, ip, action, data));
    }
    prevSec = sec;
    prevUser = u;
  }

  const planted = plantIncidents({ rand, users, admins, regularIdx, sStart, sEnd, totalSec, wallOf, domain });
  for (const incident of planted) for (const e of incident.events) events.push(e);
  return { events, planted };
}

interface PlantContext {
  rand: () => number;
  users: DemoUser[];
  admins: DemoUser[];
  regularIdx: number[];
  sStart: number;
  sEnd: number;
  totalSec: number;
  wallOf: (sec: number) => string;
  domain: string;
}

function plantIncidents(ctx: PlantContext): PlantedIncident[] {
  const { rand, users, admins, sStart, sEnd, totalSec, wallOf, domain } = ctx;
  const victims = shuffle(ctx.regularIdx.slice(), rand).map((i) => users[i]!);
  let nextVictim = 0;
  const take = (): DemoUser => victims[nextVictim++ % victims.length]!;
  /** A whole second inside the window: a fraction of it plus an offset, clamped. */
  const at = (frac: number, offsetSec = 0): number =>
    Math.min(sEnd - 1, Math.max(sStart, sStart + Math.floor(frac * totalSec) + offsetSec));
  const ev = (sec: number, username: string, ip: string, action: string, data: string): RawEvent =>
    makeEvent(wallOf(sec), username, ip, action, data);
  const admin = admins[0]!;
  const admin2 = admins[1]!;
  const planted: PlantedIncident[] = [];

  // a. failed sign-in burst, then a success.
  {
    const victim = take();
    const ip = victim.ips[0]!;
    const rows: RawEvent[] = [];
    for (let k = 0; k < 12; k++) rows.push(ev(at(0.62, k * 40), victim.email, ip, 'Failed Login Attempt', ''));
    rows.push(ev(Math.min(sEnd - 1, at(0.62, 11 * 40) + 5), victim.email, ip, 'Log in', victim.clients[0]!));
    planted.push({
      id: 'failed-login-burst',
      description: `12 failed sign-ins for ${victim.email} from ${ip} within 8 minutes, then a successful sign-in 5 s later`,
      actions: ['Failed Login Attempt', 'Log in'],
      events: rows,
    });
  }

  // b. password spraying: one IP, 15 users, 20 minutes.
  {
    const rows: RawEvent[] = [];
    for (let k = 0; k < 15; k++) rows.push(ev(at(0.13, k * 80), take().email, SPRAY_IP, 'Failed login attempt', ''));
    planted.push({
      id: 'password-spraying',
      description: `Failed sign-ins from ${SPRAY_IP} against 15 different users within 20 minutes`,
      actions: ['Failed login attempt'],
      events: rows,
    });
  }

  // c. another API caller holds the secret.
  planted.push({
    id: 'foreign-api-caller',
    description: 'An API caller other than this worker ("backup-script", and one without a name) used the API secret',
    actions: ['Reporting', 'Get User Data'],
    events: [
      ev(at(0.08), admin.email, FOREIGN_API_IP, 'Reporting', 'Initiated by API: backup-script'),
      ev(at(0.08, 30), admin.email, FOREIGN_API_IP, 'Get User Data', 'Initiated by API'),
    ],
  });

  // d. admin rights granted.
  {
    const target = take();
    planted.push({
      id: 'admin-granted',
      description: `${admin.email} made ${target.email} an admin`,
      actions: ['Make Admin'],
      events: [ev(at(0.45), admin.email, admin.ips[0]!, 'Make Admin', target.email)],
    });
  }

  // e. policy deleted and weakened.
  planted.push({
    id: 'policy-deleted',
    description: `${admin2.email} deleted the MFA policy and lowered the password length policy`,
    actions: ['Delete Policy', 'Edit Policy'],
    events: [
      ev(at(0.5), admin2.email, admin2.ips[0]!, 'Delete Policy', 'Require multifactor authentication'),
      ev(at(0.5, 95), admin2.email, admin2.ips[0]!, 'Edit Policy', 'Password length New value: 8'),
    ],
  });

  // f. vault export.
  {
    const user = take();
    planted.push({
      id: 'vault-export',
      description: `${user.email} exported their vault`,
      actions: ['Data export'],
      events: [ev(at(0.7), user.email, user.ips[0]!, 'Data export', '')],
    });
  }

  // g. MFA removed.
  {
    const user = take();
    planted.push({
      id: 'mfa-disabled',
      description: `${user.email} disabled multifactor authentication`,
      actions: ['Disabled Multifactor Authentication'],
      events: [ev(at(0.55), user.email, user.ips[0]!, 'Disabled Multifactor Authentication', '')],
    });
  }

  // h. shared-folder admin grant.
  planted.push({
    id: 'shared-folder-admin',
    description: `${admin.email} gave eve@${domain} admin rights on the shared folder 'Finance'`,
    actions: ['Update Folder Permissions'],
    events: [
      ev(
        at(0.58),
        admin.email,
        admin.ips[0]!,
        'Update Folder Permissions',
        `'Finance' 'eve@${domain}' 'Read only:no Admin:yes Hide PW:no'`,
      ),
    ],
  });

  // i. hostile text in the fields, and action names the catalogue does not know.
  planted.push({
    id: 'hostile-text',
    description: 'Markup and spreadsheet formulas in Username and Data, and two unrecognised action names',
    actions: ['Failed Login Attempt', 'Vault Health Report Viewed', '  SECURITY DASHBOARD opened  '],
    events: [
      ev(at(0.3), '<script>alert("x")</script>@evil.example', HOSTILE_IP, 'Failed Login Attempt', ''),
      ev(at(0.66), admin2.email, admin2.ips[0]!, 'Vault Health Report Viewed', '=HYPERLINK("http://evil.example","click")'),
      ev(at(0.67), admin.email, admin.ips[0]!, '  SECURITY DASHBOARD opened  ', '<img src=x onerror=alert(1)>'),
    ],
  });

  // j. a known user signs in from an IP outside their usual set.
  {
    const user = take();
    planted.push({
      id: 'new-ip',
      description: `${user.email} signed in from ${NEW_IP}, an address not seen for them before`,
      actions: ['Log in'],
      events: [ev(at(0.4), user.email, NEW_IP, 'Log in', user.clients[0]!)],
    });
  }

  return planted;
}

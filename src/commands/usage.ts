/**
 * The usage texts: the overview, and one page per command for `<command> --help` (its synopsis, what it
 * does, its options, and the variables it reads with their help and defaults from the config schema).
 */
import { SCHEMA, type VariableName } from '../config/schema.js';
import { VERSION } from '../version.js';

export type CommandName = 'worker' | 'run' | 'demo' | 'check' | 'backfill' | 'migrate' | 'verify' | 'export' | 'history' | 'show';

interface CommandUsage {
  /** After the command's name. */
  synopsis: string;
  /** One line for the overview. */
  summary: string;
  description: string;
  options: [flag: string, meaning: string][];
  variables: VariableName[];
}

const LASTPASS: VariableName[] = [
  'LASTPASS_ACCOUNT_NUMBER',
  'LASTPASS_API_KEY',
  'LASTPASS_PROVISIONING_HASH',
  'LASTPASS_API_URL',
  'LASTPASS_TIMEZONE',
  'LASTPASS_API_USER',
  'LASTPASS_TIMEOUT_SECONDS',
  'ALLOW_INSECURE_HTTP',
];
const SENDGRID: VariableName[] = ['SENDGRID_API_KEY', 'SENDGRID_API_URL', 'SENDGRID_DATA_RESIDENCY'];
const REPORT: VariableName[] = ['REPORT_FROM', 'REPORT_TO', 'REPORT_TIMEZONE', 'REPORT_MAX_CATCHUP_DAYS', 'REPORT_LATE_OVERLAP_MINUTES'];
const STORAGE: VariableName[] = ['DATA_DIR', 'DATABASE_URL'];
const ALARM: VariableName[] = ['NOTIFY_WEBHOOK_URL', 'NOTIFY_WEBHOOK_FORMAT'];
const EVIDENCE_WRITE: VariableName[] = ['EVIDENCE_RAW', 'EVIDENCE_RETENTION_DAYS', 'EVIDENCE_SIGNING_KEY'];

export const COMMAND_USAGE: Readonly<Record<CommandName, CommandUsage>> = {
  worker: {
    synopsis: '',
    summary: 'run on REPORT_SCHEDULE until stopped (SIGTERM/SIGINT)',
    description:
      'The long-running scheduler: runs what is due on REPORT_SCHEDULE in REPORT_TIMEZONE, catches up a scheduled time missed\nwhile it was down, retries a failed run within the day. SIGTERM/SIGINT stop it gracefully (an in-flight run gets 30 s).\nWith WORKER_REPLICAS=on and DATABASE_URL it is one of several replicas sharing the accounts through a job queue.',
    options: [],
    variables: [
      ...LASTPASS,
      ...SENDGRID,
      ...REPORT,
      'REPORT_SCHEDULE',
      'REPORT_RETRY_MINUTES',
      'RUN_DEADLINE_MINUTES',
      'HEARTBEAT_URL',
      'PORT',
      ...ALARM,
      ...STORAGE,
      'WORKER_REPLICAS',
      'WORKER_CONCURRENCY',
      'WORKER_TAKEOVER_SECONDS',
      ...EVIDENCE_WRITE,
      'LOG_LEVEL',
    ],
  },
  run: {
    synopsis: '[--from ISO] [--to ISO] [--dry-run] [--force] [--account ID]',
    summary: 'report what is due now (or the given window)',
    description:
      'One report now. Without --from/--to it covers what is due: from the end of the last delivered window (or 24 h ago)\nto now. A delivered window is not sent again without --force. HEARTBEAT_URL is pinged (/start, then the plain ping\nor /fail) unless --dry-run.',
    options: [
      ['--from ISO', 'start of the window, e.g. 2025-03-09T07:00:00Z (a date alone is midnight UTC)'],
      ['--to ISO', 'end of the window'],
      ['--dry-run', 'write the message to DATA_DIR/outbox/ instead of sending; changes no state; no SendGrid key needed'],
      ['--force', 'send a window that was already delivered again'],
      ['--account ID', 'only this account of ACCOUNTS_FILE (without it, every account, then the roll-up to ROLLUP_TO)'],
    ],
    variables: [
      ...LASTPASS,
      ...SENDGRID,
      ...REPORT,
      'RUN_DEADLINE_MINUTES',
      'HEARTBEAT_URL',
      ...ALARM,
      ...STORAGE,
      ...EVIDENCE_WRITE,
      'LOG_LEVEL',
    ],
  },
  demo: {
    synopsis: '',
    summary: 'the whole pipeline offline against a simulator',
    description:
      'The whole pipeline offline: an embedded LastPass simulator on loopback serves a realistic day; the real client,\nanalysis, renderer and store run against it; the digest is written to DATA_DIR/demo/outbox/ (nothing is sent),\nwith an evidence bundle. Needs no configuration.',
    options: [],
    variables: ['DATA_DIR', 'LOG_LEVEL'],
  },
  check: {
    synopsis: '[--account ID]',
    summary: 'validate config and reach LastPass and SendGrid',
    description:
      'Validates the configuration and reaches both APIs without sending anything: one `reporting` call for a one-minute\nwindow and SendGrid GET /v3/scopes (must include mail.send); whether REPORT_FROM is a verified sender or on an\nauthenticated domain (GET /v3/verified_senders, /v3/whitelabel/domains; "warn" when the key may not read them);\nprints the storage state. Exit 1 when a check fails.',
    options: [['--account ID', 'the account of ACCOUNTS_FILE (needed when several are configured)']],
    variables: [...LASTPASS, ...SENDGRID, 'REPORT_FROM', 'REPORT_TO', ...STORAGE],
  },
  backfill: {
    synopsis: '--from ISO --to ISO [--send] [--force] [--account ID]',
    summary: 'digests for a past range, one per day (dry run unless --send)',
    description:
      'Digests for a past range, one per day, oldest first. A dry run to DATA_DIR/outbox/ unless --send; delivered days are\nskipped unless --force. A progress bar on a terminal, one line per day otherwise.',
    options: [
      ['--from ISO', 'start of the range'],
      ['--to ISO', 'end of the range (not in the future)'],
      ['--send', 'deliver through SendGrid (and record the days as delivered)'],
      ['--force', 'send days that were already delivered again'],
      ['--account ID', 'the account of ACCOUNTS_FILE (needed when several are configured)'],
    ],
    variables: [...LASTPASS, ...SENDGRID, ...REPORT, ...ALARM, ...STORAGE, ...EVIDENCE_WRITE, 'LOG_LEVEL'],
  },
  migrate: {
    synopsis: '',
    summary: "create or upgrade the store's schema (also done at start-up)",
    description: 'Creates or upgrades the store: the PostgreSQL schema migrations, or the DATA_DIR layout. Also done at start-up.',
    options: [],
    variables: [...STORAGE, 'LOG_LEVEL'],
  },
  verify: {
    synopsis: '[--from DAY] [--to DAY] [--account ID]',
    summary: 'check the evidence archive (hashes, chain, signatures, days)',
    description:
      'Checks the evidence archive: every hash, the chain, signatures, missing days, incomplete bundles; prints a summary\nfor an audit ticket. Exit 1 on any problem.',
    options: [
      ['--from DAY', 'first day to check, YYYY-MM-DD (the day of the digest window, in REPORT_TIMEZONE)'],
      ['--to DAY', 'last day to check'],
      ['--account ID', 'the account whose evidence chain to check (needed when ACCOUNTS_FILE has several)'],
    ],
    variables: [...STORAGE, 'EVIDENCE_VERIFY_KEY', 'LOG_LEVEL'],
  },
  export: {
    synopsis: '--from DAY --to DAY --out FILE.tar.gz [--account ID]',
    summary: 'the evidence of those days for an auditor',
    description:
      'Writes the bundles of those days with AUDITOR-README.txt, SHA256SUMS and the verify report into one .tar.gz.\nExit 1 when the verification found problems (the file is written anyway).',
    options: [
      ['--from DAY', 'first day, YYYY-MM-DD'],
      ['--to DAY', 'last day'],
      ['--out FILE.tar.gz', 'where to write the archive (.tar.gz or .tgz)'],
      ['--account ID', 'the account of ACCOUNTS_FILE (needed when several are configured)'],
    ],
    variables: [...STORAGE, 'EVIDENCE_VERIFY_KEY', 'LOG_LEVEL'],
  },
  history: {
    synopsis: '[--from DAY] [--to DAY] [--account ID]',
    summary: 'the delivered digests: counts, verdict, message id, evidence hash',
    description:
      'The delivered windows, oldest first: each with its counts, the verdict its subject stated, the SendGrid message id\nand its evidence bundle (the content SHA-256 printed in the digest footer, and the manifest SHA-256 of the chain).\nReads the store and the evidence only (DATA_DIR or DATABASE_URL); reaches no API.',
    options: [
      ['--from DAY', 'first day, YYYY-MM-DD (the day of the digest window, in REPORT_TIMEZONE)'],
      ['--to DAY', 'last day'],
      ['--account ID', 'the account of ACCOUNTS_FILE (needed when several are configured)'],
    ],
    variables: [...STORAGE, 'REPORT_TIMEZONE', 'LOG_LEVEL'],
  },
  show: {
    synopsis: 'DAY|KEY [--html FILE] [--account ID]',
    summary: 'the digest that was sent for that window, from the evidence',
    description:
      'The digest that was sent for that day (or window KEY, as history prints it), read back from its evidence bundle:\nthe text part to stdout, what was sent and where the evidence is to stderr. A day with several deliveries shows the\nnewest and names the others. Exit 1 when there is none, or when the files no longer match their manifest.',
    options: [
      ['--html FILE', 'also write the HTML part to FILE (open it in a browser)'],
      ['--account ID', 'the account of ACCOUNTS_FILE (needed when several are configured)'],
    ],
    variables: [...STORAGE, 'LOG_LEVEL'],
  },
};

export const COMMAND_NAMES = Object.keys(COMMAND_USAGE) as CommandName[];

const EXIT_CODES = 'Exit codes: 0 success, 1 the run failed, 2 bad usage or configuration.';

function columns(rows: [string, string][], indent = 2): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `${' '.repeat(indent)}${left.padEnd(width)}${right}`).join('\n');
}

/** The overview (`help`, no command, an unknown command). */
export function overviewUsage(cliName: string): string {
  const lines = COMMAND_NAMES.map((name): [string, string] => {
    const u = COMMAND_USAGE[name];
    return [`${name}${u.synopsis ? ` ${u.synopsis}` : ''}`, u.summary];
  });
  const width = 44;
  const body = lines
    .map(([left, right]) => (left.length + 2 > width ? `  ${left}\n  ${' '.repeat(width)}${right}` : `  ${left.padEnd(width)}${right}`))
    .join('\n');
  return `lastpass-audit-digest ${VERSION}

Usage: ${cliName} <command> [options]

${body}

\`${cliName} <command> --help\` explains a command and the variables it reads.
Configuration comes from environment variables (and ./.env); see README.md.
${EXIT_CODES}`;
}

/** One command's page for `<command> --help`. */
export function commandUsage(name: CommandName, cliName: string): string {
  const u = COMMAND_USAGE[name];
  const options = columns([...u.options, ['-h, --help', 'print this help and do nothing else']]);
  const variables = columns(
    u.variables.map((v): [string, string] => {
      const spec = SCHEMA[v];
      return [v, `${spec.help}${spec.default !== undefined ? ` (default ${spec.default})` : spec.required ? ' (required)' : ''}`];
    }),
  );
  return `Usage: ${cliName} ${name}${u.synopsis ? ` ${u.synopsis}` : ''}

${u.description}

Options:
${options}

Environment (and ./.env):
${variables}

${EXIT_CODES}`;
}

/**
 * The cross-field rules of the configuration, each named, each seeing every normalised value and which
 * variables were set. They run after the schema (schema.ts), so that all problems come out together.
 */
import { DEFAULTS, type Schema, type VariableName } from './schema.js';
import type { Values } from './variable.js';

export interface RuleInput {
  values: Values<Schema>;
  /** The trimmed text of a variable as set (undefined: unset or blank), whether or not it was valid. */
  text(name: VariableName): string | undefined;
  /** `run --dry-run`, `demo`, `backfill` without --send: nothing is sent. */
  dryRun: boolean;
}

export interface RuleFindings {
  problems?: string[];
  warnings?: string[];
}

export interface ConfigRule {
  readonly name: string;
  check(input: RuleInput): RuleFindings;
}

export const RULES: readonly ConfigRule[] = [
  {
    name: 'api-key-alias-conflict',
    check: ({ text }) => {
      const key = text('LASTPASS_API_KEY');
      const hash = text('LASTPASS_PROVISIONING_HASH');
      return key && hash && key !== hash
        ? {
            problems: [
              'LASTPASS_API_KEY and LASTPASS_PROVISIONING_HASH are both set and differ: they name the same secret (the provisioning hash); keep one of them.',
            ],
          }
        : {};
    },
  },
  {
    name: 'api-secret-required',
    check: ({ text }) =>
      text('LASTPASS_API_KEY') || text('LASTPASS_PROVISIONING_HASH') || text('ACCOUNTS_FILE')
        ? {}
        : {
            problems: [
              'LASTPASS_API_KEY is not set: create or copy the API secret (the "provisioning hash") in the Admin Console under Advanced > Enterprise API, and set it as LASTPASS_API_KEY (LASTPASS_PROVISIONING_HASH is accepted too).',
            ],
          },
  },
  {
    name: 'sendgrid-key-unless-dry-run',
    check: ({ text, dryRun }) =>
      text('SENDGRID_API_KEY') || dryRun
        ? {}
        : {
            problems: [
              'SENDGRID_API_KEY is not set: create an API key with the "Mail Send" permission in SendGrid (Settings > API Keys), or use --dry-run to write the digest to the outbox instead.',
            ],
          },
  },
  {
    // One LastPass request that times out, its retry and a SendGrid send (30 s) must fit in a run.
    name: 'run-deadline-vs-timeout',
    check: ({ values }) => {
      const minutes = values.RUN_DEADLINE_MINUTES;
      const timeout = values.LASTPASS_TIMEOUT_SECONDS;
      if (minutes === null || minutes === undefined || timeout === null || timeout === undefined) return {};
      const needed = 2 * timeout + 30;
      return minutes * 60 >= needed
        ? {}
        : {
            problems: [
              `RUN_DEADLINE_MINUTES=${minutes} is shorter than one LastPass request that times out (LASTPASS_TIMEOUT_SECONDS=${timeout}), its retry and a send (${needed} s): raise RUN_DEADLINE_MINUTES to at least ${Math.ceil(needed / 60)} or lower LASTPASS_TIMEOUT_SECONDS.`,
            ],
          };
    },
  },
  {
    // The replicas share their work through a job queue in PostgreSQL: without a database there is none.
    name: 'replicas-need-database',
    check: ({ values, text }) =>
      values.WORKER_REPLICAS === true && !text('DATABASE_URL')
        ? {
            problems: [
              'WORKER_REPLICAS=on needs DATABASE_URL: the replicas share their work (and state) through PostgreSQL; set DATABASE_URL, or unset WORKER_REPLICAS to run one worker.',
            ],
          }
        : {},
  },
  {
    // WORKER_CONCURRENCY and WORKER_TAKEOVER_SECONDS set without the replicas would silently do nothing.
    name: 'replica-settings-without-replicas',
    check: ({ values, text }) => {
      if (values.WORKER_REPLICAS === true) return {};
      const set = (['WORKER_CONCURRENCY', 'WORKER_TAKEOVER_SECONDS'] as const).filter((name) => text(name));
      return set.length > 0
        ? { warnings: [`${set.join(' and ')} only apply with WORKER_REPLICAS=on: the single worker runs one account run at a time.`] }
        : {};
    },
  },
  {
    name: 'sendgrid-url-vs-residency',
    check: ({ text, values }) =>
      text('SENDGRID_API_URL') && values.SENDGRID_DATA_RESIDENCY === 'eu'
        ? {
            problems: [
              'SENDGRID_API_URL and SENDGRID_DATA_RESIDENCY=eu are both set: keep one (the EU setting selects https://api.eu.sendgrid.com).',
            ],
          }
        : {},
  },
  {
    name: 'webhook-format-without-url',
    check: ({ text }) =>
      text('NOTIFY_WEBHOOK_FORMAT') && !text('NOTIFY_WEBHOOK_URL')
        ? {
            problems: [
              'NOTIFY_WEBHOOK_FORMAT is set but NOTIFY_WEBHOOK_URL is not: set the webhook URL too, or unset NOTIFY_WEBHOOK_FORMAT.',
            ],
          }
        : {},
  },
  {
    name: 'https-unless-loopback',
    check: ({ values }) => {
      const findings: Required<RuleFindings> = { problems: [], warnings: [] };
      const endpoints: [VariableName, string | null][] = [
        ['LASTPASS_API_URL', values.LASTPASS_API_URL],
        ['SENDGRID_API_URL', values.SENDGRID_API_URL ?? DEFAULTS.SENDGRID_API_URL],
        ['HEARTBEAT_URL', values.HEARTBEAT_URL],
        ['NOTIFY_WEBHOOK_URL', values.NOTIFY_WEBHOOK_URL],
      ];
      for (const [name, url] of endpoints) {
        const host = insecureHost(url);
        if (host === null) continue;
        // The heartbeat and webhook URLs are capabilities: not even their host is shown.
        const where =
          name === 'HEARTBEAT_URL' || name === 'NOTIFY_WEBHOOK_URL' ? 'a host that is not loopback' : `${host}, which is not loopback`;
        if (values.ALLOW_INSECURE_HTTP) {
          findings.warnings.push(
            `${name} uses http:// to ${where} (allowed by ALLOW_INSECURE_HTTP=1): its secrets cross the network unencrypted.`,
          );
        } else {
          findings.problems.push(
            `${name} uses http:// to ${where}: the secrets it carries would cross the network unencrypted. Use https://, or set ALLOW_INSECURE_HTTP=1 if a trusted network requires it.`,
          );
        }
      }
      return findings;
    },
  },
];

/** The host of an http:// URL that is not loopback (127.0.0.0/8, ::1, localhost); null otherwise. */
export function insecureHost(url: string | null): string | null {
  if (url === null) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:') return null;
  return isLoopbackHost(u.hostname) ? null : u.host;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '[::1]' || h === '[::ffff:7f00:1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

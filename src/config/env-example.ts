/**
 * `.env.example`, generated from the schema (schema.ts): every variable with its help text as a comment.
 * Required variables are left empty to fill in; optional ones are commented out with their default.
 * `npm run env-example` writes the file; test/env-example.test.ts fails when the committed one is stale.
 */
import { SCHEMA, VARIABLE_NAMES } from './schema.js';

/** The file's text (LF line endings, final newline). */
export function envExample(): string {
  const lines = [
    '# lastpass-audit-digest configuration. Copy this file to .env (or set the same names as Replit Secrets)',
    '# and fill in the required values; real environment variables win over .env. Every variable is validated',
    '# at start-up and every problem is reported at once; `lastpass-audit-digest check` reaches both APIs.',
    '# Generated from src/config/schema.ts by `npm run env-example`: edit the schema, not this file.',
  ];
  for (const name of VARIABLE_NAMES) {
    const spec = SCHEMA[name];
    const secret = spec.secret ? ' A secret: never commit it.' : '';
    lines.push('');
    const saysRequired = /\brequired\b/.test(spec.help);
    if (spec.required || saysRequired) {
      lines.push(`# ${spec.help}${saysRequired ? '' : ' (required)'}.${secret}`, `${name}=`);
    } else if (spec.default !== undefined) {
      lines.push(`# ${spec.help} (default ${spec.default}).${secret}`, `# ${name}=${spec.default}`);
    } else {
      lines.push(`# ${spec.help} (optional, unset by default).${secret}`, `# ${name}=`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The configured endpoints (LASTPASS_API_URL, SENDGRID_API_URL, HEARTBEAT_URL): credentials in a URL are a
 * configuration error that names the variable and never quotes them; http:// is refused unless the host is
 * loopback or ALLOW_INSECURE_HTTP=1 (then a warning).
 */
import { describe, expect, it } from 'vitest';
import { collectSecrets, loadConfig, type Env } from '../src/config/load-config.js';
import { isLoopbackHost } from '../src/config/rules.js';
import { ConfigError } from '../src/errors.js';

const VALID: Env = {
  LASTPASS_ACCOUNT_NUMBER: '8771234',
  LASTPASS_API_KEY: 'endpoint-test-secret-0123456789',
  SENDGRID_API_KEY: 'SG.endpoint-test.key0123456789',
  REPORT_FROM: 'digest@example.org',
  REPORT_TO: 'secops@example.org',
};
const env = (extra: Record<string, string>): Env => ({ ...VALID, ...extra });

function problemsOf(e: Env): string[] {
  try {
    loadConfig(e);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('credentials in a configured URL', () => {
  it.each([
    ['LASTPASS_API_URL', 'https://proxyuser:Pr0xyPassw0rd@proxy.example.test/enterpriseapi.php', /LASTPASS_API_KEY/],
    ['SENDGRID_API_URL', 'https://apikey:Pr0xyPassw0rd@sendgrid.example.test', /SENDGRID_API_KEY/],
    ['HEARTBEAT_URL', 'https://me:Pr0xyPassw0rd@hc-ping.example.test/0c8e1f4a-1111-2222-3333-444455556666', /ping URL/],
  ])('%s with user:password@ is refused, naming the variable and the fix, never quoting them', (name, url, fix) => {
    const problems = problemsOf(env({ [name]: url }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name} contains credentials`));
    expect(problems[0]).toMatch(fix);
    expect(problems[0]).not.toContain('Pr0xyPassw0rd');
    expect(problems[0]).not.toMatch(/proxyuser|apikey:|me:/);
    // And the redactor knows them, so whatever quotes the variable elsewhere is redacted.
    expect(collectSecrets(env({ [name]: url }))).toContain('Pr0xyPassw0rd');
  });

  it('an invalid URL with an @ is not quoted back', () => {
    const problems = problemsOf(env({ LASTPASS_API_URL: 'lastpass.com@secret-thing' }));
    expect(problems[0]).toMatch(/^LASTPASS_API_URL is not an http\(s\) URL:/);
    expect(problems[0]).not.toContain('secret-thing');
  });
});

describe('http:// endpoints', () => {
  it('are refused on a host that is not loopback, every one at once, naming the variable and ALLOW_INSECURE_HTTP', () => {
    const problems = problemsOf(
      env({
        LASTPASS_API_URL: 'http://proxy.example.test/enterpriseapi.php',
        SENDGRID_API_URL: 'http://10.0.0.5:8080',
        HEARTBEAT_URL: 'http://hc-ping.example.test/0c8e1f4a-1111-2222-3333-444455556666',
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^LASTPASS_API_URL uses http:\/\/ to proxy\.example\.test, which is not loopback: .*https:\/\/.*ALLOW_INSECURE_HTTP=1/,
      ),
      expect.stringMatching(/^SENDGRID_API_URL uses http:\/\/ to 10\.0\.0\.5:8080, which is not loopback/),
      expect.stringMatching(/^HEARTBEAT_URL uses http:\/\/ to a host that is not loopback/),
    ]);
    expect(problems.join(' ')).not.toContain('0c8e1f4a');
  });

  it('are accepted on loopback without a warning', () => {
    for (const host of ['127.0.0.1:8080', '127.3.2.1', 'localhost:3000', '[::1]:9000']) {
      const { warnings } = loadConfig(env({ LASTPASS_API_URL: `http://${host}/enterpriseapi.php`, SENDGRID_API_URL: `http://${host}` }));
      expect(warnings, host).toEqual([]);
    }
  });

  it('are accepted with ALLOW_INSECURE_HTTP=1, with a warning naming each', () => {
    const { config, warnings } = loadConfig(
      env({
        ALLOW_INSECURE_HTTP: '1',
        LASTPASS_API_URL: 'http://proxy.example.test/enterpriseapi.php',
        HEARTBEAT_URL: 'http://hc.example.test/x',
      }),
    );
    expect(config.lastpass.apiUrl).toBe('http://proxy.example.test/enterpriseapi.php');
    expect(warnings).toEqual([
      expect.stringMatching(
        /^LASTPASS_API_URL uses http:\/\/ to proxy\.example\.test, which is not loopback \(allowed by ALLOW_INSECURE_HTTP=1\).*unencrypted/,
      ),
      expect.stringMatching(/^HEARTBEAT_URL uses http:\/\/ to a host that is not loopback/),
    ]);
  });

  it('ALLOW_INSECURE_HTTP takes 1 or 0 only', () => {
    expect(problemsOf(env({ ALLOW_INSECURE_HTTP: 'maybe' }))).toEqual([expect.stringMatching(/^ALLOW_INSECURE_HTTP must be 1 or 0/)]);
    expect(problemsOf(env({ ALLOW_INSECURE_HTTP: '0', LASTPASS_API_URL: 'http://lp.example.test' }))).toHaveLength(1);
  });

  it('loopback is 127.0.0.0/8, ::1 and localhost, nothing else', () => {
    for (const h of ['127.0.0.1', '127.255.0.9', 'localhost', 'LOCALHOST', '[::1]', 'app.localhost'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['128.0.0.1', '127.0.0.1.example.test', 'localhost.example.test', '[::2]', '0.0.0.0', '10.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});

/**
 * The event catalogue as data: LastPass action names (every spelling seen in public material) mapped to
 * a category and a severity for a daily security digest. Matching is trimmed and case-insensitive
 * (LastPass switched many names from Title Case to sentence case in late 2022 without notice, and one
 * account's records can mix both). Names not listed here are reported as "Unrecognised", never dropped.
 *
 * Revisited (2026.12.1) against the records and rules other vendors publish; read, not copied:
 * - Elastic `lastpass` integration: data_stream/event_report/_dev/test/pipeline/test-event-report.log (both
 *   spellings of every name; `Log in` with Data `lastpass.com` and with a site address; `Reporting`,
 *   `Get User Data`, `Get Shared Folder Data` with Data `Initiated by API`) and its ingest pipeline (account
 *   creation filed under event.category iam / event.type creation).
 * - Datadog integrations-core lastpass/assets/logs/lastpass.yaml and lastpass_tests.yaml (sentence case
 *   names; `Log in` with Data `VID: <n>` parsed as a vault item, `LastPass via Website` left as a sign-in).
 * - Splunk `TA-lastpass` lookups/lastpass_vendor_actions.csv and lastpass_vendor_object_categories.csv
 *   (`Password Reset`, an Enterprise Admin action that modifies an account; `Iterations Changed`) and its
 *   input module (`apiuser` "splunk.collector").
 * - Microsoft Sentinel Solutions/LastPass (analytic rules on `Employee Account Deleted` / `Remove User From
 *   Company`, on `Site Changed` / `Deleted Sites` volume; the API connector).
 * - LastPass support, "Export user activity event types reports in the new Admin Console" (the sentence-case
 *   list: `Site deleted`, `Iterations changed`, `Delete shared folder`, …).
 * `rationale` says why a severity was settled where public material disagreed or the issue asked.
 */
import type { Category, Severity } from './types.js';

export const CATALOGUE_VERSION = '2026.12.1';

export interface CatalogueEntry {
  category: Category;
  severity: Severity;
  names: readonly string[];
  /** Why it matters, for high and medium entries: shown as the reason of a single-event finding. */
  why?: string;
  /** Why this severity, where it was settled against public material (one line; not shown in the digest). */
  rationale?: string;
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  // Sign-in
  { category: 'Sign-in', severity: 'low', names: ['Failed Login Attempt', 'Authentication failed', 'Failed login'] },
  {
    category: 'Sign-in',
    severity: 'info',
    names: ['Log in', 'Login', 'LastPass Login', 'SAML Login', 'Successful authentication', 'Log out', 'Logout'],
    rationale:
      'A sign-in is a rule on Action and Data (core/sign-in-rule.ts): `Log in` whose Data names a vault item (VID, Secure Note) or a site is a login from the vault, counted under Vault items, and feeds no sign-in detection.',
  },
  { category: 'Sign-in', severity: 'low', names: ['Login to Admin Console', 'Login Verification Email Sent', 'Destroy All Sessions'] },
  { category: 'Sign-in', severity: 'medium', names: ['Account Lockout', 'Account locked'], why: 'an account was locked by policy' },
  // MFA (any "Disabled <factor>" is also high: see classify.ts)
  {
    category: 'MFA',
    severity: 'high',
    names: [
      'Disabled Multifactor Authentication',
      'Disabled Google Authenticator',
      'Disabled Microsoft Authenticator',
      'Disabled Microsoft Authenticated',
      'Disabled YubiKey',
      'Disabled Toopher',
      'Disabled Grid',
      'Disabled LastPass Authentication',
      'Disabled Duo Security',
      'Disabled RSA SecurID',
      'Disabled Salesforce Authenticator',
      'Multifactor Disabled',
    ],
    why: 'a multifactor option was removed',
  },
  { category: 'MFA', severity: 'info', names: ['Multifactor Enabled', 'Enabled Multifactor Authentication'] },
  // Master password
  {
    category: 'Master password',
    severity: 'high',
    names: ['Master Password Reset by Super Admin', 'Reset master password'],
    why: 'someone else now knows how to open that vault',
  },
  {
    category: 'Master password',
    severity: 'medium',
    names: ['Master Password Changed', 'master password reverted', 'Change password success', 'Change password failed'],
    why: 'a master password changed',
  },
  {
    category: 'Master password',
    severity: 'medium',
    names: ['Iterations Changed'],
    why: "the vault's password iterations changed: fewer iterations weaken the encryption of that vault",
    rationale:
      'Was low. Lowering the iterations weakens vault encryption (one vendor monitor rates it critical), raising them is the advice since 2023 and the row does not say which: reviewed, not alarmed.',
  },
  {
    category: 'Master password',
    severity: 'medium',
    names: ['Password Reset'],
    why: 'a password was reset by an admin action: check that its owner asked for it',
    rationale:
      "New: the Splunk add-on's lookups list it as an Enterprise Admin action that modifies an account; whose password is not documented, so it is reviewed rather than treated as a master password reset (high).",
  },
  {
    category: 'Master password',
    severity: 'low',
    names: ['Require Password Change', 'Stop Requiring Password Change', 'Master Password Reuse', 'Password Reuse', 'Sharing key updated'],
  },
  // Admin rights
  { category: 'Admin rights', severity: 'high', names: ['Make Admin', 'Made admin'], why: 'admin rights were granted' },
  { category: 'Admin rights', severity: 'medium', names: ['Remove Admin', 'Removed admin'], why: 'admin rights were removed' },
  // Users
  {
    category: 'Users',
    severity: 'high',
    names: ['Employee Account Deleted', 'Remove User From Company', 'Removing user from LastPass Business', 'Deleting user'],
    why: 'a user was removed',
  },
  {
    category: 'Users',
    severity: 'medium',
    names: [
      'Deactivated User',
      'Deactivating User',
      'Employee account disabled',
      'User deprovisioned',
      'Reactivated User',
      'Reactivating user',
    ],
    why: 'a user was deactivated or reactivated',
  },
  {
    category: 'Users',
    severity: 'low',
    names: ['Employee Account Created', 'Created LastPass Account', 'Created pending user', 'Creating user', 'User provisioned'],
    rationale:
      'Was info. Vendors file account creation under account manipulation (Elastic: iam / creation; Splunk add-on: created): a new way in is worth a line every day, not an alarm.',
  },
  {
    category: 'Users',
    severity: 'info',
    names: ['Employee Invited', 'Re-invite User', 'Employee Account Requires Activation', 'Set user name'],
  },
  // Policies
  { category: 'Policies', severity: 'high', names: ['Delete Policy'], why: 'a security policy was deleted' },
  {
    category: 'Policies',
    severity: 'medium',
    names: ['Add Policy', 'Edit Policy', 'Update Policy Users'],
    why: 'a security policy changed',
  },
  {
    category: 'Policies',
    severity: 'low',
    names: [
      'Add Global Equiv Domain',
      'Remove Global Equiv Domain',
      'Add Global Never URLs',
      'Remove Global Never URLs',
      'Add Global Only URLs',
      'Remove Global Only URLs',
    ],
  },
  // API and provisioning
  {
    category: 'API and provisioning',
    severity: 'high',
    names: ['Enterprise API Secret regenerated', 'SCIM Provisioning Hash Updated'],
    why: 'the API secret changed: integrations using the old one stop working',
  },
  {
    category: 'API and provisioning',
    severity: 'medium',
    names: ['Provisioning credential changed', 'Provisioning service added', 'Provisioning service removed'],
    why: 'provisioning credentials or services changed',
  },
  // API reads: dropped when ours, info for a known caller, high for any other caller (see classify.ts).
  {
    category: 'API and provisioning',
    severity: 'high',
    names: ['Reporting', 'Get User Data', 'Get Shared Folder Data'],
    rationale:
      'Data says who called: "Initiated by API: <label>", "Initiated by API" or "(initiated by API)", in any case and punctuation (core/api-initiated.ts); one secret per account, so an unknown caller holds it.',
  },
  { category: 'API and provisioning', severity: 'info', names: ['Provisioning sync happened'] },
  // Vault data
  {
    category: 'Vault data',
    severity: 'high',
    names: ['Data export', 'Vault export', 'Exported vault'],
    why: 'a whole vault left LastPass',
  },
  { category: 'Vault data', severity: 'medium', names: ['Data printed'], why: 'vault data was printed' },
  { category: 'Vault data', severity: 'low', names: ['Data import', 'History Cleared'] },
  // Shared folders (Update Folder Permissions granting Admin:yes is high: see classify.ts)
  {
    category: 'Shared folders',
    severity: 'medium',
    names: [
      'Update Folder Permissions',
      'Add to Shared Folder',
      'Deleted Shared Folder',
      'Delete shared folder',
      'Permanently Deleted Shared Folder',
    ],
    why: 'shared-folder access changed',
  },
  { category: 'Shared folders', severity: 'low', names: ['Move to Shared Folder', 'Personal Share'] },
  {
    category: 'Shared folders',
    severity: 'low',
    names: ['Delete Shared Sites'],
    rationale:
      'Site deletion has two severities on purpose: a site deleted from a shared folder (Data "<site> from <folder>") is gone for everyone sharing it, so low; a site deleted from one vault (`Deleted Sites`, `Site deleted`) is info.',
  },
  {
    category: 'Shared folders',
    severity: 'info',
    names: [
      'Created Shared Folder',
      'Restored Shared Folder',
      'Renamed Shared Folder',
      'Removed From Shared Folder',
      'Limit Shared Folder',
      'Move from Shared Folder',
    ],
  },
  // Groups
  { category: 'Groups', severity: 'low', names: ['Delete Group'] },
  {
    category: 'Groups',
    severity: 'info',
    names: [
      'Create Group',
      'Rename Group',
      'Edit Group',
      'Adding User to Group',
      'Add to Group',
      'Group Addition',
      'Remove from Group',
      'Removing user from group',
      'Group Removal',
    ],
  },
  // Vault items
  {
    category: 'Vault items',
    severity: 'info',
    names: ['Deleted Sites', 'Site deleted'],
    rationale:
      'One action in two spellings (Title Case before 2022, sentence case after): the same severity, info, because users delete their own items every day; mass deletion is the unusual-volume detection.',
  },
  {
    category: 'Vault items',
    severity: 'info',
    names: [
      'Site Added',
      'Site Changed',
      'Password Changed',
      'Username Changed',
      'Add Secure Note',
      'Edit Secure Note',
      'Open Secure Note',
      'Form Filled',
    ],
  },
];

/** Actions whose rows are API reads: ours (by `apiuser`) are self-noise, anyone else's is a finding. */
export const API_READ_ACTIONS: ReadonlySet<string> = new Set(['reporting', 'get user data', 'get shared folder data']);

export function normaliseActionName(action: string): string {
  return action.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The catalogue as a lookup table, normalised names to entries. Throws on a name listed twice. */
export function buildCatalogueIndex(entries: readonly CatalogueEntry[] = CATALOGUE): Map<string, CatalogueEntry> {
  const index = new Map<string, CatalogueEntry>();
  for (const entry of entries) {
    for (const name of entry.names) {
      const key = normaliseActionName(name);
      if (index.has(key)) throw new Error(`catalogue lists "${name}" twice`);
      index.set(key, entry);
    }
  }
  return index;
}

/**
 * The event catalogue as data: LastPass action names (every spelling seen in public material) mapped to
 * a category and a severity for a daily security digest. Matching is trimmed and case-insensitive
 * (LastPass switched many names from Title Case to sentence case in late 2022 without notice).
 * Names not listed here are reported as "Unrecognised", never dropped.
 */
import type { Category, Severity } from './types.js';

export const CATALOGUE_VERSION = '2026.11.1';

export interface CatalogueEntry {
  category: Category;
  severity: Severity;
  names: readonly string[];
  /** Why it matters, for high and medium entries: shown as the reason of a single-event finding. */
  why?: string;
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  // Sign-in
  { category: 'Sign-in', severity: 'low', names: ['Failed Login Attempt', 'Authentication failed', 'Failed login'] },
  {
    category: 'Sign-in',
    severity: 'info',
    names: ['Log in', 'Login', 'LastPass Login', 'SAML Login', 'Successful authentication', 'Log out', 'Logout'],
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
    severity: 'low',
    names: [
      'Require Password Change',
      'Stop Requiring Password Change',
      'Master Password Reuse',
      'Password Reuse',
      'Iterations Changed',
      'Sharing key updated',
    ],
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
    severity: 'info',
    names: [
      'Employee Account Created',
      'Created LastPass Account',
      'Employee Invited',
      'Re-invite User',
      'Created pending user',
      'Creating user',
      'User provisioned',
      'Employee Account Requires Activation',
      'Set user name',
    ],
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
  // API reads: info when ours, high for any other caller (see classify.ts).
  { category: 'API and provisioning', severity: 'high', names: ['Reporting', 'Get User Data', 'Get Shared Folder Data'] },
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
  { category: 'Shared folders', severity: 'low', names: ['Move to Shared Folder', 'Personal Share', 'Delete Shared Sites'] },
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
    names: [
      'Site Added',
      'Site Changed',
      'Deleted Sites',
      'Site deleted',
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

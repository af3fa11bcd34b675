/**
 * What to do next, per finding type: one or two lines for a recipient who is not a LastPass admin (who to
 * ask, what to check), and the Admin Console page where an admin does it.
 *
 * Admin Console addresses, from public material (no LastPass page documents the deep links, so only these
 * are used, and every other place is the console's root with the menu path in words):
 * - https://admin.lastpass.com/ : the new Admin Console (LastPass support, "Create general reports in the new
 *   Admin Console"; Datadog's LastPass integration README).
 * - https://admin.lastpass.com/users/view : the Users page (JupiterOne graph-lastpass builds each user's web
 *   link on it, src/steps/users/converter.ts).
 * - https://admin.lastpass.com/advanced/enterpriseApi : Advanced > Enterprise API (cited in public
 *   Enterprise API scripts and in Axonius' LastPass adapter docs).
 * Menu paths: Reporting > General reports > User activity / Admin activity (LastPass support, general
 * reports); Applications > Shared folders (LastPass support, "Manage shared folders as a LastPass Business
 * admin"); Users > Admin levels (LastPass support, custom admin permissions); Policies (LastPass support,
 * "What's new in the LastPass Admin Console": tabs Dashboard, Users, Applications, Policies, Reporting,
 * Advanced). Destroy all sessions and Require master password change are actions on a user (LastPass
 * support, "Manage LastPass users").
 */
import type { Finding } from './detections/detection.js';

export interface Guidance {
  /** One or two sentences. */
  text: string;
  /** An Admin Console page. */
  url: string;
  /** Where that is, in words: "Admin Console > Users". */
  where: string;
}

const ROOT = 'https://admin.lastpass.com/';
const PLACES = {
  users: { url: 'https://admin.lastpass.com/users/view', where: 'Admin Console > Users' },
  api: { url: 'https://admin.lastpass.com/advanced/enterpriseApi', where: 'Admin Console > Advanced > Enterprise API' },
  userActivity: { url: ROOT, where: 'Admin Console > Reporting > General reports > User activity' },
  adminActivity: { url: ROOT, where: 'Admin Console > Reporting > General reports > Admin activity' },
  adminLevels: { url: ROOT, where: 'Admin Console > Users > Admin levels' },
  policies: { url: ROOT, where: 'Admin Console > Policies' },
  sharedFolders: { url: ROOT, where: 'Admin Console > Applications > Shared folders' },
} as const;

type Place = keyof typeof PLACES;
const guide = (text: string, place: Place): Guidance => ({ text, ...PLACES[place] });

const BY_TYPE: Record<string, Guidance> = {
  'failed-signin-burst/high': guide(
    'Ask the user now whether the sign-in right after the failures was theirs. If not, an admin opens the user, uses Destroy all sessions and requires a master password change.',
    'users',
  ),
  'failed-signin-burst/medium': guide(
    'Someone tried many master passwords on this account. Ask the user; if the address is not theirs, require a master password change and check that multifactor is on.',
    'users',
  ),
  'password-spraying': guide(
    'One address tried many accounts. Block it at your network edge (or with an IP restriction policy) and look in User activity for any successful sign-in from it.',
    'userActivity',
  ),
  'foreign-api-caller/api-caller': guide(
    'Find out who runs this integration. If it is one of yours, add it to LASTPASS_KNOWN_API_CALLERS; if nobody does, a super admin regenerates the API secret and updates every real integration.',
    'api',
  ),
  'foreign-api-caller/api-caller-outside': guide(
    "The label is a known integration's, the address is not. Ask the integration's owner whether it moved; if not, regenerate the API secret and update every integration.",
    'api',
  ),
  'foreign-api-caller/secret-changed': guide(
    'Confirm with the admin that the change was planned, then update LASTPASS_API_KEY here and the secret of every other integration: they stop working until then.',
    'api',
  ),
  'privilege-changes': guide(
    'Ask the admin named here for the request behind each change (a ticket, an approval) and undo any change nobody asked for. Admin activity is the record.',
    'adminActivity',
  ),
  'privilege-changes/grant': guide(
    'Ask the admin who granted the rights for the request behind it; an admin nobody asked for can change every policy and user.',
    'adminLevels',
  ),
  'privilege-changes/revoke': guide('Confirm with the admin that the rights were meant to be removed.', 'adminLevels'),
  'privilege-changes/policy-delete': guide(
    'Ask the admin why the policy was deleted and restore it if nobody asked for it: it stopped applying to every user at once.',
    'policies',
  ),
  'privilege-changes/policy-change': guide(
    'Confirm the change with the admin: a weakened policy applies to every user at once.',
    'policies',
  ),
  'privilege-changes/folder-admin': guide(
    "Check with the folder's owner that this person should manage the folder: a folder admin can share its passwords on.",
    'sharedFolders',
  ),
  'privilege-changes/mfa-off': guide(
    'Ask the user why the factor was removed and have them enrol again; if they did not do it, treat the account as compromised.',
    'users',
  ),
  'privilege-changes/mp-reset': guide(
    'Confirm with the user that they asked for the reset: whoever reset it can now open that vault.',
    'users',
  ),
  'new-source/medium': guide(
    'Ask the user whether they signed in from this address (travel, a new ISP, a VPN). If not, destroy their sessions and require a master password change.',
    'users',
  ),
  'new-source/low': guide(
    'A new address in a network this user already uses: usually harmless. Look again if it comes with other findings.',
    'users',
  ),
  'unusual-volume': guide(
    'Ask the user why so many vault items changed or went: mass deletion before someone leaves is a known pattern. User activity lists the items.',
    'userActivity',
  ),
  'event/Vault data': guide(
    'Ask the user why vault data left LastPass: an export holds every password in readable form. If it was not expected, change the passwords that matter most.',
    'users',
  ),
  'event/Users': guide(
    'Confirm with HR or IT that this account change was planned; shared items of a removed user may need a new owner.',
    'users',
  ),
  'event/MFA': guide(
    'Ask the user why the factor was removed and have them enrol again; a policy can require multifactor for everyone.',
    'users',
  ),
  'event/Master password': guide(
    "Confirm with the account's owner; an unexpected reset or change means someone else may be able to open that vault.",
    'users',
  ),
  'event/Admin rights': guide('Confirm with the admin who changed the rights that someone asked for it.', 'adminLevels'),
  'event/Policies': guide('Confirm with the admin who changed it: a weakened policy applies to every user at once.', 'policies'),
  'event/Shared folders': guide("Check who can now see the folder's passwords and whether that was intended.", 'sharedFolders'),
  'event/API and provisioning': guide(
    'Confirm with the admin that the change was planned: integrations using the old credentials stop working.',
    'api',
  ),
  'event/Sign-in': guide('Ask the user: a lockout can mean someone is guessing their master password.', 'users'),
};

const FALLBACK = guide('Look at the event in the User activity report and ask the person it names.', 'userActivity');

/** The guidance for a finding: by detector and kind or severity, single events by category. */
export function guidanceFor(finding: Finding): Guidance {
  const { detector } = finding;
  const keys =
    detector === 'event'
      ? [`event/${finding.category ?? ''}`]
      : [`${detector}/${finding.kind ?? ''}`, `${detector}/${finding.severity}`, detector];
  for (const key of keys) {
    const g = BY_TYPE[key];
    if (g) return g;
  }
  return FALLBACK;
}

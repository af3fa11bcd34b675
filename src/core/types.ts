/** Shared types of the pure core. No I/O here. */

export type Severity = 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low', 'info'];

export type Category =
  | 'Sign-in'
  | 'MFA'
  | 'Master password'
  | 'Admin rights'
  | 'Users'
  | 'Policies'
  | 'API and provisioning'
  | 'Vault data'
  | 'Shared folders'
  | 'Groups'
  | 'Vault items'
  | 'Unrecognised';

/** One row of a `reporting` response, exactly as LastPass sends it (all strings, often empty). */
export interface RawEvent {
  Time: string;
  Username: string;
  IP_Address: string;
  Action: string;
  Data: string;
}

/** An event after normalisation: the wall-clock `Time` resolved to an instant. */
export interface AuditEvent {
  /** Epoch milliseconds (UTC instant). */
  at: number;
  /** The wall-clock time as LastPass sent it, `YYYY-MM-DD HH:MM:SS` in LASTPASS_TIMEZONE. */
  wall: string;
  username: string;
  ip: string;
  /** The action name as received, trimmed (displayed as-is; matched case-insensitively). */
  action: string;
  data: string;
}

export interface ClassifiedEvent extends AuditEvent {
  category: Category;
  severity: Severity;
  /** Why this severity, when it differs from the catalogue's plain entry (e.g. "grants Admin:yes"). */
  note?: string;
}

/** A report window: the half-open instant range [start, end). */
export interface ReportWindow {
  start: Date;
  end: Date;
}

/** The wall-clock range sent to LastPass: both ends inclusive, second resolution. */
export interface WallRange {
  from: string;
  to: string;
}

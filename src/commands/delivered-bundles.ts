/** The delivered bundles of the evidence archive with what their delivery.json and run.json say (history, show). */
import type { DeliveredBundle } from '../core/delivery-history.js';
import type { EvidenceArchive } from '../ports.js';

async function jsonFile(archive: EvidenceArchive, runId: string, path: string): Promise<Record<string, unknown>> {
  const file = await archive.readFile(runId, path);
  if (!file) return {};
  try {
    const value: unknown = JSON.parse(file.bytes.toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : null);

export async function deliveredBundles(archive: EvidenceArchive, range: { from?: string; to?: string } = {}): Promise<DeliveredBundle[]> {
  const bundles = (await archive.bundles(range)).filter((b) => b.status === 'delivered');
  const out: DeliveredBundle[] = [];
  for (const b of bundles) {
    const delivery = await jsonFile(archive, b.runId, 'delivery.json');
    const run = await jsonFile(archive, b.runId, 'run.json');
    out.push({
      runId: b.runId,
      day: b.day,
      key: b.window.key,
      start: b.window.start,
      end: b.window.end,
      subject: text(delivery.subject),
      messageId: text(delivery.messageId),
      destination: text(delivery.destination),
      deliveredAt: text(delivery.deliveredAt),
      eventsReviewed: typeof run.eventsReviewed === 'number' ? run.eventsReviewed : null,
      contentSha256: b.contentManifestSha256,
      manifestSha256: b.manifestSha256,
    });
  }
  return out;
}

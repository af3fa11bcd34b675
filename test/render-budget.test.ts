/**
 * The one HTML budget, owned by the renderer: `renderDigestWithinBudget` builds the model with the default
 * caps and halves them only while shortening and leaving out rows did not bring the HTML part under it.
 */
import { describe, expect, it } from 'vitest';
import { createRenderer, HTML_BUDGET_BYTES } from '../src/adapters/renderer.js';
import { DEFAULT_CAPS, type DigestCaps } from '../src/core/digest-model.js';
import type { DigestModel } from '../src/core/digest-model-types.js';
import { quietDigestModel, sampleDigestModel, worstCaseDigestModel } from './fixtures/sample-models.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** A builder that records the caps it was given; `notice` makes an untrimmable part that scales with them. */
function builder(model: DigestModel, notice: (caps: DigestCaps) => string | null = () => null) {
  const caps: DigestCaps[] = [];
  const build = (c: DigestCaps): DigestModel => {
    caps.push(c);
    const n = notice(c);
    return n === null ? model : { ...model, notices: [...model.notices, n] };
  };
  return { caps, build };
}

describe('the HTML budget', () => {
  it('is the Gmail limit with room to spare', () => {
    expect(HTML_BUDGET_BYTES).toBeLessThan(102_000);
  });

  it('builds the model once, with the default caps, when the digest fits', () => {
    const renderer = createRenderer();
    const { caps, build } = builder(sampleDigestModel());
    const out = renderer.renderDigestWithinBudget(build);
    expect(caps).toEqual([DEFAULT_CAPS]);
    expect(out).toEqual({ model: sampleDigestModel(), ...renderer.renderDigest(sampleDigestModel()) });
  });

  it('fits the worst case by shortening and leaving out rows, without rebuilding the model', () => {
    const { caps, build } = builder(worstCaseDigestModel());
    const out = createRenderer().renderDigestWithinBudget(build);
    expect(caps).toHaveLength(1);
    expect(bytes(out.html)).toBeLessThanOrEqual(HTML_BUDGET_BYTES);
    expect(out.html).toContain('This HTML part is shortened');
  });

  it('halves the caps while the trimmed HTML part is still over budget, and stops as soon as it fits', () => {
    const quiet = quietDigestModel();
    const base = bytes(createRenderer().renderDigest(quiet).html);
    // 100 characters per character of the text cap: 30,000 at the default cap, 8,000 at its floor of 80.
    const renderer = createRenderer({ htmlBudgetBytes: base + 12_000 });
    const { caps, build } = builder(quiet, (c) => 'x'.repeat(c.text * 100));
    const out = renderer.renderDigestWithinBudget(build);
    expect(caps.map((c) => [c.text, c.detections, c.findings, c.low, c.unrecognised])).toEqual([
      [300, 40, 40, 20, 60],
      [150, 20, 20, 10, 30],
      [80, 10, 10, 5, 15],
    ]);
    expect(bytes(out.html)).toBeLessThanOrEqual(base + 12_000);
    expect(out.model.notices.at(-1)).toHaveLength(8_000);
  });

  it('sends an HTML part it cannot fit after six halvings rather than none', () => {
    const renderer = createRenderer({ htmlBudgetBytes: 5_000 });
    const { caps, build } = builder(quietDigestModel(), () => 'x'.repeat(10_000));
    const out = renderer.renderDigestWithinBudget(build);
    expect(caps).toHaveLength(7);
    expect(caps.at(-1)).toEqual({ detections: 5, findings: 5, low: 3, unrecognised: 5, text: 80 });
    expect(bytes(out.html)).toBeGreaterThan(5_000);
  });
});

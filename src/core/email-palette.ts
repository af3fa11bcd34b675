/**
 * The emails' colours in both schemes. The templates are written in the light palette with inline styles
 * (what every mail client renders); a `prefers-color-scheme: dark` block in templates/partials/head.html.hbs,
 * generated here by `darkModeCss()` (test/email-palette.test.ts fails when the two differ), maps each light
 * colour to its dark counterpart, per property, through attribute selectors on the inline styles: no class
 * or markup per element, so the HTML size budget is untouched. Clients without the media query (Gmail) show
 * the light palette. Every text colour on its background reaches WCAG AA (4.5:1) in both schemes: checked
 * on the pairs below, and on the rendered pages in Chromium (test/render-browser.test.ts).
 */

/** Text colours (the `color` property). White text stays white: it sits on the kept verdict colours. */
export const DARK_TEXT: Readonly<Record<string, string>> = {
  '#111827': '#f3f4f6',
  '#374151': '#e5e7eb',
  '#4b5563': '#d1d5db',
  '#6b7280': '#9ca3af',
  // severity: tiles, category counts, trends, links
  '#b91c1c': '#f87171',
  '#b45309': '#fbbf24',
  '#1d4ed8': '#60a5fa',
  // badge inks
  '#991b1b': '#fecaca',
  '#92400e': '#fde68a',
  '#1e40af': '#bfdbfe',
  // callouts: caution, notice, attestation, attachments, the failure's error
  '#713f12': '#fef08a',
  '#78350f': '#fde68a',
  '#15803d': '#4ade80',
  '#14532d': '#bbf7d0',
  '#1e3a8a': '#bfdbfe',
  '#7f1d1d': '#fecaca',
};

/** Backgrounds (`background-color` and the `bgcolor` attribute). */
export const DARK_BACKGROUND: Readonly<Record<string, string>> = {
  '#f3f4f6': '#0b0f14',
  '#ffffff': '#111827',
  '#f9fafb': '#1f2937',
  '#fee2e2': '#450a0a',
  '#fef3c7': '#451a03',
  '#dbeafe': '#172554',
  '#fef9c3': '#422006',
  '#fffbeb': '#451a03',
  '#f0fdf4': '#052e16',
  '#eff6ff': '#172554',
  '#fef2f2': '#450a0a',
};

/** The backgrounds the templates also set as a `bgcolor` attribute (for Outlook), which the dark block must override too. */
export const BGCOLOR_ATTRIBUTES: readonly string[] = ['#f3f4f6', '#ffffff', '#f9fafb', '#fef9c3', '#fffbeb', '#f0fdf4'];

/** Backgrounds that stay in dark mode: the verdict banners (white text) and the chart's bars. */
export const KEPT_BACKGROUNDS: readonly string[] = ['#b91c1c', '#b45309', '#a16207', '#1d4ed8', '#15803d', '#94a3b8', '#dc2626'];

/** Hairlines and box borders, each with the forms the templates write it in. */
export const DARK_BORDER: readonly { light: string; dark: string; forms: readonly BorderForm[] }[] = [
  { light: '#e5e7eb', dark: '#374151', forms: ['border:1px solid', 'border-top:1px solid', 'border-bottom:1px solid'] },
  { light: '#f3f4f6', dark: '#1f2937', forms: ['border-top:1px solid'] },
  { light: '#d1d5db', dark: '#4b5563', forms: ['border-top:1px dashed'] },
  { light: '#9ca3af', dark: '#6b7280', forms: ['border-bottom:1px solid'] },
  { light: '#fde047', dark: '#a16207', forms: ['border:1px solid'] },
  { light: '#fde68a', dark: '#92400e', forms: ['border:1px solid'] },
  { light: '#bbf7d0', dark: '#166534', forms: ['border:1px solid'] },
  { light: '#bfdbfe', dark: '#1e40af', forms: ['border:1px solid'] },
  { light: '#fecaca', dark: '#7f1d1d', forms: ['border:1px solid'] },
];
export type BorderForm = 'border:1px solid' | 'border-top:1px solid' | 'border-top:1px dashed' | 'border-bottom:1px solid';

/** Accent borders (severity tops of the tiles, callouts' left bars) that keep their colour over a mapped box border. */
export const KEPT_ACCENTS: readonly string[] = [
  'border-top:4px solid #b91c1c',
  'border-top:4px solid #b45309',
  'border-top:4px solid #1d4ed8',
  'border-top:4px solid #4b5563',
  'border-left:4px solid #a16207',
  'border-left:4px solid #b45309',
  'border-left:4px solid #15803d',
];

/** Every text colour and the backgrounds it is drawn on, in the light palette (the dark ones follow the maps). */
export const TEXT_PAIRS: readonly { text: string; on: string[]; where: string }[] = [
  { text: '#111827', on: ['#ffffff', '#f9fafb'], where: 'body text, values' },
  { text: '#374151', on: ['#ffffff', '#f9fafb', '#f3f4f6'], where: 'secondary text, "and N more" boxes, info badge' },
  { text: '#4b5563', on: ['#ffffff'], where: 'notes, info tile, detail lines' },
  { text: '#6b7280', on: ['#ffffff', '#f9fafb'], where: 'captions, times, footer, zero counts' },
  { text: '#b91c1c', on: ['#ffffff'], where: 'high counts, trends standing out' },
  { text: '#b45309', on: ['#ffffff'], where: 'medium counts' },
  { text: '#1d4ed8', on: ['#ffffff'], where: 'low counts, links' },
  { text: '#991b1b', on: ['#fee2e2', '#ffffff'], where: 'high badge, high note' },
  { text: '#92400e', on: ['#fef3c7', '#fffbeb', '#ffffff'], where: 'medium badge, notice title, medium note' },
  { text: '#1e40af', on: ['#dbeafe', '#ffffff'], where: 'low badge, low note' },
  { text: '#713f12', on: ['#fef9c3'], where: 'cautions' },
  { text: '#78350f', on: ['#fffbeb'], where: 'notices' },
  { text: '#15803d', on: ['#f0fdf4'], where: 'attestation title' },
  { text: '#14532d', on: ['#f0fdf4'], where: 'attestation' },
  { text: '#1e3a8a', on: ['#eff6ff'], where: 'attachments notice' },
  { text: '#7f1d1d', on: ['#fef2f2'], where: 'the failure notice error' },
  { text: '#ffffff', on: ['#b91c1c', '#b45309', '#a16207', '#1d4ed8', '#15803d'], where: 'verdict banners' },
];

/** The dark counterpart of a light colour for a property (kept colours map to themselves). */
export function darkOf(kind: 'text' | 'background', light: string): string {
  if (kind === 'text') return light === '#ffffff' ? light : (DARK_TEXT[light] ?? light);
  return DARK_BACKGROUND[light] ?? light;
}

function relativeLuminance(hex: string): number {
  const n = Number.parseInt(hex.slice(1), 16);
  const channel = (v: number) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(n >> 16) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
}

/** WCAG 2 contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** The `@media (prefers-color-scheme: dark)` block of head.html.hbs. */
export function darkModeCss(): string {
  const rules: string[] = [];
  // One rule per dark colour: the selectors of every light colour that maps to it.
  const grouped = (entries: [string, string][], selectors: (light: string) => string[], property: string) => {
    const byDark = new Map<string, string[]>();
    for (const [light, dark] of entries) byDark.set(dark, [...(byDark.get(dark) ?? []), ...selectors(light)]);
    for (const [dark, list] of byDark) rules.push(`${list.join(',')}{${property}:${dark}!important}`);
  };
  grouped(
    Object.entries(DARK_BACKGROUND),
    (light) => [...(BGCOLOR_ATTRIBUTES.includes(light) ? [`[bgcolor="${light}"]`] : []), `[style*="background-color:${light}"]`],
    'background-color',
  );
  grouped(Object.entries(DARK_TEXT), (light) => [`[style^="color:${light}"]`, `[style*=";color:${light}"]`], 'color');
  for (const { light, dark, forms } of DARK_BORDER) {
    for (const form of forms) {
      const side = form.slice(0, form.indexOf(':'));
      rules.push(`[style*="${form} ${light}"]{${side}-color:${dark}!important}`);
    }
  }
  for (const accent of KEPT_ACCENTS) {
    const [side, value] = accent.split(':') as [string, string];
    rules.push(`[style*="${accent}"]{${side}-color:${value.split(' ').at(-1)}!important}`);
  }
  return `@media (prefers-color-scheme: dark) {\n${rules.join('\n')}\n  }`;
}

/**
 * The building block of the configuration schema: one environment variable, its documented default, its
 * help text, whether it is a secret, and how its text is normalised into a value (or into problems that
 * name the variable and the fix). Pure: the environment comes in as a value.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** A normalised value (with any warnings about it), or the problems that make it unusable. */
export type Parsed<T> = { ok: true; value: T; warnings?: string[] } | { ok: false; problems: string[] };

export interface Variable<T> {
  readonly name: string;
  /** One line for `--help` and the README table. */
  readonly help: string;
  /** The documented default, as a user would write it; used when the variable is unset or blank. */
  readonly default?: string;
  /** The problem reported when the variable is unset, blank and has no default (a required variable). */
  readonly required?: string;
  /**
   * The values worth redacting that this variable's text carries: `true` for the whole text (in the forms
   * it may be written in), or a function that picks them out (the password of a URL).
   */
  readonly secret?: true | ((text: string) => string[]);
  /** Normalises the trimmed, non-blank text. */
  parse(text: string): Parsed<T>;
}

export const ok = <T>(value: T, warnings?: string[]): Parsed<T> => (warnings?.length ? { ok: true, value, warnings } : { ok: true, value });
export const problem = <T = never>(...problems: string[]): Parsed<T> => ({ ok: false, problems });

export function variable<T>(spec: Variable<T>): Variable<T> {
  return spec;
}

/** The text of a variable: trimmed; blank and whitespace-only count as unset. */
export function textOf(env: Env, name: string): string | undefined {
  const t = env[name]?.trim();
  return t ? t : undefined;
}

export interface ReadResult<V> {
  /** Each variable's value; null when it is unset without a default, or when it has problems. */
  values: V;
  problems: string[];
  warnings: string[];
}

type ValueOf<S> = S extends Variable<infer T> ? T : never;
export type Values<S extends Record<string, Variable<unknown>>> = { [K in keyof S]: ValueOf<S[K]> | null };

/** Reads and normalises every variable of `schema` from `env`, collecting every problem and warning. */
export function readVariables<S extends Record<string, Variable<unknown>>>(
  env: Env,
  schema: S,
  defaults: Partial<Record<keyof S, string>> = {},
): ReadResult<Values<S>> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const [key, spec] of Object.entries(schema)) {
    const text = textOf(env, spec.name) ?? defaults[key as keyof S] ?? spec.default;
    values[key] = null;
    if (text === undefined) {
      if (spec.required) problems.push(spec.required);
      continue;
    }
    const parsed = spec.parse(text);
    if (parsed.ok) {
      values[key] = parsed.value;
      if (parsed.warnings) warnings.push(...parsed.warnings);
    } else {
      problems.push(...parsed.problems);
    }
  }
  return { values: values as Values<S>, problems, warnings };
}

/** Every secret value the variables of `schema` carry in `env`, valid or not (for the redactor). */
export function secretsIn(env: Env, schema: Record<string, Variable<unknown>>): string[] {
  const out = new Set<string>();
  for (const spec of Object.values(schema)) {
    const text = textOf(env, spec.name);
    if (!text || !spec.secret) continue;
    const found = spec.secret === true ? [text] : spec.secret(text);
    for (const s of found) if (s.length > 0) out.add(s);
  }
  return [...out];
}

/** Orders problems by the schema position of the variable each one starts with (rules' problems join their variable). */
export function inSchemaOrder(problems: readonly string[], names: readonly string[]): string[] {
  const rank = (p: string) => {
    const i = names.findIndex((n) => p.startsWith(`${n} `) || p.startsWith(`${n}:`));
    return i === -1 ? names.length : i;
  };
  return problems
    .map((p, i) => ({ p, i, r: rank(p) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.p);
}

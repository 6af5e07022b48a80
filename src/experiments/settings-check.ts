/**
 * What one setting may be: a whole number or a number within bounds (inclusive), one of some
 * values, or a boolean.
 */
export type SettingRule =
  | { whole: [number, number] }
  | { number: [number, number] }
  | { oneOf: readonly (string | number)[] }
  | "boolean";

/** A rule for every key of settings `S`. */
export type SettingRules<S> = { [K in keyof S]-?: SettingRule };

const allowed = (rule: SettingRule): string =>
  rule === "boolean"
    ? "true or false"
    : "whole" in rule
      ? `a whole number from ${rule.whole[0]} to ${rule.whole[1]}`
      : "number" in rule
        ? `a number from ${rule.number[0]} to ${rule.number[1]}`
        : `one of ${rule.oneOf.map((v) => JSON.stringify(v)).join(", ")}`;

function fits(rule: SettingRule, value: unknown): boolean {
  if (rule === "boolean") return typeof value === "boolean";
  if ("oneOf" in rule) return rule.oneOf.includes(value as string | number);
  const [lo, hi] = "whole" in rule ? rule.whole : rule.number;
  if (typeof value !== "number" || !Number.isFinite(value) || value < lo || value > hi)
    return false;
  return !("whole" in rule) || Number.isInteger(value);
}

/**
 * Checks `settings` against `rules` before any work: every key must be a known setting (a
 * misspelled one, which a cast or plain JavaScript lets through, is refused with the list of
 * settings) and every value must fit its rule.
 * @throws naming the experiment, the setting, what it may be and what it was.
 */
export function checkSettings<S extends object>(
  name: string,
  settings: S,
  rules: SettingRules<S>,
): void {
  const known = Object.keys(rules);
  for (const key of Object.keys(settings))
    if (!known.includes(key))
      throw new Error(`${name}: ${key} is not a setting; the settings are ${known.join(", ")}`);
  for (const key of known) {
    const rule = rules[key as keyof S],
      value = (settings as Record<string, unknown>)[key];
    if (!fits(rule, value))
      throw new Error(
        `${name}: ${key} must be ${allowed(rule)}, got ${JSON.stringify(value) ?? "nothing"}`,
      );
  }
}

/** The divisors of `n`, ascending. */
export function divisors(n: number): number[] {
  const found: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) found.push(d);
  return found;
}

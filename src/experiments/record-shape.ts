/**
 * What is wrong with a parsed results.json, field by field: an empty list when `value` has the
 * shape of an `ExperimentRecord` (the fields every reader of a record uses, with their types).
 * A record that is valid JSON but of another shape (an old or hand-edited file, `date` a number,
 * no `timings`) is refused by name instead of crashing whatever reads it later.
 */
export function recordShapeProblems(value: unknown): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return ["not a JSON object"];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  const isObject = (x: unknown) => typeof x === "object" && x !== null && !Array.isArray(x);
  const need = (key: string, ok: (x: unknown) => boolean, what: string) => {
    if (v[key] === undefined) problems.push(`missing ${key}`);
    else if (!ok(v[key])) problems.push(`${key} is not ${what}`);
  };
  const text = (x: unknown) => typeof x === "string";
  need("experiment", text, "a string");
  need("mode", text, "a string");
  need("backend", text, "a string");
  need("date", (x) => text(x) && !Number.isNaN(Date.parse(x as string)), "an ISO 8601 date string");
  need("settings", isObject, "an object");
  need(
    "metrics",
    (x) => isObject(x) && Object.values(x as object).every((n) => typeof n === "number"),
    "an object of numbers",
  );
  need(
    "history",
    (x) =>
      isObject(x) &&
      Object.values(x as object).every(
        (s) => Array.isArray(s) && s.every((n) => typeof n === "number" || n === null),
      ),
    "an object of number lists",
  );
  // the Keras comparison scripts' records (`engine`) have no timings of this pack's trainer
  if (v.engine === undefined || v.timings !== undefined)
    need(
      "timings",
      (x) =>
        isObject(x) &&
        typeof (x as { totalSeconds?: unknown }).totalSeconds === "number" &&
        Array.isArray((x as { epochSeconds?: unknown }).epochSeconds),
      "an object with totalSeconds and epochSeconds",
    );
  if (v.architecture !== undefined)
    need(
      "architecture",
      (x) =>
        isObject(x) &&
        typeof (x as { book?: unknown }).book === "boolean" &&
        Array.isArray((x as { differences?: unknown }).differences),
      "an object with book and differences",
    );
  return problems;
}

import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** sha256 of `data/sunspots.csv` as written by the R command in data/README.md. */
export const SUNSPOTS_SHA256 = "a60a7eac780ee968302970eb11943112cfa32fe475aa08a4d7c1add360936468";

/** The packaged copy of R's `datasets::sunspots`. */
export const SUNSPOTS_FILE = path.join(__dirname, "..", "..", "data", "sunspots.csv");

/** A monthly series. */
export interface SunspotSeries {
  /** `YYYY-MM` of each value. */
  months: string[];
  values: Float64Array;
  file: string;
  sha256: string;
}

/**
 * Parses a `Month,Sunspots` CSV: a header, then one `YYYY-MM,value` line per month with no gaps.
 * @throws naming the file and line of the first bad header, month, value, duplicate or gap.
 */
export function parseSunspotsCsv(text: string, file: string): SunspotSeries {
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  if (lines[0]?.trim() !== "Month,Sunspots")
    throw new Error(`${file}:1: expected the header "Month,Sunspots", found "${lines[0] ?? ""}"`);
  if (lines.length < 2) throw new Error(`${file}: no data rows after the header`);
  const months: string[] = [],
    values: number[] = [];
  let previous: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    const m = /^(\d{4})-(\d{2}),([^,]*)$/.exec(lines[i].trim());
    if (!m) throw new Error(`${where}: expected "YYYY-MM,value", found "${lines[i]}"`);
    const [, y, mo, raw] = m;
    const month = Number(y) * 12 + Number(mo) - 1;
    if (Number(mo) < 1 || Number(mo) > 12) throw new Error(`${where}: month ${mo} is not 01..12`);
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value) || value < 0)
      throw new Error(
        `${where}: "${raw}" is not a non-negative number (missing values are not allowed)`,
      );
    if (previous !== undefined && month !== previous + 1) {
      const next = previous + 1;
      const expected = `${Math.floor(next / 12)}-${String((next % 12) + 1).padStart(2, "0")}`;
      throw new Error(
        `${where}: ${y}-${mo} follows ${months[months.length - 1]}; expected ${expected} ` +
          "(the series must be monthly without gaps or duplicates)",
      );
    }
    previous = month;
    months.push(`${y}-${mo}`);
    values.push(value);
  }
  return {
    months,
    values: Float64Array.from(values),
    file,
    sha256: createHash("sha256").update(text).digest("hex"),
  };
}

/**
 * Loads the sunspot series (default: the packaged `data/sunspots.csv`, whose checksum is verified;
 * pass `verify: false` for a file of your own).
 * @throws naming the file when it is missing, malformed, or (verified) not the expected data.
 */
export function loadSunspots(
  file = SUNSPOTS_FILE,
  options: { verify?: boolean } = {},
): SunspotSeries {
  if (!fs.existsSync(file))
    throw new Error(`${file}: sunspot file not found (see data/README.md for how it is made)`);
  const series = parseSunspotsCsv(fs.readFileSync(file, "utf8"), file);
  if ((options.verify ?? file === SUNSPOTS_FILE) && series.sha256 !== SUNSPOTS_SHA256) {
    throw new Error(
      `${file}: sha256 ${series.sha256} differs from R's datasets::sunspots ` +
        `(${SUNSPOTS_SHA256}); regenerate it with the command in data/README.md`,
    );
  }
  return series;
}

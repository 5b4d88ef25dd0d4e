/**
 * Orders strings by UTF-16 code units: the same order on every machine whatever its locale (reports, CSV and
 * stored results must not change with LANG), and without starting ICU's collator, which costs a capture
 * analysis tens of milliseconds on its first use.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

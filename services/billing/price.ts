// Money as the operator types it ("39.90") and as we store it (3990 cents). Pure.

/** "39.90" / "39.9" / "39" → cents; anything else (negatives, 3 decimals, "1e3") is refused. */
export function parseMonthlyPrice(text: string): number | null {
  const m = /^(\d{1,7})(?:[.,](\d{1,2}))?$/.exec(text.trim());
  if (!m) return null;
  const whole = Number(m[1]);
  const fraction = Number((m[2] ?? "").padEnd(2, "0"));
  return whole * 100 + fraction;
}

export const isCurrency = (code: string): boolean => /^[A-Z]{3}$/.test(code);

export const formatPrice = (cents: number, currency: string): string =>
  `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")} ${currency}`;

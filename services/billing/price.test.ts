// Prices as the operator types them, given / when / then.
import { describe, expect, it } from "vitest";
import { formatPrice, isCurrency, parseMonthlyPrice } from "./price.js";

describe("monthly price", () => {
  it("reads 39.90, 39.9 and 39 as cents without floating point", () => {
    expect(parseMonthlyPrice("39.90")).toBe(3990);
    expect(parseMonthlyPrice("39.9")).toBe(3990);
    expect(parseMonthlyPrice("39")).toBe(3900);
    expect(parseMonthlyPrice("0.29")).toBe(29);
  });
  it("refuses negatives, three decimals and anything not an amount", () => {
    for (const bad of ["-1", "39.999", "1e3", "", "abc"]) expect(parseMonthlyPrice(bad)).toBeNull();
  });
  it("formats cents back with two decimals", () => {
    expect(formatPrice(3990, "EUR")).toBe("39.90 EUR");
    expect(formatPrice(5, "EUR")).toBe("0.05 EUR");
  });
  it("accepts ISO 4217-shaped currency codes only", () => {
    expect(isCurrency("EUR")).toBe(true);
    expect(isCurrency("eu")).toBe(false);
  });
});

// The launcher's Node flags (scripts/run-services.ts): the heap cap is opt-in and checked.
import { describe, expect, it } from "vitest";
import { serviceNodeArgs } from "../../scripts/run-services.js";

describe("service node flags", () => {
  it("sets no cap on the old generation unless SERVICE_HEAP_MB asks, and puts SERVICE_NODE_ARGS last (later flags win)", () => {
    expect(serviceNodeArgs({})).toEqual(["--enable-source-maps", "--max-semi-space-size=8"]);
    expect(serviceNodeArgs({ SERVICE_HEAP_MB: "512", SERVICE_NODE_ARGS: "--cpu-prof  --max-old-space-size=900" })).toEqual([
      "--enable-source-maps",
      "--max-semi-space-size=8",
      "--max-old-space-size=512",
      "--cpu-prof",
      "--max-old-space-size=900",
    ]);
  });

  it("refuses a heap cap that is not a whole number of MB of at least 64", () => {
    for (const bad of ["12", "1.5", "lots", "-512"]) expect(() => serviceNodeArgs({ SERVICE_HEAP_MB: bad })).toThrow(/SERVICE_HEAP_MB/);
  });
});

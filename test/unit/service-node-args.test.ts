// The launcher's Node flags (scripts/run-services.ts): the heap cap is on by default, can be
// changed or turned off, and is checked.
import { describe, expect, it } from "vitest";
import { serviceNodeArgs } from "../../scripts/run-services.js";

describe("service node flags", () => {
  it("caps the old generation at 512 MB for a service and 1024 for all-in-one unless SERVICE_HEAP_MB says otherwise, and puts SERVICE_NODE_ARGS last (later flags win)", () => {
    expect(serviceNodeArgs({})).toEqual(["--enable-source-maps", "--max-semi-space-size=8", "--max-old-space-size=512"]);
    expect(serviceNodeArgs({}, true)).toEqual(["--enable-source-maps", "--max-semi-space-size=8", "--max-old-space-size=1024"]);
    expect(serviceNodeArgs({ SERVICE_HEAP_MB: "off" }, true)).toEqual(["--enable-source-maps", "--max-semi-space-size=8"]);
    expect(serviceNodeArgs({ SERVICE_HEAP_MB: "" })).toEqual(["--enable-source-maps", "--max-semi-space-size=8", "--max-old-space-size=512"]);
    expect(serviceNodeArgs({ SERVICE_HEAP_MB: "512", SERVICE_NODE_ARGS: "--cpu-prof  --max-old-space-size=900" })).toEqual([
      "--enable-source-maps",
      "--max-semi-space-size=8",
      "--max-old-space-size=512",
      "--cpu-prof",
      "--max-old-space-size=900",
    ]);
  });

  it("refuses a heap cap that is neither off nor a whole number of MB of at least 64", () => {
    for (const bad of ["12", "1.5", "lots", "-512", "none"]) expect(() => serviceNodeArgs({ SERVICE_HEAP_MB: bad })).toThrow(/SERVICE_HEAP_MB/);
  });
});

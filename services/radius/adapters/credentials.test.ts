// The stored credential is FreeRADIUS's SSHA2-512 of the generated password, never the password.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newCredential, ssha512 } from "./credentials.js";

describe("credentials", () => {
  it("SSHA2-512-Password is base64(sha512(password + salt) + salt)", () => {
    const salt = Buffer.from("0123456789abcdef");
    const raw = Buffer.from(ssha512("s3cret", salt), "base64");
    expect(raw.subarray(64)).toEqual(salt);
    expect(raw.subarray(0, 64)).toEqual(createHash("sha512").update("s3cret0123456789abcdef").digest());
  });

  it("a new credential is random, salted, and its check item does not contain the password", () => {
    const a = newCredential();
    const b = newCredential();
    expect(a.password).not.toBe(b.password);
    expect(a.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a.check.attribute).toBe("SSHA2-512-Password");
    expect(a.check.op).toBe(":=");
    expect(a.check.value).not.toContain(a.password);
    expect(ssha512(a.password)).not.toBe(ssha512(a.password)); // a fresh salt each time
  });
});

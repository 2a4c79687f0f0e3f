// Subscriber credentials: a random password and its FreeRADIUS SSHA2-512 hash. The password
// leaves this service only in the reply of the admin credentials route; only the hash is stored.
import { createHash, randomBytes } from "node:crypto";

export const passwordAttribute = "SSHA2-512-Password";

/** 24 URL-safe characters (144 bits). */
export const generatePassword = (): string => randomBytes(18).toString("base64url");

/** base64(sha512(password + salt) + salt), what FreeRADIUS's pap module checks SSHA2-512-Password against. */
export function ssha512(password: string, salt: Buffer = randomBytes(16)): string {
  const digest = createHash("sha512").update(Buffer.concat([Buffer.from(password, "utf8"), salt])).digest();
  return Buffer.concat([digest, salt]).toString("base64");
}

export interface Credential {
  readonly password: string;
  readonly check: { readonly attribute: string; readonly op: string; readonly value: string };
}

export function newCredential(): Credential {
  const password = generatePassword();
  return { password, check: { attribute: passwordAttribute, op: ":=", value: ssha512(password) } };
}

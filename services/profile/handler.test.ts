// The error split of the profile handler: a rejected row becomes NetworkProfileSkipped, anything
// else (a lost connection, ...) is transient and thrown for a retry.
import { describe, expect, it } from "vitest";
import { constraintViolation } from "./handler.js";

describe("which store errors turn into NetworkProfileSkipped", () => {
  it("names the violated constraint of a unique or check violation", () => {
    expect(constraintViolation({ code: "23505", constraint_name: "subscriber_network_profiles_qinq_pair" })).toBe(
      "constraint subscriber_network_profiles_qinq_pair violated",
    );
  });

  it("finds the PostgreSQL error behind a wrapping query error", () => {
    expect(constraintViolation({ message: "Failed query", cause: { code: "23514", constraint_name: "service_vlan_range" } })).toBe(
      "constraint service_vlan_range violated",
    );
  });

  it("treats bad data (class 22) as a reason to skip", () => {
    expect(constraintViolation({ code: "22003", message: "integer out of range" })).toBe("invalid profile data: integer out of range");
  });

  it("leaves connection and other errors to the retry (transient, never Skipped)", () => {
    expect(constraintViolation({ code: "08006", message: "connection failure" })).toBeNull();
    expect(constraintViolation(new Error("ECONNREFUSED"))).toBeNull();
    expect(constraintViolation(undefined)).toBeNull();
  });
});

// The subscriber service's own settings (validated at start with the base ones).
import { z } from "zod";
import { configHelpers } from "../../shared/config.js";

export const subscriberConfig = {
  /** No progress for this long while provisioning fails the order at the step we wait for. */
  PROVISIONING_DEADLINE_MS: configHelpers.int(1_000, 86_400_000).default(120_000),
  /**
   * The profile service has not answered a new subscriber for this long: provisioning goes on
   * with the order's network settings (NetworkProfileSkipped, code timeout). Short, and well under
   * PROVISIONING_DEADLINE_MS.
   */
  PROFILE_DEADLINE_MS: configHelpers.int(500, 86_400_000).default(10_000),
  /** No answer for this long fails a suspend, resume or plan change in flight (OrderFailed, code deadline_exceeded). */
  LIFECYCLE_ORDER_DEADLINE_MS: configHelpers.int(1_000, 86_400_000).default(120_000),
  /** How often the deadline sweep looks for stalled subscribers. */
  DEADLINE_SWEEP_MS: configHelpers.int(100, 3_600_000).default(5_000),
  /**
   * Comma-separated tenants the deadline sweep is limited to; empty (the default) means every
   * tenant. For a canary instance, or a test with a short deadline on a shared database.
   */
  DEADLINE_SWEEP_TENANTS: z
    .string()
    .default("")
    .transform((s) => s.split(",").map((t) => t.trim()).filter((t) => t !== "")),
};

// The benchmarks' tenant and orders, one definition for the Kafka benchmark (scripts/bench.ts)
// and the direct one (scripts/bench/direct.ts), so both run the same work: a /16 IPv4, a /64
// IPv6 and a /36 IPv6-PD pool delegating /56, one ONU per order, plan home-500, and dual-stack
// QinQ FTTH orders.
import type { Message } from "../../schemas/generated/events.js";
import { provisionOrder } from "../crm.js";
import type { TenantSpec } from "../tenant-setup.js";

export const onuSerial = (tenant: string, i: number): string => `BN${tenant.slice(-7).toUpperCase()}${String(i).padStart(6, "0")}`;

/** The tenant with `onus` ONUs (serials onuSerial(tenant, 0 .. onus-1)). */
export function benchTenant(tenant: string, onus: number): TenantSpec {
  return {
    tenantId: tenant,
    plans: [{ planId: "home-500", name: "Home 500", downloadMbps: 500, uploadMbps: 100 }],
    pools: [
      { name: "v4", kind: "ipv4", cidr: "100.64.0.0/16", gateway: "100.64.0.1", isDefault: true },
      { name: "v6", kind: "ipv6", cidr: "2001:db8:64::/64", gateway: "2001:db8:64::1", isDefault: true },
      { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:6000::/36", delegatedLength: 56, isDefault: true },
    ],
    olts: [{ oltId: "olt-1", name: "OLT", onus: Array.from({ length: onus }, (_, i) => ({ port: `0/${1 + (i >> 7)}/${i & 127}`, serial: onuSerial(tenant, i) })) }],
  };
}

/** Provisioning orders `from` .. `from + count - 1`, each for its own ONU. */
export function benchOrders(tenant: string, from: number, count: number): Message<"ProvisionOrderPlaced">[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return provisionOrder(tenant, {
      order_id: `${tenant}-${i}`,
      crm_reference: `crm-${tenant}-${i}`,
      first_name: "Bench",
      last_name: `Subscriber ${i}`,
      email: `b${i}@example.com`,
      service_address: `${i} Fibre Street`,
      connection_type: "ftth",
      service_plan_id: "home-500",
      onu_serial: onuSerial(tenant, i),
      service_vlan: 100 + Math.floor(i / 4000),
      inner_vlan: 1 + (i % 4000),
      qinq_enabled: true,
      ipv6_assignment_mode: "dual_stack",
      ipv6_pd_size: 56,
    });
  });
}

-- A walled-garden group is scoped to its tenant ("<tenant>:wg:<name>"): FreeRADIUS reads
-- radgroupreply by group name alone, so two tenants naming their group alike shared its replies,
-- a tenant could name another tenant's plan group, and "<tenant>:<name>" could be one of its own
-- plan groups ("<tenant>:<plan>"). Existing policies, their group replies and the suspended
-- accounts in them move to the scoped name (a name given with the tenant's prefix loses it first).
UPDATE "radius"."radgroupreply" g
   SET "groupname" = p."tenant_id" || ':wg:' || CASE WHEN left(p."walled_garden_group", length(p."tenant_id") + 1) = p."tenant_id" || ':'
                                                     THEN substr(p."walled_garden_group", length(p."tenant_id") + 2) ELSE p."walled_garden_group" END
  FROM "radius"."suspension_policies" p
 WHERE g."tenant_id" = p."tenant_id" AND g."groupname" = p."walled_garden_group"
   AND left(p."walled_garden_group", length(p."tenant_id") + 4) <> p."tenant_id" || ':wg:';
--> statement-breakpoint
UPDATE "radius"."radusergroup" u
   SET "groupname" = p."tenant_id" || ':wg:' || CASE WHEN left(p."walled_garden_group", length(p."tenant_id") + 1) = p."tenant_id" || ':'
                                                     THEN substr(p."walled_garden_group", length(p."tenant_id") + 2) ELSE p."walled_garden_group" END
  FROM "radius"."suspension_policies" p
 WHERE u."tenant_id" = p."tenant_id" AND u."groupname" = p."walled_garden_group"
   AND left(p."walled_garden_group", length(p."tenant_id") + 4) <> p."tenant_id" || ':wg:';
--> statement-breakpoint
UPDATE "radius"."suspension_policies"
   SET "walled_garden_group" = "tenant_id" || ':wg:' || CASE WHEN left("walled_garden_group", length("tenant_id") + 1) = "tenant_id" || ':'
                                                             THEN substr("walled_garden_group", length("tenant_id") + 2) ELSE "walled_garden_group" END
 WHERE "walled_garden_group" IS NOT NULL
   AND left("walled_garden_group", length("tenant_id") + 4) <> "tenant_id" || ':wg:';

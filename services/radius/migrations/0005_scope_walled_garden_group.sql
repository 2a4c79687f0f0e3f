-- A walled-garden group is scoped to its tenant ("<tenant>:<name>"): FreeRADIUS reads
-- radgroupreply by group name alone, so two tenants naming their group alike shared its replies,
-- and a tenant could name another tenant's plan group. Existing policies, their group replies
-- and the suspended accounts in them move to the scoped name.
UPDATE "radius"."radgroupreply" g SET "groupname" = p."tenant_id" || ':' || p."walled_garden_group"
  FROM "radius"."suspension_policies" p
 WHERE g."tenant_id" = p."tenant_id" AND g."groupname" = p."walled_garden_group"
   AND left(p."walled_garden_group", length(p."tenant_id") + 1) <> p."tenant_id" || ':';
--> statement-breakpoint
UPDATE "radius"."radusergroup" u SET "groupname" = p."tenant_id" || ':' || p."walled_garden_group"
  FROM "radius"."suspension_policies" p
 WHERE u."tenant_id" = p."tenant_id" AND u."groupname" = p."walled_garden_group"
   AND left(p."walled_garden_group", length(p."tenant_id") + 1) <> p."tenant_id" || ':';
--> statement-breakpoint
UPDATE "radius"."suspension_policies" SET "walled_garden_group" = "tenant_id" || ':' || "walled_garden_group"
 WHERE "walled_garden_group" IS NOT NULL
   AND left("walled_garden_group", length("tenant_id") + 1) <> "tenant_id" || ':';

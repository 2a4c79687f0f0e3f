CREATE SCHEMA IF NOT EXISTS "radius";
--> statement-breakpoint
CREATE TABLE "radius"."accounts" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"username" text NOT NULL,
	"status" text NOT NULL,
	"plan_group" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "accounts_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE TABLE "radius"."inbox" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" bigint NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "radius"."nas" (
	"id" serial PRIMARY KEY NOT NULL,
	"nasname" text NOT NULL,
	"shortname" text NOT NULL,
	"type" text DEFAULT 'other' NOT NULL,
	"ports" integer,
	"secret" text NOT NULL,
	"server" text,
	"community" text,
	"description" text
);
--> statement-breakpoint
CREATE TABLE "radius"."nasreload" (
	"nasipaddress" "inet" PRIMARY KEY NOT NULL,
	"reloadtime" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "radius"."outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"meta" jsonb NOT NULL,
	"data" jsonb NOT NULL,
	"headers" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "radius"."plans" (
	"tenant_id" text NOT NULL,
	"plan_id" text NOT NULL,
	"download_mbps" integer NOT NULL,
	"upload_mbps" integer NOT NULL,
	"group_name" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plans_tenant_id_plan_id_pk" PRIMARY KEY("tenant_id","plan_id")
);
--> statement-breakpoint
CREATE TABLE "radius"."radacct" (
	"radacctid" bigserial PRIMARY KEY NOT NULL,
	"acctsessionid" text NOT NULL,
	"acctuniqueid" text NOT NULL,
	"username" text,
	"realm" text,
	"nasipaddress" "inet" NOT NULL,
	"nasportid" text,
	"nasporttype" text,
	"acctstarttime" timestamp with time zone,
	"acctupdatetime" timestamp with time zone,
	"acctstoptime" timestamp with time zone,
	"acctinterval" bigint,
	"acctsessiontime" bigint,
	"acctauthentic" text,
	"connectinfo_start" text,
	"connectinfo_stop" text,
	"acctinputoctets" bigint,
	"acctoutputoctets" bigint,
	"calledstationid" text,
	"callingstationid" text,
	"acctterminatecause" text,
	"servicetype" text,
	"framedprotocol" text,
	"framedipaddress" "inet",
	"framedipv6address" "inet",
	"framedipv6prefix" "inet",
	"framedinterfaceid" text,
	"delegatedipv6prefix" "inet",
	"class" text,
	CONSTRAINT "radacct_acctuniqueid_unique" UNIQUE("acctuniqueid")
);
--> statement-breakpoint
CREATE TABLE "radius"."radcheck" (
	"id" serial PRIMARY KEY NOT NULL,
	"username" text DEFAULT '' NOT NULL,
	"attribute" text DEFAULT '' NOT NULL,
	"op" varchar(2) DEFAULT '==' NOT NULL,
	"value" text DEFAULT '' NOT NULL,
	"tenant_id" text
);
--> statement-breakpoint
CREATE TABLE "radius"."radgroupcheck" (
	"id" serial PRIMARY KEY NOT NULL,
	"groupname" text DEFAULT '' NOT NULL,
	"attribute" text DEFAULT '' NOT NULL,
	"op" varchar(2) DEFAULT '==' NOT NULL,
	"value" text DEFAULT '' NOT NULL,
	"tenant_id" text
);
--> statement-breakpoint
CREATE TABLE "radius"."radgroupreply" (
	"id" serial PRIMARY KEY NOT NULL,
	"groupname" text DEFAULT '' NOT NULL,
	"attribute" text DEFAULT '' NOT NULL,
	"op" varchar(2) DEFAULT '=' NOT NULL,
	"value" text DEFAULT '' NOT NULL,
	"tenant_id" text
);
--> statement-breakpoint
CREATE TABLE "radius"."radpostauth" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"username" text NOT NULL,
	"pass" text,
	"reply" text,
	"calledstationid" text,
	"callingstationid" text,
	"authdate" timestamp with time zone DEFAULT now() NOT NULL,
	"class" text
);
--> statement-breakpoint
CREATE TABLE "radius"."radreply" (
	"id" serial PRIMARY KEY NOT NULL,
	"username" text DEFAULT '' NOT NULL,
	"attribute" text DEFAULT '' NOT NULL,
	"op" varchar(2) DEFAULT '=' NOT NULL,
	"value" text DEFAULT '' NOT NULL,
	"tenant_id" text
);
--> statement-breakpoint
CREATE TABLE "radius"."radusergroup" (
	"id" serial PRIMARY KEY NOT NULL,
	"username" text DEFAULT '' NOT NULL,
	"groupname" text DEFAULT '' NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"tenant_id" text
);
--> statement-breakpoint
CREATE TABLE "radius"."subscribers" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"view" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscribers_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_username" ON "radius"."accounts" USING btree ("username");--> statement-breakpoint
CREATE INDEX "nas_nasname" ON "radius"."nas" USING btree ("nasname");--> statement-breakpoint
CREATE INDEX "outbox_unpublished" ON "radius"."outbox" USING btree ("id") WHERE "radius"."outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "radacct_active_session_idx" ON "radius"."radacct" USING btree ("acctuniqueid") WHERE "radius"."radacct"."acctstoptime" is null;--> statement-breakpoint
CREATE INDEX "radacct_bulk_close" ON "radius"."radacct" USING btree ("nasipaddress","acctstarttime") WHERE "radius"."radacct"."acctstoptime" is null;--> statement-breakpoint
CREATE INDEX "radacct_start_user_idx" ON "radius"."radacct" USING btree ("acctstarttime","username");--> statement-breakpoint
CREATE INDEX "radacct_calss_idx" ON "radius"."radacct" USING btree ("class");--> statement-breakpoint
CREATE INDEX "radcheck_username" ON "radius"."radcheck" USING btree ("username","attribute");--> statement-breakpoint
CREATE INDEX "radgroupcheck_groupname" ON "radius"."radgroupcheck" USING btree ("groupname","attribute");--> statement-breakpoint
CREATE INDEX "radgroupreply_groupname" ON "radius"."radgroupreply" USING btree ("groupname","attribute");--> statement-breakpoint
CREATE INDEX "radpostauth_username_idx" ON "radius"."radpostauth" USING btree ("username");--> statement-breakpoint
CREATE INDEX "radpostauth_class_idx" ON "radius"."radpostauth" USING btree ("class");--> statement-breakpoint
CREATE INDEX "radreply_username" ON "radius"."radreply" USING btree ("username","attribute");--> statement-breakpoint
CREATE INDEX "radusergroup_username" ON "radius"."radusergroup" USING btree ("username");
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/billing/store/schema.ts",
  out: "./services/billing/migrations",
  schemaFilter: ["billing"],
});

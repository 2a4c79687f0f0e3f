import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/ipam/store/schema.ts",
  out: "./services/ipam/migrations",
  schemaFilter: ["ipam"],
});

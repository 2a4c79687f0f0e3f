import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./shared/access/schema.ts",
  out: "./shared/access/migrations",
  schemaFilter: ["access"],
});

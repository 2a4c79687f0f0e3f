import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/olt/store/schema.ts",
  out: "./services/olt/migrations",
  schemaFilter: ["olt"],
});

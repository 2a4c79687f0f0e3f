import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/profile/store/schema.ts",
  out: "./services/profile/migrations",
  schemaFilter: ["profile"],
});

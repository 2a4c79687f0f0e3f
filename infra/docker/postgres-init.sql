-- First start of the postgres container (docker-compose.yml), run in the database "fiber":
-- the schema registry's own schema (as infra/postgres.sh does locally).
CREATE SCHEMA IF NOT EXISTS apicurio;

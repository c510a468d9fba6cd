#!/bin/sh
# First start of the PostgreSQL container: the Shixian read model gets its own role and database
# (Temporal's auto-setup creates "temporal" and "temporal_visibility" itself).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE shixian LOGIN PASSWORD '${SHIXIAN_DB_PASSWORD}';
CREATE DATABASE shixian OWNER shixian;
SQL

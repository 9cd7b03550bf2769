-- One database per OpenCoO service (architecture §1: every service owns its own database).
-- Run once by the postgres image, as POSTGRES_USER, when the data volume is first created; the
-- databases are therefore owned by that user, the one in OPENCOO_DB_URL.
-- A service added later needs its database created by hand on an existing volume:
--   docker compose exec postgres createdb -U opencoo opencoo_<service>
CREATE DATABASE opencoo_registration;
CREATE DATABASE opencoo_application;
CREATE DATABASE opencoo_payment;
CREATE DATABASE opencoo_signing;
CREATE DATABASE opencoo_certificate;
CREATE DATABASE opencoo_notification;
CREATE DATABASE opencoo_portal;  -- the portal's sessions

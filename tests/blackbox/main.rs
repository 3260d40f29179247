//! Black-box tests: one binary (linking is the slow part), a module per area.
//! Every test starts the real server on a random port against a real database.

mod access;
mod access_log;
mod audit;
mod auth;
mod charts;
mod clients;
mod conditional;
mod durability;
mod events;
mod fhir;
mod fhir_client;
mod fhir_resources;
mod fhir_write;
mod figures;
mod goals;
mod home;
mod idempotency;
mod input;
mod measures;
mod migrations;
mod openapi;
mod processes;
mod progress;
mod reports;
mod revocation;
mod signin;
mod smart;
mod sync;
mod tour;
mod transport;
mod walk;
mod webhooks;

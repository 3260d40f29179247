//! Operations: one method of [`crate::Clinic`] per thing a person or system does with
//! the clinic's data, grouped by area. Each asks the one policy (through the gate),
//! runs its transaction, leaves exactly one audit event and answers in domain values.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod care;
pub mod clients;
pub mod ehr;
pub mod events;
pub mod goals;
pub mod home;
pub mod me;
pub mod measures;
pub mod progress;
pub mod reports;
pub mod search;
pub mod sync;
pub mod users;
pub mod webhooks;

#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod care_tests;
#[cfg(test)]
mod clients_tests;
#[cfg(test)]
mod goals_tests;
#[cfg(test)]
mod measures_tests;
#[cfg(test)]
mod progress_tests;
#[cfg(test)]
mod users_tests;

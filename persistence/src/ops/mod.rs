//! Operations: one method of [`crate::Clinic`] per thing a person or system does with
//! the clinic's data, grouped by area. Each asks the one policy (through the gate),
//! runs its transaction, leaves exactly one audit event and answers in domain values.

pub mod audit;
pub mod care;
pub mod clients;
pub mod me;
pub mod progress;

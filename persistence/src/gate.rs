//! The gate every client-data operation passes through.
//!
//! It asks the domain policy, runs the operation only when allowed, and appends
//! exactly one audit event, whatever the outcome. For writes, the change and its
//! event commit in one transaction; a refused or failed write changes nothing but
//! the audit trail.

use domain::{
    audit::{Outcome, RequestMeta},
    identity::Principal,
    policy::{decide, decide_org, ClientAction, Decision, OrgAction},
};
use uuid::Uuid;

use crate::{
    audit::{self, Subject},
    clients, db, now, Conn, StoreError, StoreResult,
};

/// The caller of one request and the request's own details.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub meta: RequestMeta,
}

fn outcome_of(decision: Decision) -> Result<(), (Outcome, StoreError)> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err((Outcome::Denied, StoreError::Forbidden)),
        Decision::NotFound => Err((Outcome::NotFound, StoreError::NotFound)),
    }
}

impl Caller {
    fn record(&self, conn: &mut Conn, subject: &Subject, outcome: Outcome) -> StoreResult<()> {
        audit::record(
            conn,
            (&self.who).into(),
            subject,
            outcome,
            &self.meta,
            now(),
        )
    }

    /// Runs `op` on one client's record if the policy allows `action`, and audits it.
    pub fn on_client<T>(
        &self,
        conn: &mut Conn,
        client_id: Uuid,
        action: ClientAction,
        subject: Subject,
        op: impl FnOnce(&mut Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let subject = Subject {
            client_id: Some(client_id),
            ..subject
        };
        let allowed = |conn: &mut Conn| -> StoreResult<Result<(), (Outcome, StoreError)>> {
            let relation = clients::relation(conn, &self.who, client_id)?;
            Ok(outcome_of(decide(&self.who, relation, action)))
        };
        self.run(conn, action.writes(), &subject, allowed, op)
    }

    /// Runs an organization-wide `op` if the policy allows `action`, and audits it.
    pub fn on_organization<T>(
        &self,
        conn: &mut Conn,
        action: OrgAction,
        subject: &Subject,
        op: impl FnOnce(&mut Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let decision = outcome_of(decide_org(&self.who, action));
        self.run(conn, action.writes(), subject, |_| Ok(decision), op)
    }

    fn run<T>(
        &self,
        conn: &mut Conn,
        writes: bool,
        subject: &Subject,
        allowed: impl FnOnce(&mut Conn) -> StoreResult<Result<(), (Outcome, StoreError)>>,
        op: impl FnOnce(&mut Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        // Outer Err: the operation failed and its transaction rolled back.
        // Inner Err: the policy refused; the refusal is audited and committed.
        let attempt = |conn: &mut Conn| -> StoreResult<Result<T, StoreError>> {
            match allowed(conn)? {
                Ok(()) => {
                    let value = op(conn)?;
                    if writes {
                        self.record(conn, subject, Outcome::Success)?;
                    }
                    Ok(Ok(value))
                }
                Err((outcome, refusal)) => {
                    if writes {
                        self.record(conn, subject, outcome)?;
                    }
                    Ok(Err(refusal))
                }
            }
        };
        let result = if writes {
            db::write(conn, attempt)
        } else {
            db::read(conn, attempt)
        };
        match result {
            Ok(Ok(value)) => {
                if !writes {
                    db::write(conn, |c| self.record(c, subject, Outcome::Success))?;
                }
                Ok(value)
            }
            Ok(Err(refusal)) => {
                if !writes {
                    let outcome = if matches!(refusal, StoreError::NotFound) {
                        Outcome::NotFound
                    } else {
                        Outcome::Denied
                    };
                    db::write(conn, |c| self.record(c, subject, outcome))?;
                }
                Err(refusal)
            }
            Err(failure) => {
                let outcome = if matches!(failure, StoreError::NotFound) {
                    Outcome::NotFound
                } else {
                    Outcome::Failed
                };
                db::write(conn, |c| self.record(c, subject, outcome))?;
                Err(failure)
            }
        }
    }
}

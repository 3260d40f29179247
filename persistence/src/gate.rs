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
    audit::{self, Actor, Subject},
    clients, db, now, Conn, StoreError, StoreResult, Writer,
};

/// The caller of one request, the request's own details, and the instance's writer.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub meta: RequestMeta,
    pub writer: Writer,
}

type Refusal = (Outcome, StoreError);

fn outcome_of(decision: Decision) -> Result<(), Refusal> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err((Outcome::Denied, StoreError::Forbidden)),
        Decision::NotFound => Err((Outcome::NotFound, StoreError::NotFound)),
    }
}

impl Caller {
    fn actor(&self) -> Actor {
        Actor::from(&self.who)
    }

    /// Appends an audit event through the writer (group-committed, durable on return).
    fn record(&self, subject: &Subject, outcome: Outcome) -> StoreResult<()> {
        let (actor, subject, meta) = (self.actor(), subject.clone(), self.meta.clone());
        self.writer
            .run(move |c| audit::record(c, actor, &subject, outcome, &meta, now()))
    }

    /// Runs `op` on one client's record if the policy allows `action`, and audits it.
    pub fn on_client<T, F>(
        &self,
        conn: &mut Conn,
        client_id: Uuid,
        action: ClientAction,
        subject: Subject,
        op: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
    {
        let subject = Subject {
            client_id: Some(client_id),
            ..subject
        };
        let who = self.who.clone();
        let allowed = move |conn: &mut Conn| -> StoreResult<Result<(), Refusal>> {
            let relation = clients::relation(conn, &who, client_id)?;
            Ok(outcome_of(decide(&who, relation, action)))
        };
        self.run(conn, action.writes(), &subject, allowed, op)
    }

    /// Runs an organization-wide `op` if the policy allows `action`, and audits it.
    pub fn on_organization<T, F>(
        &self,
        conn: &mut Conn,
        action: OrgAction,
        subject: &Subject,
        op: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
    {
        let decision = outcome_of(decide_org(&self.who, action));
        self.run(conn, action.writes(), subject, move |_| Ok(decision), op)
    }

    fn run<T, A, F>(
        &self,
        conn: &mut Conn,
        writes: bool,
        subject: &Subject,
        allowed: A,
        op: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        A: FnOnce(&mut Conn) -> StoreResult<Result<(), Refusal>> + Send + 'static,
        F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
    {
        // Outer Err: the operation failed and its savepoint rolled back.
        // Inner Err: the policy refused; for writes the refusal's event commits with it.
        let (actor, meta, audited) = (self.actor(), self.meta.clone(), subject.clone());
        let attempt = move |conn: &mut Conn| -> StoreResult<Result<T, StoreError>> {
            let record = |conn: &mut Conn, outcome| {
                audit::record(conn, actor, &audited, outcome, &meta, now())
            };
            match allowed(conn)? {
                Ok(()) => {
                    let value = op(conn)?;
                    if writes {
                        record(conn, Outcome::Success)?;
                    }
                    Ok(Ok(value))
                }
                Err((outcome, refusal)) => {
                    if writes {
                        record(conn, outcome)?;
                    }
                    Ok(Err(refusal))
                }
            }
        };
        let result = if writes {
            self.writer.run(attempt)
        } else {
            db::read(conn, attempt)
        };
        match result {
            Ok(Ok(value)) => {
                if !writes {
                    self.record(subject, Outcome::Success)?;
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
                    self.record(subject, outcome)?;
                }
                Err(refusal)
            }
            Err(failure) => {
                let outcome = match failure {
                    StoreError::NotFound => Outcome::NotFound,
                    StoreError::Forbidden => Outcome::Denied,
                    _ => Outcome::Failed,
                };
                self.record(subject, outcome)?;
                Err(failure)
            }
        }
    }
}

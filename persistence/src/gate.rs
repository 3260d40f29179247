//! The gate every client-data operation passes through.
//!
//! It asks the domain policy, runs the operation only when allowed, and appends
//! exactly one audit event, whatever the outcome. For writes, the change and its
//! event commit in one transaction; a refused or failed write changes nothing but
//! the audit trail.

use domain::{
    audit::{Outcome, RequestMeta},
    identity::{token_is_backed, Principal},
    policy::{decide, decide_org, ClientAction, Decision, OrgAction},
};
use uuid::Uuid;

use crate::{
    audit::{self, Actor, Subject},
    clients, db, now, Conn, StoreError, StoreResult, Writer,
};

/// The caller of one request, the request's own details, and the instance's writer.
///
/// `who` comes from the verified access token: its identity facts (user,
/// organization, role, client record) never change for an account. Whether the
/// account is still active, its session still live, and which scopes it holds now
/// is confirmed against the database once per request, in the same blocking call
/// as the work itself, before any policy decision ([`Caller::confirm`]).
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub session_id: Option<Uuid>,
    pub meta: RequestMeta,
    pub writer: Writer,
    confirmed: std::sync::OnceLock<Principal>,
}

type Refusal = (Outcome, StoreError);

thread_local! {
    /// Audit events queued on this thread and not yet known to be committed.
    static PENDING: std::cell::RefCell<Vec<crate::writer::Ack>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Waits until every audit event this thread queued is durably committed. Whoever
/// runs gate operations calls this before answering (after releasing its connection);
/// an error means an event may not be stored, and the request must fail.
pub fn settle_audits() -> StoreResult<()> {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let mut result = Ok(());
    for ack in pending {
        if let Err(e) = ack.wait() {
            result = Err(e);
        }
    }
    result
}

fn outcome_of(decision: Decision) -> Result<(), Refusal> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err((Outcome::Denied, StoreError::Forbidden)),
        Decision::NotFound => Err((Outcome::NotFound, StoreError::NotFound)),
    }
}

impl Caller {
    pub fn new(
        who: Principal,
        session_id: Option<Uuid>,
        meta: RequestMeta,
        writer: Writer,
    ) -> Self {
        Caller {
            who,
            session_id,
            meta,
            writer,
            confirmed: std::sync::OnceLock::new(),
        }
    }

    /// The caller as the database knows them now. Every operation of the gate starts
    /// here: a deactivated account, an ended session, a person's token without one, or
    /// claims the account no longer backs (role, client record, wider scopes) are
    /// refused as Unauthenticated before anything is read or written. Checked once per
    /// request.
    pub fn confirm(&self, conn: &mut Conn) -> StoreResult<&Principal> {
        if let Some(p) = self.confirmed.get() {
            return Ok(p);
        }
        let backed = crate::accounts::principal(conn, self.who.user_id, self.session_id)?
            .is_some_and(|(stored, live)| token_is_backed(&self.who, &stored, live));
        if !backed {
            return Err(StoreError::Unauthenticated);
        }
        Ok(self.confirmed.get_or_init(|| self.who.clone()))
    }

    fn actor(&self) -> Actor {
        Actor::from(&self.who)
    }

    /// Queues a read's audit event with the writer. The caller's runner waits for it
    /// (see [`settle_audits`]) after giving its connection back to the pool: a
    /// connection held through a group commit would cap concurrency at the pool size.
    fn record(&self, subject: &Subject, outcome: Outcome) -> StoreResult<()> {
        let ack = self.writer.append_audit(audit::row(
            self.actor(),
            subject,
            outcome,
            &self.meta,
            now(),
        ))?;
        PENDING.with(|p| p.borrow_mut().push(ack));
        Ok(())
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
        let who = self.confirm(conn)?.clone();
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
        let decision = outcome_of(decide_org(self.confirm(conn)?, action));
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

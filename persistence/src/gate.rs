//! The gate every operation on the clinic's data passes through.
//!
//! It confirms the caller, asks the domain policy, runs the operation only when
//! allowed, and appends exactly one audit event, whatever the outcome. For writes,
//! the change and its event commit in one transaction; a refused or failed write
//! changes nothing but the audit trail. An operation it lets through receives a
//! [`Reached`]: the proof that the policy allowed this client's record, which every
//! query of a client's child records (goals, measurements, comments...) requires.

use domain::{
    audit::{Outcome, RequestMeta},
    identity::{token_is_backed, Principal},
    policy::{decide, decide_org, ClientAction, Decision, OrgAction},
    smart::{narrow, need_of, Narrowed, SmartScopes},
};
use uuid::Uuid;

use crate::{
    audit::{self, Actor, Subject},
    changes::{self, NewChange},
    clients, db, now,
    writer::Ack,
    Clinic, Conn, StoreError, StoreResult,
};

/// The caller of one request and the request's own details.
///
/// `who` comes from the verified access token: its identity facts (user,
/// organization, role, client record) never change for an account. Whether the
/// account is still active, its session still live, and which scopes it holds now
/// is confirmed against the database once per operation, in the same blocking call
/// as the work itself, before any policy decision.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub session_id: Option<Uuid>,
    pub meta: RequestMeta,
    /// The request's Idempotency-Key, if it sent one (see `idempotency.rs`).
    pub idempotency: Option<crate::Idempotency>,
    /// The SMART scopes the token was granted, if any: every operation the policy
    /// allows is then held to them too (`domain::smart::narrow`). None: the token
    /// keeps its account's powers.
    pub smart: Option<SmartScopes>,
}

impl Caller {
    pub fn new(who: Principal, session_id: Option<Uuid>, meta: RequestMeta) -> Self {
        Caller {
            who,
            session_id,
            meta,
            idempotency: None,
            smart: None,
        }
    }

    /// The same caller, held to the SMART scopes its token was granted.
    pub fn with_smart(self, smart: Option<SmartScopes>) -> Self {
        Caller { smart, ..self }
    }

    /// The same caller, sending an Idempotency-Key: a write it makes runs once.
    pub fn with_idempotency(self, idempotency: crate::Idempotency) -> Self {
        Caller {
            idempotency: Some(idempotency),
            ..self
        }
    }

    fn actor(&self) -> Actor {
        Actor::from(&self.who)
    }

    /// The caller as the database knows them now: a deactivated account, an ended
    /// session, a person's token without one, or claims the account no longer backs
    /// (role, client record, wider scopes) are refused before anything is read or
    /// written.
    pub(crate) fn confirm(&self, conn: &mut Conn) -> StoreResult<Principal> {
        let backed = crate::accounts::principal(conn, self.who.user_id, self.session_id)?
            .is_some_and(|(stored, live)| token_is_backed(&self.who, &stored, live));
        if backed {
            Ok(self.who.clone())
        } else {
            Err(StoreError::Unauthenticated)
        }
    }
}

/// Proof that the policy let the caller reach one client's record. Only the gate
/// makes one, so a query of a client's child records cannot be written without the
/// client it belongs to, nor run before the policy allowed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    client_id: Uuid,
    organization_id: Uuid,
}

impl Reached {
    pub fn client_id(self) -> Uuid {
        self.client_id
    }
    pub fn organization_id(self) -> Uuid {
        self.organization_id
    }
    /// When the policy lets `who`, standing in `relation` to the client, do `action`:
    /// for operations that reach many clients at once (a sync page), each asked here.
    pub(crate) fn if_allowed(
        who: &Principal,
        relation: domain::policy::ClientRelation,
        action: ClientAction,
        client_id: Uuid,
    ) -> Option<Self> {
        (decide(who, relation, action) == Decision::Allow).then_some(Reached {
            client_id,
            organization_id: who.organization_id,
        })
    }

    /// The client a logged change is about, for what the live hub attaches to that
    /// change: only streams whose caller hears the change receive it.
    pub(crate) fn of_change(change: &domain::change::Change) -> Self {
        Reached {
            client_id: change.client_id,
            organization_id: change.organization_id,
        }
    }

    /// Without a caller, for what has none: seeding a fresh demo clinic
    /// (`ops/admin.rs`) and the unit tests that exercise queries directly. Private to
    /// this crate; nothing that serves a request calls it.
    pub(crate) fn without_caller(client_id: Uuid, organization_id: Uuid) -> Self {
        Reached {
            client_id,
            organization_id,
        }
    }
}

type Refusal = (Outcome, StoreError);

/// The audit outcome of a write that failed.
fn failure_outcome(e: &StoreError) -> Outcome {
    match e {
        StoreError::NotFound => Outcome::NotFound,
        StoreError::Forbidden => Outcome::Denied,
        _ => Outcome::Failed,
    }
}

fn outcome_of(decision: Decision) -> Result<(), Refusal> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err((Outcome::Denied, StoreError::Forbidden)),
        Decision::NotFound => Err((Outcome::NotFound, StoreError::NotFound)),
    }
}

/// The audit events of reads, queued with the writer, that an operation waits for
/// after giving its connection back: no answer leaves before its audit trail is
/// durable, and a connection held through a group commit would cap concurrency at
/// the pool size.
#[derive(Default)]
struct Acks(Vec<Ack>);

impl Acks {
    fn settle(self) -> StoreResult<()> {
        let mut result = Ok(());
        for ack in self.0 {
            if let Err(e) = ack.wait() {
                result = Err(e);
            }
        }
        result
    }
}

/// One write to a client's record, not yet run: what [`Clinic::on_client`] runs
/// alone, and what [`Clinic::all_or_nothing`] runs with others in one transaction
/// (a FHIR transaction Bundle). The policy is asked when it runs, not when it is made.
pub struct ClientWrite<T> {
    client_id: Uuid,
    action: ClientAction,
    subject: Subject,
    op: ClientOp<T>,
}

type ClientOp<T> = Box<dyn FnOnce(&mut Conn, Reached) -> StoreResult<T> + Send>;

impl<T> ClientWrite<T> {
    pub(crate) fn new<F>(client_id: Uuid, action: ClientAction, subject: Subject, op: F) -> Self
    where
        F: FnOnce(&mut Conn, Reached) -> StoreResult<T> + Send + 'static,
    {
        ClientWrite {
            client_id,
            action,
            subject,
            op: Box::new(op),
        }
    }

    /// The same write, answering `f` of what it made.
    pub fn map<U, F>(self, f: F) -> ClientWrite<U>
    where
        T: 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        let op = self.op;
        ClientWrite {
            client_id: self.client_id,
            action: self.action,
            subject: self.subject,
            op: Box::new(move |c, r| op(c, r).map(f)),
        }
    }
}

/// Why a set of writes run together changed nothing: the write at `index` was
/// refused or failed, and everything before it was rolled back with it.
#[derive(Debug)]
pub struct Abandoned {
    pub index: usize,
    pub error: StoreError,
}

impl Clinic {
    /// Runs one write made with [`ClientWrite::new`], alone, as `on_client` does.
    pub(crate) fn run_write<T: Send + 'static>(
        &self,
        caller: &Caller,
        write: ClientWrite<T>,
    ) -> StoreResult<T> {
        let ClientWrite {
            client_id,
            action,
            subject,
            op,
        } = write;
        self.on_client(caller, client_id, action, subject, op)
    }

    /// Runs `writes` in one transaction, each through the policy and with its own
    /// audit event: all of them commit, or none does. When one is refused or fails,
    /// the others roll back with it and only its refusal or failure is audited
    /// (nothing else happened).
    pub fn all_or_nothing<T: Send + 'static>(
        &self,
        caller: &Caller,
        writes: Vec<ClientWrite<T>>,
    ) -> StoreResult<Result<Vec<T>, Abandoned>> {
        let who = {
            let conn = &mut *self.pool.get().map_err(StoreError::from)?;
            caller.confirm(conn)?
        };
        let (actor, meta) = (caller.actor(), caller.meta.clone());
        let subjects: Vec<Subject> = writes
            .iter()
            .map(|w| Subject {
                client_id: Some(w.client_id),
                ..w.subject.clone()
            })
            .collect();
        let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let noted_failure = failed.clone();
        let audited = subjects.clone();
        let result = self.writer.run(move |conn| {
            let mut done = Vec::with_capacity(writes.len());
            for (index, (w, subject)) in writes.into_iter().zip(audited).enumerate() {
                let relation = clients::relation(conn, &who, w.client_id)?;
                let reached = Reached {
                    client_id: w.client_id,
                    organization_id: who.organization_id,
                };
                let outcome = outcome_of(decide(&who, relation, w.action)).and_then(|()| {
                    let noted = changes::batch_len();
                    (w.op)(conn, reached)
                        .and_then(|value| {
                            audit::record(conn, actor, &subject, Outcome::Success, &meta, now())?;
                            note_change(conn, actor, &subject, noted)?;
                            Ok(value)
                        })
                        .map_err(|e| (failure_outcome(&e), e))
                });
                match outcome {
                    Ok(value) => done.push(value),
                    Err((outcome, error)) => {
                        if let Ok(mut f) = noted_failure.lock() {
                            *f = Some((index, outcome));
                        }
                        return Err(error);
                    }
                }
            }
            Ok(done)
        });
        match result {
            Ok(done) => Ok(Ok(done)),
            Err(error) => {
                let Some((index, outcome)) = failed.lock().ok().and_then(|mut f| f.take()) else {
                    return Err(error);
                };
                // Rolled back with the rest: its refusal or failure is what remains.
                let row = audit::row(actor, &subjects[index], outcome, &caller.meta, now());
                self.writer.append_audit(row)?.wait()?;
                Ok(Err(Abandoned { index, error }))
            }
        }
    }

    /// Runs `op` on one client's record if the policy allows `action`, and audits it.
    pub(crate) fn on_client<T, F>(
        &self,
        caller: &Caller,
        client_id: Uuid,
        action: ClientAction,
        subject: Subject,
        op: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn, Reached) -> StoreResult<T> + Send + 'static,
    {
        let subject = Subject {
            client_id: Some(client_id),
            ..subject
        };
        self.gated(
            caller,
            action.writes(),
            subject,
            move |conn, who| {
                let relation = clients::relation(conn, &who, client_id)?;
                let reached = Reached {
                    client_id,
                    organization_id: who.organization_id,
                };
                Ok(outcome_of(decide(&who, relation, action)).map(|()| reached))
            },
            op,
            |_| Vec::new(),
        )
    }

    /// Runs an organization-wide `op` if the policy allows `action`, and audits it.
    pub(crate) fn on_organization<T, F>(
        &self,
        caller: &Caller,
        action: OrgAction,
        subject: Subject,
        op: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn, &Principal) -> StoreResult<T> + Send + 'static,
    {
        self.on_organization_showing(caller, action, subject, op, |_| Vec::new())
    }

    /// The same, for a read whose answer shows clients' records (a list, a directory):
    /// besides its own event, each client `shown` names, as `(resource id, client id)`,
    /// gets one in their access log, settled with it.
    pub(crate) fn on_organization_showing<T, F>(
        &self,
        caller: &Caller,
        action: OrgAction,
        subject: Subject,
        op: F,
        shown: impl FnOnce(&T) -> Vec<(Uuid, Uuid)>,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn, &Principal) -> StoreResult<T> + Send + 'static,
    {
        let each = subject.clone();
        self.gated(
            caller,
            action.writes(),
            subject,
            move |_, who| Ok(outcome_of(decide_org(&who, action)).map(|()| who)),
            move |conn, who: Principal| op(conn, &who),
            move |value| {
                let shown = shown(value).into_iter();
                shown
                    .map(|(id, client_id)| Subject {
                        client_id: Some(client_id),
                        ..Subject::one(each.action, each.resource_type, id)
                    })
                    .collect()
            },
        )
    }

    fn gated<T, P, A, F>(
        &self,
        caller: &Caller,
        writes: bool,
        subject: Subject,
        allowed: A,
        op: F,
        shown: impl FnOnce(&T) -> Vec<Subject>,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        P: Send + 'static,
        A: FnOnce(&mut Conn, Principal) -> StoreResult<Result<P, Refusal>> + Send + 'static,
        F: FnOnce(&mut Conn, P) -> StoreResult<T> + Send + 'static,
    {
        let mut acks = Acks::default();
        let run = || -> StoreResult<T> {
            let conn = &mut *self.pool.get().map_err(StoreError::from)?;
            let who = caller.confirm(conn)?;
            // Outer Err: the operation failed and its savepoint rolled back.
            // Inner Err: the policy refused; for writes the refusal's event commits with it.
            let (actor, meta, audited) = (caller.actor(), caller.meta.clone(), subject.clone());
            let smart = caller.smart.clone();
            let attempt = move |conn: &mut Conn| -> StoreResult<Result<T, StoreError>> {
                let record = |conn: &mut Conn, outcome| {
                    audit::record(conn, actor, &audited, outcome, &meta, now())
                };
                let asked = (who.clone(), audited.client_id);
                let allowed = allowed(conn, who)?.and_then(|proof| {
                    // What the policy allowed, held to the token's SMART scopes.
                    let need = need_of(audited.action);
                    match narrow(Decision::Allow, smart.as_ref(), &asked.0, need, asked.1) {
                        Narrowed::InsufficientScope => {
                            Err((Outcome::Denied, StoreError::InsufficientScope))
                        }
                        Narrowed::Policy(_) => Ok(proof),
                    }
                });
                match allowed {
                    Ok(proof) => {
                        let noted = changes::batch_len();
                        let value = op(conn, proof)?;
                        if writes {
                            record(conn, Outcome::Success)?;
                            note_change(conn, actor, &audited, noted)?;
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
                // A replayed answer, or a key in flight or reused, ends here unwritten.
                crate::idempotency::once(&self.writer, caller, attempt)?
            } else {
                db::read(conn, attempt)
            };
            let (answer, read_outcome) = match result {
                Ok(Ok(value)) => (Ok(value), (!writes).then_some(Outcome::Success)),
                Ok(Err(refusal)) => {
                    let outcome = match refusal {
                        StoreError::NotFound => Outcome::NotFound,
                        _ => Outcome::Denied,
                    };
                    (Err(refusal), (!writes).then_some(outcome))
                }
                Err(failure) => {
                    let outcome = failure_outcome(&failure);
                    (Err(failure), Some(outcome))
                }
            };
            let also_shown = match (&answer, writes) {
                (Ok(value), false) => shown(value),
                _ => Vec::new(),
            };
            let events = read_outcome.map(|outcome| (subject.clone(), outcome));
            let shown_events = also_shown.into_iter().map(|s| (s, Outcome::Success));
            for (subject, outcome) in events.into_iter().chain(shown_events) {
                let row = audit::row(caller.actor(), &subject, outcome, &caller.meta, now());
                acks.0.push(self.writer.append_audit(row)?);
            }
            answer
        };
        let result = run();
        // The connection is back in the pool; now wait for the reads' events.
        acks.settle()?;
        result
    }
}

/// The change a successful write to a client's record leaves in the change log, in
/// its transaction, unless the operation noted that change itself (with more to say,
/// such as a team-only audience).
fn note_change(conn: &mut Conn, actor: Actor, subject: &Subject, noted: usize) -> StoreResult<()> {
    let kind = domain::change::ChangeKind::of_action(subject.action);
    let (Some(kind), Some(client_id), Some(organization_id)) =
        (kind, subject.client_id, actor.organization_id)
    else {
        return Ok(());
    };
    if changes::noted_since(noted, kind) {
        return Ok(());
    }
    let change = NewChange {
        organization_id,
        client_id,
        kind,
        resource_type: subject.resource_type.to_owned(),
        resource_id: subject.resource_id.clone(),
        audience: domain::change::Audience::Everyone,
        actor_id: actor.user_id,
        occurred_at: now(),
        detail: None,
    };
    changes::note(conn, change)
}

//! Group commit: one writer thread per instance runs every write, each in its own
//! savepoint inside a shared transaction, and commits the batch once.
//!
//! Why: a durable commit costs an fsync (about 150 µs on SQLite with
//! `synchronous=FULL`), and every request that touches a client's record writes
//! (its audit event, at least). Committing each alone would cap throughput at the
//! disk's fsync rate. Here requests that arrive while a batch commits share the next
//! fsync. Durability per request is unchanged: no caller hears "done" before the
//! commit that holds its write; a write that fails rolls back to its own savepoint
//! without touching the others.

use std::{
    sync::{
        mpsc::{self, Receiver, Sender, SyncSender},
        Arc,
    },
    thread,
    time::Duration,
};

use diesel::Connection;

use crate::{audit, changes, db, rows::AuditRow, Backend, Conn, StoreError, StoreResult};

/// The change log's committed head, for whoever waits for new changes.
pub(crate) type Heads = Arc<tokio::sync::watch::Sender<i64>>;

/// Delivers a job's result once the batch's fate is known.
type Deliver = Box<dyn FnOnce(bool) + Send>;
type Job = Box<dyn FnOnce(&mut Conn) -> Deliver + Send>;

/// What the writer is asked to do.
enum Message {
    /// A transaction of its own, run in a savepoint.
    Job(Job),
    /// An audit event (of a read): plain data, appended with the batch's others in
    /// one multi-row insert.
    Audit(Box<AuditRow>, SyncSender<StoreResult<()>>),
}

/// The most writes one commit carries.
const MAX_BATCH: usize = 512;

/// The acknowledgement of a queued audit event.
pub struct Ack(Receiver<StoreResult<()>>);

impl Ack {
    /// Waits for the commit that holds the event.
    pub fn wait(self) -> StoreResult<()> {
        self.0
            .recv()
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }
}

/// A handle to the instance's writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: Sender<Message>,
    pub(crate) heads: Heads,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer thread with its own connection.
    pub fn start(backend: &Backend) -> StoreResult<Writer> {
        let mut conn = db::connect(backend)?;
        let (_, head) = db::read(&mut conn, changes::bounds)?;
        let heads: Heads = Arc::new(tokio::sync::watch::Sender::new(head));
        let (jobs, queue) = mpsc::channel::<Message>();
        let backend = backend.clone();
        let published = heads.clone();
        thread::Builder::new()
            .name("headway-writer".into())
            .spawn(move || run(conn, &backend, &queue, &published))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Writer { jobs, heads })
    }

    /// Runs `f` in a write transaction and returns once it is durably committed.
    pub fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
    {
        let (done, result): (SyncSender<StoreResult<T>>, Receiver<StoreResult<T>>) =
            mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn: &mut Conn| {
            // A savepoint: this write fails alone, and so do its audit events.
            let (recorded, noted) = (audit::batch_len(), changes::batch_len());
            let outcome = conn.transaction(f);
            if outcome.is_err() {
                audit::truncate_batch(recorded);
                changes::truncate_batch(noted);
            }
            Box::new(move |committed: bool| {
                let delivered = if committed {
                    outcome
                } else {
                    outcome.and(Err(StoreError::Unavailable(
                        "the batch did not commit".into(),
                    )))
                };
                let _ = done.send(delivered);
            })
        });
        self.jobs
            .send(Message::Job(job))
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        result
            .recv()
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }

    /// Queues an audit event; the returned acknowledgement arrives once it is
    /// durably committed.
    pub(crate) fn append_audit(&self, row: AuditRow) -> StoreResult<Ack> {
        let (done, result) = mpsc::sync_channel(1);
        self.jobs
            .send(Message::Audit(Box::new(row), done))
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        Ok(Ack(result))
    }
}

fn run(mut conn: Conn, backend: &Backend, queue: &Receiver<Message>, heads: &Heads) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        let (mut jobs, mut audits, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for message in batch {
            match message {
                Message::Job(job) => jobs.push(job),
                Message::Audit(row, done) => {
                    audits.push(*row);
                    waiting.push(done);
                }
            }
        }
        let mut deliveries = Vec::with_capacity(jobs.len());
        let committed = db::write(&mut conn, |c| {
            // The jobs' events are chained with the reads' at the end: one head
            // lock per chain per batch.
            audit::begin_batch();
            changes::begin_batch();
            for job in jobs.drain(..) {
                deliveries.push(job(c));
            }
            let mut events = audit::end_batch();
            events.append(&mut audits);
            audit::append_all(c, events)?;
            // Last: the change log's head stays locked only until this commit.
            changes::append_all(c, changes::end_batch())
        });
        if let Ok(Some(head)) = committed {
            heads.send_if_modified(|known| {
                let newer = head > *known;
                *known = (*known).max(head);
                newer
            });
        }
        let ok = committed.is_ok();
        for deliver in deliveries {
            deliver(ok);
        }
        for done in waiting {
            let _ = done.send(if ok {
                Ok(())
            } else {
                Err(StoreError::Unavailable("the batch did not commit".into()))
            });
        }
        if let Err(e) = committed {
            tracing::error!(error = %e, "group commit failed; reconnecting");
            thread::sleep(Duration::from_millis(100));
            if let Ok(fresh) = db::connect(backend) {
                conn = fresh;
            }
        }
    }
}

//! Live events. One tailer per instance reads the change log as it grows (woken by
//! this instance's commits, by other instances' through PostgreSQL NOTIFY, and once a
//! second as a safety net) and broadcasts each entry; each stream keeps only what its
//! caller may hear. A stream that falls a buffer behind is dropped, never waited for:
//! writers and other streams do not slow down, and the app resumes with Last-Event-ID.
//! One watch per instance asks, every few seconds and in one blocking call for all of
//! them, whether each open stream's sign-in still stands: a thousand streams cost one
//! pass, not five hundred blocking calls (and threads to run them) a second.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, Once,
    },
    time::Duration,
};

use actix_web::{rt::time, web::Bytes};
use domain::change::{Change, ChangeKind};
use persistence::{ops::events::Reach, Caller, Clinic};
use serde::Serialize;
use tokio::sync::{
    broadcast::{self, error::RecvError},
    oneshot,
};
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes read from the log per query.
const PAGE: i64 = 500;

/// Changes the tailer broadcasts per page: at most half the streams' buffer. It sends a
/// page without yielding, so a page as long as the buffer (a tailer catching up after
/// a burst of commits) would overrun a stream that keeps up perfectly, and drop it.
fn tail_page(buffer: usize) -> i64 {
    (buffer as i64 / 2).clamp(1, PAGE)
}

/// A change as the hub broadcasts it, with its event already encoded (once for every
/// stream that passes it on).
pub struct Heard {
    pub change: Change,
    frame: Bytes,
}

/// The instance's broadcast of the change log, and the watch on its streams' sign-ins.
pub struct Hub {
    sender: broadcast::Sender<Arc<Heard>>,
    started: Once,
    retention: chrono::Duration,
    page: i64,
    signins: Arc<SignIns>,
    recheck: Duration,
}

impl Hub {
    /// `recheck`: how often every open stream's sign-in is asked after.
    pub fn new(buffer: usize, retention_secs: i64, recheck: Duration) -> Self {
        Hub {
            sender: broadcast::channel(buffer.max(1)).0,
            started: Once::new(),
            retention: chrono::Duration::seconds(retention_secs),
            page: tail_page(buffer),
            signins: Arc::default(),
            recheck,
        }
    }

    /// A receiver of every change committed from now on, and word when the caller's
    /// sign-in ends (starting the tailer and the sign-in watch once).
    pub fn subscribe(&self, clinic: &Clinic, caller: &Caller) -> Subscription {
        let receiver = self.sender.subscribe();
        self.started.call_once(|| {
            let sender = self.sender.clone();
            actix_web::rt::spawn(tail(clinic.clone(), sender, self.retention, self.page));
            actix_web::rt::spawn(watch_signins(
                clinic.clone(),
                self.signins.clone(),
                self.recheck,
            ));
        });
        Subscription {
            receiver,
            signed_out: self.signins.watch(caller.clone()),
        }
    }
}

/// What a stream listens to: the log's broadcast, and the end of its sign-in.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Heard>>,
    signed_out: SignedOut,
}

/// The callers of the open streams, each with the word to send when its sign-in ends.
#[derive(Default)]
struct SignIns {
    next: AtomicU64,
    open: Mutex<HashMap<u64, (Caller, oneshot::Sender<()>)>>,
}

impl SignIns {
    fn watch(self: &Arc<Self>, caller: Caller) -> SignedOut {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tell, told) = oneshot::channel();
        if let Ok(mut open) = self.open.lock() {
            open.insert(id, (caller, tell));
        }
        SignedOut {
            told,
            _watched: Watched {
                id,
                signins: Arc::downgrade(self),
            },
        }
    }
}

/// Word that a stream's sign-in has ended; the stream's place in the watch goes with it.
struct SignedOut {
    told: oneshot::Receiver<()>,
    _watched: Watched,
}

struct Watched {
    id: u64,
    signins: std::sync::Weak<SignIns>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(signins) = self.signins.upgrade() {
            if let Ok(mut open) = signins.open.lock() {
                open.remove(&self.id);
            }
        }
    }
}

/// Every `every`, asks for all open streams at once whether their sign-ins still stand
/// (signed out, account deactivated, password changed) and tells those that do not.
async fn watch_signins(clinic: Clinic, signins: Arc<SignIns>, every: Duration) {
    loop {
        time::sleep(every).await;
        let callers: Vec<(u64, Caller)> = match signins.open.lock() {
            Ok(open) => open.iter().map(|(id, (c, _))| (*id, c.clone())).collect(),
            Err(_) => continue,
        };
        if callers.is_empty() {
            continue;
        }
        let ended = blocking(&clinic, move |c| {
            // One connection for the pass; a failed check is asked again next time.
            Ok(callers
                .into_iter()
                .filter(|(_, caller)| c.still_signed_in(caller).ok() == Some(false))
                .map(|(id, _)| id)
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default();
        if let Ok(mut open) = signins.open.lock() {
            for id in ended {
                if let Some((_, tell)) = open.remove(&id) {
                    let _ = tell.send(());
                }
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    clinic: &Clinic,
    f: impl FnOnce(&Clinic) -> persistence::StoreResult<T> + Send + 'static,
) -> Option<T> {
    let clinic = clinic.clone();
    actix_web::web::block(move || f(&clinic)).await.ok()?.ok()
}

async fn tail(
    clinic: Clinic,
    sender: broadcast::Sender<Arc<Heard>>,
    retention: chrono::Duration,
    page_len: i64,
) {
    let mut commits = clinic.commits();
    let mut seen = blocking(&clinic, |c| c.change_log_bounds())
        .await
        .map_or(0, |(_, head)| head);
    // None until the first prune (an Instant an hour back can underflow on a fresh boot).
    let mut pruned_at: Option<std::time::Instant> = None;
    // Hourly, or a tenth of a shorter window (at least a second apart).
    let window = retention.to_std().unwrap_or_default();
    let prune_every = (window / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        let _ = time::timeout(Duration::from_secs(1), commits.changed()).await;
        loop {
            let page = blocking(&clinic, move |c| c.changes_after(seen, page_len)).await;
            let page = page.unwrap_or_default();
            let full = page.len() as i64 == page_len;
            let mut summaries = Summaries::default();
            for change in page {
                seen = change.seq;
                let progress = summaries.of(&clinic, &change).await;
                let frame = encode(&change, progress.as_deref());
                let _ = sender.send(Arc::new(Heard { change, frame }));
            }
            if !full {
                break;
            }
        }
        if pruned_at.is_none_or(|at| at.elapsed() >= prune_every) {
            pruned_at = Some(std::time::Instant::now());
            let cutoff = chrono::Utc::now() - retention;
            let _ = blocking(&clinic, move |c| c.prune_changes(cutoff)).await;
        }
    }
}

/// Progress summed up once per episode per page of the log, as it stands now: every
/// `progress.updated` of one episode in a page carries the same summary, so a page of
/// hundreds of writes (a replay, a burst) costs one summary per episode, not one each.
#[derive(Default)]
struct Summaries(HashMap<Option<String>, Option<Arc<serde_json::Value>>>);

impl Summaries {
    async fn of(&mut self, clinic: &Clinic, change: &Change) -> Option<Arc<serde_json::Value>> {
        if change.kind != ChangeKind::ProgressUpdated {
            return None;
        }
        if let Some(known) = self.0.get(&change.resource_id) {
            return known.clone();
        }
        let summary = progress_of(clinic, change).await;
        self.0.insert(change.resource_id.clone(), summary.clone());
        summary
    }
}

/// The summary a `progress.updated` change carries (None for other kinds), as JSON.
async fn progress_of(clinic: &Clinic, change: &Change) -> Option<Arc<serde_json::Value>> {
    if change.kind != ChangeKind::ProgressUpdated {
        return None;
    }
    let named = change.clone();
    let facts = blocking(clinic, move |c| c.progress_of_change(&named)).await??;
    serde_json::to_value(crate::routes::progress::summary(&facts))
        .ok()
        .map(Arc::new)
}

/// One event as an app receives it: what changed, where; the app fetches the rest.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Its place in the log: send it back as `Last-Event-ID` to resume after it.
    pub id: String,
    #[serde(rename = "type")]
    #[schema(schema_with = event_type)]
    pub kind: &'static str,
    pub client_id: Uuid,
    /// What it is about: `measurement`, `goal`, `goal_comment`, `episode`, ...
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// On `milestone.reached`: which goal, which milestone (`meaningful-change`,
    /// `personal-best`, `goal-achieved`), the value that reached it, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone: Option<MilestoneEventView>,
    /// On `progress.updated`: the episode's new per-goal summary, as it stands when
    /// sent, so a home screen can redraw without asking.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::routes::progress::ProgressSummaryView>)]
    pub progress: Option<serde_json::Value>,
}

/// What a `milestone.reached` event says.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct MilestoneEventView {
    pub goal_id: Uuid,
    #[schema(pattern = "^(meaningful-change|personal-best|goal-achieved|practice-week-done)$")]
    pub milestone: String,
    pub value: Option<f64>,
    pub at: chrono::DateTime<chrono::Utc>,
}

pub fn event_type() -> utoipa::openapi::Object {
    crate::wire::one_of(ChangeKind::ALL.iter().map(|k| k.as_str()))
}

fn encode(change: &Change, progress: Option<&serde_json::Value>) -> Bytes {
    let view = EventView {
        id: change.seq.to_string(),
        kind: change.kind.as_str(),
        client_id: change.client_id,
        resource_type: change.resource_type.clone(),
        resource_id: change.resource_id.clone(),
        occurred_at: change.occurred_at,
        milestone: change
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok()),
        progress: progress.cloned(),
    };
    let data = serde_json::to_string(&view).unwrap_or_default();
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        change.seq,
        change.kind.as_str()
    ))
}

/// What a stream was asked for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub client_id: Option<Uuid>,
    pub kinds: Option<HashSet<ChangeKind>>,
}

impl Filter {
    fn wants(&self, change: &Change) -> bool {
        self.client_id.is_none_or(|c| c == change.client_id)
            && self.kinds.as_ref().is_none_or(|k| k.contains(&change.kind))
    }
}

/// Where a stream starts.
pub enum Start {
    /// From now on.
    Now,
    /// After this event (Last-Event-ID), replaying what the caller missed.
    After(i64),
    /// The caller's place is gone from the log: a `reset` first, then from now on.
    Reset,
}

/// A caller's stream, from subscription on.
pub struct Follow {
    clinic: Clinic,
    caller: Caller,
    reach: Reach,
    filter: Filter,
    receiver: broadcast::Receiver<Arc<Heard>>,
    signed_out: SignedOut,
    /// The last change handed out or passed over: nothing at or before it again.
    last: i64,
    /// Missed changes still to read from the log (Last-Event-ID), from after `last`.
    replaying: bool,
    backlog: VecDeque<Change>,
    /// Summaries for the backlog's current page.
    summaries: Summaries,
    preface: Option<Bytes>,
    heard: HashSet<Uuid>,
    heartbeat: time::Interval,
    closed: bool,
}

impl Follow {
    /// Subscribes first, then finds the log's head: a change committed in between is
    /// both in the log and in the broadcast, and `last` keeps it from going out twice.
    pub fn new(
        clinic: Clinic,
        caller: Caller,
        reach: Reach,
        filter: Filter,
        subscription: Subscription,
        start: (Start, i64),
        heartbeat: Duration,
    ) -> Self {
        let (start, head) = start;
        let mut preface = String::from("retry: 3000\n\n");
        let (last, replaying) = match start {
            Start::Now => (head, false),
            Start::After(id) => (id, true),
            Start::Reset => {
                preface.push_str(&format!(
                    "id: {head}\nevent: reset\ndata: {{\"id\":\"{head}\",\"type\":\"reset\",\"reason\":\"Your place is older than the events kept: fetch what you show again.\"}}\n\n"
                ));
                (head, false)
            }
        };
        let mut heartbeat = time::interval(heartbeat);
        heartbeat.reset();
        Follow {
            clinic,
            caller,
            reach,
            filter,
            receiver: subscription.receiver,
            signed_out: subscription.signed_out,
            last,
            replaying,
            backlog: VecDeque::new(),
            summaries: Summaries::default(),
            preface: Some(Bytes::from(preface)),
            heard: HashSet::new(),
            heartbeat,
            closed: false,
        }
    }

    /// The stream, as actix sends it.
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
        futures_util::stream::unfold(self, |mut follow| async move {
            let chunk = follow.next().await?;
            Some((Ok(chunk), follow))
        })
    }

    /// Whether to send `change`, once it is the next in order.
    async fn passes(&mut self, change: &Change) -> bool {
        if change.seq <= self.last {
            return false;
        }
        self.last = change.seq;
        if change.kind.changes_access() && !self.reach.is_organization_wide() {
            // Access changed somewhere in the clinic: ask the policy again.
            let caller = self.caller.clone();
            match blocking(&self.clinic, move |c| c.follow(&caller)).await {
                Some(reach) => self.reach = reach,
                None => self.closed = true,
            }
        }
        if self.closed || !self.filter.wants(change) || !self.reach.hears(change) {
            return false;
        }
        if self.heard.insert(change.client_id) {
            let (caller, client) = (self.caller.clone(), change.client_id);
            let _ = blocking(&self.clinic, move |c| c.heard_of(&caller, client)).await;
        }
        true
    }

    async fn next(&mut self) -> Option<Bytes> {
        if let Some(preface) = self.preface.take() {
            return Some(preface);
        }
        loop {
            if self.closed {
                return None;
            }
            if let Some(change) = self.backlog.pop_front() {
                if self.passes(&change).await {
                    let progress = self.summaries.of(&self.clinic, &change).await;
                    return Some(encode(&change, progress.as_deref()));
                }
                continue;
            }
            if self.replaying {
                let after = self.last;
                let page = blocking(&self.clinic, move |c| c.changes_after(after, PAGE)).await?;
                self.replaying = page.len() as i64 == PAGE;
                self.summaries = Summaries::default();
                self.backlog.extend(page);
                continue;
            }
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(heard) => {
                        if self.passes(&heard.change).await {
                            return Some(heard.frame.clone());
                        }
                    }
                    // Fallen too far behind: drop it; the app resumes with Last-Event-ID.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(b": heartbeat\n\n")),
                _ = &mut self.signed_out.told => {
                    self.closed = true;
                    return Some(Bytes::from_static(
                        b"event: closed\ndata: {\"type\":\"closed\",\"reason\":\"Your sign-in has ended.\"}\n\n",
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tailer_never_sends_more_than_half_a_buffer_without_yielding() {
        for buffer in [0, 1, 2, 3, 255, 256, 1000, 1024, 4096, usize::MAX / 4] {
            let page = tail_page(buffer);
            assert!(page >= 1, "{buffer}: {page}");
            assert!(page <= PAGE, "{buffer}: {page}");
            assert!(
                page as usize <= buffer.max(1).div_ceil(2),
                "{buffer}: {page}"
            );
        }
    }
}

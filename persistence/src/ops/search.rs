//! Finding records by what they say rather than by where they sit: the searches an
//! EHR makes through the FHIR front door (a client's observations by code and date,
//! a goal or a measurement by its id alone). Each passes the gate like every other
//! operation, so a search can show no more than a direct read would.

use domain::{
    goal::Goal,
    measure::{Measurement, OutcomeMeasure},
    policy::ClientAction,
};
use uuid::Uuid;

pub use crate::measurements::{Bound, MeasurementSearch};
use crate::{audit::Subject, gate::Caller, goals, measurements, Clinic, StoreError, StoreResult};

/// A record as an EHR knows it: one logical id for every version (a correction is a
/// new row here, but the same Observation there), and which version this is.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub logical_id: Uuid,
    pub version: i32,
    pub record: T,
}

/// A page of a measurement search.
#[derive(Debug, Clone)]
pub struct MeasurementPage {
    pub items: Vec<Versioned<Measurement>>,
    /// More match after this page.
    pub more: bool,
    /// How many match in all, when asked.
    pub total: Option<i64>,
    /// The clinic's measures, to name each measurement's.
    pub measures: Vec<OutcomeMeasure>,
}

/// A goal and where it stands: FHIR's achievementStatus, from its status when it is
/// closed, otherwise from the progress on its measure (None without values).
#[derive(Debug, Clone)]
pub struct GoalStanding {
    pub goal: Goal,
    pub achievement: Option<&'static str>,
    /// Its current counting measurements (the FHIR outcomeReference), by logical id.
    pub measurements: Vec<Uuid>,
}

/// Goals with their standing, and the clinic's measures to name their targets'.
#[derive(Debug, Clone)]
pub struct Goals {
    pub standings: Vec<GoalStanding>,
    pub measures: Vec<OutcomeMeasure>,
}

/// One page of a search, with logical ids and versions, and the total when asked.
fn measurement_page(
    c: &mut crate::Conn,
    client: crate::Reached,
    search: &MeasurementSearch,
    count: bool,
) -> StoreResult<MeasurementPage> {
    let total = match count {
        true => Some(measurements::search_count(c, client, search)?),
        false => None,
    };
    let (found, more) = match search.limit {
        0 => (Vec::new(), false),
        _ => measurements::search(c, client, search)?,
    };
    let chains = measurements::chain_positions(c, client, &found)?;
    let items = found
        .into_iter()
        .map(|m| {
            let (logical_id, version) = chains.get(&m.id).copied().unwrap_or((m.id, 1));
            Versioned {
                logical_id,
                version,
                record: m,
            }
        })
        .collect();
    let measures = measurements::measures(c, client.organization_id())?;
    Ok(MeasurementPage {
        items,
        more,
        total,
        measures,
    })
}

/// The standing of each goal, computed per episode by the progress arithmetic.
pub(crate) fn standings(
    c: &mut crate::Conn,
    client: crate::Reached,
    goal_list: Vec<Goal>,
) -> StoreResult<Goals> {
    let episodes: std::collections::BTreeSet<Uuid> =
        goal_list.iter().map(|g| g.episode_id).collect();
    let measures = measurements::measures(c, client.organization_id())?;
    let mut achievement = std::collections::HashMap::new();
    let mut outcomes: std::collections::HashMap<Uuid, Vec<Uuid>> = std::collections::HashMap::new();
    for episode_id in episodes {
        let in_episode = goals::goals_of_episode(c, client, episode_id)?;
        let values = measurements::counting_in_episode(c, client, episode_id)?;
        let chains = measurements::chain_positions(c, client, &values)?;
        for m in &values {
            if let Some(goal) = m.goal_id {
                let logical = chains.get(&m.id).map_or(m.id, |(root, _)| *root);
                outcomes.entry(goal).or_default().push(logical);
            }
        }
        let progress = domain::progress::episode_progress(&in_episode, &values, |code| {
            measures.iter().find(|m| m.code == code)
        });
        for summary in progress.goals {
            if let Some(p) = summary.progress {
                achievement.insert(summary.goal_id, p.achievement.as_str());
            }
        }
    }
    let standings = goal_list
        .into_iter()
        .map(|goal| GoalStanding {
            achievement: goal
                .status
                .fhir_achievement()
                .or_else(|| achievement.get(&goal.id).copied()),
            measurements: outcomes.remove(&goal.id).unwrap_or_default(),
            goal,
        })
        .collect();
    Ok(Goals {
        standings,
        measures,
    })
}

/// Searchsets this instance has rendered, by client and request, with the version of
/// the client's measurements they were made from: an EHR polling the same search
/// gets the same bytes until a measurement of that client changes. The caller's
/// right to see them is asked by the gate on every request, before the cache.
#[derive(Default)]
pub struct SearchCache {
    rendered: std::sync::RwLock<std::collections::HashMap<SearchKey, (DataVersion, bytes::Bytes)>>,
}

/// A client and everything of a request that its answer depends on besides the data.
type SearchKey = (Uuid, String);
/// The version of a client's measurements (`goals::measurements_version`).
type DataVersion = (i64, i64);

/// Enough for many EHRs polling many clients; past it, the cache starts over.
const SEARCH_CACHE_ENTRIES: usize = 10_000;
/// Larger answers are rendered afresh each time rather than held in memory.
const SEARCH_CACHE_MAX_BYTES: usize = 4 << 20;

impl SearchCache {
    fn get(&self, key: &SearchKey, version: DataVersion) -> Option<bytes::Bytes> {
        let rendered = self.rendered.read().ok()?;
        rendered
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, body)| body.clone())
    }

    fn put(&self, key: SearchKey, version: DataVersion, body: bytes::Bytes) {
        if body.len() > SEARCH_CACHE_MAX_BYTES {
            return;
        }
        if let Ok(mut rendered) = self.rendered.write() {
            if rendered.len() >= SEARCH_CACHE_ENTRIES {
                rendered.clear();
            }
            rendered.insert(key, (version, body));
        }
    }
}

impl Clinic {
    /// [`Clinic::search_measurements`], rendered by `render` into the answer's bytes.
    /// `request` names everything besides the data that the rendering depends on
    /// (the query, the base URL): the same request on unchanged data is served from
    /// the bytes rendered last time. Audited like the search it is.
    pub fn search_measurements_rendered(
        &self,
        caller: &Caller,
        client_id: Uuid,
        search: MeasurementSearch,
        count: bool,
        request: String,
        render: impl FnOnce(&MeasurementPage) -> String + Send + 'static,
    ) -> StoreResult<bytes::Bytes> {
        let cache = self.searches.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::many("measurement.search", "measurement"),
            move |c, client| {
                let key = (client_id, request);
                let version = goals::measurements_version(c, client)?;
                if let Some(body) = cache.get(&key, version) {
                    return Ok(body);
                }
                let page = measurement_page(c, client, &search, count)?;
                let body = bytes::Bytes::from(render(&page));
                cache.put(key, version, body.clone());
                Ok(body)
            },
        )
    }

    /// One page of a client's current measurements that match `search`, with their
    /// logical ids; with `count`, how many match in all.
    pub fn search_measurements(
        &self,
        caller: &Caller,
        client_id: Uuid,
        search: MeasurementSearch,
        count: bool,
    ) -> StoreResult<MeasurementPage> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::many("measurement.search", "measurement"),
            move |c, client| measurement_page(c, client, &search, count),
        )
    }

    /// Every version of the measurement whose chain starts at `logical_id`, oldest
    /// first. NotFound when no chain starts there (a later version's own id is not a
    /// logical id), or when it is outside the caller's reach.
    pub fn measurement_versions(
        &self,
        caller: &Caller,
        logical_id: Uuid,
    ) -> StoreResult<(Vec<Measurement>, Vec<OutcomeMeasure>)> {
        let client_id =
            self.locate(caller, |c, org| measurements::client_of(c, org, logical_id))?;
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("measurement.history", "measurement", logical_id),
            move |c, client| {
                let chain = measurements::history(c, client, logical_id)?;
                match chain.first() {
                    Some(first) if first.id == logical_id => {
                        Ok((chain, measurements::measures(c, client.organization_id())?))
                    }
                    _ => Err(StoreError::NotFound),
                }
            },
        )
    }

    /// One goal, found by its id alone, with what its progress tells.
    pub fn goal_by_id(&self, caller: &Caller, goal_id: Uuid) -> StoreResult<Goals> {
        let client_id = self.locate(caller, |c, org| goals::client_of(c, org, goal_id))?;
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("goal.read", "goal", goal_id),
            move |c, client| {
                let goal = goals::goal(c, client, goal_id)?;
                standings(c, client, vec![goal])
            },
        )
    }

    /// Every goal of a client, across episodes, in the order they were set, with what
    /// each one's progress tells.
    pub fn client_goals(&self, caller: &Caller, client_id: Uuid) -> StoreResult<Goals> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::many("goal.search", "goal"),
            move |c, client| {
                let all = goals::goals_of_client(c, client)?;
                standings(c, client, all)
            },
        )
    }

    /// Whether the caller's token is still backed by their account, for a request
    /// refused before any operation ran (a malformed search): a dead token hears 401
    /// whatever else is wrong with the request, and nothing is read.
    pub fn confirm(&self, caller: &Caller) -> StoreResult<()> {
        let conn = &mut *self.pool.get().map_err(StoreError::from)?;
        caller.confirm(conn).map(|_| ())
    }

    /// Whose record something is in, within the caller's clinic, so that the gate can
    /// then ask the policy about that client. Finding it tells nothing: a record out of
    /// the caller's reach answers NotFound from the gate just as a missing one does
    /// here.
    pub(crate) fn locate(
        &self,
        caller: &Caller,
        find: impl FnOnce(&mut crate::Conn, Uuid) -> StoreResult<Uuid>,
    ) -> StoreResult<Uuid> {
        let conn = &mut *self.pool.get().map_err(StoreError::from)?;
        // A dead token hears 401 even for an id that names nothing.
        let who = caller.confirm(conn)?;
        find(conn, who.organization_id)
    }
}

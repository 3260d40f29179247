//! What clients and teams look at: an episode's progress view, a goal's series, and
//! the milestones feed.
//!
//! The progress view is computed once per change to the episode and kept: writes bump
//! the episode's progress version; a read serves the view held in memory or stored
//! for the current version, and recomputes only when the episode changed since.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::{
    change::{Change, ChangeKind},
    goal::{Episode, Goal},
    measure::{OutcomeMeasure, Source},
    policy::ClientAction,
    progress::{
        episode_progress, event_milestones, goal_value_milestones, EpisodeProgress, Milestone,
        Point,
    },
};
use uuid::Uuid;

use crate::{
    audit::Subject, gate::Caller, goals, measurements, Clinic, Conn, Reached, StoreResult,
};

/// Progress views held in memory, by episode, with the version each reflects. The
/// database says which version is current on every read, so an entry is served only
/// while it is current: several instances never disagree.
#[derive(Default)]
pub struct ViewCache {
    views: std::sync::RwLock<std::collections::HashMap<Uuid, (i64, Bytes)>>,
}

/// Enough for a clinic's active episodes; past it, the cache starts over.
const VIEW_CACHE_ENTRIES: usize = 50_000;

impl ViewCache {
    fn get(&self, episode: Uuid, version: i64) -> Option<Bytes> {
        let views = self.views.read().ok()?;
        views
            .get(&episode)
            .filter(|(v, _)| *v == version)
            .map(|(_, body)| body.clone())
    }

    fn put(&self, episode: Uuid, version: i64, body: Bytes) {
        if let Ok(mut views) = self.views.write() {
            if views.len() >= VIEW_CACHE_ENTRIES {
                views.clear();
            }
            views.insert(episode, (version, body));
        }
    }
}

/// Everything an episode's progress view is made of.
#[derive(Debug, Clone)]
pub struct EpisodeFacts {
    pub client_id: Uuid,
    pub episode: Episode,
    pub goals: Vec<Goal>,
    pub progress: EpisodeProgress,
    /// The clinic's catalogue, to name each goal's measure.
    pub measures: Vec<OutcomeMeasure>,
    /// Changes whenever anything in the episode changes.
    pub version: i64,
    /// The episode's home programme per goal, with adherence per ISO week.
    pub home_programme: Vec<crate::ops::home::GoalAdherence>,
}

/// Turns the facts into the representation served (and kept) for one version.
pub type Render = fn(&EpisodeFacts) -> String;

/// Which of a goal's values a series holds.
#[derive(Debug, Clone, Default)]
pub struct SeriesRange {
    /// Defaults to the goal's measure (or `gas` if it has none).
    pub measure_code: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub source: Option<Source>,
}

/// A goal's values on one measure from one source, oldest first.
#[derive(Debug, Clone)]
pub struct SourceLine {
    pub source: Source,
    pub points: Vec<Point>,
}

/// A goal's values on one measure, by source: never merged into one line.
#[derive(Debug, Clone)]
pub struct GoalSeries {
    pub goal: Goal,
    pub measure: OutcomeMeasure,
    /// Whose values the measure's figures follow (`domain::measure::primary_source`).
    pub primary_source: Source,
    /// One line per source: the primary source first (even without values), then
    /// every other source that has values, in `Source::ALL` order. With a source
    /// filter, only that source's line.
    pub lines: Vec<SourceLine>,
}

/// How a goal's series is shown: as numbers, or drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownAs {
    Series,
    Chart,
}

/// A milestone and the goal it belongs to.
#[derive(Debug, Clone)]
pub struct GoalMilestone {
    pub goal: Goal,
    pub milestone: Milestone,
}

/// Where a progress view came from.
enum Served {
    /// This instance's memory, for the current version.
    Memory(Bytes),
    /// The view stored in the database for the current version.
    Stored(i64, String),
    /// Computed now: the episode changed since the last view.
    Computed(i64, String),
}

/// What an episode's progress is made of, and the progress itself.
fn episode_facts(
    c: &mut Conn,
    client: Reached,
    episode_id: Uuid,
    version: i64,
) -> StoreResult<EpisodeFacts> {
    let episode = goals::episode(c, client, episode_id)?;
    let goal_list = goals::goals_of_episode(c, client, episode_id)?;
    let values = measurements::counting_in_episode(c, client, episode_id)?;
    let measures = measurements::measures(c, client.organization_id())?;
    let progress = episode_progress(&goal_list, &values, |code| {
        measures.iter().find(|m| m.code == code)
    });
    let home_programme = crate::ops::home::episode_adherence(c, client, episode_id)?;
    Ok(EpisodeFacts {
        home_programme,
        client_id: client.client_id(),
        episode,
        goals: goal_list,
        progress,
        measures,
        version,
    })
}

impl Clinic {
    /// The progress of the episode a `progress.updated` change names, as it stands
    /// now, for the live hub to send with that event (so a home screen redraws without
    /// asking). Not gated here: the hub sends it only with the change itself, to
    /// streams whose caller hears that change, which the policy allows only to those
    /// who may read the client's clinical record (as the progress view requires).
    pub fn progress_of_change(&self, change: &Change) -> StoreResult<Option<EpisodeFacts>> {
        if change.kind != ChangeKind::ProgressUpdated {
            return Ok(None);
        }
        let Some(episode_id) = change
            .resource_id
            .as_deref()
            .map(crate::rows::id)
            .transpose()?
        else {
            return Ok(None);
        };
        let client = Reached::of_change(change);
        self.read(move |c| {
            let Some((version, _)) = goals::found(goals::progress_versions(c, client, episode_id))?
            else {
                return Ok(None);
            };
            episode_facts(c, client, episode_id, version).map(Some)
        })
    }

    /// An episode's progress view, rendered by `render` once per version of the episode.
    pub fn progress_view(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        render: Render,
    ) -> StoreResult<Bytes> {
        let views = self.views.clone();
        let served = self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("progress.read", "episode", episode_id),
            move |c, client| {
                let (version, stored) = goals::progress_versions(c, client, episode_id)?;
                if let Some(body) = views.get(episode_id, version) {
                    return Ok(Served::Memory(body));
                }
                if stored == Some(version) {
                    if let (_, Some((v, text))) = goals::progress_cache(c, client, episode_id)? {
                        return Ok(Served::Stored(v, text));
                    }
                }
                let facts = episode_facts(c, client, episode_id, version)?;
                Ok(Served::Computed(version, render(&facts)))
            },
        )?;
        Ok(match served {
            Served::Memory(body) => body,
            Served::Stored(version, text) => {
                let body = Bytes::from(text);
                self.views.put(episode_id, version, body.clone());
                body
            }
            Served::Computed(version, text) => {
                // Kept for the next reader (and other instances); skipped if the
                // episode changed meanwhile.
                let stored = text.clone();
                self.write(move |c| goals::store_progress_cache(c, episode_id, version, &stored))?;
                let body = Bytes::from(text);
                self.views.put(episode_id, version, body.clone());
                body
            }
        })
    }

    /// A goal's values over time, for a series or a chart (each audited as such).
    pub fn goal_series(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
        range: SeriesRange,
        shown_as: ShownAs,
    ) -> StoreResult<GoalSeries> {
        let action = match shown_as {
            ShownAs::Series => "progress.series",
            ShownAs::Chart => "progress.chart",
        };
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one(action, "goal", goal_id),
            move |c, client| {
                let goal = goals::goal(c, client, goal_id)?;
                let code = range
                    .measure_code
                    .clone()
                    .or_else(|| goal.content.measure_code.clone())
                    .unwrap_or_else(|| "gas".to_owned());
                let measure = measurements::measure_as_chosen(c, client.organization_id(), &code)?
                    .ok_or_else(|| {
                        domain::Invalid::field("measure_code", "is not a known measure")
                    })?;
                let values = measurements::series(c, client, goal_id, &code, range.from, range.to)?;
                let primary_source = measure.primary_source();
                let mut order = vec![primary_source];
                order.extend(Source::ALL.iter().copied().filter(|s| *s != primary_source));
                let lines = order
                    .into_iter()
                    .filter(|s| range.source.is_none_or(|want| *s == want))
                    .map(|source| SourceLine {
                        source,
                        points: values
                            .iter()
                            .filter(|(_, _, s)| *s == source)
                            .map(|(at, value, _)| Point {
                                at: *at,
                                value: *value,
                            })
                            .collect(),
                    })
                    .filter(|l| {
                        !l.points.is_empty() || l.source == primary_source || range.source.is_some()
                    })
                    .collect();
                Ok(GoalSeries {
                    goal,
                    measure,
                    primary_source,
                    lines,
                })
            },
        )
    }

    /// Milestones to celebrate, newest first: goals agreed (once per goal), meaningful
    /// change reached, personal bests (from each measure's primary source only), goals
    /// achieved.
    pub fn milestones(&self, caller: &Caller, client_id: Uuid) -> StoreResult<Vec<GoalMilestone>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("progress.milestones", "client", client_id),
            move |c, client| {
                let all_goals = goals::goals_of_client(c, client)?;
                let mut found = event_milestones(&goals::events_of_client(c, client)?);
                let mut episodes: Vec<Uuid> = all_goals.iter().map(|g| g.episode_id).collect();
                episodes.sort();
                episodes.dedup();
                let mut values = Vec::new();
                for episode in episodes {
                    values.extend(measurements::counting_in_episode(c, client, episode)?);
                }
                let measures = measurements::measures(c, client.organization_id())?;
                for g in &all_goals {
                    let code = g.content.measure_code.as_deref();
                    let Some(measure) = measures.iter().find(|m| Some(m.code.as_str()) == code)
                    else {
                        continue;
                    };
                    found.extend(
                        goal_value_milestones(g, measure, &values)
                            .into_iter()
                            .map(|m| (g.id, m)),
                    );
                }
                found.extend(crate::ops::home::practice_milestones(c, client)?);
                found.sort_by_key(|(_, m)| std::cmp::Reverse(m.at));
                Ok(found
                    .into_iter()
                    .filter_map(|(goal_id, milestone)| {
                        let goal = all_goals.iter().find(|g| g.id == goal_id)?.clone();
                        Some(GoalMilestone { goal, milestone })
                    })
                    .collect())
            },
        )
    }
}

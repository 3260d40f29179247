//! What an EHR reads besides clients, goals and measurements: the clinic's
//! therapists, a client's caregivers and episodes found by their id alone, the plan
//! of care of an episode (its goals and home programme), and every version of a goal.
//! The JSON API reaches these through a client's record; here the record is found
//! first (`locate`) and then the gate asks the policy about that client, as for any
//! other read, so a record outside the caller's reach answers NotFound.

use domain::{
    client::{CareTeamMember, CaregiverLink},
    goal::{versions_of, Episode, Goal},
    home::Activity,
    identity::User,
    policy::{practitioner_scope, ClientAction, OrgAction},
};
use uuid::Uuid;

pub use crate::accounts::PractitionerFilter;
use crate::{
    accounts, audit::Subject, clients, gate::Caller, goals, home, ops::search::Goals, Clinic, Conn,
    Page, PageRequest, Reached, StoreError, StoreResult,
};

/// An episode with the care team that serves it (past members too, with when they
/// left).
#[derive(Debug, Clone)]
pub struct EpisodeOfCare {
    pub episode: Episode,
    pub team: Vec<CareTeamMember>,
}

/// An episode's plan of care: the episode, its goals and the home activities
/// prescribed for them.
#[derive(Debug, Clone)]
pub struct PlanOfCare {
    pub episode: Episode,
    pub goals: Vec<Goal>,
    pub activities: Vec<Activity>,
}

/// Every version of a goal, oldest first (the last is the goal as it stands), with
/// the current one's standing.
#[derive(Debug, Clone)]
pub struct GoalVersions {
    pub versions: Vec<Goal>,
    pub current: Goals,
}

fn plans(c: &mut Conn, client: Reached, episodes: Vec<Episode>) -> StoreResult<Vec<PlanOfCare>> {
    let all_goals = goals::goals_of_client(c, client)?;
    let all_activities = home::activities_of(c, client, None)?;
    Ok(episodes
        .into_iter()
        .map(|episode| PlanOfCare {
            goals: all_goals
                .iter()
                .filter(|g| g.episode_id == episode.id)
                .cloned()
                .collect(),
            activities: all_activities
                .iter()
                .filter(|a| a.episode_id == episode.id)
                .cloned()
                .collect(),
            episode,
        })
        .collect())
}

impl Clinic {
    /// One therapist of the clinic, if the caller's practitioner scope shows them.
    pub fn practitioner(&self, caller: &Caller, user_id: Uuid) -> StoreResult<User> {
        self.on_organization(
            caller,
            OrgAction::ViewPractitioners,
            Subject::one("practitioner.read", "user", user_id),
            move |c, who| {
                accounts::practitioner(c, who.organization_id, practitioner_scope(who), user_id)
            },
        )
    }

    /// The therapists the caller's practitioner scope shows, by id.
    pub fn practitioners(
        &self,
        caller: &Caller,
        filter: PractitionerFilter,
        page: PageRequest,
    ) -> StoreResult<Page<User>> {
        self.on_organization(
            caller,
            OrgAction::ViewPractitioners,
            Subject::many("practitioner.list", "user"),
            move |c, who| {
                let scope = practitioner_scope(who);
                accounts::list_practitioners(c, who.organization_id, scope, &filter, page)
            },
        )
    }

    /// One caregiver link, found by its id alone, revoked ones too (their period
    /// ended): seen as the client's caregivers are.
    pub fn caregiver_by_id(&self, caller: &Caller, link_id: Uuid) -> StoreResult<CaregiverLink> {
        let client_id = self.locate(caller, |c, org| clients::link_client_of(c, org, link_id))?;
        self.on_client(
            caller,
            client_id,
            ClientAction::View,
            Subject::one("caregiver.read", "caregiver_link", link_id),
            move |c, client| {
                clients::caregivers(c, client, true)?
                    .into_iter()
                    .find(|l| l.id == link_id)
                    .ok_or(StoreError::NotFound)
            },
        )
    }

    /// One episode, found by its id alone, with its care team.
    pub fn episode_of_care(&self, caller: &Caller, episode_id: Uuid) -> StoreResult<EpisodeOfCare> {
        let client_id = self.locate(caller, |c, org| {
            goals::episode_client_of(c, org, episode_id)
        })?;
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("episode.read", "episode", episode_id),
            move |c, client| {
                let episode = goals::episode(c, client, episode_id)?;
                let team = clients::care_team(c, client, true)?;
                Ok(EpisodeOfCare { episode, team })
            },
        )
    }

    /// A client's episodes, with their care team.
    pub fn episodes_of_care(
        &self,
        caller: &Caller,
        client_id: Uuid,
    ) -> StoreResult<(Vec<Episode>, Vec<CareTeamMember>)> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::many("episode.list", "episode"),
            move |c, client| {
                let episodes = goals::episodes_of(c, client)?;
                let team = clients::care_team(c, client, true)?;
                Ok((episodes, team))
            },
        )
    }

    /// An episode's plan of care, found by the episode's id alone.
    pub fn plan_of_care(&self, caller: &Caller, episode_id: Uuid) -> StoreResult<PlanOfCare> {
        let client_id = self.locate(caller, |c, org| {
            goals::episode_client_of(c, org, episode_id)
        })?;
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("care_plan.read", "episode", episode_id),
            move |c, client| {
                let episode = goals::episode(c, client, episode_id)?;
                let mut found = plans(c, client, vec![episode])?;
                found.pop().ok_or(StoreError::NotFound)
            },
        )
    }

    /// The plan of care of each of a client's episodes.
    pub fn plans_of_care(&self, caller: &Caller, client_id: Uuid) -> StoreResult<Vec<PlanOfCare>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::many("care_plan.list", "episode"),
            move |c, client| {
                let episodes = goals::episodes_of(c, client)?;
                plans(c, client, episodes)
            },
        )
    }

    /// Every version of a goal, found by its id alone, oldest first: each change
    /// (proposal, revision, agreement, status) is one, rebuilt from the revisions,
    /// agreements and events Headway keeps (`domain::goal::versions_of`).
    pub fn goal_versions(&self, caller: &Caller, goal_id: Uuid) -> StoreResult<GoalVersions> {
        let client_id = self.locate(caller, |c, org| goals::client_of(c, org, goal_id))?;
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("goal.revisions", "goal", goal_id),
            move |c, client| {
                let goal = goals::goal(c, client, goal_id)?;
                let events = goals::events_of_goal(c, client, goal_id)?;
                let revisions = goals::revisions(c, client, goal_id)?;
                let versions = versions_of(&goal, &events, &revisions);
                let current = crate::ops::search::standings(c, client, vec![goal])?;
                Ok(GoalVersions { versions, current })
            },
        )
    }
}

//! Episodes of care and goals set together: opening and updating episodes; proposing,
//! revising, agreeing to and closing goals; their revision history; and the comment
//! thread, with the care team's own notes.
//!
//! Each operation fetches the facts a rule needs (the episode, the parent goal, the
//! measure, the goal as it stands) and `domain::goal` decides; the side a caller
//! speaks for, and the action that needs, come from `domain::policy`.

use crate::changes::{self, NewChange};
use chrono::NaiveDate;
use domain::change::{Audience, ChangeKind};
use domain::{
    goal::{
        agreeing, may_end, may_propose, may_revise_to, status_change, AgreementStep, Episode,
        EpisodeDraft, EpisodeStatus, Goal, GoalComment, GoalContent, GoalDraft, GoalRevision,
        GoalStatus,
    },
    measure::OutcomeMeasure,
    policy::{comment_action, goal_voice, proposal_voice, sees_team_notes, ClientAction},
    Invalid,
};
use uuid::Uuid;

use crate::{
    audit::Subject,
    gate::{Caller, ClientWrite},
    goals::{self, found, NewComment},
    measurements, now,
    ops::measures::EpisodeOf,
    versions::{expect, Expected},
    Clinic, Conn, Reached, StoreResult,
};

/// The measure a goal's content targets, as the clinic's catalogue holds it.
fn measure_of(
    conn: &mut Conn,
    client: Reached,
    content: &GoalContent,
) -> StoreResult<Option<OutcomeMeasure>> {
    match &content.measure_code {
        Some(code) => measurements::measure(conn, client.organization_id(), code),
        None => Ok(None),
    }
}

impl Clinic {
    /// Opens an episode of care (the care team).
    pub fn open_episode(
        &self,
        caller: &Caller,
        client_id: Uuid,
        draft: EpisodeDraft,
    ) -> StoreResult<Episode> {
        let episode_id = domain::new_id();
        let by = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("episode.create", "episode", episode_id),
            move |c, client| goals::create_episode(c, client, episode_id, &draft, by, now()),
        )
    }

    /// A client's episodes of care.
    pub fn episodes(&self, caller: &Caller, client_id: Uuid) -> StoreResult<Vec<Episode>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("episode.list", "episode", client_id),
            goals::episodes_of,
        )
    }

    /// One episode of care of the client.
    pub fn episode(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
    ) -> StoreResult<Episode> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("episode.read", "episode", episode_id),
            move |c, client| goals::episode(c, client, episode_id),
        )
    }

    /// Changes an episode's status or end date (the care team).
    pub fn update_episode(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        expected: Expected,
        status: EpisodeStatus,
        end_date: Option<NaiveDate>,
    ) -> StoreResult<Episode> {
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("episode.update", "episode", episode_id),
            move |c, client| {
                let before = goals::episode(c, client, episode_id)?;
                expect(&expected, before.version)?;
                may_end(before.start_date, end_date)?;
                let read = before.version;
                goals::set_episode(c, client, episode_id, read, status, end_date, now())
            },
        )
    }

    /// Proposes a goal, for the caller's side (a therapist on the team, the client,
    /// or a caregiver allowed to take part). It is active once both sides agree.
    pub fn propose_goal(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        draft: GoalDraft,
    ) -> StoreResult<Goal> {
        let write = proposing(caller, client_id, EpisodeOf::Named(episode_id), draft);
        self.run_write(caller, write)
    }

    /// The same, for a proposal that names no episode (a FHIR Goal).
    pub fn propose_goal_in_place(
        &self,
        caller: &Caller,
        client_id: Uuid,
        draft: GoalDraft,
    ) -> StoreResult<Goal> {
        self.run_write(caller, proposing_in_place(caller, client_id, draft))
    }
}

/// A FHIR Goal's proposal, which names no episode: it goes in its parent goal's
/// episode, or else the client's one open episode. To run alone or in a Bundle.
pub fn proposing_in_place(caller: &Caller, client_id: Uuid, draft: GoalDraft) -> ClientWrite<Goal> {
    proposing(caller, client_id, EpisodeOf::InPlace, draft)
}

fn proposing(
    caller: &Caller,
    client_id: Uuid,
    episode: EpisodeOf,
    draft: GoalDraft,
) -> ClientWrite<Goal> {
    let (side, action, agrees) = proposal_voice(&caller.who);
    let goal_id = domain::new_id();
    let by = caller.who.clone();
    ClientWrite::new(
        client_id,
        action,
        Subject::one("goal.propose", "goal", goal_id),
        move |c, client| {
            let episode_id = match episode {
                EpisodeOf::Named(id) => id,
                EpisodeOf::InPlace => {
                    let parent = match draft.parent_id {
                        Some(id) => found(goals::goal(c, client, id))?,
                        None => None,
                    };
                    let episodes = goals::episodes_of(c, client)?;
                    domain::goal::episode_for(draft.parent_id, parent.as_ref(), &episodes)?
                }
            };
            let measure = measure_of(c, client, &draft.content)?;
            let episode = found(goals::episode(c, client, episode_id))?;
            let parent = match draft.parent_id {
                Some(parent_id) => found(goals::goal(c, client, parent_id))?,
                None => None,
            };
            may_propose(
                &draft,
                side,
                measure.as_ref(),
                episode.as_ref(),
                parent.as_ref(),
            )?;
            goals::insert_goal(
                c,
                client,
                goal_id,
                episode_id,
                &draft,
                parent.as_ref(),
                (side, agrees),
                &by,
                now(),
            )
        },
    )
}

impl Clinic {
    /// An episode's goals.
    pub fn episode_goals(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
    ) -> StoreResult<Vec<Goal>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("goal.list", "episode", episode_id),
            move |c, client| {
                goals::episode(c, client, episode_id)?;
                goals::goals_of_episode(c, client, episode_id)
            },
        )
    }

    /// One goal.
    pub fn goal(&self, caller: &Caller, client_id: Uuid, goal_id: Uuid) -> StoreResult<Goal> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("goal.read", "goal", goal_id),
            move |c, client| goals::goal(c, client, goal_id),
        )
    }

    /// Revises a goal's content, for the caller's side: a new revision that needs
    /// agreement again.
    pub fn revise_goal(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
        expected: Expected,
        content: GoalContent,
    ) -> StoreResult<Goal> {
        self.revise_goal_with(caller, client_id, goal_id, expected, move |_| Ok(content))
    }

    /// Revises a goal's content to what `change` makes of the current one (a merge
    /// patch), read and written in one transaction: the same rules as any revision.
    pub fn revise_goal_with(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
        expected: Expected,
        change: impl FnOnce(&Goal) -> Result<GoalContent, Invalid> + Send + 'static,
    ) -> StoreResult<Goal> {
        let (side, action) = goal_voice(&caller.who);
        let by = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            action,
            Subject::one("goal.revise", "goal", goal_id),
            move |c, client| {
                let before = goals::goal(c, client, goal_id)?;
                expect(&expected, before.version)?;
                let content = change(&before)?;
                let measure = measure_of(c, client, &content)?;
                may_revise_to(&before, &content, side, measure.as_ref())?;
                goals::bump_goal(c, client, goal_id, before.version)?;
                goals::insert_revision(c, client, &before, &content, side, &by, now())
            },
        )
    }

    /// Every revision of a goal, with who agreed to each and when.
    pub fn goal_revisions(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
    ) -> StoreResult<Vec<GoalRevision>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("goal.revisions", "goal", goal_id),
            move |c, client| goals::revisions(c, client, goal_id),
        )
    }

    /// Agrees to a goal's current revision, for the caller's side.
    pub fn agree_to_goal(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
        expected: Expected,
    ) -> StoreResult<Goal> {
        let (side, action) = goal_voice(&caller.who);
        let by = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            action,
            Subject::one("goal.agree", "goal", goal_id),
            move |c, client| {
                let before = goals::goal(c, client, goal_id)?;
                expect(&expected, before.version)?;
                match agreeing(&before, side)? {
                    AgreementStep::AlreadyAgreed => Ok(before),
                    AgreementStep::Agreed {
                        status,
                        agreement,
                        event,
                    } => goals::bump_goal(c, client, goal_id, before.version).and_then(|_| {
                        goals::insert_agreement(
                            c,
                            client,
                            &before,
                            side,
                            status,
                            agreement,
                            event,
                            &by,
                            now(),
                        )
                    }),
                }
            },
        )
    }

    /// Moves a goal along its lifecycle (the care team).
    pub fn set_goal_status(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
        expected: Expected,
        next: GoalStatus,
    ) -> StoreResult<Goal> {
        let by = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("goal.status", "goal", goal_id),
            move |c, client| {
                let before = goals::goal(c, client, goal_id)?;
                expect(&expected, before.version)?;
                status_change(before.status, next)?;
                goals::bump_goal(c, client, goal_id, before.version)?;
                let after = goals::set_status(c, client, goal_id, next, &by, now())?;
                if next == GoalStatus::Achieved {
                    let reached = domain::progress::Milestone {
                        kind: domain::progress::MilestoneKind::GoalAchieved,
                        at: after.updated_at,
                        value: None,
                    };
                    goals::note_milestone(c, client, goal_id, &reached, Some(by.user_id))?;
                }
                Ok(after)
            },
        )
    }

    /// A goal's comment thread; team-only notes only for those who see them.
    pub fn goal_comments(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
    ) -> StoreResult<Vec<GoalComment>> {
        let team_notes = sees_team_notes(&caller.who);
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("goal.comments", "goal", goal_id),
            move |c, client| goals::comments(c, client, goal_id, team_notes),
        )
    }

    /// Comments on a goal (`body` already checked by `domain::goal::comment_body`);
    /// a team-only note needs what clinical documentation needs.
    pub fn comment_on_goal(
        &self,
        caller: &Caller,
        client_id: Uuid,
        goal_id: Uuid,
        body: String,
        team_only: bool,
    ) -> StoreResult<GoalComment> {
        let comment = NewComment {
            id: domain::new_id(),
            body,
            team_only,
        };
        let by = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            comment_action(&caller.who, team_only),
            Subject::one("goal.comment", "goal_comment", comment.id),
            move |c, client| {
                let (id, team_only) = (comment.id, comment.team_only);
                let added = goals::add_comment(c, client, goal_id, comment, &by, now())?;
                // Team notes are heard by the team alone.
                let audience = if team_only {
                    Audience::Team
                } else {
                    Audience::Everyone
                };
                let change = NewChange {
                    organization_id: client.organization_id(),
                    client_id: client.client_id(),
                    kind: ChangeKind::CommentAdded,
                    resource_type: "goal_comment".to_owned(),
                    resource_id: Some(id.to_string()),
                    audience,
                    actor_id: Some(by.user_id),
                    occurred_at: now(),
                    detail: None,
                };
                changes::note(c, change)?;
                Ok(added)
            },
        )
    }
}

//! The change log's vocabulary: what happened to a client's record, and who may hear
//! of it. Live events (`/api/v1/events`), offline sync and webhooks all read the same
//! ordered log; this module decides what each caller may see of it.

use uuid::Uuid;

use crate::{
    identity::{text_enum, Principal},
    policy::{decide, sees_team_notes, ClientAction, ClientRelation, Decision},
};

text_enum!(
    /// What changed. Each is written in the same transaction as the change itself.
    ChangeKind {
        ClientRegistered => "client.registered",
        ClientUpdated => "client.updated",
        EpisodeOpened => "episode.opened",
        EpisodeUpdated => "episode.updated",
        GoalProposed => "goal.proposed",
        GoalAgreed => "goal.agreed",
        GoalRevised => "goal.revised",
        GoalStatusChanged => "goal.status-changed",
        CommentAdded => "comment.added",
        MeasurementRecorded => "measurement.recorded",
        MeasurementCorrected => "measurement.corrected",
        ProgressUpdated => "progress.updated",
        /// A goal reached a milestone: meaningful change, a personal best, achieved.
        MilestoneReached => "milestone.reached",
        CareTeamChanged => "care-team.changed",
        CaregiverAccessChanged => "caregiver-access.changed",
        /// A home activity was prescribed, changed (a new version) or stopped.
        ActivityPrescribed => "activity.prescribed",
        ActivityChanged => "activity.changed",
        /// Practice was logged, or a log corrected or withdrawn.
        PracticeLogged => "practice.logged",
        PracticeCorrected => "practice.corrected",
        CheckInRecorded => "check-in.recorded",
        QuestionAsked => "question.asked",
        QuestionAnswered => "question.answered",
        /// A team-only note on a question: heard by the team alone.
        QuestionNoted => "question.noted",
    }
);

impl ChangeKind {
    /// The change a successful write leaves, from its audited action (`resource.verb`).
    /// Writes that touch no client's record (accounts, measures) leave none.
    pub fn of_action(action: &str) -> Option<ChangeKind> {
        Some(match action {
            "client.create" => ChangeKind::ClientRegistered,
            "client.update" | "client.invite" => ChangeKind::ClientUpdated,
            "episode.create" => ChangeKind::EpisodeOpened,
            "episode.update" => ChangeKind::EpisodeUpdated,
            "goal.propose" => ChangeKind::GoalProposed,
            "goal.agree" => ChangeKind::GoalAgreed,
            "goal.revise" => ChangeKind::GoalRevised,
            "goal.status" => ChangeKind::GoalStatusChanged,
            "goal.comment" => ChangeKind::CommentAdded,
            "measurement.record" => ChangeKind::MeasurementRecorded,
            "measurement.correct" => ChangeKind::MeasurementCorrected,
            "care_team.add" | "care_team.remove" => ChangeKind::CareTeamChanged,
            "activity.prescribe" => ChangeKind::ActivityPrescribed,
            "activity.revise" | "activity.stop" => ChangeKind::ActivityChanged,
            "practice.log" => ChangeKind::PracticeLogged,
            "practice.correct" => ChangeKind::PracticeCorrected,
            "check_in.record" => ChangeKind::CheckInRecorded,
            "question.ask" => ChangeKind::QuestionAsked,
            "question.answer" => ChangeKind::QuestionAnswered,
            "question.note" => ChangeKind::QuestionNoted,
            "caregiver.grant" | "caregiver.change" | "caregiver.revoke" => {
                ChangeKind::CaregiverAccessChanged
            }
            _ => return None,
        })
    }

    /// The read that seeing this change amounts to.
    pub fn read_action(self) -> ClientAction {
        match self {
            ChangeKind::ClientRegistered
            | ChangeKind::ClientUpdated
            | ChangeKind::CareTeamChanged
            | ChangeKind::CaregiverAccessChanged => ClientAction::View,
            _ => ClientAction::ViewClinical,
        }
    }

    /// Whether it may change who sees the record (streams re-check their reach).
    pub fn changes_access(self) -> bool {
        matches!(
            self,
            ChangeKind::CareTeamChanged | ChangeKind::CaregiverAccessChanged
        )
    }
}

text_enum!(
    /// Who may hear of a change, among those who may read the record.
    Audience {
        /// Everyone who may read that part of the record.
        Everyone => "everyone",
        /// The care team only (its own notes): never the client or caregivers.
        Team => "team",
    }
);

/// One entry of the change log, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Its place in the log: commit order, no gaps, never reused.
    pub seq: i64,
    pub organization_id: Uuid,
    pub client_id: Uuid,
    pub kind: ChangeKind,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub audience: Audience,
    pub actor_id: Option<Uuid>,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// What it says beyond its record, as JSON text (a milestone's kind and value).
    pub detail: Option<String>,
}

/// Whether `who`, standing in `relation` to the change's client, may hear of it: only
/// when they may read what it is about, and team notes only when they see those.
pub fn may_see(
    who: &Principal,
    relation: ClientRelation,
    kind: ChangeKind,
    audience: Audience,
) -> bool {
    decide(who, relation, kind.read_action()) == Decision::Allow
        && (audience == Audience::Everyone || sees_team_notes(who))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        identity::{Role, Scope, Scopes},
        policy::CaregiverPermission,
    };
    use proptest::prelude::*;

    fn principal(role: Role, scopes: Vec<Scope>) -> Principal {
        let text = scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Principal {
            user_id: Uuid::nil(),
            organization_id: Uuid::nil(),
            role,
            client_id: None,
            scopes: Scopes::parse(&text).unwrap_or_default(),
        }
    }

    #[test]
    fn every_client_write_leaves_a_change_and_reads_leave_none() {
        for (action, ..) in crate::audit::ACTIONS {
            let kind = ChangeKind::of_action(action);
            let reads = action.ends_with(".read")
                || action.ends_with(".list")
                || action.starts_with("progress.")
                || action.starts_with("auth.");
            if reads {
                assert_eq!(kind, None, "{action}");
            }
        }
        assert_eq!(
            ChangeKind::of_action("measurement.record"),
            Some(ChangeKind::MeasurementRecorded)
        );
    }

    #[test]
    fn team_notes_reach_the_team_only() {
        let on_team = ClientRelation {
            in_organization: true,
            on_care_team: true,
            ..Default::default()
        };
        let own = ClientRelation {
            in_organization: true,
            is_self: true,
            ..Default::default()
        };
        let therapist = principal(Role::Therapist, vec![]);
        let client = principal(Role::Client, vec![]);
        let kind = ChangeKind::CommentAdded;
        assert!(may_see(&therapist, on_team, kind, Audience::Team));
        assert!(!may_see(&client, own, kind, Audience::Team));
        assert!(may_see(&client, own, kind, Audience::Everyone));
    }

    fn relation() -> impl Strategy<Value = ClientRelation> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(prop::sample::select(CaregiverPermission::ALL.to_vec())),
        )
            .prop_map(|(in_organization, is_self, on_care_team, caregiver)| {
                ClientRelation {
                    in_organization,
                    is_self,
                    on_care_team,
                    caregiver,
                }
            })
    }

    proptest! {
        /// Hearing of a change never reaches further than reading the record would.
        #[test]
        fn a_change_is_heard_only_by_those_who_may_read_it(
            role in prop::sample::select(Role::ALL.to_vec()),
            scopes in prop::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len()),
            relation in relation(),
            kind in prop::sample::select(ChangeKind::ALL.to_vec()),
            audience in prop::sample::select(Audience::ALL.to_vec()),
        ) {
            let who = principal(role, scopes);
            if may_see(&who, relation, kind, audience) {
                prop_assert_eq!(decide(&who, relation, kind.read_action()), Decision::Allow);
                if audience == Audience::Team {
                    prop_assert!(matches!(role, Role::Admin | Role::Therapist | Role::Service));
                }
            }
        }
    }
}

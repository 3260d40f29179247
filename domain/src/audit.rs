//! The audit trail: an append-only account of who touched which record, and how it went.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::identity::{text_enum, Role};

text_enum!(
    /// How an audited request ended.
    Outcome {
        Success => "success",
        /// The policy refused: the record was visible but the action not allowed.
        Denied => "denied",
        /// The record was outside the caller's reach (or absent).
        NotFound => "not-found",
        /// The request was refused for its content (validation, conflict).
        Failed => "failed",
    }
);

/// One audit event, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub organization_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<Role>,
    /// What was done, as `resource.verb` (`client.read`, `auth.login`).
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub client_id: Option<Uuid>,
    pub outcome: Outcome,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}

/// The request an event belongs to: who, from where, under which request id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}

/// Every audited action, in plain words a client reads: its code (`resource.verb`, as
/// stored and as integrators filter by it), what was done (past tense, after a name),
/// and what was attempted (after "tried to", for a refused or failed request).
pub const ACTIONS: &[(&str, &str, &str)] = &[
    (
        "activity.adherence",
        "viewed how you keep up with your home programme",
        "view how you keep up with your home programme",
    ),
    (
        "activity.list",
        "viewed your home programme",
        "view your home programme",
    ),
    (
        "activity.prescribe",
        "prescribed a home activity",
        "prescribe a home activity",
    ),
    (
        "activity.read",
        "viewed a home activity",
        "view a home activity",
    ),
    (
        "activity.revise",
        "changed a home activity",
        "change a home activity",
    ),
    (
        "activity.stop",
        "stopped a home activity",
        "stop a home activity",
    ),
    (
        "audit.search",
        "searched the clinic's audit trail",
        "search the clinic's audit trail",
    ),
    (
        "auth.invitation_accept",
        "accepted an invitation and set a password",
        "accept an invitation",
    ),
    ("auth.login", "signed in", "sign in"),
    ("auth.logout", "signed out", "sign out"),
    ("auth.refresh", "renewed a sign-in", "renew a sign-in"),
    (
        "auth.refresh_reuse",
        "reused an old sign-in token",
        "reuse an old sign-in token",
    ),
    (
        "care_plan.list",
        "viewed your plans of care",
        "view your plans of care",
    ),
    (
        "care_plan.read",
        "viewed a plan of care",
        "view a plan of care",
    ),
    (
        "care_team.add",
        "added a member to your care team",
        "add a member to your care team",
    ),
    (
        "care_team.read",
        "viewed your care team",
        "view your care team",
    ),
    (
        "care_team.remove",
        "removed a member from your care team",
        "remove a member from your care team",
    ),
    (
        "caregiver.change",
        "changed what a caregiver of yours may do",
        "change what a caregiver of yours may do",
    ),
    (
        "caregiver.grant",
        "gave a caregiver access to your record",
        "give a caregiver access to your record",
    ),
    (
        "caregiver.read",
        "viewed your caregivers",
        "view your caregivers",
    ),
    (
        "caregiver.revoke",
        "ended a caregiver's access to your record",
        "end a caregiver's access to your record",
    ),
    (
        "check_in.flagged",
        "saw your check-in among those flagged for the care team",
        "list flagged check-ins",
    ),
    (
        "check_in.list",
        "viewed your check-ins",
        "view your check-ins",
    ),
    (
        "check_in.record",
        "recorded a check-in",
        "record a check-in",
    ),
    (
        "client.access_log",
        "viewed your access log",
        "view your access log",
    ),
    (
        "client.create",
        "registered your record",
        "register your record",
    ),
    (
        "client.invite",
        "invited you to a login of your own",
        "invite you to a login of your own",
    ),
    (
        "client.list",
        "saw your name and record numbers in the client list",
        "list clients",
    ),
    ("client.read", "viewed your record", "view your record"),
    ("client.update", "changed your record", "change your record"),
    (
        "client.versions",
        "viewed earlier versions of your record",
        "view earlier versions of your record",
    ),
    (
        "episode.create",
        "opened an episode of care",
        "open an episode of care",
    ),
    (
        "episode.list",
        "viewed your episodes of care",
        "view your episodes of care",
    ),
    (
        "episode.read",
        "viewed an episode of your care",
        "view an episode of your care",
    ),
    (
        "episode.update",
        "updated an episode of care",
        "update an episode of care",
    ),
    (
        "events.follow",
        "started following changes live",
        "follow changes live",
    ),
    (
        "events.receive",
        "was sent live updates of your record",
        "receive live updates of your record",
    ),
    ("goal.agree", "agreed to a goal", "agree to a goal"),
    ("goal.comment", "commented on a goal", "comment on a goal"),
    (
        "goal.comments",
        "read the comments on a goal",
        "read the comments on a goal",
    ),
    ("goal.list", "viewed your goals", "view your goals"),
    ("goal.propose", "proposed a goal", "propose a goal"),
    ("goal.read", "viewed a goal", "view a goal"),
    ("goal.revise", "revised a goal", "revise a goal"),
    (
        "goal.revisions",
        "viewed a goal's history",
        "view a goal's history",
    ),
    (
        "goal.status",
        "changed a goal's status",
        "change a goal's status",
    ),
    (
        "me.read",
        "viewed their own profile",
        "view their own profile",
    ),
    (
        "measure.create",
        "added a measure to the clinic's catalogue",
        "add a measure to the clinic's catalogue",
    ),
    (
        "measure.primary_source",
        "chose whose ratings a measure's figures follow",
        "choose whose ratings a measure's figures follow",
    ),
    (
        "measurement.correct",
        "corrected a measurement",
        "correct a measurement",
    ),
    (
        "measurement.history",
        "viewed a measurement's history",
        "view a measurement's history",
    ),
    (
        "measurement.list",
        "viewed your measurements",
        "view your measurements",
    ),
    (
        "measurement.read",
        "viewed a measurement",
        "view a measurement",
    ),
    (
        "measurement.record",
        "recorded a measurement",
        "record a measurement",
    ),
    (
        "organization.create",
        "created the clinic",
        "create the clinic",
    ),
    (
        "practice.correct",
        "corrected a practice log",
        "correct a practice log",
    ),
    (
        "practice.list",
        "viewed your practice log",
        "view your practice log",
    ),
    ("practice.log", "logged practice", "log practice"),
    (
        "practice.read",
        "viewed a practice log entry",
        "view a practice log entry",
    ),
    (
        "practitioner.list",
        "looked up the clinic's therapists",
        "look up the clinic's therapists",
    ),
    (
        "practitioner.read",
        "looked up a therapist",
        "look up a therapist",
    ),
    (
        "progress.chart",
        "viewed your progress chart",
        "view your progress chart",
    ),
    (
        "progress.milestones",
        "viewed your milestones",
        "view your milestones",
    ),
    (
        "progress.read",
        "viewed your progress",
        "view your progress",
    ),
    (
        "progress.series",
        "viewed your progress figures for a goal",
        "view your progress figures for a goal",
    ),
    (
        "question.answer",
        "answered your question",
        "answer your question",
    ),
    (
        "question.ask",
        "asked the care team a question",
        "ask the care team a question",
    ),
    (
        "question.list",
        "viewed your questions",
        "view your questions",
    ),
    (
        "question.note",
        "added a care team note to your question",
        "add a care team note to your question",
    ),
    (
        "question.read",
        "viewed your question",
        "view your question",
    ),
    (
        "question.unanswered",
        "saw your question among those waiting for an answer",
        "list unanswered questions",
    ),
    (
        "sync.read",
        "copied your record to an app, to read offline",
        "copy your record to an app, to read offline",
    ),
    ("user.create", "created an account", "create an account"),
    (
        "user.list",
        "saw your account in the user directory",
        "list the user directory",
    ),
    (
        "user.read",
        "viewed your account in the user directory",
        "view your account in the user directory",
    ),
    ("user.update", "changed your account", "change your account"),
    (
        "webhook.create",
        "registered a webhook endpoint",
        "register a webhook endpoint",
    ),
    (
        "webhook.delete",
        "deleted a webhook endpoint",
        "delete a webhook endpoint",
    ),
    (
        "webhook.deliveries",
        "viewed a webhook endpoint's deliveries",
        "view a webhook endpoint's deliveries",
    ),
    (
        "webhook.list",
        "listed the webhook endpoints",
        "list the webhook endpoints",
    ),
    (
        "webhook.read",
        "viewed a webhook endpoint",
        "view a webhook endpoint",
    ),
    (
        "webhook.redeliver",
        "asked for a webhook delivery to be sent again",
        "redeliver a webhook delivery",
    ),
    (
        "webhook.rotate_secret",
        "rotated a webhook endpoint's signing secret",
        "rotate a webhook endpoint's signing secret",
    ),
    (
        "webhook.update",
        "changed a webhook endpoint",
        "change a webhook endpoint",
    ),
];

/// A role as a client would name it.
pub fn role_words(role: Role) -> &'static str {
    match role {
        Role::Admin => "administrator",
        Role::Therapist => "therapist",
        Role::Client => "client",
        Role::Caregiver => "caregiver",
        Role::Service => "connected system",
    }
}

/// Whether `action` has plain words in [`ACTIONS`].
pub fn is_described(action: &str) -> bool {
    ACTIONS.iter().any(|(code, ..)| *code == action)
}

/// Who did something, as the reader of an access log sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who<'a> {
    /// The reader themselves.
    You,
    /// Someone else, by the name the clinic knows them by (if any) and role (if any).
    Someone {
        name: Option<&'a str>,
        role: Option<Role>,
    },
}

/// One access-log entry in a sentence: who (name and role, or "You") did what to
/// the record, and how a refused or failed attempt ended. For example
/// "Olivia Okafor (therapist) viewed your progress chart", or "Sam Reed (caregiver)
/// tried to change your record and was refused". An action without plain words
/// (none today: a test holds every stored code to [`ACTIONS`]) is named by its code.
pub fn describe(who: Who<'_>, action: &str, outcome: Outcome) -> String {
    let subject = match who {
        Who::You => "You".to_owned(),
        Who::Someone { name, role } => match (name, role) {
            (Some(n), Some(r)) => format!("{n} ({})", role_words(r)),
            (Some(n), None) => n.to_owned(),
            (None, Some(r)) => format!("Someone ({})", role_words(r)),
            (None, None) => "Someone".to_owned(),
        },
    };
    let (done, tried) = ACTIONS
        .iter()
        .find(|(code, ..)| *code == action)
        .map_or_else(
            || (format!("did {action}"), format!("do {action}")),
            |(_, done, tried)| ((*done).to_owned(), (*tried).to_owned()),
        );
    match outcome {
        Outcome::Success => format!("{subject} {done}"),
        Outcome::Denied | Outcome::NotFound => {
            format!("{subject} tried to {tried} and was refused")
        }
        Outcome::Failed => format!("{subject} tried to {tried}, but it did not go through"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_log_entry_reads_as_a_sentence() {
        let olivia = Who::Someone {
            name: Some("Olivia Okafor"),
            role: Some(Role::Therapist),
        };
        assert_eq!(
            describe(olivia, "progress.chart", Outcome::Success),
            "Olivia Okafor (therapist) viewed your progress chart"
        );
        assert_eq!(
            describe(olivia, "measurement.record", Outcome::Success),
            "Olivia Okafor (therapist) recorded a measurement"
        );
        assert_eq!(
            describe(Who::You, "goal.propose", Outcome::Success),
            "You proposed a goal"
        );
        let sam = Who::Someone {
            name: Some("Sam Reed"),
            role: Some(Role::Caregiver),
        };
        assert_eq!(
            describe(sam, "client.update", Outcome::Denied),
            "Sam Reed (caregiver) tried to change your record and was refused"
        );
        assert_eq!(
            describe(sam, "goal.agree", Outcome::Failed),
            "Sam Reed (caregiver) tried to agree to a goal, but it did not go through"
        );
        let unnamed = Who::Someone {
            name: None,
            role: Some(Role::Service),
        };
        assert_eq!(
            describe(unnamed, "client.list", Outcome::Success),
            "Someone (connected system) saw your name and record numbers in the client list"
        );
        assert_eq!(describe(Who::You, "x.y", Outcome::Success), "You did x.y");
    }

    #[test]
    fn every_action_is_described_once_in_code_order() {
        let codes: Vec<&str> = ACTIONS.iter().map(|(c, ..)| *c).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "codes are unique and sorted");
        for (code, done, tried) in ACTIONS {
            assert!(code.contains('.') && !done.is_empty() && !tried.is_empty());
            assert!(!done.contains(code) && !tried.contains(code), "{code}");
        }
    }
}

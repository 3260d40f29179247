//! Who cares for a client and how, as FHIR R4 resources: therapists (Practitioner,
//! PractitionerRole), caregivers (RelatedPerson), the care team (CareTeam), episodes
//! (EpisodeOfCare) and each episode's plan of care (CarePlan). Pure functions from
//! domain values to fhirkit types, like `map`; the codes and their sources are in
//! `docs/fhir.md`.

use chrono::{DateTime, Utc};
use domain::audit::Outcome;
use domain::{
    client::{CareTeamMember, CaregiverLink, TeamRole},
    goal::{Episode, EpisodeStatus},
    home::ActivityStatus,
    identity::{Discipline, User},
};
use fhirkit::{
    primitive::Primitive,
    r4::{
        AuditEvent, AuditEventAgent, AuditEventEntity, AuditEventSource, CarePlan,
        CarePlanActivity, CarePlanActivityDetail, CarePlanActivityDetailScheduled, CareTeam,
        CareTeamParticipant, CodeableConcept, Coding, ContactPoint, EpisodeOfCare,
        EpisodeOfCareDiagnosis, ExtensionValue, HumanName, Identifier, Meta, Period, Practitioner,
        PractitionerRole, Reference, RelatedPerson, Timing, TimingRepeat, TimingRepeatBounds,
    },
};
use persistence::ops::{audit::AccessEntry, ehr::PlanOfCare};
use uuid::Uuid;

use super::map::{coding, concept, date, decimal, extension, instant, meta, reference, text};

pub const SNOMED: &str = "http://snomed.info/sct";
/// HL7 v3 RoleClass: CAREGIVER, the role every caregiver link is.
pub const ROLE_CLASS: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleClass";
/// HL7 v3 RoleCode: the personal relationship, when the words given name one.
pub const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
pub const DISCIPLINE_SYSTEM: &str = "urn:headway:fhir:CodeSystem:discipline";
pub const TEAM_ROLE_SYSTEM: &str = "urn:headway:fhir:CodeSystem:care-team-role";
pub const CARE_PLAN_CATEGORY_SYSTEM: &str = "urn:headway:fhir:CodeSystem:care-plan-category";
pub const ORGANIZATION_SYSTEM: &str = "urn:headway:fhir:NamingSystem:organization";
pub const PERMISSION_URL: &str = "urn:headway:fhir:StructureDefinition:caregiver-permission";
pub const REFERRAL_URL: &str = "urn:headway:fhir:StructureDefinition:reason-for-referral";

/// The SNOMED CT occupation of a discipline (the NUCC to SNOMED CT care team member
/// function map of the HL7 Da Vinci HRex IG, and the occupation hierarchy).
pub fn occupation(discipline: Discipline) -> Option<(&'static str, &'static str)> {
    Some(match discipline {
        Discipline::OccupationalTherapy => ("80546007", "Occupational therapist"),
        Discipline::PhysicalTherapy => ("36682004", "Physiotherapist"),
        Discipline::SpeechLanguage => ("159026005", "Speech and language therapist"),
        Discipline::Psychology => ("59944000", "Psychologist"),
        Discipline::Nursing => ("106292003", "Professional nurse"),
        Discipline::Other => return None,
    })
}

/// A discipline as a concept: its SNOMED CT occupation where there is one, and
/// Headway's code.
fn discipline_concept(discipline: Option<Discipline>) -> Option<CodeableConcept> {
    let d = discipline?;
    let mut codings = Vec::new();
    if let Some((code, display)) = occupation(d) {
        codings.push(coding(SNOMED, code, Some(display)));
    }
    codings.push(coding(DISCIPLINE_SYSTEM, d.as_str(), None));
    Some(concept(codings, None))
}

/// The HL7 v3 RoleCode a caregiver's relationship names, when its words are one of
/// the plain ones (any case); otherwise none, and the words stay as text.
pub fn relationship_code(words: &str) -> Option<(&'static str, &'static str)> {
    let w = words.trim().to_lowercase();
    Some(match w.as_str() {
        "spouse" => ("SPS", "spouse"),
        "husband" => ("HUSB", "husband"),
        "wife" => ("WIFE", "wife"),
        "partner" | "domestic partner" => ("DOMPART", "domestic partner"),
        "mother" | "mum" | "mom" => ("MTH", "mother"),
        "father" | "dad" => ("FTH", "father"),
        "parent" => ("PRN", "parent"),
        "daughter" => ("DAU", "natural daughter"),
        "son" => ("SON", "natural son"),
        "child" => ("CHILD", "child"),
        "sister" => ("SIS", "sister"),
        "brother" => ("BRO", "brother"),
        "sibling" => ("SIB", "sibling"),
        "grandmother" | "grandfather" | "grandparent" => ("GRPRN", "grandparent"),
        "granddaughter" | "grandson" | "grandchild" => ("GRNDCHILD", "grandchild"),
        "friend" => ("FRND", "unrelated friend"),
        "neighbour" | "neighbor" => ("NBOR", "neighbor"),
        "family" | "family member" | "relative" => ("FAMMEMB", "family member"),
        _ => return None,
    })
}

fn period(start: Option<String>, end: Option<String>) -> Option<Period> {
    (start.is_some() || end.is_some()).then(|| Period {
        start: start.and_then(text),
        end: end.and_then(text),
        ..Period::default()
    })
}

fn named(kind: &str, id: Uuid, name: &str) -> Reference {
    Reference {
        display: text(name),
        ..reference(kind, id)
    }
}

fn email(address: Option<&str>) -> Vec<ContactPoint> {
    address
        .map(|v| ContactPoint {
            system: text("email"),
            value: text(v),
            use_: text("work"),
            ..ContactPoint::default()
        })
        .into_iter()
        .collect()
}

fn last_updated(at: DateTime<Utc>) -> Option<Meta> {
    Some(Meta {
        last_updated: text(instant(at)),
        ..Meta::default()
    })
}

/// A therapist as a Practitioner.
pub fn practitioner(u: &User) -> Practitioner {
    Practitioner {
        id: Some(u.id.to_string()),
        meta: meta(u.version, u.updated_at),
        active: Some(Primitive::new(u.active)),
        name: vec![HumanName {
            use_: text("official"),
            text: text(u.display_name.clone()),
            ..HumanName::default()
        }],
        telecom: email(u.email.as_deref()),
        ..Practitioner::default()
    }
}

/// A therapist's role in their clinic: one PractitionerRole per therapist, with the
/// Practitioner's id. The clinic is named by identifier (Headway serves no
/// Organization).
pub fn practitioner_role(u: &User) -> PractitionerRole {
    PractitionerRole {
        id: Some(u.id.to_string()),
        meta: meta(u.version, u.updated_at),
        active: Some(Primitive::new(u.active)),
        practitioner: Some(named("Practitioner", u.id, &u.display_name)),
        organization: Some(Reference {
            identifier: Some(Box::new(Identifier {
                system: text(ORGANIZATION_SYSTEM),
                value: text(u.organization_id.to_string()),
                ..Identifier::default()
            })),
            ..Reference::default()
        }),
        code: discipline_concept(u.discipline).into_iter().collect(),
        telecom: email(u.email.as_deref()),
        ..PractitionerRole::default()
    }
}

/// A caregiver link as a RelatedPerson: one per link (a caregiver granted access
/// again is a new one), active while the link is.
pub fn related_person(l: &CaregiverLink) -> RelatedPerson {
    let mut relationship = vec![concept(
        vec![coding(ROLE_CLASS, "CAREGIVER", Some("caregiver"))],
        None,
    )];
    if let Some(words) = l.relationship.as_deref().filter(|w| !w.trim().is_empty()) {
        let codings = relationship_code(words)
            .map(|(code, display)| coding(ROLE_CODE, code, Some(display)))
            .into_iter()
            .collect();
        relationship.push(concept(codings, Some(words)));
    }
    RelatedPerson {
        id: Some(l.id.to_string()),
        meta: Some(Meta {
            version_id: text(l.version.to_string()),
            ..Meta::default()
        }),
        extension: vec![extension(
            PERMISSION_URL,
            ExtensionValue::Code(Primitive::new(l.permission.as_str().to_owned())),
        )],
        active: Some(Primitive::new(l.revoked_at.is_none())),
        patient: Some(reference("Patient", l.client_id)),
        relationship,
        name: vec![HumanName {
            text: text(l.caregiver_name.clone()),
            ..HumanName::default()
        }],
        telecom: email(l.caregiver_email.as_deref())
            .into_iter()
            .map(|c| ContactPoint { use_: None, ..c })
            .collect(),
        period: period(Some(instant(l.granted_at)), l.revoked_at.map(instant)),
        ..RelatedPerson::default()
    }
}

fn team_role(role: TeamRole) -> Coding {
    let display = match role {
        TeamRole::PrimaryTherapist => "Primary therapist",
        TeamRole::Consulting => "Consulting therapist",
        TeamRole::Supporting => "Supporting therapist",
    };
    coding(TEAM_ROLE_SYSTEM, role.as_str(), Some(display))
}

/// When a care team last changed: its latest joining or leaving.
pub fn team_changed(members: &[CareTeamMember]) -> Option<DateTime<Utc>> {
    members
        .iter()
        .flat_map(|m| [Some(m.added_at), m.removed_at])
        .flatten()
        .max()
}

/// A client's care team (one per client, with the client's id), its past members
/// with the period they served.
pub fn care_team(client_id: Uuid, members: &[CareTeamMember]) -> CareTeam {
    let current = members.iter().any(|m| m.removed_at.is_none());
    CareTeam {
        id: Some(client_id.to_string()),
        meta: team_changed(members).and_then(last_updated),
        status: text(if current { "active" } else { "inactive" }),
        name: text("Care team"),
        subject: Some(reference("Patient", client_id)),
        period: members
            .iter()
            .map(|m| m.added_at)
            .min()
            .and_then(|start| period(Some(instant(start)), None)),
        participant: members
            .iter()
            .map(|m| {
                let mut role = vec![concept(vec![team_role(m.team_role)], None)];
                role.extend(discipline_concept(m.discipline));
                CareTeamParticipant {
                    role,
                    member: Some(named("Practitioner", m.therapist_id, &m.therapist_name)),
                    period: period(Some(instant(m.added_at)), m.removed_at.map(instant)),
                    ..CareTeamParticipant::default()
                }
            })
            .collect(),
        ..CareTeam::default()
    }
}

/// FHIR EpisodeOfCare.status for Headway's episode states (the same words).
pub fn episode_status(s: EpisodeStatus) -> &'static str {
    match s {
        EpisodeStatus::Planned => "planned",
        EpisodeStatus::Active => "active",
        EpisodeStatus::Finished => "finished",
        EpisodeStatus::Cancelled => "cancelled",
    }
}

/// FHIR CarePlan.status for an episode's state: a planned episode's plan is a
/// draft, a finished one's completed, a cancelled one's revoked.
pub fn plan_status(s: EpisodeStatus) -> &'static str {
    match s {
        EpisodeStatus::Planned => "draft",
        EpisodeStatus::Active => "active",
        EpisodeStatus::Finished => "completed",
        EpisodeStatus::Cancelled => "revoked",
    }
}

fn episode_period(e: &Episode) -> Option<Period> {
    period(
        Some(e.start_date.format("%Y-%m-%d").to_string()),
        e.end_date.map(|d| d.format("%Y-%m-%d").to_string()),
    )
}

/// An episode as an EpisodeOfCare: its care manager is the client's primary
/// therapist now, its team the client's CareTeam.
pub fn episode_of_care(e: &Episode, team: &[CareTeamMember]) -> EpisodeOfCare {
    let manager = team
        .iter()
        .find(|m| m.removed_at.is_none() && m.team_role == TeamRole::PrimaryTherapist);
    EpisodeOfCare {
        id: Some(e.id.to_string()),
        meta: meta(e.version, e.updated_at),
        extension: vec![extension(
            REFERRAL_URL,
            ExtensionValue::String(Primitive::new(e.reason_for_referral.clone())),
        )],
        status: text(episode_status(e.status)),
        diagnosis: e
            .diagnoses
            .iter()
            .map(|d| EpisodeOfCareDiagnosis {
                condition: Some(Reference {
                    display: text(d.text.clone()),
                    ..Reference::default()
                }),
                ..EpisodeOfCareDiagnosis::default()
            })
            .collect(),
        patient: Some(reference("Patient", e.client_id)),
        period: episode_period(e),
        care_manager: manager.map(|m| named("Practitioner", m.therapist_id, &m.therapist_name)),
        team: (!team.is_empty())
            .then(|| reference("CareTeam", e.client_id))
            .into_iter()
            .collect(),
        ..EpisodeOfCare::default()
    }
}

/// When a plan of care last changed: its episode, a goal or an activity.
pub fn plan_changed(p: &PlanOfCare) -> DateTime<Utc> {
    let activity_changes = p.activities.iter().flat_map(|a| {
        std::iter::once(a.created_at).chain(a.versions.iter().map(|v| v.recorded_at))
    });
    p.goals
        .iter()
        .map(|g| g.updated_at)
        .chain(activity_changes)
        .fold(p.episode.updated_at, DateTime::max)
}

/// An episode's plan of care as a CarePlan (with the episode's id): its goals, and
/// the home programme as activities, each with its weekly frequency.
pub fn care_plan(p: &PlanOfCare) -> CarePlan {
    let e = &p.episode;
    let activity = p
        .activities
        .iter()
        .map(|a| {
            let rx = &a.prescription;
            let mut dose = Vec::new();
            if let Some(s) = rx.sets {
                dose.push(format!("{s} sets"));
            }
            if let Some(r) = rx.repetitions {
                dose.push(format!("{r} repetitions"));
            }
            if let Some(m) = rx.duration_minutes {
                dose.push(format!("{m} minutes"));
            }
            let repeat = TimingRepeat {
                bounds: Some(TimingRepeatBounds::Period(Period {
                    start: date(rx.start_date),
                    end: rx.end_date.or(a.stopped_on).and_then(date),
                    ..Period::default()
                })),
                frequency: Some(Primitive::new(i32::from(rx.times_per_week))),
                period: decimal(1.0),
                period_unit: text("wk"),
                duration: rx.duration_minutes.and_then(|m| decimal(f64::from(m))),
                duration_unit: rx.duration_minutes.and_then(|_| text("min")),
                ..TimingRepeat::default()
            };
            CarePlanActivity {
                detail: Some(CarePlanActivityDetail {
                    code: Some(CodeableConcept {
                        text: text(rx.instructions.clone()),
                        ..CodeableConcept::default()
                    }),
                    goal: vec![reference("Goal", a.goal_id)],
                    status: text(match a.status {
                        ActivityStatus::Active => "in-progress",
                        ActivityStatus::Stopped => "stopped",
                    }),
                    status_reason: a.stop_reason.as_deref().map(|r| CodeableConcept {
                        text: text(r),
                        ..CodeableConcept::default()
                    }),
                    scheduled: Some(CarePlanActivityDetailScheduled::Timing(Timing {
                        repeat: Some(repeat),
                        ..Timing::default()
                    })),
                    description: (!dose.is_empty()).then(|| dose.join(", ")).and_then(text),
                    ..CarePlanActivityDetail::default()
                }),
                ..CarePlanActivity::default()
            }
        })
        .collect();
    CarePlan {
        id: Some(e.id.to_string()),
        meta: last_updated(plan_changed(p)),
        status: text(plan_status(e.status)),
        intent: text("plan"),
        category: vec![concept(
            vec![coding(
                CARE_PLAN_CATEGORY_SYSTEM,
                "occupational-therapy",
                Some("Occupational therapy plan of care"),
            )],
            None,
        )],
        title: text(format!("Plan of care: {}", e.reason_for_referral)),
        subject: Some(reference("Patient", e.client_id)),
        period: episode_period(e),
        care_team: vec![reference("CareTeam", e.client_id)],
        goal: p.goals.iter().map(|g| reference("Goal", g.id)).collect(),
        activity,
        ..CarePlan::default()
    }
}

// --- The access log ---------------------------------------------------------------

pub const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
pub const AUDIT_ACTION_SYSTEM: &str = "urn:headway:fhir:CodeSystem:audit-action";

/// FHIR AuditEvent.action (C, R, U, D or E) for Headway's action code, by its verb.
pub fn audit_action(code: &str) -> &'static str {
    let verb = code.rsplit('.').next().unwrap_or_default();
    match verb {
        "read" | "list" | "search" | "history" | "revisions" | "versions" | "comments"
        | "chart" | "series" | "milestones" | "access_log" | "adherence" | "deliveries"
        | "unanswered" | "flagged" | "follow" => "R",
        "create" | "propose" | "record" | "grant" | "add" | "prescribe" | "ask" | "invite"
        | "open" => "C",
        "remove" | "revoke" | "delete" | "stop" => "D",
        "update" | "revise" | "change" | "correct" | "status" | "agree" | "answer" | "note"
        | "primary_source" | "sign" => "U",
        _ => "E",
    }
}

/// One entry of a client's access log as an AuditEvent: who (by role: a therapist as
/// Practitioner, the client as their Patient, anyone else by name), what
/// (Headway's action code, in plain words), when and how it ended.
pub fn audit_event(client_id: Uuid, e: &AccessEntry) -> AuditEvent {
    use domain::identity::Role;
    let who = match (e.actor_role, e.actor_id) {
        (Some(Role::Therapist), Some(id)) => Some(reference("Practitioner", id)),
        (Some(Role::Client), Some(_)) => Some(reference("Patient", client_id)),
        _ => None,
    }
    .map(|r| Reference {
        display: e.actor_name.clone().and_then(text),
        ..r
    });
    let agent = AuditEventAgent {
        type_: e.actor_role.map(|r| CodeableConcept {
            text: text(r.as_str()),
            ..CodeableConcept::default()
        }),
        who,
        name: e.actor_name.clone().and_then(text),
        requestor: Some(Primitive::new(e.actor_id.is_some())),
        ..AuditEventAgent::default()
    };
    AuditEvent {
        id: Some(e.id.to_string()),
        meta: last_updated(e.occurred_at),
        type_: Some(coding(DICOM, "110110", Some("Patient Record"))),
        subtype: vec![coding(AUDIT_ACTION_SYSTEM, &e.action, None)],
        action: text(audit_action(&e.action)),
        recorded: text(instant(e.occurred_at)),
        outcome: text(match e.outcome {
            Outcome::Success => "0",
            _ => "4",
        }),
        outcome_desc: text(e.outcome.as_str()),
        agent: vec![agent],
        source: Some(AuditEventSource {
            observer: Some(Reference {
                display: text("Headway"),
                ..Reference::default()
            }),
            ..AuditEventSource::default()
        }),
        entity: vec![AuditEventEntity {
            what: Some(reference("Patient", client_id)),
            description: text(e.description.clone()),
            ..AuditEventEntity::default()
        }],
        ..AuditEvent::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clinical_discipline_has_its_snomed_occupation() {
        assert_eq!(
            occupation(Discipline::OccupationalTherapy),
            Some(("80546007", "Occupational therapist"))
        );
        for d in Discipline::ALL {
            assert_eq!(occupation(*d).is_none(), *d == Discipline::Other, "{d:?}");
        }
    }

    #[test]
    fn plain_relationships_get_their_role_code_and_others_stay_words() {
        assert_eq!(
            relationship_code(" Daughter "),
            Some(("DAU", "natural daughter"))
        );
        assert_eq!(
            relationship_code("family"),
            Some(("FAMMEMB", "family member"))
        );
        assert_eq!(relationship_code("my neighbour's son"), None);
    }

    #[test]
    fn audit_actions_read_their_verb() {
        assert_eq!(audit_action("client.read"), "R");
        assert_eq!(audit_action("goal.propose"), "C");
        assert_eq!(audit_action("caregiver.revoke"), "D");
        assert_eq!(audit_action("measurement.correct"), "U");
        assert_eq!(audit_action("auth.login"), "E");
    }

    #[test]
    fn episode_states_keep_their_words_and_plans_follow_them() {
        assert_eq!(episode_status(EpisodeStatus::Finished), "finished");
        assert_eq!(plan_status(EpisodeStatus::Planned), "draft");
        assert_eq!(plan_status(EpisodeStatus::Cancelled), "revoked");
    }
}

//! Clients (the people receiving therapy), their identifiers, care teams and caregivers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{error::Problems, identity::text_enum, Invalid};

text_enum!(
    /// Whether the client is currently receiving care.
    ClientStatus {
        Active => "active",
        Discharged => "discharged",
    }
);

/// A client record as the clinic keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: ClientStatus,
    pub identifiers: Vec<ExternalIdentifier>,
    /// Increases with every change; each earlier version stays readable.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An identifier another system gives this client, e.g. an EHR's medical record number.
/// Unique per organization and system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExternalIdentifier {
    pub system: String,
    pub value: String,
}

impl ExternalIdentifier {
    /// Reads `system|value`, as a search names an identifier.
    pub fn parse_pair(field: &str, s: &str) -> Result<Self, Invalid> {
        s.split_once('|')
            .map(|(system, value)| ExternalIdentifier {
                system: system.to_owned(),
                value: value.to_owned(),
            })
            .ok_or_else(|| Invalid::field(field, "must be written system|value"))
    }
}

/// The demographic part of a client record: what a registration or a correction sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demographics {
    pub name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub identifiers: Vec<ExternalIdentifier>,
}

/// Raw demographic fields as a caller sent them, before the rules.
#[derive(Debug, Clone, Default)]
pub struct DemographicsInput<'a> {
    pub name: &'a str,
    pub preferred_name: Option<&'a str>,
    pub date_of_birth: Option<NaiveDate>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub identifiers: Vec<(&'a str, &'a str)>,
}

fn text(problems: &mut Problems, field: &str, raw: &str, max: usize) -> Option<String> {
    let value = raw.trim();
    if value.is_empty() {
        problems.add(field, "must not be blank");
        None
    } else if value.chars().count() > max {
        problems.add(field, format!("must be at most {max} characters"));
        None
    } else if value.chars().any(char::is_control) {
        problems.add(field, "must not contain control characters");
        None
    } else {
        Some(value.to_owned())
    }
}

impl Demographics {
    /// Applies the clinic's rules to what a caller sent; reports every broken rule.
    pub fn parse(input: &DemographicsInput<'_>, today: NaiveDate) -> Result<Self, Invalid> {
        let mut problems = Problems::default();
        let name = text(&mut problems, "name", input.name, 200);
        let preferred_name = input
            .preferred_name
            .and_then(|p| text(&mut problems, "preferred_name", p, 100));
        if let Some(dob) = input.date_of_birth {
            if dob > today {
                problems.add("date_of_birth", "must not be in the future");
            } else if dob < NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(NaiveDate::MIN) {
                problems.add("date_of_birth", "must be after 1880-01-01");
            }
        }
        let email = input
            .email
            .and_then(|e| problems.check(crate::identity::parse_email("email", e)));
        let phone = input.phone.and_then(|p| {
            let ok = p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
                && p.chars().filter(char::is_ascii_digit).count() >= 5;
            if ok {
                text(&mut problems, "phone", p, 32)
            } else {
                problems.add(
                    "phone",
                    "must be a phone number (digits, spaces, + - ( ) .)",
                );
                None
            }
        });
        let mut identifiers = Vec::new();
        for (i, (system, value)) in input.identifiers.iter().enumerate() {
            let system = text(
                &mut problems,
                &format!("identifiers[{i}].system"),
                system,
                255,
            );
            let value = text(
                &mut problems,
                &format!("identifiers[{i}].value"),
                value,
                255,
            );
            if let (Some(system), Some(value)) = (system, value) {
                let id = ExternalIdentifier { system, value };
                if identifiers.contains(&id) {
                    problems.add(format!("identifiers[{i}]"), "is listed twice");
                } else {
                    identifiers.push(id);
                }
            }
        }
        if input.identifiers.len() > 20 {
            problems.add("identifiers", "must hold at most 20 identifiers");
        }
        problems.finish()?;
        Ok(Demographics {
            name: name.unwrap_or_default(),
            preferred_name,
            date_of_birth: input.date_of_birth,
            email,
            phone,
            identifiers,
        })
    }
}

/// Why a change the caller may make cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A field names something that cannot take this part (HTTP 422).
    Invalid(Invalid),
    /// The records hold it already, or it clashes with them (HTTP 409).
    Conflict(String),
}

impl From<Invalid> for Refusal {
    fn from(e: Invalid) -> Self {
        Refusal::Invalid(e)
    }
}

impl Demographics {
    /// Identifiers are unique within a clinic. `holders[i]` is the client that holds
    /// `identifiers[i]` now, if any: a clash with another client names each one.
    pub fn identifiers_free_for(
        &self,
        client_id: Uuid,
        holders: &[Option<Uuid>],
    ) -> Result<(), Refusal> {
        let taken: Vec<String> = holders
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_some_and(|h| h != client_id))
            .map(|(i, _)| {
                format!(
                    "identifiers[{i}] is already assigned to another client in this organization"
                )
            })
            .collect();
        if taken.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Conflict(taken.join("; ")))
        }
    }
}

text_enum!(
    /// A therapist's part in a client's care team.
    TeamRole {
        PrimaryTherapist => "primary",
        Consulting => "consulting",
        Supporting => "supporting",
    }
);

/// A therapist on a client's care team, now or in the past.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CareTeamMember {
    pub id: Uuid,
    pub client_id: Uuid,
    pub therapist_id: Uuid,
    pub therapist_name: String,
    pub discipline: Option<crate::identity::Discipline>,
    pub team_role: TeamRole,
    pub added_by: Uuid,
    pub added_at: DateTime<Utc>,
    pub removed_by: Option<Uuid>,
    pub removed_at: Option<DateTime<Utc>>,
}

/// A caregiver's link to a client, granted by the client (or an admin on their behalf).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaregiverLink {
    pub id: Uuid,
    pub client_id: Uuid,
    pub caregiver_id: Uuid,
    pub caregiver_name: String,
    pub caregiver_email: Option<String>,
    pub relationship: Option<String>,
    pub permission: crate::policy::CaregiverPermission,
    pub granted_by: Uuid,
    pub granted_at: DateTime<Utc>,
    pub revoked_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Grows by one with every change; the entity tag is this number, quoted.
    pub version: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn demographics_are_trimmed_and_kept() {
        let d = Demographics::parse(
            &DemographicsInput {
                name: "  Maria Lopez ",
                preferred_name: Some("Mari"),
                email: Some("Maria@Example.org"),
                phone: Some("+1 (555) 010-2000"),
                identifiers: vec![("urn:ehr:mrn", "12345")],
                ..Default::default()
            },
            today(),
        );
        let d = d.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.name, "Maria Lopez");
        assert_eq!(d.email.as_deref(), Some("maria@example.org"));
        assert_eq!(d.identifiers.len(), 1);
    }

    #[test]
    fn an_identifier_held_by_another_client_is_a_conflict_naming_it() {
        let d = Demographics::parse(
            &DemographicsInput {
                name: "Maria",
                identifiers: vec![("sys", "1"), ("sys", "2"), ("sys", "3")],
                ..Default::default()
            },
            today(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(d.identifiers_free_for(me, &[Some(me), None, None]), Ok(()));
        assert_eq!(
            d.identifiers_free_for(me, &[None, Some(other), Some(other)]),
            Err(Refusal::Conflict(
                "identifiers[1] is already assigned to another client in this organization; \
                 identifiers[2] is already assigned to another client in this organization"
                    .into()
            ))
        );
    }

    #[test]
    fn an_identifier_is_searched_as_system_bar_value() {
        let found = ExternalIdentifier::parse_pair("identifier", "urn:ehr|12|3");
        assert_eq!(
            found,
            Ok(ExternalIdentifier {
                system: "urn:ehr".into(),
                value: "12|3".into()
            })
        );
        assert_eq!(
            ExternalIdentifier::parse_pair("identifier", "12345"),
            Err(Invalid::field("identifier", "must be written system|value"))
        );
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let err = Demographics::parse(
            &DemographicsInput {
                name: " ",
                date_of_birth: NaiveDate::from_ymd_opt(2030, 1, 1),
                email: Some("nope"),
                phone: Some("call me"),
                identifiers: vec![("sys", "1"), ("sys", "1"), ("", "2")],
                ..Default::default()
            },
            today(),
        )
        .err()
        .map(|Invalid(e)| e.into_iter().map(|f| f.field).collect::<Vec<_>>());
        assert_eq!(
            err,
            Some(vec![
                "name".to_owned(),
                "date_of_birth".into(),
                "email".into(),
                "phone".into(),
                "identifiers[1]".into(),
                "identifiers[2].system".into()
            ])
        );
    }
}

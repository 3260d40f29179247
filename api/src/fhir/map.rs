//! Headway's records as FHIR R4 resources: pure functions from domain values to
//! fhirkit types, with no connection and no caller (what a caller may see was settled
//! by the operation that fetched them). The codes and their sources are in
//! `docs/fhir.md`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use domain::{
    client::Client,
    goal::{Goal, Side},
    measure::{Instrument, Measurement, MeasurementStatus, OutcomeMeasure, Source},
};
use fhirkit::{
    primitive::{Decimal, Primitive},
    r4::{
        CodeableConcept, Coding, ContactPoint, Extension, ExtensionValue, Goal as FhirGoal,
        GoalStart, GoalTarget, GoalTargetDetail, GoalTargetDue, HumanName, Identifier, Meta,
        Observation, ObservationComponent, ObservationComponentValue, ObservationEffective,
        ObservationValue, Patient, Quantity, Reference,
    },
};
use persistence::ops::search::{GoalStanding, Versioned};
use uuid::Uuid;

/// Headway's own code systems and extensions. Headway owns no web domain to publish
/// them under, so they are URNs: valid FHIR URIs that promise no resolvable page.
pub const MEASURE_SYSTEM: &str = "urn:headway:fhir:CodeSystem:outcome-measure";
pub const MEASURE_PART_SYSTEM: &str = "urn:headway:fhir:CodeSystem:measure-part";
pub const OCCUPATION_SYSTEM: &str = "urn:headway:fhir:CodeSystem:occupation-area";
pub const GOAL_LABEL_SYSTEM: &str = "urn:headway:fhir:NamingSystem:goal-label";
pub const CLIENT_WORDS_URL: &str = "urn:headway:fhir:StructureDefinition:client-words";
pub const AGREEMENT_URL: &str = "urn:headway:fhir:StructureDefinition:goal-agreement";
pub const SOURCE_URL: &str = "urn:headway:fhir:StructureDefinition:measurement-source";
pub const TERM_URL: &str = "urn:headway:fhir:StructureDefinition:goal-term";
pub const IMPORTANCE_URL: &str = "urn:headway:fhir:StructureDefinition:goal-importance";

pub const LOINC: &str = "http://loinc.org";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const GOAL_ACHIEVEMENT: &str = "http://terminology.hl7.org/CodeSystem/goal-achievement";
const UCUM: &str = "http://unitsofmeasure.org";

/// The GAS follow-up score by who rated it (HL7 Person-Centered Outcomes IG STU1,
/// ValueSet goal-attainment-scaling-score); 107332-9 ("reported") when the rater is
/// an imported record's and unknown.
pub fn gas_loinc(source: Source) -> (&'static str, &'static str) {
    match source {
        Source::Therapist => (
            "107333-7",
            "Practitioner follow-up goal attainment scaling score",
        ),
        Source::ClientSelfReport => (
            "107334-5",
            "Patient follow-up goal attainment scaling score",
        ),
        Source::Caregiver => (
            "107331-1",
            "Caregiver follow-up goal attainment scaling score",
        ),
        Source::Imported => ("107332-9", "Goal attainment scale - Reported"),
    }
}

/// Which sources a LOINC code of the GAS value set stands for, when it is one.
pub fn gas_sources_of_loinc(code: &str) -> Option<Vec<Source>> {
    match code {
        "107332-9" => Some(Source::ALL.to_vec()),
        _ => Source::ALL
            .iter()
            .find(|s| gas_loinc(**s).0 == code && **s != Source::Imported)
            .map(|s| vec![*s]),
    }
}

/// The LOINC answer for a GAS level (HL7 PCO IG STU1 examples; LA34481-4 for 0).
fn gas_answer(level: i32) -> Option<(&'static str, &'static str)> {
    Some(match level {
        2 => ("LA34479-8", "Much better than expected"),
        1 => ("LA34480-6", "Better than expected"),
        0 => ("LA34481-4", "Expected outcome"),
        -1 => ("LA34483-0", "Less than expected"),
        -2 => ("LA34484-8", "Much less than expected"),
        _ => return None,
    })
}

/// The GAS level an LA answer code stands for.
pub fn gas_level_of_answer(code: &str) -> Option<i32> {
    (-2..=2).find(|level| gas_answer(*level).is_some_and(|(c, _)| c == code))
}

/// FHIR's observation category for a measure: standardised instruments are
/// `survey`; a clinic's own rating scale is `therapy`.
pub fn category_of(instrument: Instrument) -> &'static str {
    match instrument {
        Instrument::Scale => "therapy",
        _ => "survey",
    }
}

pub fn text(s: impl Into<String>) -> Option<Primitive<String>> {
    Some(Primitive::new(s.into()))
}

pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub(super) fn date(d: NaiveDate) -> Option<Primitive<String>> {
    text(d.format("%Y-%m-%d").to_string())
}

pub(super) fn decimal(v: f64) -> Option<Primitive<Decimal>> {
    // Scores are finite (the domain refuses others); a shortest round-trip form.
    let shown = if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    };
    Decimal::parse(&shown).ok().map(Primitive::new)
}

pub fn coding(system: &str, code: &str, display: Option<&str>) -> Coding {
    Coding {
        system: text(system),
        code: text(code),
        display: display.map(text).unwrap_or_default(),
        ..Coding::default()
    }
}

pub(super) fn concept(codings: Vec<Coding>, label: Option<&str>) -> CodeableConcept {
    CodeableConcept {
        coding: codings,
        text: label.map(text).unwrap_or_default(),
        ..CodeableConcept::default()
    }
}

pub fn reference(kind: &str, id: Uuid) -> Reference {
    Reference {
        reference: text(format!("{kind}/{id}")),
        ..Reference::default()
    }
}

pub(super) fn meta(version: i32, updated: DateTime<Utc>) -> Option<Meta> {
    Some(Meta {
        version_id: text(version.to_string()),
        last_updated: text(instant(updated)),
        ..Meta::default()
    })
}

pub(super) fn extension(url: &str, value: ExtensionValue) -> Extension {
    Extension {
        url: Some(url.to_owned()),
        value: Some(value),
        ..Extension::default()
    }
}

fn score(value: f64) -> Quantity {
    Quantity {
        value: decimal(value),
        system: text(UCUM),
        code: text("{score}"),
        unit: text("score"),
        ..Quantity::default()
    }
}

/// A client record as a Patient.
pub fn patient(c: &Client) -> Patient {
    let mut name = vec![HumanName {
        use_: text("official"),
        text: text(c.name.clone()),
        ..HumanName::default()
    }];
    if let Some(preferred) = &c.preferred_name {
        name.push(HumanName {
            use_: text("usual"),
            text: text(preferred.clone()),
            ..HumanName::default()
        });
    }
    let telecom = [("email", &c.email), ("phone", &c.phone)]
        .into_iter()
        .filter_map(|(system, value)| {
            value.as_ref().map(|v| ContactPoint {
                system: text(system),
                value: text(v.clone()),
                ..ContactPoint::default()
            })
        })
        .collect();
    Patient {
        id: Some(c.id.to_string()),
        meta: meta(c.version, c.updated_at),
        identifier: c
            .identifiers
            .iter()
            .map(|i| Identifier {
                system: text(i.system.clone()),
                value: text(i.value.clone()),
                ..Identifier::default()
            })
            .collect(),
        active: Some(Primitive::new(true)),
        name,
        telecom,
        birth_date: c.date_of_birth.and_then(date),
        ..Patient::default()
    }
}

/// The measure's code, with its LOINC code where one is confirmed (GAS only so far).
fn measure_concept(
    code: &str,
    measure: Option<&OutcomeMeasure>,
    source: Source,
) -> CodeableConcept {
    let name = measure.map(|m| m.name.as_str());
    let mut codings = Vec::new();
    if code == "gas" {
        let (loinc, display) = gas_loinc(source);
        codings.push(coding(LOINC, loinc, Some(display)));
    }
    codings.push(coding(MEASURE_SYSTEM, code, name));
    concept(codings, name)
}

fn part(code: &str, label: &str) -> CodeableConcept {
    concept(vec![coding(MEASURE_PART_SYSTEM, code, None)], Some(label))
}

fn component(code: &str, label: &str, value: f64) -> ObservationComponent {
    ObservationComponent {
        code: Some(part(code, label)),
        value: Some(ObservationComponentValue::Quantity(score(value))),
        ..ObservationComponent::default()
    }
}

/// A measurement version as an Observation: its logical id is its chain's first
/// version, so a correction is version 2 of the same Observation.
pub fn observation(v: &Versioned<Measurement>, measure: Option<&OutcomeMeasure>) -> Observation {
    let m = &v.record;
    let instrument = measure.map_or(Instrument::Scale, |m| m.instrument);
    let mut components = Vec::new();
    let value = match instrument {
        Instrument::Copm => {
            components.push(component(
                "copm-performance",
                "COPM performance score",
                m.score.score,
            ));
            if let Some(s) = m.score.satisfaction {
                components.push(component("copm-satisfaction", "COPM satisfaction score", s));
            }
            for (i, p) in m.values.problems.iter().flatten().enumerate() {
                let n = i + 1;
                let label = |what: &str| format!("Problem {n} ({}): {what}", p.problem);
                components.push(component(
                    "copm-problem-importance",
                    &label("importance"),
                    p.importance,
                ));
                components.push(component(
                    "copm-problem-performance",
                    &label("performance"),
                    p.performance,
                ));
                components.push(component(
                    "copm-problem-satisfaction",
                    &label("satisfaction"),
                    p.satisfaction,
                ));
            }
            None
        }
        Instrument::Gas => {
            let level = m.score.score.round() as i32;
            Some(match gas_answer(level) {
                Some((code, display)) => ObservationValue::CodeableConcept(concept(
                    vec![coding(LOINC, code, Some(display))],
                    Some(&format!("{level:+}")),
                )),
                None => ObservationValue::Quantity(score(m.score.score)),
            })
        }
        _ => {
            for (i, item) in m.values.items.iter().flatten().enumerate() {
                if let Some(value) = item.value {
                    let label = item
                        .label
                        .clone()
                        .unwrap_or_else(|| format!("Item {}", i + 1));
                    components.push(component(
                        &format!("{}-item-{}", m.measure_code, i + 1),
                        &label,
                        value,
                    ));
                }
            }
            Some(ObservationValue::Quantity(score(m.score.score)))
        }
    };
    let performer = match m.source {
        Source::Therapist => vec![reference("Practitioner", m.recorded_by)],
        Source::ClientSelfReport => vec![reference("Patient", m.client_id)],
        Source::Caregiver => vec![reference("RelatedPerson", m.recorded_by)],
        Source::Imported => Vec::new(),
    };
    Observation {
        id: Some(v.logical_id.to_string()),
        meta: meta(v.version, m.created_at),
        extension: vec![extension(
            SOURCE_URL,
            ExtensionValue::Code(Primitive::new(m.source.as_str().to_owned())),
        )],
        status: text(match m.status {
            MeasurementStatus::Final => "final",
            MeasurementStatus::Amended => "amended",
            MeasurementStatus::EnteredInError => "entered-in-error",
        }),
        category: vec![concept(
            vec![coding(OBSERVATION_CATEGORY, category_of(instrument), None)],
            None,
        )],
        code: Some(measure_concept(&m.measure_code, measure, m.source)),
        subject: Some(reference("Patient", m.client_id)),
        focus: m
            .goal_id
            .map(|g| reference("Goal", g))
            .into_iter()
            .collect(),
        effective: Some(ObservationEffective::DateTime(Primitive::new(instant(
            m.observed_at,
        )))),
        issued: text(instant(m.created_at)),
        performer,
        value,
        note: m
            .note
            .iter()
            .chain(m.reason.iter())
            .map(|n| fhirkit::r4::Annotation {
                text: text(n.clone()),
                ..fhirkit::r4::Annotation::default()
            })
            .collect(),
        component: components,
        ..Observation::default()
    }
}

/// A goal as a FHIR Goal. `outcomes` are the logical ids of its current
/// measurements.
pub fn goal(
    standing: &GoalStanding,
    outcomes: &[Uuid],
    measure: Option<&OutcomeMeasure>,
) -> FhirGoal {
    let g: &Goal = &standing.goal;
    let c = &g.content;
    let described = if c.statement.trim().is_empty() {
        &c.client_words
    } else {
        &c.statement
    };
    let mut target = Vec::new();
    if c.measure_code.is_some() || c.target_date.is_some() || c.gas.is_some() {
        let detail = match (&c.gas, c.target_value) {
            (Some(gas), _) => Some(GoalTargetDetail::CodeableConcept(concept(
                vec![coding(LOINC, "LA34481-4", Some("Expected outcome"))],
                Some(&gas.levels[2]),
            ))),
            (None, Some(v)) => Some(GoalTargetDetail::Quantity(score(v))),
            (None, None) => None,
        };
        target.push(GoalTarget {
            measure: c
                .measure_code
                .as_deref()
                .map(|code| measure_concept(code, measure, Source::Therapist)),
            detail,
            due: c.target_date.and_then(date).map(GoalTargetDue::Date),
            ..GoalTarget::default()
        });
    }
    let agreement = Extension {
        url: Some(AGREEMENT_URL.to_owned()),
        extension: vec![
            extension(
                "client",
                ExtensionValue::Boolean(Primitive::new(g.agreement.client)),
            ),
            extension(
                "team",
                ExtensionValue::Boolean(Primitive::new(g.agreement.team)),
            ),
        ],
        ..Extension::default()
    };
    FhirGoal {
        id: Some(g.id.to_string()),
        meta: meta(g.version, g.updated_at),
        extension: vec![
            extension(
                CLIENT_WORDS_URL,
                ExtensionValue::String(Primitive::new(c.client_words.clone())),
            ),
            agreement,
            extension(
                TERM_URL,
                ExtensionValue::Code(Primitive::new(g.term.as_str().to_owned())),
            ),
            extension(
                IMPORTANCE_URL,
                ExtensionValue::Integer(Primitive::new(c.importance)),
            ),
        ],
        identifier: vec![Identifier {
            use_: text("usual"),
            system: text(GOAL_LABEL_SYSTEM),
            value: text(g.label.clone()),
            ..Identifier::default()
        }],
        lifecycle_status: text(g.status.fhir_lifecycle()),
        achievement_status: standing
            .achievement
            .map(|a| concept(vec![coding(GOAL_ACHIEVEMENT, a, None)], None)),
        category: vec![concept(
            vec![coding(OCCUPATION_SYSTEM, c.occupation_area.as_str(), None)],
            None,
        )],
        description: Some(concept(Vec::new(), Some(described))),
        subject: Some(reference("Patient", g.client_id)),
        start: date(c.start_date).map(GoalStart::Date),
        target,
        expressed_by: Some(match g.expressed_by {
            Side::Client => reference("Patient", g.client_id),
            Side::Team => Reference {
                display: text("Care team"),
                ..Reference::default()
            },
        }),
        outcome_reference: outcomes
            .iter()
            .map(|id| reference("Observation", *id))
            .collect(),
        ..FhirGoal::default()
    }
}

//! The CapabilityStatement, made from the route table: a FHIR interaction is listed
//! because a route serves it, so the statement cannot promise what is not served.

use std::{collections::BTreeMap, sync::OnceLock};

use fhirkit::{
    primitive::Primitive,
    r4::{
        CapabilityStatement, CapabilityStatementImplementation, CapabilityStatementRest,
        CapabilityStatementRestInteraction, CapabilityStatementRestResource,
        CapabilityStatementRestResourceInteraction, CapabilityStatementRestResourceSearchParam,
        CapabilityStatementRestSecurity, CapabilityStatementSoftware, CodeableConcept, Coding,
    },
};

use super::{
    map::text,
    resources,
    routes::{self, SearchParam},
    BASE,
};

/// Each FHIR interaction a route serves: (resource type, interaction code).
pub fn interactions() -> &'static BTreeMap<String, Vec<&'static str>> {
    static SERVED: OnceLock<BTreeMap<String, Vec<&'static str>>> = OnceLock::new();
    SERVED.get_or_init(|| {
        let doc = crate::app::openapi();
        let mut served: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for (path, item) in &doc.paths.paths {
            let Some(rest) = path.strip_prefix(BASE).and_then(|p| p.strip_prefix('/')) else {
                continue;
            };
            let parts: Vec<&str> = rest.split('/').collect();
            let (get, post) = (item.get.is_some(), item.post.is_some());
            let found: Vec<&'static str> = match parts.as_slice() {
                ["metadata"] => continue,
                [_] => [(get, "search-type"), (post, "create")]
                    .into_iter()
                    .filter_map(|(has, code)| has.then_some(code))
                    .collect(),
                [_, id] if id.starts_with('{') => [(get, "read"), (item.put.is_some(), "update")]
                    .into_iter()
                    .filter_map(|(has, code)| has.then_some(code))
                    .collect(),
                [_, _, "_history"] if get => vec!["history-instance"],
                [_, _, "_history", _] if get => vec!["vread"],
                _ => continue,
            };
            served.entry(parts[0].to_owned()).or_default().extend(found);
        }
        served
    })
}

/// The whole-system interactions served: a POST to the base takes `transaction`
/// and `batch` Bundles.
pub fn system_interactions() -> &'static [&'static str] {
    static SERVED: OnceLock<Vec<&'static str>> = OnceLock::new();
    SERVED.get_or_init(|| {
        let doc = crate::app::openapi();
        let bundles = doc
            .paths
            .paths
            .get(BASE)
            .is_some_and(|item| item.post.is_some());
        match bundles {
            true => vec!["transaction", "batch"],
            false => Vec::new(),
        }
    })
}

fn search_params(kind: &str) -> &'static [SearchParam] {
    match kind {
        "Patient" => routes::PATIENT_SEARCH,
        "Goal" => routes::GOAL_SEARCH,
        "Observation" => routes::OBSERVATION_SEARCH,
        "Practitioner" => resources::PRACTITIONER_SEARCH,
        "PractitionerRole" => resources::PRACTITIONER_ROLE_SEARCH,
        "RelatedPerson" => resources::RELATED_PERSON_SEARCH,
        "CareTeam" => resources::CARE_TEAM_SEARCH,
        "EpisodeOfCare" => resources::EPISODE_SEARCH,
        "CarePlan" => resources::CARE_PLAN_SEARCH,
        "AuditEvent" => resources::AUDIT_EVENT_SEARCH,
        _ => &[],
    }
}

fn includes(kind: &str) -> &'static [&'static str] {
    match kind {
        "Observation" => routes::OBSERVATION_INCLUDES,
        "PractitionerRole" => resources::PRACTITIONER_ROLE_INCLUDES,
        "CarePlan" => resources::CARE_PLAN_INCLUDES,
        _ => &[],
    }
}

pub fn statement(base: &str) -> CapabilityStatement {
    let resource = interactions()
        .iter()
        .map(|(kind, codes)| {
            let searched = codes.contains(&"search-type");
            CapabilityStatementRestResource {
                type_: text(kind.clone()),
                interaction: codes
                    .iter()
                    .map(|c| CapabilityStatementRestResourceInteraction {
                        code: text(*c),
                        ..Default::default()
                    })
                    .collect(),
                // A CareTeam and a CarePlan are made from several records and carry
                // no version of their own.
                versioning: text(match kind.as_str() {
                    "CareTeam" | "CarePlan" | "AuditEvent" => "no-version",
                    _ => "versioned",
                }),
                // Only Observations take If-None-Exist (write.rs).
                conditional_create: (kind == "Observation" && codes.contains(&"create"))
                    .then(|| Primitive::new(true)),
                read_history: Some(Primitive::new(codes.contains(&"vread"))),
                search_include: match searched {
                    true => includes(kind)
                        .iter()
                        .map(|i| Primitive::new((*i).to_owned()))
                        .collect(),
                    false => Vec::new(),
                },
                search_rev_include: match (kind.as_str(), searched) {
                    ("Goal", true) => routes::GOAL_REVINCLUDES
                        .iter()
                        .map(|i| Primitive::new((*i).to_owned()))
                        .collect(),
                    _ => Vec::new(),
                },
                search_param: match searched {
                    true => search_params(kind)
                        .iter()
                        .map(|p| CapabilityStatementRestResourceSearchParam {
                            name: text(p.name),
                            type_: text(p.kind),
                            documentation: text(p.doc),
                            ..Default::default()
                        })
                        .collect(),
                    false => Vec::new(),
                },
                ..Default::default()
            }
        })
        .collect();
    CapabilityStatement {
        url: text(format!("{base}/metadata")),
        name: text("Headway"),
        title: text("Headway FHIR R4 server"),
        status: text("active"),
        experimental: Some(Primitive::new(false)),
        // When this statement last changed (FHIR requires a date).
        date: text("2026-12-03"),
        publisher: text("Headway"),
        description: text("Client-centred occupational therapy records (clients, their care teams and caregivers, episodes and plans of care, goals set together, outcome measures) as FHIR R4 resources."),
        kind: text("instance"),
        software: Some(CapabilityStatementSoftware {
            name: text("Headway"),
            version: text(env!("CARGO_PKG_VERSION")),
            ..Default::default()
        }),
        implementation: Some(CapabilityStatementImplementation {
            description: text("Headway"),
            url: text(base.to_owned()),
            ..Default::default()
        }),
        fhir_version: text("4.0.1"),
        format: vec![Primitive::new("application/fhir+json".to_owned()), Primitive::new("json".to_owned())],
        rest: vec![CapabilityStatementRest {
            mode: text("server"),
            security: Some(CapabilityStatementRestSecurity {
                cors: Some(Primitive::new(true)),
                // SMART App Launch: Backend Services (see .well-known/smart-configuration).
                service: vec![CodeableConcept {
                    coding: vec![Coding {
                        system: text("http://terminology.hl7.org/CodeSystem/restful-security-service"),
                        code: text("SMART-on-FHIR"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                description: text("OAuth 2.0 bearer access tokens from /api/v1/auth/token, including SMART Backend Services (client_credentials with a private_key_jwt assertion; see .well-known/smart-configuration); a caller sees exactly what the same account sees through /api/v1, narrowed by the token's SMART scopes."),
                ..Default::default()
            }),
            resource,
            interaction: system_interactions()
                .iter()
                .map(|c| CapabilityStatementRestInteraction {
                    code: text(*c),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..CapabilityStatement::default()
    }
}

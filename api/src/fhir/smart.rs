//! SMART App Launch v2's discovery document, `.well-known/smart-configuration`:
//! where a SMART client (an EHR's backend service) learns how to get a token here.
//! Served at the FHIR base (where SMART clients look) and at the server's root.

use actix_web::{get, HttpRequest, HttpResponse};
use domain::{
    identity::Scope,
    smart::{Context, Interaction, Permission, ResourceType, SmartScopes},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::assertion::{self, public_base, token_endpoint},
    state::State,
};

/// What a SMART client needs to authenticate (SMART App Launch 2.0, §2.0.8).
#[derive(Debug, Serialize, ToSchema)]
pub struct SmartConfiguration {
    /// The OAuth 2.0 token endpoint: also the `aud` client assertions must name.
    pub token_endpoint: String,
    /// Sign-out (RFC 7009) for people's refresh tokens.
    pub revocation_endpoint: String,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// SMART scopes (v2 syntax; v1's `.read`, `.write`, `.*` are read too) and
    /// Headway's own.
    pub scopes_supported: Vec<String>,
    pub capabilities: Vec<&'static str>,
    /// The FHIR base URL these tokens are for.
    pub fhir_base_url: String,
}

fn configuration(req: &HttpRequest, state: &State) -> SmartConfiguration {
    let base = public_base(req, state);
    let system = |interactions: &[Interaction], resource: Option<ResourceType>| {
        let resources = resource.map_or_else(|| ResourceType::ALL.to_vec(), |r| vec![r]);
        let scopes: SmartScopes = resources
            .into_iter()
            .flat_map(|resource| {
                interactions.iter().map(move |&interaction| Permission {
                    context: Context::System,
                    resource,
                    interaction,
                })
            })
            .collect();
        scopes.to_string()
    };
    let read = [Interaction::Read, Interaction::Search];
    let mut scopes = vec![system(Interaction::ALL, None), system(&read, None)];
    for resource in ResourceType::ALL {
        scopes.push(system(&read, Some(*resource)));
        scopes.push(system(Interaction::ALL, Some(*resource)));
    }
    scopes.extend(Scope::ALL.iter().map(|s| s.as_str().to_owned()));
    SmartConfiguration {
        token_endpoint: token_endpoint(req, state),
        revocation_endpoint: format!("{base}/api/v1/auth/revoke"),
        grant_types_supported: vec!["client_credentials", "password", "refresh_token"],
        token_endpoint_auth_methods_supported: vec![
            "private_key_jwt",
            "client_secret_basic",
            "client_secret_post",
        ],
        token_endpoint_auth_signing_alg_values_supported: assertion::ALGORITHMS.to_vec(),
        scopes_supported: scopes,
        capabilities: vec![
            "client-confidential-asymmetric",
            "permission-v2",
            "permission-v1",
        ],
        fhir_base_url: format!("{base}{}", super::BASE),
    }
}

fn answer(req: &HttpRequest, state: &State) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(configuration(req, state))
}

/// SMART configuration, at the FHIR base (where SMART clients look).
///
/// Public: how to get a token (SMART Backend Services: `client_credentials` with a
/// `private_key_jwt` assertion signed RS384 or ES384) and which scopes exist. URLs
/// are absolute, from `HEADWAY_PUBLIC_URL` (else from the request).
#[utoipa::path(
    tag = "fhir",
    responses((status = 200, body = SmartConfiguration, content_type = "application/json"))
)]
#[get("/.well-known/smart-configuration")]
pub async fn fhir_smart_configuration(req: HttpRequest, state: State) -> HttpResponse {
    answer(&req, &state)
}

/// SMART configuration, at the server's root.
///
/// The same document as at `/fhir/r4/.well-known/smart-configuration`.
#[utoipa::path(
    tag = "fhir",
    responses((status = 200, body = SmartConfiguration, content_type = "application/json"))
)]
#[get("/.well-known/smart-configuration")]
pub async fn smart_configuration(req: HttpRequest, state: State) -> HttpResponse {
    answer(&req, &state)
}

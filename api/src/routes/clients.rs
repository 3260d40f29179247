//! Client records.

use actix_web::{get, patch, post, put, web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{
    client::{Client, ClientStatus, Demographics, DemographicsInput, ExternalIdentifier},
    identity::parse_email,
    Invalid,
};
use persistence::ops::clients::{ClientFilter, ClientVersion, NewInvitation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{created, read_tagged, tagged, users::Invitation, PageView};
use crate::{
    auth::{tokens, Bearer},
    error::{ApiError, ApiResult, FieldProblem, Problem},
    extract::{
        merge::{self, Field},
        Body, IfMatch, IfNoneMatch, MergePatch, PageParams, Query,
    },
    idempotent::IdempotencyKey,
    state::{AppState, State},
};

/// A query parameter that breaks a rule: the request is malformed (400).
pub(crate) fn malformed(Invalid(fields): Invalid) -> ApiError {
    ApiError::Malformed(
        fields
            .iter()
            .map(|f| FieldProblem::new(&f.field, &f.message))
            .collect(),
    )
}

/// A new invitation's secret: the token to hand over, and what the clinic keeps.
pub(crate) fn invitation_secret(state: &AppState) -> (String, NewInvitation) {
    let token = tokens::opaque_secret();
    let secret = NewInvitation {
        token_hash: tokens::digest(&token),
        valid_for: Duration::seconds(state.config.invitation_ttl_secs),
    };
    (token, secret)
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// The issuing system, e.g. `urn:oid:2.16.840.1.113883.19.5` or an EHR's URL.
    #[schema(schema_with = crate::wire::line_255)]
    pub system: String,
    #[schema(schema_with = crate::wire::line_255)]
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[schema(schema_with = crate::wire::client_status)]
    pub status: ClientStatus,
    pub identifiers: Vec<Identifier>,
    /// Increases with every change; earlier versions are at `/versions`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> Self {
        ClientView {
            id: c.id,
            organization_id: c.organization_id,
            name: c.name,
            preferred_name: c.preferred_name,
            date_of_birth: c.date_of_birth,
            email: c.email,
            phone: c.phone,
            status: c.status,
            identifiers: c
                .identifiers
                .into_iter()
                .map(|i| Identifier {
                    system: i.system,
                    value: i.value,
                })
                .collect(),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Demographics as sent when registering a client. Their rules live in the domain
/// (`Demographics::parse`), which reports every broken field at once.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientInput {
    /// 1 to 200 characters.
    #[schema(schema_with = crate::wire::line_200)]
    pub name: String,
    /// 1 to 100 characters.
    #[schema(schema_with = crate::wire::line_100_or_null)]
    pub preferred_name: Option<String>,
    #[schema(schema_with = crate::wire::date_of_birth_or_null)]
    pub date_of_birth: Option<NaiveDate>,
    #[schema(schema_with = crate::wire::email_or_null)]
    pub email: Option<String>,
    /// Digits, spaces and `+ - ( ) .`, at least five digits, at most 32 characters.
    #[schema(schema_with = crate::wire::phone_or_null)]
    pub phone: Option<String>,
    /// At most 20, each unique within the clinic.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub identifiers: Vec<Identifier>,
}

/// A client record's full new state: a correction is a new version, never an overwrite.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdate {
    /// 1 to 200 characters.
    #[schema(schema_with = crate::wire::line_200)]
    pub name: String,
    /// 1 to 100 characters.
    #[schema(schema_with = crate::wire::line_100_or_null)]
    pub preferred_name: Option<String>,
    #[schema(schema_with = crate::wire::date_of_birth_or_null)]
    pub date_of_birth: Option<NaiveDate>,
    #[schema(schema_with = crate::wire::email_or_null)]
    pub email: Option<String>,
    /// Digits, spaces and `+ - ( ) .`, at least five digits, at most 32 characters.
    #[schema(schema_with = crate::wire::phone_or_null)]
    pub phone: Option<String>,
    /// At most 20, each unique within the clinic.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub identifiers: Vec<Identifier>,
    #[schema(schema_with = crate::wire::client_status)]
    pub status: String,
}

fn demographics(
    name: &str,
    preferred_name: Option<&str>,
    date_of_birth: Option<NaiveDate>,
    email: Option<&str>,
    phone: Option<&str>,
    identifiers: &[Identifier],
) -> Result<Demographics, Invalid> {
    Demographics::parse(
        &DemographicsInput {
            name,
            preferred_name,
            date_of_birth,
            email,
            phone,
            identifiers: identifiers
                .iter()
                .map(|i| (i.system.as_str(), i.value.as_str()))
                .collect(),
        },
        Utc::now().date_naive(),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ClientPath {
    pub client_id: Uuid,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientQuery {
    /// `active` or `discharged`.
    #[param(schema_with = crate::wire::client_status)]
    pub status: Option<String>,
    /// Find by external identifier: `system|value`.
    #[param(pattern = r"\|")]
    pub identifier: Option<String>,
    /// Items per page, 1 to 100 (default 50).
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
}

/// List the clients the caller may see: all of the clinic's for admins, the care
/// team's for therapists, their own for clients, the inviting clients' for caregivers.
#[utoipa::path(
    tag = "clients",
    params(ClientQuery),
    responses((status = 200, body = PageView<ClientView>)),
    security(("bearer" = []))
)]
#[get("/clients")]
pub async fn list_clients(
    Bearer(caller): Bearer,
    query: Query<ClientQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    let status = q.status.as_deref();
    let identifier = q.identifier.as_deref();
    let filter = ClientFilter {
        status: status
            .map(|s| ClientStatus::parse("status", s))
            .transpose()
            .map_err(malformed)?,
        identifier: identifier
            .map(|i| ExternalIdentifier::parse_pair("identifier", i))
            .transpose()
            .map_err(malformed)?,
        ..ClientFilter::default()
    };
    let page = PageParams {
        limit: q.limit,
        after: q.after,
    }
    .page();
    let clients = state
        .run(move |clinic| clinic.list_clients(&caller, filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(PageView::from(clients, ClientView::from)))
}

/// Register a client (admins, integrations with clients:write).
#[utoipa::path(
    tag = "clients",
    request_body = NewClientInput,
    responses(
        (status = 201, body = ClientView, headers(("Location" = String, description = "The new client's URL"))),
        (status = 409, description = "An identifier already belongs to another client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients")]
pub async fn create_client(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    body: Body<NewClientInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let i = body.0;
    let d = demographics(
        &i.name,
        i.preferred_name.as_deref(),
        i.date_of_birth,
        i.email.as_deref(),
        i.phone.as_deref(),
        &i.identifiers,
    )?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.register_client(caller, d),
            |client| {
                created(
                    format!("/api/v1/clients/{}", client.id),
                    &ClientView::from(client.clone()),
                )
            },
        )
        .await
}

/// One client record.
#[utoipa::path(
    tag = "clients",
    params(ClientPath),
    responses((status = 200, body = ClientView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}")]
pub async fn get_client(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    held: IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let client = state
        .run(move |clinic| clinic.client(&caller, client_id))
        .await?;
    read_tagged(&held, client.version, &ClientView::from(client))
}

/// Correct or update a client record (admins, the care team, integrations with
/// clients:write). The previous state is kept as a version.
#[utoipa::path(
    tag = "clients",
    params(ClientPath),
    request_body = ClientUpdate,
    responses(
        (status = 200, body = ClientView),
        (status = 409, description = "An identifier already belongs to another client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/clients/{client_id}")]
pub async fn update_client(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    IfMatch(expected): IfMatch,
    body: Body<ClientUpdate>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let (d, status) = body.0.parse()?;
    let client = state
        .run(move |clinic| clinic.update_client(&caller, client_id, expected, d, status))
        .await?;
    Ok(tagged(client.version, &ClientView::from(client)))
}

impl ClientUpdate {
    /// The new state as the domain reads it (a PUT's body, or a merge patch's result).
    fn parse(&self) -> Result<(Demographics, ClientStatus), Invalid> {
        let mut problems = domain::error::Problems::default();
        let status = problems.check(ClientStatus::parse("status", &self.status));
        let d = problems.check(demographics(
            &self.name,
            self.preferred_name.as_deref(),
            self.date_of_birth,
            self.email.as_deref(),
            self.phone.as_deref(),
            &self.identifiers,
        ));
        problems.finish()?;
        match (d, status) {
            (Some(d), Some(status)) => Ok((d, status)),
            _ => Err(Invalid::field("body", "could not be read")),
        }
    }

    /// A client's current state, as a PUT would send it back.
    fn of(c: &Client) -> ClientUpdate {
        ClientUpdate {
            name: c.name.clone(),
            preferred_name: c.preferred_name.clone(),
            date_of_birth: c.date_of_birth,
            email: c.email.clone(),
            phone: c.phone.clone(),
            identifiers: ClientView::from(c.clone()).identifiers,
            status: c.status.as_str().to_owned(),
        }
    }
}

/// A JSON Merge Patch (RFC 7396) over a client's demographics and status: members
/// left out are kept, `null` removes an optional one, arrays are replaced whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    /// Required: may be changed, not removed.
    #[serde(default)]
    #[schema(schema_with = crate::wire::line_200)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::wire::line_100_or_null)]
    pub preferred_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::wire::date_of_birth_or_null)]
    pub date_of_birth: Field<NaiveDate>,
    #[serde(default)]
    #[schema(schema_with = crate::wire::email_or_null)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::wire::phone_or_null)]
    pub phone: Field<String>,
    /// Replaces the whole list; `null` empties it.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Identifier>>, max_items = 20)]
    pub identifiers: Field<Vec<Identifier>>,
    /// Required: may be changed, not removed.
    #[serde(default)]
    #[schema(schema_with = crate::wire::client_status)]
    pub status: Field<String>,
}

impl ClientPatch {
    /// The PUT body this patch makes of the client's current state (RFC 7396 §2).
    fn onto(self, c: &Client) -> Result<ClientUpdate, Invalid> {
        let now = ClientUpdate::of(c);
        Ok(ClientUpdate {
            name: self.name.required("name", now.name)?,
            preferred_name: self.preferred_name.onto(now.preferred_name),
            date_of_birth: self.date_of_birth.onto(now.date_of_birth),
            email: self.email.onto(now.email),
            phone: self.phone.onto(now.phone),
            identifiers: self
                .identifiers
                .onto(Some(now.identifiers))
                .unwrap_or_default(),
            status: self.status.required("status", now.status)?,
        })
    }
}

/// Change some of a client's demographics (JSON Merge Patch, RFC 7396): merged onto
/// the current record and checked by the same rules as a PUT, a new version. Needs
/// If-Match.
#[utoipa::path(
    tag = "clients",
    params(ClientPath),
    request_body(content = ClientPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = ClientView),
        (status = 409, description = "An identifier already belongs to another client", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The merged record breaks a rule, or the patch removes a required member; `errors` names each", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}")]
pub async fn patch_client(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    IfMatch(expected): IfMatch,
    MergePatch(patch): MergePatch<ClientPatch>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    merge::keeps_required(&[
        ("name", patch.name.is_remove()),
        ("status", patch.status.is_remove()),
    ])?;
    let client = state
        .run(move |clinic| {
            clinic.update_client_with(&caller, client_id, expected, move |now| {
                patch.onto(now)?.parse()
            })
        })
        .await?;
    Ok(tagged(client.version, &ClientView::from(client)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientVersionView {
    pub version: i32,
    /// Who replaced this version, and when.
    pub superseded_by: Uuid,
    pub superseded_at: DateTime<Utc>,
    /// The record as it was.
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
}

impl From<ClientVersion> for ClientVersionView {
    fn from(v: ClientVersion) -> Self {
        ClientVersionView {
            version: v.version,
            superseded_by: v.recorded_by,
            superseded_at: v.recorded_at,
            record: v.record,
        }
    }
}

/// Earlier versions of a client record, oldest first.
#[utoipa::path(
    tag = "clients",
    params(ClientPath),
    responses((status = 200, body = Vec<ClientVersionView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/versions")]
pub async fn client_versions(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let versions = state
        .run(move |clinic| clinic.client_versions(&caller, client_id))
        .await?;
    let versions: Vec<_> = versions.into_iter().map(ClientVersionView::from).collect();
    Ok(HttpResponse::Ok().json(versions))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInvitationInput {
    /// The e-mail the client will sign in with.
    #[schema(schema_with = crate::wire::email_address)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientInvitation {
    pub user_id: Uuid,
    pub invitation: Invitation,
}

/// Invite a client to their own login (admins).
#[utoipa::path(
    tag = "clients",
    params(ClientPath),
    request_body = ClientInvitationInput,
    responses(
        (status = 201, body = ClientInvitation),
        (status = 409, description = "The client already has a login", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/invitation")]
pub async fn invite_client(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ClientPath>,
    body: Body<ClientInvitationInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let email = parse_email("email", &body.0.email)?;
    let (token, secret) = invitation_secret(&state);
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.invite_client(caller, client_id, email, secret),
            move |invited| {
                created(
                    format!("/api/v1/users/{}", invited.user.id),
                    &ClientInvitation {
                        user_id: invited.user.id,
                        invitation: Invitation {
                            token: token.clone(),
                            expires_at: invited.expires_at,
                        },
                    },
                )
            },
        )
        .await
}

//! SMART App Launch v2 and Backend Services, as an EHR's backend meets them: the
//! discovery document, client assertions signed with registered keys (RS384 and
//! ES384) and every way one is refused, a `jti` spent once across instances, SMART
//! scopes narrowing a token on both doors, and key rotation.

use std::sync::OnceLock;

use chrono::Utc;
use headway_tests::{Reply, TestApp};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::{
    goals::{content, episode},
    walk::service_account,
};

const PUBLIC_URL: &str = "https://headway.test";
const AUDIENCE: &str = "https://headway.test/api/v1/auth/token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A private key a test signs with, and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    /// The private key, DER: PKCS#1 for RSA, PKCS#8 for EC (as jsonwebtoken reads them).
    der: Vec<u8>,
    pub jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_key(kid: &str) -> TestKey {
    use rsa::{pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts, RsaPrivateKey};
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("an RSA key");
    let der = key.to_pkcs1_der().expect("DER").as_bytes().to_vec();
    let jwk = json!({
        "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS384",
        "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
    });
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::RS384,
        der,
        jwk,
    }
}

fn ec_key(kid: &str) -> TestKey {
    use p384::{elliptic_curve::sec1::ToEncodedPoint, pkcs8::EncodePrivateKey, SecretKey};
    let key = SecretKey::random(&mut rand::rngs::OsRng);
    let der = key.to_pkcs8_der().expect("DER").as_bytes().to_vec();
    let point = key.public_key().to_encoded_point(false);
    let (x, y) = (point.x().expect("x"), point.y().expect("y"));
    let jwk = json!({"kty": "EC", "kid": kid, "crv": "P-384", "x": b64(x), "y": b64(y)});
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::ES384,
        der,
        jwk,
    }
}

/// The keys, made once per test run (RSA key generation is slow).
pub struct Keys {
    pub rsa: TestKey,
    pub rsa_next: TestKey,
    pub ec: TestKey,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: rsa_key("rsa-2026"),
        rsa_next: rsa_key("rsa-2027"),
        ec: ec_key("ec-2026"),
    })
}

/// What an assertion claims; each test bends one thing.
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp_in: i64,
    pub jti: Option<String>,
}

impl Claims {
    pub fn of(client_id: &str) -> Self {
        Claims {
            iss: client_id.to_owned(),
            sub: client_id.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp_in: 240,
            jti: Some(uuid::Uuid::now_v7().to_string()),
        }
    }

    fn json(&self) -> Value {
        let mut c = json!({
            "iss": self.iss, "sub": self.sub, "aud": self.aud,
            "exp": Utc::now().timestamp() + self.exp_in,
        });
        if let Some(jti) = &self.jti {
            c["jti"] = json!(jti);
        }
        c
    }
}

/// An assertion signed with `key`, its header naming `kid`.
pub fn signed(key: &TestKey, kid: &str, claims: &Claims) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(kid.to_owned());
    header.typ = Some("JWT".into());
    let encoding = match key.alg {
        Algorithm::ES384 => EncodingKey::from_ec_der(&key.der),
        _ => EncodingKey::from_rsa_der(&key.der),
    };
    encode(&header, &claims.json(), &encoding).expect("signed")
}

pub fn assertion(key: &TestKey, client_id: &str) -> String {
    signed(key, &key.kid, &Claims::of(client_id))
}

/// Asks the token endpoint with a client assertion.
pub fn with_assertion(app: &TestApp, base: &str, assertion: &str, scope: &str) -> Reply {
    app.send(app.http.post(format!("{base}/api/v1/auth/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
        ("scope", scope),
    ]))
}

/// Registers `keys` as the service account's JWK Set; its answer.
pub fn register(app: &TestApp, admin: &str, user_id: &str, keys: &[&TestKey]) -> Reply {
    let set: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
    app.put(
        admin,
        &format!("/api/v1/users/{user_id}/jwks"),
        &json!({ "keys": set }),
    )
}

/// A server that knows its public URL, its admin, and an EHR's service account
/// (clinical and client records, read and write) holding the test keys.
pub struct Ehr {
    pub app: TestApp,
    pub admin: String,
    pub client_id: String,
}

pub fn ehr(scopes: &str) -> Ehr {
    let app = TestApp::spawn_with(|c| c.public_url = Some(PUBLIC_URL.into()));
    let admin = app.login("admin@riverside.example").access;
    let (client_id, _) = service_account(&app, &admin, scopes);
    let k = keys();
    register(&app, &admin, &client_id, &[&k.rsa, &k.ec]).ok(200);
    Ehr {
        app,
        admin,
        client_id,
    }
}

/// An access token for the EHR, signed with `key`, asking for `scope`.
pub fn smart_token(e: &Ehr, key: &TestKey, scope: &str) -> String {
    let r = with_assertion(&e.app, &e.app.url(""), &assertion(key, &e.client_id), scope);
    r.ok(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts an OAuth refusal: this status and error, a description saying `why`.
#[track_caller]
fn refused(r: &Reply, status: u16, error: &str, why: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.body["error"], error, "{}", r.text);
    let said = r.body["error_description"].as_str().unwrap_or_default();
    assert!(said.contains(why), "expected `{why}` in: {said}");
}

#[test]
fn the_smart_configuration_says_how_to_get_a_token_at_the_fhir_base_and_the_root() {
    let app = TestApp::spawn_with(|c| c.public_url = Some(PUBLIC_URL.into()));
    for path in [
        "/fhir/r4/.well-known/smart-configuration",
        "/.well-known/smart-configuration",
    ] {
        let r = app.send(
            app.http
                .get(app.url(path))
                .header("accept", "application/json"),
        );
        let c = r.ok(200);
        assert!(r
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")));
        assert_eq!(c["token_endpoint"], AUDIENCE, "{path}");
        assert_eq!(c["fhir_base_url"], "https://headway.test/fhir/r4");
        assert_eq!(
            c["token_endpoint_auth_signing_alg_values_supported"],
            json!(["RS384", "ES384"])
        );
        let list = |k: &str| -> Vec<String> {
            c[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        assert!(list("grant_types_supported").contains(&"client_credentials".to_owned()));
        assert_eq!(
            list("token_endpoint_auth_methods_supported")[0],
            "private_key_jwt"
        );
        for capability in [
            "client-confidential-asymmetric",
            "permission-v2",
            "permission-v1",
        ] {
            assert!(list("capabilities").contains(&capability.to_owned()));
        }
        for scope in ["system/*.rs", "system/Observation.rs", "system/Goal.cruds"] {
            assert!(
                list("scopes_supported").contains(&scope.to_owned()),
                "{scope}"
            );
        }
    }
    // The CapabilityStatement says the same door is SMART's.
    let r = app.send(app.http.get(app.url("/fhir/r4/metadata")));
    let security = &r.ok(200)["rest"][0]["security"];
    assert_eq!(security["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
    crate::fhir::validate(&[&r.body]);

    // Without HEADWAY_PUBLIC_URL, from the request.
    let plain = TestApp::spawn();
    let r = plain.send(
        plain
            .http
            .get(plain.url("/.well-known/smart-configuration")),
    );
    assert_eq!(
        r.ok(200)["token_endpoint"],
        json!(plain.url("/api/v1/auth/token"))
    );
}

#[test]
fn rs384_and_es384_assertions_get_a_short_token_with_the_scope_granted() {
    let e = ehr("clients:read clinical:read clinical:write");
    let k = keys();
    for key in [&k.rsa, &k.ec] {
        let r = with_assertion(
            &e.app,
            &e.app.url(""),
            &assertion(key, &e.client_id),
            "system/Observation.rs",
        );
        let t = r.ok(200);
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["scope"], "system/Observation.rs", "{:?}", key.alg);
        let expires_in = t["expires_in"].as_i64().unwrap_or_default();
        assert!((1..=300).contains(&expires_in), "{expires_in}");
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(t.get("refresh_token").is_none());
    }
    // SMART v1's syntax reads as its v2 equivalent.
    let r = with_assertion(
        &e.app,
        &e.app.url(""),
        &assertion(&k.ec, &e.client_id),
        "system/Goal.read",
    );
    assert_eq!(r.ok(200)["scope"], "system/Goal.rs");
}

#[test]
fn refused_assertions_are_invalid_client_saying_why() {
    let e = ehr("clinical:read");
    let k = keys();
    let (app, id) = (&e.app, e.client_id.as_str());
    let ask =
        |assertion: &str| with_assertion(app, &app.url(""), assertion, "system/Observation.rs");

    // Algorithms other than RS384 and ES384: none, HMAC, RS256.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"rsa-2026"}"#),
        b64(Claims::of(id).json().to_string().as_bytes())
    );
    refused(&ask(&none), 401, "invalid_client", "alg `none`");
    let mut header = Header::new(Algorithm::HS384);
    header.kid = Some(k.rsa.kid.clone());
    let hmac = encode(
        &header,
        &Claims::of(id).json(),
        &EncodingKey::from_secret(b"a guessed shared secret of some length"),
    )
    .expect("signed");
    refused(&ask(&hmac), 401, "invalid_client", "alg `HS384`");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(k.rsa.kid.clone());
    let rs256 = encode(
        &header,
        &Claims::of(id).json(),
        &EncodingKey::from_rsa_der(&k.rsa.der),
    )
    .expect("signed");
    refused(&ask(&rs256), 401, "invalid_client", "only RS384 and ES384");

    // A signature by another key than the one its kid names; an unknown kid; an EC
    // kid on an RSA signature.
    let forged = signed(&k.rsa_next, &k.rsa.kid, &Claims::of(id));
    refused(
        &ask(&forged),
        401,
        "invalid_client",
        "does not verify with key `rsa-2026`",
    );
    let unknown = signed(&k.rsa_next, &k.rsa_next.kid, &Claims::of(id));
    refused(&ask(&unknown), 401, "invalid_client", "kid `rsa-2027`");
    let crossed = signed(&k.rsa, &k.ec.kid, &Claims::of(id));
    refused(&ask(&crossed), 401, "invalid_client", "verifies ES384 only");

    // Claims: aud, iss/sub, exp too far ahead or past, no jti, an unknown client.
    let bent = |f: &dyn Fn(&mut Claims)| {
        let mut c = Claims::of(id);
        f(&mut c);
        signed(&k.rsa, &k.rsa.kid, &c)
    };
    let wrong_aud = bent(&|c| c.aud = "https://elsewhere.example/token".into());
    refused(&ask(&wrong_aud), 401, "invalid_client", AUDIENCE);
    let wrong_sub = bent(&|c| c.sub = "someone-else".into());
    refused(&ask(&wrong_sub), 401, "invalid_client", "`iss` and `sub`");
    let other = uuid::Uuid::now_v7().to_string();
    let wrong_iss = bent(&|c| {
        c.iss = other.clone();
        c.sub = other.clone();
    });
    refused(&ask(&wrong_iss), 401, "invalid_client", "unknown client");
    let far = bent(&|c| c.exp_in = 600);
    refused(
        &ask(&far),
        401,
        "invalid_client",
        "more than five minutes ahead",
    );
    let expired = bent(&|c| c.exp_in = -120);
    refused(&ask(&expired), 401, "invalid_client", "expired");
    let no_jti = bent(&|c| c.jti = None);
    refused(&ask(&no_jti), 401, "invalid_client", "`jti`");

    // Request shape: another assertion type, an assertion with a secret too.
    let r = app.token(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:example:saml"),
        ("client_assertion", &assertion(&k.rsa, id)),
    ]);
    refused(&r, 400, "invalid_request", JWT_BEARER);
    let r = app.token(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &assertion(&k.rsa, id)),
        ("client_secret", "also-this"),
    ]);
    refused(&r, 400, "invalid_request", "not both");

    // Every refusal that named this client's account left a failed sign-in in its
    // clinic's audit trail (the seven after the key lookup).
    let r = app.get(
        &e.admin,
        "/api/v1/audit-events?action=auth.login&outcome=failed&limit=100",
    );
    let failed = r.ok(200)["items"].as_array().map_or(0, Vec::len);
    assert_eq!(failed, 7, "failed sign-ins audited: {}", r.text);
}

#[test]
fn a_jti_is_accepted_once_by_any_instance_over_the_same_database() {
    let e = ehr("clinical:read");
    let k = keys();
    let second = e
        .app
        .start_instance(|c| c.public_url = Some(PUBLIC_URL.into()));
    let (first_url, second_url) = (e.app.url(""), second.url(""));
    let scope = "system/Observation.rs";

    let once = assertion(&k.ec, &e.client_id);
    with_assertion(&e.app, &first_url, &once, scope).ok(200);
    let again = with_assertion(&e.app, &first_url, &once, scope);
    refused(&again, 401, "invalid_client", "used before");
    let elsewhere = with_assertion(&e.app, &second_url, &once, scope);
    refused(&elsewhere, 401, "invalid_client", "used before");

    // And the other way round: spent on the second, refused on the first.
    let other = assertion(&k.rsa, &e.client_id);
    with_assertion(&e.app, &second_url, &other, scope).ok(200);
    refused(
        &with_assertion(&e.app, &first_url, &other, scope),
        401,
        "invalid_client",
        "used before",
    );
}

#[test]
fn smart_scopes_narrow_a_token_on_the_fhir_door_and_the_json_api_alike() {
    let e = ehr("clients:read clinical:read clinical:write");
    let app = &e.app;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let episode = episode(app, &olivia, &maria);
    let goals = format!("/api/v1/clients/{maria}/episodes/{episode}/goals");
    let goal = app.post(&olivia, &goals, &json!({"content": content("Cook dinner")}));
    let goal = goal.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let measurement = json!({"goal_id": goal, "measure_code": "nrs", "values": {"value": 4}});
    let measurements = format!("/api/v1/clients/{maria}/episodes/{episode}/measurements");
    app.post(&olivia, &measurements, &measurement).ok(201);

    let observer = smart_token(&e, &keys().rsa, "system/Observation.rs");
    // What it was granted: Observations, read and search, at either door.
    let r = app.get(&observer, &format!("/fhir/r4/Observation?patient={maria}"));
    assert_eq!(r.ok(200)["resourceType"], "Bundle");
    assert!(
        r.body["entry"].as_array().is_some_and(|e| !e.is_empty()),
        "{}",
        r.text
    );
    app.get(&observer, &measurements.clone()).ok(200);

    // A goal: 403 (its scopes cover Observations, not Goals).
    let r = app.post(&observer, &goals, &json!({"content": content("Walk")}));
    assert_eq!(
        r.problem(403)["type"],
        "urn:headway:problem:insufficient-scope"
    );
    // What its account may do but its scopes do not cover: insufficient scope.
    let insufficient = |r: &Reply| {
        assert_eq!(
            r.problem(403)["type"],
            "urn:headway:problem:insufficient-scope"
        );
        assert!(r
            .header("www-authenticate")
            .is_some_and(|h| h.contains("insufficient_scope")));
    };
    insufficient(&app.post(&observer, &measurements, &measurement));
    insufficient(&app.get(&observer, &format!("/api/v1/clients/{maria}")));
    insufficient(&app.get(&observer, &format!("/api/v1/clients/{maria}/episodes")));
    let r = app.get(&observer, &format!("/fhir/r4/Patient/{maria}"));
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
    assert_eq!(r.body["issue"][0]["code"], "forbidden");
    let r = app.get(&observer, &format!("/fhir/r4/Goal/{goal}"));
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);
    // Nor may it follow live changes (no scope grants that).
    let r = app.send(
        app.http
            .post(app.url("/api/v1/events/ticket"))
            .bearer_auth(&observer),
    );
    r.problem(403);
    // The goal and the measurement it tried to make were never made.
    let listed = app.get(&olivia, &goals);
    let listed = listed.ok(200).as_array().map_or(0, Vec::len);
    assert_eq!(listed, 1);
    let recorded = app.get(&olivia, &measurements);
    assert_eq!(recorded.ok(200)["items"].as_array().map_or(0, Vec::len), 1);

    // A wider grant does what the narrower could not; the account's own limits stay.
    let writer = smart_token(&e, &keys().ec, "system/Goal.cruds system/Patient.rs");
    app.get(&writer, &format!("/fhir/r4/Patient/{maria}"))
        .ok(200);
    app.get(&writer, &format!("/fhir/r4/Goal/{goal}")).ok(200);
    // It may put a goal forward, but speaks for no one: the goal waits for both sides.
    let r = app.post(&writer, &goals, &json!({"content": content("Walk")}));
    let proposed = r.ok(201);
    assert_eq!(proposed["status"], "proposed");
    assert_eq!(
        proposed["agreement"],
        json!({"client": false, "team": false})
    );
    let walk = proposed["id"].as_str().unwrap_or_default().to_owned();
    // The policy never lets an integration agree to a goal (the client and a therapist
    // do): a scope cannot widen that.
    let r = app.post(
        &writer,
        &format!("/api/v1/clients/{maria}/goals/{walk}/agreement"),
        &json!({}),
    );
    assert_eq!(r.problem(403)["type"], "urn:headway:problem:forbidden");

    // A token with Headway's own scopes (no SMART scopes) keeps its account's powers.
    let (id, secret) = service_account(app, &e.admin, "clients:read clinical:read");
    let plain = crate::walk::service_token(app, &id, &secret);
    app.get(&plain, &format!("/fhir/r4/Patient/{maria}"))
        .ok(200);
    app.get(&plain, &format!("/api/v1/clients/{maria}")).ok(200);
}

#[test]
fn a_scope_outside_the_account_is_invalid_scope_and_a_partial_one_is_narrowed() {
    let e = ehr("clinical:read");
    let (app, k) = (&e.app, keys());
    let ask =
        |scope: &str| with_assertion(app, &app.url(""), &assertion(&k.rsa, &e.client_id), scope);
    refused(
        &ask("system/Patient.rs"),
        400,
        "invalid_scope",
        "None of the requested scopes",
    );
    refused(
        &ask("system/Observation.c"),
        400,
        "invalid_scope",
        "None of the requested",
    );
    refused(
        &ask("patient/Observation.rs"),
        400,
        "invalid_scope",
        "None of the requested",
    );
    let r = ask("system/Observation.rs system/Patient.rs");
    assert_eq!(r.ok(200)["scope"], "system/Observation.rs");
    let r = ask("system/*.rs");
    let granted = r.ok(200)["scope"].as_str().unwrap_or_default().to_owned();
    assert!(
        granted.contains("system/Goal.rs") && !granted.contains("Patient"),
        "{granted}"
    );
    refused(
        &ask("system/Observation.rs?category=survey"),
        400,
        "invalid_scope",
        "not supported",
    );
    refused(
        &ask("system/Condition.rs"),
        400,
        "invalid_scope",
        "Condition",
    );
    refused(
        &ask("system/Observation.rs clinical:read"),
        400,
        "invalid_scope",
        "not both",
    );
}

#[test]
fn keys_rotate_without_a_gap_and_a_removed_key_no_longer_signs_in() {
    let e = ehr("clinical:read");
    let (app, k) = (&e.app, keys());
    let jwks = format!("/api/v1/users/{}/jwks", e.client_id);
    let scope = "system/Observation.rs";
    let ask =
        |key: &TestKey| with_assertion(app, &app.url(""), &assertion(key, &e.client_id), scope);
    ask(&k.rsa).ok(200);
    refused(&ask(&k.rsa_next), 401, "invalid_client", "kid `rsa-2027`");

    // The new key joins the old: both sign in.
    let r = register(app, &e.admin, &e.client_id, &[&k.rsa, &k.rsa_next]);
    assert_eq!(r.ok(200)["version"], 2);
    ask(&k.rsa).ok(200);
    ask(&k.rsa_next).ok(200);

    // The old key leaves: only the new one signs in.
    register(app, &e.admin, &e.client_id, &[&k.rsa_next]).ok(200);
    refused(&ask(&k.rsa), 401, "invalid_client", "kid `rsa-2026`");
    ask(&k.rsa_next).ok(200);

    let r = app.get(&e.admin, &jwks);
    let set = r.ok(200);
    assert_eq!(set["version"], 3);
    assert_eq!(r.header("etag"), Some("\"3\""));
    assert_eq!(set["keys"], json!([k.rsa_next.jwk]));

    // A registration against a version that moved on changes nothing.
    let body = json!({"keys": [k.ec.jwk]});
    let stale = app.update_at(reqwest::Method::PUT, &e.admin, &jwks, "\"2\"", &body);
    stale.problem(412);
    assert_eq!(app.get(&e.admin, &jwks).ok(200)["version"], 3);

    // Each registration is in the audit trail.
    let r = app.get(
        &e.admin,
        "/api/v1/audit-events?action=user.jwks.update&limit=100",
    );
    let events = r.ok(200)["items"].as_array().cloned().unwrap_or_default();
    let successes = events.iter().filter(|e| e["outcome"] == "success").count();
    assert_eq!(successes, 3, "{}", r.text);
}

#[test]
fn only_admins_register_public_keys_and_private_material_is_refused_by_name() {
    let e = ehr("clinical:read");
    let (app, k) = (&e.app, keys());
    let jwks = format!("/api/v1/users/{}/jwks", e.client_id);
    let body = json!({"keys": [k.ec.jwk]});
    let olivia = app.login("olivia.ot@riverside.example").access;
    app.put(&olivia, &jwks, &body).problem(403);
    app.get(&olivia, &jwks).problem(403);
    let service = app.service_token("");
    app.put(&service, &jwks, &body).problem(403);

    let mut private = k.ec.jwk.clone();
    private["d"] = json!("c2VjcmV0");
    let r = app.put(&e.admin, &jwks, &json!({"keys": [private]}));
    r.problem(422);
    assert_eq!(r.fields(), vec!["keys[0].d"]);
    let mut weak = k.rsa.jwk.clone();
    weak["n"] = json!(b64(&[0xc5; 128]));
    let r = app.put(&e.admin, &jwks, &json!({"keys": [weak]}));
    assert_eq!(r.fields(), vec!["keys[0].n"]);
    let r = app.put(&e.admin, &jwks, &json!({"keys": [k.ec.jwk, k.ec.jwk]}));
    assert_eq!(r.fields(), vec!["keys[1].kid"]);
    // People sign in with passwords, never keys.
    let therapist = app.user_id("olivia.ot@riverside.example");
    let r = app.put(&e.admin, &format!("/api/v1/users/{therapist}/jwks"), &body);
    assert_eq!(r.fields(), vec!["id"]);
    // Nothing of that changed the registered set.
    assert_eq!(app.get(&e.admin, &jwks).ok(200)["version"], 1);

    // Another clinic's admin does not see the account at all.
    let other = app
        .login(&app.second_clinic("admin@lakeside.example"))
        .access;
    app.get(&other, &jwks).problem(404);
    app.put(&other, &jwks, &body).problem(404);
}

/// The shell block of docs/fhir.md's SMART walkthrough, as an integrator pastes it.
fn walkthrough() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/fhir.md"))
        .unwrap_or_else(|e| panic!("docs/fhir.md: {e}"));
    let section = doc
        .split("\n## SMART Backend Services\n")
        .nth(1)
        .unwrap_or_else(|| panic!("docs/fhir.md has no SMART Backend Services section"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("the SMART section has no shell block"));
    block.to_owned()
}

#[test]
fn the_documented_walkthrough_gets_a_token_and_searches_as_written() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().expect("a directory");
    let script = dir.path().join("smart.sh");
    std::fs::write(&script, walkthrough()).expect("written");
    let out = std::process::Command::new("bash")
        .args(["-e", "-o", "pipefail"])
        .arg(&script)
        .current_dir(dir.path())
        .env("HEADWAY", &app.base)
        .output()
        .expect("bash runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.first(), Some(&"1"), "the key set's version: {said}");
    assert!(lines.contains(&"system/Observation.rs"), "{said}");
    assert!(
        lines.iter().any(|l| l.starts_with("Bundle searchset")),
        "{said}"
    );
    assert!(lines.contains(&"403"), "{said}");
    assert!(
        lines.last().is_some_and(|l| l.contains("used before")),
        "{said}"
    );
}

//! The public keys a service client signs its SMART Backend Services assertions
//! with: a JWK Set (RFC 7517), checked before it is stored.
//!
//! Only what verifies RS384 or ES384 is accepted: RSA keys of at least 2048 bits,
//! EC keys on P-384. Each key names a unique `kid` (assertions pick their key by
//! it). Private key members are refused outright: a JWKS is published, and a
//! private key sent here has leaked.

use std::collections::BTreeSet;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{Map, Value};

use crate::error::Problems;

/// At most this many keys in one set: a few current and upcoming keys, not a store.
pub const MAX_KEYS: usize = 10;

/// Members only a private key has (RFC 7518 §6.2.2, §6.3.2; `k` is a symmetric key).
const PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Members a public RSA or EC key may carry besides its own parameters.
const COMMON: &[&str] = &[
    "kid", "kty", "alg", "use", "key_ops", "ext", "x5c", "x5t", "x5t#S256", "x5u",
];

/// One public verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub material: KeyMaterial,
    /// The key as registered (public members only), for reading it back.
    pub json: Map<String, Value>,
}

/// The parameters a signature is checked with, base64url as in the JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Verifies RS384.
    Rsa { n: String, e: String },
    /// Verifies ES384 (P-384).
    Ec { x: String, y: String },
}

impl KeyMaterial {
    /// The one signing algorithm this key verifies.
    pub fn algorithm(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RS384",
            KeyMaterial::Ec { .. } => "ES384",
        }
    }
}

/// A checked JWK Set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    pub keys: Vec<PublicKey>,
}

fn text<'a>(key: &'a Map<String, Value>, member: &str) -> Option<&'a str> {
    key.get(member).and_then(Value::as_str)
}

/// A base64url (unpadded) member, decoded; records why not under `field`.
fn bytes(
    key: &Map<String, Value>,
    member: &str,
    field: &str,
    problems: &mut Problems,
) -> Option<Vec<u8>> {
    let Some(encoded) = text(key, member) else {
        problems.add(format!("{field}.{member}"), "is required (base64url)");
        return None;
    };
    match URL_SAFE_NO_PAD.decode(encoded) {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            problems.add(
                format!("{field}.{member}"),
                "must be base64url without padding",
            );
            None
        }
    }
}

fn bits(big_endian: &[u8]) -> usize {
    let mut rest = big_endian.iter().skip_while(|b| **b == 0);
    match rest.next() {
        Some(first) => (8 - first.leading_zeros() as usize) + 8 * rest.count(),
        None => 0,
    }
}

fn material(key: &Map<String, Value>, field: &str, problems: &mut Problems) -> Option<KeyMaterial> {
    let own: &[&str] = match text(key, "kty") {
        Some("RSA") => &["n", "e"],
        Some("EC") => &["crv", "x", "y"],
        _ => {
            problems.add(
                format!("{field}.kty"),
                "must be RSA (for RS384) or EC (P-384, for ES384)",
            );
            return None;
        }
    };
    for member in key.keys() {
        if !COMMON.contains(&member.as_str()) && !own.contains(&member.as_str()) {
            problems.add(
                format!("{field}.{member}"),
                "is not a member of a public RSA or EC key",
            );
        }
    }
    let expected_alg = if own.len() == 2 { "RS384" } else { "ES384" };
    match key.get("alg") {
        None => {}
        Some(Value::String(alg)) if alg == expected_alg => {}
        Some(_) => problems.add(
            format!("{field}.alg"),
            format!("must be {expected_alg} for this key type (or left out)"),
        ),
    }
    match key.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => problems.add(format!("{field}.use"), "must be sig (or left out)"),
    }
    if own.len() == 2 {
        let n = bytes(key, "n", field, problems);
        let e = bytes(key, "e", field, problems);
        if let Some(n) = &n {
            if bits(n) < 2048 {
                problems.add(
                    format!("{field}.n"),
                    format!(
                        "the modulus has {} bits; at least 2048 are required",
                        bits(n)
                    ),
                );
            }
        }
        let (n, e) = (n?, e?);
        (bits(&n) >= 2048).then(|| KeyMaterial::Rsa {
            n: URL_SAFE_NO_PAD.encode(&n),
            e: URL_SAFE_NO_PAD.encode(&e),
        })
    } else {
        if text(key, "crv") != Some("P-384") {
            problems.add(format!("{field}.crv"), "must be P-384 (ES384)");
        }
        let x = bytes(key, "x", field, problems);
        let y = bytes(key, "y", field, problems);
        for (member, coordinate) in [("x", &x), ("y", &y)] {
            if coordinate.as_ref().is_some_and(|c| c.len() != 48) {
                problems.add(
                    format!("{field}.{member}"),
                    "must be a P-384 coordinate (48 bytes)",
                );
            }
        }
        let (x, y) = (x?, y?);
        (text(key, "crv") == Some("P-384") && x.len() == 48 && y.len() == 48).then(|| {
            KeyMaterial::Ec {
                x: URL_SAFE_NO_PAD.encode(&x),
                y: URL_SAFE_NO_PAD.encode(&y),
            }
        })
    }
}

impl Jwks {
    /// Checks the members of a JWK Set's `keys`, blaming `keys[i].member`.
    pub fn parse(keys: &[Value]) -> Result<Jwks, crate::Invalid> {
        let mut problems = Problems::default();
        if keys.len() > MAX_KEYS {
            problems.add("keys", format!("at most {MAX_KEYS} keys"));
        }
        let mut seen = BTreeSet::new();
        let mut parsed = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let field = format!("keys[{i}]");
            let Some(key) = key.as_object() else {
                problems.add(field, "must be a JSON Web Key (an object)");
                continue;
            };
            let private: Vec<&str> = PRIVATE
                .iter()
                .copied()
                .filter(|m| key.contains_key(*m))
                .collect();
            if !private.is_empty() {
                for member in private {
                    problems.add(
                        format!("{field}.{member}"),
                        "is private key material: register public keys only, and \
                         replace this key, since it has been sent",
                    );
                }
                continue;
            }
            let kid = match text(key, "kid") {
                Some(kid) if !kid.is_empty() && kid.len() <= 200 => kid.to_owned(),
                _ => {
                    problems.add(
                        format!("{field}.kid"),
                        "is required: a key id of 1 to 200 characters",
                    );
                    String::new()
                }
            };
            if !kid.is_empty() && !seen.insert(kid.clone()) {
                problems.add(format!("{field}.kid"), "is used by another key of this set");
            }
            if let Some(material) = material(key, &field, &mut problems) {
                parsed.push(PublicKey {
                    kid,
                    material,
                    json: key.clone(),
                });
            }
        }
        problems.finish()?;
        Ok(Jwks { keys: parsed })
    }

    /// The key an assertion names.
    pub fn key(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The set as registered, as a JWK Set document.
    pub fn to_json(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| Value::Object(k.json.clone()))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Reads back a stored set (checked when it was registered).
    pub fn from_json(stored: &str) -> Result<Jwks, crate::Invalid> {
        let doc: Value = serde_json::from_str(stored)
            .map_err(|e| crate::Invalid::field("keys", e.to_string()))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Jwks::parse(&keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa(kid: &str, bits: usize) -> Value {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0xc5;
        json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": "AQAB", "alg": "RS384", "use": "sig"})
    }

    fn ec(kid: &str) -> Value {
        json!({"kty": "EC", "kid": kid, "crv": "P-384", "x": b64(&[1; 48]), "y": b64(&[2; 48])})
    }

    fn fields(keys: &[Value]) -> Vec<String> {
        match Jwks::parse(keys) {
            Ok(_) => Vec::new(),
            Err(crate::Invalid(e)) => e.into_iter().map(|f| f.field).collect(),
        }
    }

    #[test]
    fn rsa_and_p384_public_keys_are_accepted() {
        let set = Jwks::parse(&[rsa("a", 2048), ec("b")]).expect("valid");
        assert_eq!(set.keys.len(), 2);
        assert_eq!(set.key("a").map(|k| k.material.algorithm()), Some("RS384"));
        assert_eq!(set.key("b").map(|k| k.material.algorithm()), Some("ES384"));
        assert_eq!(Jwks::from_json(&set.to_json().to_string()), Ok(set));
        assert_eq!(Jwks::parse(&[]).map(|s| s.keys.len()), Ok(0));
    }

    #[test]
    fn private_members_are_refused_by_name() {
        let mut key = rsa("a", 2048);
        key["d"] = json!("c2VjcmV0");
        key["p"] = json!("c2VjcmV0");
        assert_eq!(fields(&[key]), vec!["keys[0].d", "keys[0].p"]);
        let mut key = ec("b");
        key["d"] = json!("c2VjcmV0");
        assert_eq!(fields(&[ec("a"), key]), vec!["keys[1].d"]);
        assert_eq!(
            fields(&[json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"})]),
            vec!["keys[0].k"]
        );
    }

    #[test]
    fn weak_or_unusable_keys_are_refused_by_field() {
        assert_eq!(fields(&[rsa("a", 1024)]), vec!["keys[0].n"]);
        let mut p256 = ec("a");
        p256["crv"] = json!("P-256");
        p256["x"] = json!(b64(&[1; 32]));
        assert_eq!(fields(&[p256]), vec!["keys[0].crv", "keys[0].x"]);
        let mut no_kid = ec("a");
        no_kid.as_object_mut().map(|k| k.remove("kid"));
        assert_eq!(fields(&[no_kid]), vec!["keys[0].kid"]);
        assert_eq!(fields(&[ec("a"), rsa("a", 2048)]), vec!["keys[1].kid"]);
        let mut wrong_alg = rsa("a", 2048);
        wrong_alg["alg"] = json!("RS256");
        assert_eq!(fields(&[wrong_alg]), vec!["keys[0].alg"]);
        let mut extra = ec("a");
        extra["secret_sauce"] = json!(1);
        assert_eq!(fields(&[extra]), vec!["keys[0].secret_sauce"]);
        assert_eq!(
            fields(&[json!({"kty": "OKP", "kid": "a"})]),
            vec!["keys[0].kty"]
        );
        assert_eq!(fields(&[json!("a key")]), vec!["keys[0]"]);
        let mut bad = ec("a");
        bad["y"] = json!("not base64!");
        assert_eq!(fields(&[bad]), vec!["keys[0].y"]);
        let many: Vec<Value> = (0..11).map(|i| ec(&format!("k{i}"))).collect();
        assert_eq!(fields(&many), vec!["keys"]);
    }

    #[test]
    fn modulus_bits_ignore_leading_zeros() {
        assert_eq!(bits(&[0, 0, 1]), 1);
        assert_eq!(bits(&[0x80, 0]), 16);
        assert_eq!(bits(&[]), 0);
    }
}

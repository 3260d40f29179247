"""A stock Python FHIR client (fhirpy) against a running Headway, as an EHR's backend
meets it: SMART discovery, Backend Services (a key of its own registered as the
service account's JWK Set, a private_key_jwt assertion signed RS384, client_credentials
with SMART system scopes), then search with paging, create and read.

Run by tests/blackbox/fhir_client.rs with .venv-fhir's python. Reads its inputs from
the environment; prints one JSON object of what it saw for the test to check.
"""

import base64
import json
import os
import time
import uuid

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from fhirpy import SyncFHIRClient

BASE = os.environ["HEADWAY_BASE"]
CLIENT_ID = os.environ["HEADWAY_CLIENT_ID"]
ADMIN_TOKEN = os.environ["HEADWAY_ADMIN_TOKEN"]
PATIENT = os.environ["HEADWAY_PATIENT"]
GOAL = os.environ["HEADWAY_GOAL"]
PAGE = int(os.environ.get("HEADWAY_PAGE", "3"))


def b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# 1. Discovery: where to get a token, and how.
smart = requests.get(f"{BASE}/fhir/r4/.well-known/smart-configuration", timeout=10).json()
token_url = smart["token_endpoint"]
assert "private_key_jwt" in smart["token_endpoint_auth_methods_supported"], smart

# 2. The EHR's own key, registered by the clinic's admin as the account's JWK Set.
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
numbers = key.public_key().public_numbers()
kid = f"ehr-{uuid.uuid4()}"
jwk = {"kty": "RSA", "kid": kid, "alg": "RS384", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}
admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
jwks_url = f"{BASE}/api/v1/users/{CLIENT_ID}/jwks"
current = requests.get(jwks_url, headers=admin, timeout=10)
headers = dict(admin)
if current.headers.get("ETag"):
    headers["If-Match"] = current.headers["ETag"]
put = requests.put(jwks_url, headers=headers, json={"keys": [jwk]}, timeout=10)
assert put.status_code == 200, (put.status_code, put.text)

# 3. Backend Services: a signed assertion, exchanged for an access token.
now = int(time.time())
assertion = jwt.encode(
    {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": token_url, "exp": now + 240, "jti": str(uuid.uuid4())},
    key,
    algorithm="RS384",
    headers={"kid": kid, "typ": "JWT"},
)
scope = "system/Patient.rs system/Observation.cruds"
granted = requests.post(
    token_url,
    data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": scope,
    },
    timeout=10,
)
assert granted.status_code == 200, (granted.status_code, granted.text)
token = granted.json()

# 4. The stock client: read, search (following `next` links page by page), create.
client = SyncFHIRClient(f"{BASE}/fhir/r4", authorization=f"Bearer {token['access_token']}")
patient = client.reference("Patient", PATIENT).to_resource()

pages = 0
searched = []
bundle = client.resources("Observation").search(patient=PATIENT).limit(PAGE).fetch_raw()
while True:
    pages += 1
    searched.extend(e["resource"]["id"] for e in bundle.get("entry", []))
    nxt = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    if nxt is None:
        break
    bundle = client.execute(nxt, method="get")
every = [o["id"] for o in client.resources("Observation").search(patient=PATIENT).limit(PAGE).fetch_all()]

created = client.resource(
    "Observation",
    status="final",
    code={"coding": [{"system": "urn:headway:fhir:CodeSystem:outcome-measure", "code": "nrs"}]},
    subject={"reference": f"Patient/{PATIENT}"},
    focus=[{"reference": f"Goal/{GOAL}"}],
    effectiveDateTime="2026-11-30T10:00:00Z",
    valueQuantity={"value": 6},
)
created.save()
read_back = client.reference("Observation", created.id).to_resource()

print(
    json.dumps(
        {
            "scope": token["scope"],
            "token_type": token["token_type"],
            "patient_id": patient.id,
            "patient_name": patient["name"][0].get("text"),
            "pages": pages,
            "searched": searched,
            "fetch_all": every,
            "created": created.id,
            "read_back_status": read_back["status"],
            "read_back_value": read_back["valueQuantity"]["value"],
            "read_back_focus": read_back["focus"][0]["reference"],
        }
    )
)

"""google-auth, google-cloud-iam and PyJWT against the mock Google: real RS256, real certificates."""
import base64
import json
import time

import google.auth.transport.requests
import jwt
import requests
from cryptography import x509
from google.cloud import iam_credentials_v1
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def caller_credentials(endpoints):
    """The caller's key file, exchanged at the key file's token_uri (the mock) for an access token."""
    creds = service_account.Credentials.from_service_account_file(
        endpoints["google"]["caller_credentials_file"], scopes=SCOPES
    )
    creds.refresh(google.auth.transport.requests.Request())
    assert creds.token.startswith("ya29.")
    return creds


def public_key_for(endpoints, email, kid):
    url = f"{endpoints['google']['endpoint']}/service_accounts/v1/metadata/x509/{email}"
    pems = requests.get(url, timeout=10).json()
    cert = x509.load_pem_x509_certificate(pems[kid].encode())
    return cert.public_key()


def test_key_file_exchanges_at_the_mock_token_uri(endpoints):
    creds = caller_credentials(endpoints)
    assert creds.expiry is not None


def test_sign_jwt_with_google_cloud_iam_verifies_with_the_x509_certificate(endpoints):
    creds = caller_credentials(endpoints)
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=user_credentials.Credentials(token=creds.token),
        transport="rest",
        client_options={"api_endpoint": endpoints["google"]["endpoint"]},
    )
    sa = endpoints["google"]["service_account"]
    now = int(time.time())
    claims = {"sub": sa, "aud": "vault/app", "iat": now, "exp": now + 600}
    resp = client.sign_jwt(name=f"projects/-/serviceAccounts/{sa}", payload=json.dumps(claims))
    header = jwt.get_unverified_header(resp.signed_jwt)
    assert header["alg"] == "RS256" and header["kid"] == resp.key_id
    decoded = jwt.decode(
        resp.signed_jwt,
        key=public_key_for(endpoints, sa, resp.key_id),
        algorithms=["RS256"],
        audience="vault/app",
    )
    assert decoded == claims


def test_sign_jwt_over_twelve_hours_is_invalid_argument(endpoints):
    creds = caller_credentials(endpoints)
    sa = endpoints["google"]["service_account"]
    url = f"{endpoints['google']['endpoint']}/v1/projects/-/serviceAccounts/{sa}:signJwt"
    payload = json.dumps({"sub": sa, "exp": int(time.time()) + 13 * 3600})
    r = requests.post(url, json={"payload": payload}, headers={"Authorization": f"Bearer {creds.token}"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_a_key_from_keys_create_works_with_google_auth(endpoints):
    g = endpoints["google"]
    creds = caller_credentials(endpoints)
    caller = creds.service_account_email
    url = f"{g['endpoint']}/v1/projects/-/serviceAccounts/{caller}/keys"
    r = requests.post(url, json={}, headers={"Authorization": f"Bearer {creds.token}"}, timeout=10)
    assert r.status_code == 200, r.text
    key = r.json()
    info = json.loads(base64.b64decode(key["privateKeyData"]))
    assert info["token_uri"] == f"{g['endpoint']}/token"
    assert key["name"].endswith("/keys/" + info["private_key_id"])
    fresh = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    fresh.refresh(google.auth.transport.requests.Request())
    assert fresh.token.startswith("ya29.")
    requests.delete(f"{url}/{info['private_key_id']}", headers={"Authorization": f"Bearer {creds.token}"}, timeout=10)


def test_an_identity_token_verifies_with_the_oauth2_certs(endpoints):
    g = endpoints["google"]
    r = requests.get(
        f"{g['endpoint']}/computeMetadata/v1/instance/service-accounts/default/identity",
        params={"audience": "http://vault/app", "format": "full"},
        headers={"Metadata-Flavor": "Google"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    token = r.text
    certs = requests.get(f"{g['endpoint']}/oauth2/v1/certs", timeout=10).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = x509.load_pem_x509_certificate(certs[kid].encode()).public_key()
    claims = jwt.decode(token, key=key, algorithms=["RS256"], audience="http://vault/app")
    assert claims["email"] == g["service_account"]
    assert claims["google"]["compute_engine"]["project_id"] == g["project"]

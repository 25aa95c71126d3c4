"""hvac, http.client, botocore and requests against the mock Vault that `authsim serve` provisioned
from the default world (policy `app`, secret/app/config, auth/gcp, auth/aws, approle, userpass, ldap)."""
import base64
import http.client
import json
import os
import time
import urllib.parse

import hvac
import jwt
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from google.cloud import iam_credentials_v1
from google.oauth2 import credentials as user_credentials

from test_google import caller_credentials

SERVER_ID_ERR = "error validating X-Vault-AWS-IAM-Server-ID header: "


def vault(endpoints, token=None):
    return hvac.Client(url=endpoints["vault"]["addr"], token=token)


def read_secret(client, endpoints):
    """The secret at the endpoints file's secret_path, through hvac's KV v2 API."""
    mount, _, path = endpoints["vault"]["secret_path"].partition("/data/")
    return client.secrets.kv.v2.read_secret_version(
        path=path, mount_point=mount, raise_on_deleted_version=True
    )["data"]["data"]


def aws_login(endpoints, **kw):
    aws = endpoints["aws"]
    v = endpoints["vault"]
    client = vault(endpoints)
    resp = client.auth.aws.iam_login(
        aws["access_key_id"], aws["secret_access_key"], role=v["aws_role"],
        mount_point=v["aws_mount"], use_token=True, **kw,
    )
    return client, resp


def test_hvac_aws_iam_login_reads_the_secret(endpoints):
    client, resp = aws_login(endpoints, header_value=endpoints["vault"]["aws_server_id"])
    assert resp["auth"]["client_token"].startswith("hvs.")
    assert resp["auth"]["policies"] == ["app", "default"]
    assert resp["auth"]["metadata"]["auth_type"] == "iam"
    assert client.is_authenticated()
    assert read_secret(client, endpoints)["username"] == "app"


def test_hvac_aws_iam_login_with_a_wrong_server_id_is_refused(endpoints):
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        aws_login(endpoints, header_value="wrong.example.com")
    assert e.value.errors == [
        SERVER_ID_ERR + 'expected "vault.example.com" but got "wrong.example.com"'
    ]


def test_hvac_aws_iam_login_without_the_server_id_is_refused(endpoints):
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        aws_login(endpoints)
    assert e.value.errors == [SERVER_ID_ERR + 'missing header "X-Vault-AWS-IAM-Server-ID"']


def sign_jwt_with_google_cloud_iam(endpoints, lifetime):
    creds = caller_credentials(endpoints)
    client = iam_credentials_v1.IAMCredentialsClient(
        credentials=user_credentials.Credentials(token=creds.token),
        transport="rest",
        client_options={"api_endpoint": endpoints["google"]["endpoint"]},
    )
    sa = endpoints["google"]["service_account"]
    now = int(time.time())
    claims = {"sub": sa, "aud": f"vault/{endpoints['vault']['gcp_role']}", "iat": now, "exp": now + lifetime}
    return client.sign_jwt(name=f"projects/-/serviceAccounts/{sa}", payload=json.dumps(claims)).signed_jwt


def test_hvac_gcp_login_with_a_jwt_signed_by_google_cloud_iam(endpoints):
    v = endpoints["vault"]
    client = vault(endpoints)
    resp = client.auth.gcp.login(
        role=v["gcp_role"], jwt=sign_jwt_with_google_cloud_iam(endpoints, 600), mount_point=v["gcp_mount"]
    )
    assert resp["auth"]["metadata"]["service_account_email"] == endpoints["google"]["service_account"]
    assert read_secret(client, endpoints)["username"] == "app"


def test_hvac_gcp_login_with_a_20_minute_jwt_is_refused(endpoints):
    v = endpoints["vault"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        vault(endpoints).auth.gcp.login(
            role=v["gcp_role"], jwt=sign_jwt_with_google_cloud_iam(endpoints, 1200), mount_point=v["gcp_mount"]
        )
    assert e.value.errors == ["role requires that service account JWTs expire within 900 seconds"]


def test_hvac_approle_login(endpoints):
    a = endpoints["vault"]["approle"]
    client = vault(endpoints)
    client.auth.approle.login(role_id=a["role_id"], secret_id=a["secret_id"], mount_point=a["mount"])
    assert read_secret(client, endpoints)["username"] == "app"


def test_hvac_approle_secret_id_lifecycle(endpoints):
    """A role and secret IDs written through hvac: metadata travels to the token, an unknown
    accessor is Vault's raw 404 (InvalidPath), a destroyed secret ID no longer logs in."""
    mount = endpoints["vault"]["approle"]["mount"]
    root = vault(endpoints, token=endpoints["vault"]["token"]).auth.approle
    root.create_or_update_approle("interop", token_policies=["app"], mount_point=mount)
    role_id = root.read_role_id("interop", mount_point=mount)["data"]["role_id"]
    made = root.generate_secret_id("interop", metadata={"team": "red"}, mount_point=mount)["data"]
    looked = root.read_secret_id("interop", made["secret_id"], mount_point=mount)["data"]
    assert looked["metadata"] == {"team": "red"}
    assert looked["secret_id_accessor"] == made["secret_id_accessor"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.read_secret_id_accessor("interop", "no-such-accessor", mount_point=mount)

    client = vault(endpoints)
    auth = client.auth.approle.login(role_id=role_id, secret_id=made["secret_id"], mount_point=mount)
    assert auth["auth"]["metadata"] == {"role_name": "interop", "team": "red"}
    assert read_secret(client, endpoints)["username"] == "app"

    root.destroy_secret_id_accessor("interop", made["secret_id_accessor"], mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        vault(endpoints).auth.approle.login(role_id=role_id, secret_id=made["secret_id"], mount_point=mount)
    assert e.value.errors == ["invalid role or secret ID"]


def test_hvac_kv_v2_patch_metadata_and_subkeys(endpoints):
    """hvac's KV v2 calls beyond a read (a JSON merge patch, custom metadata), and `subkeys/`
    through hvac's adapter (hvac 2.4 has no method for it)."""
    mount = endpoints["vault"]["secret_path"].partition("/data/")[0]
    client = vault(endpoints, token=endpoints["vault"]["token"])
    kv = client.secrets.kv.v2
    kv.create_or_update_secret("interop/kv", {"user": "u", "db": {"host": "h"}}, mount_point=mount)
    kv.patch("interop/kv", {"user": "v"}, mount_point=mount)
    kv.update_metadata("interop/kv", custom_metadata={"team": "red"}, mount_point=mount)
    meta = kv.read_secret_metadata("interop/kv", mount_point=mount)["data"]
    assert (meta["current_version"], meta["custom_metadata"]) == (2, {"team": "red"})
    latest = kv.read_secret_version("interop/kv", mount_point=mount, raise_on_deleted_version=True)
    assert latest["data"]["data"] == {"user": "v", "db": {"host": "h"}}
    subkeys = client.adapter.get(f"/v1/{mount}/subkeys/interop/kv")["data"]["subkeys"]
    assert subkeys == {"user": None, "db": {"host": None}}


def test_hvac_userpass_login(endpoints):
    u = endpoints["vault"]["userpass"]
    client = vault(endpoints)
    client.auth.userpass.login(u["username"], u["password"], mount_point=u["mount"])
    assert read_secret(client, endpoints)["username"] == "app"
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        vault(endpoints).auth.userpass.login(u["username"], "wrong", mount_point=u["mount"])
    assert e.value.errors == ["invalid username or password"]


def test_hvac_ldap_login_through_a_group(endpoints):
    u = endpoints["vault"]["ldap"]
    client = vault(endpoints)
    resp = client.auth.ldap.login(u["username"], u["password"], mount_point=u["mount"])
    assert "app" in resp["auth"]["policies"]
    assert read_secret(client, endpoints)["username"] == "app"


def http_json(url, method="GET", body=None, headers=None, form=False):
    """One request with the standard library only."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
    conn.request(method, u.path + (f"?{u.query}" if u.query else ""), body=data, headers=hdrs)
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    return r.status, json.loads(payload) if payload else None


def test_plain_http_client_gcp_flow(endpoints):
    g, v = endpoints["google"], endpoints["vault"]
    # The caller's access token: a JWT-bearer assertion signed with its key file, at token_uri.
    with open(g["caller_credentials_file"]) as f:
        key = json.load(f)
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": key["client_email"], "scope": "https://www.googleapis.com/auth/cloud-platform",
         "aud": key["token_uri"], "iat": now, "exp": now + 600},
        key["private_key"], algorithm="RS256", headers={"kid": key["private_key_id"]},
    )
    status, tok = http_json(key["token_uri"], "POST", {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}, form=True)
    assert status == 200, tok
    sa = g["service_account"]
    claims = {"sub": sa, "aud": f"vault/{v['gcp_role']}", "iat": now, "exp": now + 600}
    status, signed = http_json(
        f"{g['endpoint']}/v1/projects/-/serviceAccounts/{sa}:signJwt", "POST",
        {"payload": json.dumps(claims)}, headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert status == 200, signed
    status, login = http_json(f"{v['addr']}/v1/auth/{v['gcp_mount']}/login", "POST",
                              {"role": v["gcp_role"], "jwt": signed["signedJwt"]})
    assert status == 200, login
    status, secret = http_json(f"{v['addr']}/v1/{v['secret_path']}",
                               headers={"X-Vault-Token": login["auth"]["client_token"]})
    assert status == 200, secret
    assert secret["data"]["data"]["username"] == "app"


def test_botocore_signed_get_caller_identity_posted_with_requests(endpoints):
    aws, v = endpoints["aws"], endpoints["vault"]
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    req = AWSRequest(method="POST", url="https://sts.amazonaws.com/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "X-Vault-AWS-IAM-Server-ID": v["aws_server_id"],
    })
    SigV4Auth(Credentials(aws["access_key_id"], aws["secret_access_key"]), "sts", "us-east-1").add_auth(req)
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    login = requests.post(f"{v['addr']}/v1/auth/{v['aws_mount']}/login", timeout=10, json={
        "role": v["aws_role"],
        "iam_http_request_method": "POST",
        "iam_request_url": b64(req.url),
        "iam_request_body": b64(body),
        "iam_request_headers": b64(json.dumps({k: [val] for k, val in req.headers.items()})),
    })
    assert login.status_code == 200, login.text
    token = login.json()["auth"]["client_token"]
    secret = requests.get(f"{v['addr']}/v1/{v['secret_path']}", headers={"X-Vault-Token": token}, timeout=10)
    assert secret.json()["data"]["data"]["username"] == "app"


@pytest.mark.skipif("AUTHSIM_SEALED_ENDPOINTS" not in os.environ, reason="no sealed server started")
def test_hvac_submit_unseal_keys_unseals_a_sealed_server():
    with open(os.environ["AUTHSIM_SEALED_ENDPOINTS"]) as f:
        v = json.load(f)["vault"]
    client = hvac.Client(url=v["addr"], token=v["token"])
    assert client.sys.is_sealed()
    result = client.sys.submit_unseal_keys(v["unseal_keys"][: v["unseal_threshold"]])
    assert result["sealed"] is False
    assert not client.sys.is_sealed()

"""boto3 against the mock AWS: real SigV4 signing, no changes but the endpoint."""
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def sts(endpoints, **creds):
    aws = endpoints["aws"]
    return boto3.client(
        "sts",
        endpoint_url=aws["endpoint"],
        region_name=aws["region"],
        aws_access_key_id=creds.get("key", aws["access_key_id"]),
        aws_secret_access_key=creds.get("secret", aws["secret_access_key"]),
        aws_session_token=creds.get("token"),
        config=Config(retries={"max_attempts": 1}),
    )


def test_get_caller_identity_returns_the_world_user(endpoints):
    ident = sts(endpoints).get_caller_identity()
    assert ident["Arn"] == endpoints["aws"]["arn"]
    assert ident["UserId"].startswith("AIDA") and len(ident["UserId"]) == 21
    assert ident["Account"] == endpoints["aws"]["arn"].split(":")[4]


def test_a_wrong_secret_is_signature_does_not_match(endpoints):
    with pytest.raises(ClientError) as e:
        sts(endpoints, secret="x" * 40).get_caller_identity()
    err = e.value.response["Error"]
    assert err["Code"] == "SignatureDoesNotMatch"
    assert err["Message"].startswith("The request signature we calculated does not match")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_unknown_key_is_invalid_client_token_id(endpoints):
    with pytest.raises(ClientError) as e:
        sts(endpoints, key="AKIAUNKNOWNUNKNOWN00").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_assume_role_then_caller_identity_is_the_assumed_role(endpoints):
    account = endpoints["aws"]["arn"].split(":")[4]
    role_arn = f"arn:aws:iam::{account}:role/app-role"
    out = sts(endpoints).assume_role(RoleArn=role_arn, RoleSessionName="interop")
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/app-role/interop"
    ident = sts(endpoints, key=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["SessionToken"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{account}:assumed-role/app-role/interop"
    assert ident["UserId"].startswith("AROA") and ident["UserId"].endswith(":interop")


def test_session_credentials_without_their_token_are_refused(endpoints):
    account = endpoints["aws"]["arn"].split(":")[4]
    out = sts(endpoints).assume_role(RoleArn=f"arn:aws:iam::{account}:role/app-role", RoleSessionName="notoken")
    c = out["Credentials"]
    with pytest.raises(ClientError) as e:
        sts(endpoints, key=c["AccessKeyId"], secret=c["SecretAccessKey"]).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"

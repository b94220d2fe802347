"""S3 SigV4 presigned URLs made by botocore's own S3 client (generate_presigned_url,
signature_version s3v4) with the clock fixed: cases for signgate's s3 provider, in the format of
shared/vectors/providers (inputs, expected). Run: python3 s3-botocore-vectors.py > s3-botocore-vectors.json"""
import datetime
import json
from unittest import mock

import botocore
import botocore.auth
import botocore.session
from botocore.config import Config

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# The shape of an STS session token (base64 with '/', '+' and '='); not a real one.
TOKEN = "IQoJb3JpZ2luX2VjEHcaCXVzLWVhc3QtMSJHMEUCIQD+example/session+token/value=="

CASES = [
    dict(note="AWS, virtual-hosted, us-east-1 (global endpoint)", region="us-east-1",
         addressing_style="virtual", bucket="examplebucket", key="test.txt", expires=86400,
         x_amz_date="20130524T000000Z"),
    dict(note="AWS, virtual-hosted, regional endpoint", region="eu-west-1",
         addressing_style="virtual", bucket="signgate-media", key="downloads/report 2026.pdf",
         expires=300, x_amz_date="20260315T101112Z"),
    dict(note="a key with reserved and non-ASCII characters, and a download name",
         region="eu-west-1", addressing_style="virtual", bucket="signgate-media",
         key="users/alice/caf\u00e9 menu (v2)+draft=1!'*~.pdf", expires=600,
         x_amz_date="20260315T101112Z",
         extra_params={"ResponseContentDisposition":
                       "attachment; filename=\"caf_ menu.pdf\"; filename*=UTF-8''caf%C3%A9%20menu.pdf"}),
    dict(note="temporary credentials (session token)", region="us-west-2",
         addressing_style="virtual", bucket="signgate-media", key="a/b.ts", expires=900,
         x_amz_date="20260101T000000Z", session_token=TOKEN),
    dict(note="HEAD", method="head_object", region="us-west-2", addressing_style="virtual",
         bucket="signgate-media", key="a/b.ts", expires=900, x_amz_date="20260101T000000Z"),
    dict(note="the longest expiry (7 days), path style", region="us-east-2",
         addressing_style="path", bucket="signgate-media", key="x/y.bin", expires=604800,
         x_amz_date="20261231T235959Z"),
    dict(note="Cloudflare R2: region auto, path style", region="auto",
         endpoint_url="https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
         addressing_style="path", bucket="media", key="hls/ep1/index.m3u8", expires=3600,
         x_amz_date="20260101T000000Z",
         access_key_id="0123456789abcdef0123456789abcdef",
         secret_access_key="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    dict(note="MinIO: path style, a port, plain HTTP", region="us-east-1",
         endpoint_url="http://127.0.0.1:9000", addressing_style="path", bucket="media",
         key="a b/c.txt", expires=60, x_amz_date="20260101T000000Z",
         access_key_id="minioadmin", secret_access_key="minioadmin"),
    dict(note="Wasabi: virtual-hosted on the regional endpoint", region="eu-central-1",
         endpoint_url="https://s3.eu-central-1.wasabisys.com", addressing_style="virtual",
         bucket="signgate-wasabi", key="v/1.mp4", expires=3600, x_amz_date="20260101T000000Z"),
    dict(note="two response overrides and a version", region="eu-west-1",
         addressing_style="virtual", bucket="signgate-media", key="r.pdf", expires=120,
         x_amz_date="20260101T000000Z",
         extra_params={"ResponseContentType": "application/pdf",
                       "ResponseContentDisposition": "inline",
                       "VersionId": "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}),
]


def presign(case):
    session = botocore.session.get_session()
    client = session.create_client(
        "s3", region_name=case["region"], endpoint_url=case.get("endpoint_url"),
        aws_access_key_id=case.get("access_key_id", AK),
        aws_secret_access_key=case.get("secret_access_key", SK),
        aws_session_token=case.get("session_token"),
        config=Config(signature_version="s3v4", s3={"addressing_style": case["addressing_style"]}))
    when = datetime.datetime.strptime(case["x_amz_date"], "%Y%m%dT%H%M%SZ")
    params = {"Bucket": case["bucket"], "Key": case["key"], **case.get("extra_params", {})}
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        return client.generate_presigned_url(case.get("method", "get_object"), Params=params,
                                             ExpiresIn=case["expires"])


out = []
for case in CASES:
    url = presign(case)
    inputs = {k: v for k, v in case.items() if k != "note"}
    inputs.setdefault("access_key_id", AK)
    inputs.setdefault("secret_access_key", SK)
    inputs.setdefault("extra_params", {})
    inputs.setdefault("method", "get_object")
    out.append({
        "scheme": "aws-s3/sigv4-presigned-url",
        "source": {"type": "generated",
                   "with": f"botocore {botocore.__version__} (S3 client generate_presigned_url, "
                           "signature_version=s3v4, datetime patched)",
                   "note": case["note"]},
        "inputs": inputs,
        "expected": {"presigned_url": url, "signature": url.rsplit("X-Amz-Signature=", 1)[1]},
    })
print(json.dumps(out, indent=1, ensure_ascii=False))

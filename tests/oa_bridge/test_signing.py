import time

import pytest

from oa_bridge import signing
from oa_bridge.credentials import new_webhook_secret

BODY = b'{"type":"com.baoxiao.claim.submitted"}'


def test_a_signed_body_verifies_and_returns_the_id():
    secret = new_webhook_secret()
    headers = signing.sign_headers([secret], "msg_1", BODY)
    assert signing.verify([secret], headers, BODY) == "msg_1"


def test_the_published_standard_webhooks_example_verifies():
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    assert signing.verify([secret], headers, body, now=1614265330) == "msg_p5jXN8AQM9LWM0D4loKWxJek"


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "secret"])
def test_any_change_breaks_the_signature(tamper):
    secret, other = new_webhook_secret(), new_webhook_secret()
    headers = signing.sign_headers([secret], "msg_1", BODY)
    body = BODY
    if tamper == "body":
        body = BODY + b" "
    elif tamper == "id":
        headers["webhook-id"] = "msg_2"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
    else:
        secret = other
    with pytest.raises(signing.SignatureError):
        signing.verify([secret], headers, body)


def test_both_secrets_are_accepted_during_rotation():
    old, new = new_webhook_secret(), new_webhook_secret()
    headers = signing.sign_headers([new, old], "msg_1", BODY)
    assert len(headers["webhook-signature"].split()) == 2
    assert signing.verify([old], headers, BODY) == "msg_1"
    assert signing.verify([new], headers, BODY) == "msg_1"


def test_timestamps_outside_five_minutes_are_refused():
    secret = new_webhook_secret()
    stale = int(time.time()) - 301
    headers = signing.sign_headers([secret], "msg_1", BODY, timestamp=stale)
    with pytest.raises(signing.SignatureError, match="window"):
        signing.verify([secret], headers, BODY)
    future = signing.sign_headers([secret], "msg_1", BODY, timestamp=int(time.time()) + 301)
    with pytest.raises(signing.SignatureError, match="window"):
        signing.verify([secret], future, BODY)


def test_missing_headers_are_refused():
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify([new_webhook_secret()], {}, BODY)
